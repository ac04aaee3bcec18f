"""The live engine trading through ccxt against the local venue, and the secrets staying secret.

The venue runs as its own process (``tradepulse venue serve``), replaying the recorded Binance data
ten times faster than real time, so everything logged in this process is the trading side's: the
engine, the adapter, ccxt and aiohttp. One run checks that the engine's fills are the venue's
trades one for one, and that the API key and secret appear in no log record (DEBUG, every logger),
in no byte of the SQLite journal, and in no error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from emulator_fixtures import run

from tradepulse.errors import AuthenticationFailed
from tradepulse.adapters.ccxt.exchange import create_exchange
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.credentials import load_credentials
from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.model.clock import WallClock
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.store import Journal
from tradepulse.strategy import load_strategy

API_KEY = "tpkey-Zq81vLm3Xa"
API_SECRET = "tpsecret-Hw52xRt9Qe"
WRONG_SECRET = "tpwrong-Kd73pNs1Vb"
UNKNOWN_KEY = "tpunknown-Pz4Lm8Cw"
SPEED = 10
RUN_SECONDS = 16  # 160 s of recorded market at 10x: 16 bars of 10 s
BTC = "BTC/USDT"


@pytest.fixture(scope="module")
def venue_url() -> Iterator[str]:
    """A venue process with one account; its key and secret reach it through the environment only."""
    env = {**os.environ, "TRADEPULSE_VENUE_API_KEY": API_KEY, "TRADEPULSE_VENUE_API_SECRET": API_SECRET, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tradepulse.cli", "venue", "serve", "--port", "0", "--speed", str(SPEED), "--json",
         "--balance", "USDT=2000", "--balance", "BTC=0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            raise AssertionError(f"the venue did not start: {process.stderr.read() if process.stderr else ''}")
        rest = json.loads(line)["rest"]
        yield rest.rsplit("/api/v3", 1)[0]
    finally:
        process.terminate()
        process.wait(timeout=15)


class Everything(logging.Handler):
    """Keeps every record's full text, traceback included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        return [self.format(record) for record in self.records]


@pytest.fixture
def all_logs() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    names = ["", "ccxt", "ccxt.base.exchange", "aiohttp", "aiohttp.client", "aiohttp.websocket", "asyncio", "tradepulse", "urllib3"]
    previous = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


async def trade_live(venue_url: str, journal_path: Path) -> dict:
    environ = {"TRADEPULSE_BINANCE_API_KEY": API_KEY, "TRADEPULSE_BINANCE_API_SECRET": API_SECRET, "TRADEPULSE_BINANCE_URL": venue_url}
    clock = WallClock()
    venue = CcxtVenue.create("binance", environ=environ, symbols=[BTC], retry=RetryPolicy(seed=1))
    feed = CcxtFeed.create("binance", BTC, environ=environ)
    strategy = load_strategy("sma_cross")(fast=2, slow=3)
    risk = RiskControls(RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=None), clock=clock.now, symbols=[BTC],
                        currency="USDT")
    config = EngineConfig(symbol=BTC, capital=D("1000"), bar_period=timedelta(seconds=10), cash_reserve_fraction=D("0.01"),
                          heartbeat_seconds=0.5)
    with Journal(journal_path, clock=clock.now) as journal:
        engine = LiveEngine(strategy, feed, venue, journal, risk=risk, clock=clock, config=config)
        asyncio.get_running_loop().call_later(RUN_SECONDS, feed.stop)
        report = await engine.run()
        events = [(event.kind, event.payload) for event in journal.iter_events()]
    exchange = create_exchange("binance", credentials=load_credentials("binance", environ), environ=environ)
    try:
        venue_trades = await exchange.fetch_my_trades(BTC)
        open_orders = await exchange.fetch_open_orders(BTC)
    finally:
        await exchange.close()
    errors = []
    # A wrong secret for the real key, and the real secret with a key the venue does not know.
    for key, secret in ((API_KEY, WRONG_SECRET), (UNKNOWN_KEY, API_SECRET)):
        bad = CcxtVenue.create("binance", environ={**environ, "TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret})
        try:
            await bad.connect()
        except AuthenticationFailed as error:
            errors.append(error)
        finally:
            await bad.close()
    return {"report": report, "events": events, "venue_trades": venue_trades, "open_orders": open_orders, "errors": errors,
            "state": risk.state.mode}


def test_the_live_engine_trades_through_ccxt_and_its_fills_are_the_venue_trades_one_for_one(venue_url, all_logs, tmp_path):
    journal_path = tmp_path / "journal.sqlite"
    outcome = run(trade_live(venue_url, journal_path), timeout_s=90)
    report, venue_trades = outcome["report"], outcome["venue_trades"]

    # The engine traded: bars were built from the venue's trade stream, the strategy changed its mind.
    kinds = [kind for kind, _ in outcome["events"]]
    assert report.bars >= 8 and kinds.count("strategy.target") >= 2
    assert "engine.error" not in kinds and str(outcome["state"]).upper().endswith("ACTIVE")
    assert len(report.fills) >= 2 and outcome["open_orders"] == []

    # One for one: every fill the engine applied is a venue trade of this account, and vice versa.
    ours = sorted((f.trade_id, f.side.value, f.quantity, f.price, f.fee) for f in report.fills)
    theirs = sorted((str(t["id"]), t["side"], D(repr(t["amount"])), D(repr(t["price"])), D(repr(t["fee"]["cost"])))
                    for t in venue_trades)
    assert ours == theirs
    assert kinds.count("order.filled") == len(venue_trades)
    submitted = {payload["client_order_id"] for kind, payload in outcome["events"] if kind == "order.submitted"}
    assert {f.client_order_id for f in report.fills} <= submitted

    # Secrets: not in any log record, not in the journal's bytes, not in any error.
    texts = all_logs.texts()
    # ccxt logged every request at DEBUG, order placements included, with the key header redacted.
    assert any("POST" in text and "/api/v3/order" in text and "'X-MBX-APIKEY': '***'" in text for text in texts)
    leaks = [text for text in texts for secret in (API_KEY, API_SECRET, WRONG_SECRET, UNKNOWN_KEY) if secret in text]
    assert leaks == []
    journal_bytes = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("journal.sqlite"))
    for secret in (API_KEY, API_SECRET):
        assert secret.encode() not in journal_bytes
        assert secret not in json.dumps([payload for _, payload in outcome["events"]], default=str)
    assert len(outcome["errors"]) == 2
    for error in outcome["errors"]:
        assert "TRADEPULSE_BINANCE_API_SECRET" in str(error)
        for shown in (str(error), repr(error), str(error.args)):
            assert all(secret not in shown for secret in (API_KEY, API_SECRET, WRONG_SECRET, UNKNOWN_KEY))
