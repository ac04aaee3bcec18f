"""The live service as an operator meets it: real processes, real ccxt, the local venue, a webhook.

One venue process replays the recorded BTCUSDT market at 10x; the service (``tradepulse serve``)
trades through ccxt on it. Across one long scenario the test checks: metrics move, the watchdog
notices a silent feed and alerts (to a real HTTP receiver), SIGTERM stops with exit code 0 and no
open orders, a foreign order found on a warm start halts trading with an alert, an operator
resume brings it back, a kill -9 warm start reconciles cleanly, JSON log lines carry the client
order id from submit to fill, and no secret appears in logs, journal bytes or API answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from polling import eventually

from tradepulse.model.kinds import ALL_KINDS
from tradepulse.store import Journal

VENUE_KEY = "lifecycle-key-Qw81mZ"
VENUE_SECRET = "lifecycle-secret-Lp27xV"
READ_TOKEN = "read-token-Jd83kLq0Zx7Mv2Np"
OPERATE_TOKEN = "operate-token-Hs64tRw9Yb1Ce5Ku"
HOOK_SECRET = "hook-path-secret-Ux39"

CONFIG = """
[service]
state_dir = "state"
watchdog_seconds = 3
status_interval_seconds = 1
cancel_orders_on_stop = true
[api]
port = 0
[venue]
kind = "ccxt"
exchange = "binance"
[governance]
require_versions = false  # built-in strategies against the local venue
[[strategies]]
id = "btc-sma"
strategy = "sma_cross"
symbol = "BTC/USDT"
params = { fast = 2, slow = 3 }
bar = "1s"
capital = 1500
[risk]
max_daily_loss_fraction = 0.5
max_drawdown_fraction = 0.5
max_orders_per_window = 1000
[alerts]
format = "json"
"""


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Hook.received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/{HOOK_SECRET}"
    finally:
        server.shutdown()


@pytest.fixture
def venue(tmp_path) -> Iterator[dict]:
    env = {**os.environ, "TRADEPULSE_VENUE_API_KEY": VENUE_KEY, "TRADEPULSE_VENUE_API_SECRET": VENUE_SECRET,
           "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tradepulse.cli", "venue", "serve", "--port", "0", "--speed", "10", "--json",
         "--balance", "USDT=3000", "--balance", "BTC=0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        info = json.loads(process.stdout.readline())
        info["base"] = info["rest"].rsplit("/api/v3", 1)[0]
        yield info
    finally:
        process.terminate()
        process.wait(timeout=20)


class Service:
    """One `tradepulse serve` process at a time on the same state directory."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work, self.env = work, env
        self.config = work / "live.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        self.log = work / "service.log"
        self.process: subprocess.Popen | None = None
        self.info: dict = {}

    def start(self) -> dict:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "tradepulse.cli", "serve", "--config", str(self.config)],
                                            stdout=log, stderr=log, env=self.env)
        advertised = self.work / "state" / "service.json"

        def ready() -> dict | None:
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            if advertised.exists():
                info = json.loads(advertised.read_text())
                return info if info["pid"] == self.process.pid else None
            return None

        self.info = eventually(ready, timeout_seconds=90)
        return self.info

    def api(self, token: str = READ_TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.info["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def get(self, path: str, **params: object) -> object:
        with self.api() as api:
            response = api.get(path, params=params)
            response.raise_for_status()
            return response.json()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def control(venue: dict, path: str, body: dict) -> None:
    httpx.post(f"{venue['control']}/{path}", json=body, timeout=10).raise_for_status()


async def venue_call(env: dict[str, str], action: str) -> object:
    from tradepulse.adapters.ccxt.exchange import create_exchange
    from tradepulse.adapters.credentials import load_credentials

    exchange = create_exchange("binance", credentials=load_credentials("binance", env), environ=env)
    try:
        await exchange.load_markets()
        if action == "open_orders":
            return await exchange.fetch_open_orders("BTC/USDT")
        if action == "place_foreign":
            ticker = await exchange.fetch_ticker("BTC/USDT")
            price = round(ticker["last"] * 0.8, 2)
            return await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, price, {"newClientOrderId": "manual-order-1"})
        if action == "cancel_foreign":
            return await exchange.cancel_order(None, "BTC/USDT", {"origClientOrderId": "manual-order-1"})
        raise ValueError(action)
    finally:
        await exchange.close()


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            if head == name or head.startswith(name + "{"):
                total += float(value)
    return total


@pytest.fixture
def services() -> Iterator[list]:
    """Every Service the test makes; a process still running at the end (a failed assert) is killed."""
    made: list[Service] = []
    yield made
    for service in made:
        if service.process is not None and service.process.poll() is None:
            service.kill()


def test_the_service_lifecycle_from_cold_start_to_warm_restarts(tmp_path, venue, webhook, services):
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "TRADEPULSE_BINANCE_API_KEY": VENUE_KEY, "TRADEPULSE_BINANCE_API_SECRET": VENUE_SECRET,
           "TRADEPULSE_BINANCE_URL": venue["base"], "TRADEPULSE_API_READ_TOKEN": READ_TOKEN,
           "TRADEPULSE_API_OPERATE_TOKEN": OPERATE_TOKEN, "TRADEPULSE_ALERT_WEBHOOK_URL": webhook}
    service = Service(tmp_path, env)
    services.append(service)

    # Cold start: it trades, and the metrics say so.
    assert service.start()["mode"] == "cold"
    assert service.get("/status")["service"]["start_mode"] == "cold"
    fills = eventually(lambda: service.get("/fills") or None, timeout_seconds=60)
    assert fills[0]["client_order_id"].startswith("tp-btc-sma-")
    with service.api() as api:
        text = api.get("/metrics").text
    assert metric(text, "tradepulse_orders_submitted_total") >= 1
    assert metric(text, "tradepulse_fills_total") >= 1
    assert metric(text, "tradepulse_fill_quantity_total") > 0
    assert metric(text, "tradepulse_tick_to_order_seconds_count") >= 1
    assert metric(text, "tradepulse_order_to_ack_seconds_count") >= 1
    assert metric(text, 'tradepulse_trading_state{state="ACTIVE"}') == 1
    status = service.get("/status")
    assert status["venue"]["connected"] is True and status["engines"][0]["venue"]["user_stream"] == "websocket"

    # A dropped user-data connection is reconnected and counted.
    control(venue, "ws/drop", {"target": "user"})

    def user_reconnects() -> float:
        with service.api() as api:
            return metric(api.get("/metrics").text, 'tradepulse_reconnects_total{stream="user"}')

    eventually(lambda: user_reconnects() >= 1, timeout_seconds=30)

    # The watchdog: a silent feed degrades health and raises a feed_loss alert at the webhook.
    control(venue, "replay", {"paused": True})
    eventually(lambda: service.get("/health")["status"] == "degraded", timeout_seconds=30)
    alerts = eventually(lambda: [a for a in service.get("/alerts") if a["kind"] == "feed_loss"], timeout_seconds=10)
    assert "no market data" in alerts[0]["detail"]
    eventually(lambda: any(hit["body"]["kind"] == "feed_loss" for hit in Hook.received), timeout_seconds=15)
    control(venue, "replay", {"paused": False})
    eventually(lambda: service.get("/health")["status"] == "ok", timeout_seconds=30)

    # SIGTERM: exit 0, open orders cancelled, the advertisement removed, the stop journaled.
    assert service.stop() == 0
    assert not (tmp_path / "state" / "service.json").exists()
    assert asyncio.run(venue_call(env, "open_orders")) == []

    # Someone trades on the account while the service is down: the warm start halts and alerts.
    asyncio.run(venue_call(env, "place_foreign"))
    assert service.start()["mode"] == "warm"
    status = service.get("/status")
    (reconciliation,) = status["reconciliation"]
    assert reconciliation["ok"] is False and reconciliation["foreign"]
    assert status["trading_state"] == "HALTED"
    eventually(lambda: any(hit["body"]["kind"] == "reconciliation_mismatch" for hit in Hook.received), timeout_seconds=15)
    # The operator cleans up, then resumes (a read token may not).
    asyncio.run(venue_call(env, "cancel_foreign"))
    with service.api(READ_TOKEN) as api:
        assert api.post("/actions/resume", json={"reason": "foreign order removed"}).status_code == 403
    with service.api(OPERATE_TOKEN) as api:
        assert api.post("/actions/resume", json={"reason": "foreign order removed"}).json()["trading_state"] == "ACTIVE"
    orders_before = len(service.get("/orders", limit=1000))
    eventually(lambda: len(service.get("/orders", limit=1000)) > orders_before, timeout_seconds=60)

    # kill -9 mid-trading, then a warm start that explains everything.
    service.kill()
    assert service.start()["mode"] == "warm"
    status = service.get("/status")
    (reconciliation,) = status["reconciliation"]
    assert reconciliation["ok"] is True, reconciliation["unexplained"]
    assert status["trading_state"] == "ACTIVE"
    with service.api(READ_TOKEN) as api:  # a new process: this start's reconciliation only
        assert metric(api.get("/metrics").text, 'tradepulse_reconciliations_total{outcome="ok"}') == 1.0
    events = service.get("/events", limit=1000)
    assert service.stop() == 0
    # Every journal the service wrote, its own and the engine's, holds only kinds declared in tradepulse.model.kinds.
    for journal_file in [tmp_path / "state" / "service.sqlite", *sorted((tmp_path / "state" / "journals").glob("*.sqlite"))]:
        with Journal(journal_file, read_only=True) as journal:
            written = {event.kind for event in journal.iter_events()}
        assert written and written <= ALL_KINDS, (journal_file.name, sorted(written - ALL_KINDS))

    # Logs are JSON lines; one order's lines share its client order id from submit to fill.
    records = [json.loads(line) for line in service.log.read_text().splitlines() if line.startswith("{")]
    submitted = {r["correlation_id"] for r in records if r.get("event_kind") == "order.submitted"}
    filled = {r["correlation_id"] for r in records if r.get("event_kind") == "order.filled"}
    signals = {r["correlation_id"] for r in records if r.get("event_kind") == "signal"}
    followed = submitted & filled & signals
    assert followed
    one_order = [r["event_kind"] for r in records if r.get("correlation_id") == sorted(followed)[0]]
    assert one_order.index("signal") < one_order.index("order.submitted") < one_order.index("order.filled")

    # No secret anywhere: logs, journal bytes, API answers, alert bodies.
    secrets = (VENUE_KEY, VENUE_SECRET, READ_TOKEN, OPERATE_TOKEN, HOOK_SECRET)
    journal_bytes = b"".join(path.read_bytes() for path in (tmp_path / "state").rglob("*.sqlite*"))
    shown = service.log.read_text() + json.dumps(events) + json.dumps(status) + json.dumps([hit["body"] for hit in Hook.received])
    for secret in secrets:
        assert secret not in shown
        assert secret.encode() not in journal_bytes
