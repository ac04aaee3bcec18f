"""The promotion path through a running service: reviewers' tokens, hot-loaded versions, rollback.

A real ``tradepulse serve`` on the paper venue follows ``promoted:sma_cross`` in a real strategy
store; versions are made with :class:`StrategyStore` as a notebook would, decisions go through
the HTTP API and the command line with real tokens.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService, bearer, service_env

from tradepulse.data import load_bars
from tradepulse.promotion import StrategyStore
from tradepulse.store import Journal
from tradepulse.strategy import load_strategy


ALICE = f"alice-{secrets.token_urlsafe(24)}"  # the author: her approve token cannot sign off her own work
BOB = f"bob-{secrets.token_urlsafe(24)}"
APPROVERS = {"TRADEPULSE_API_APPROVE_TOKEN": f"alice:{ALICE},bob:{BOB}"}


def _config(strategy: str) -> str:
    return ('[service]\nstate_dir = "state"\nstatus_interval_seconds = 0.5\n[api]\nport = 0\n'
            '[venue]\nkind = "paper"\ninit_cash = 10000\nfees_bps = 10\n'
            '[governance]\nstore = "store"\npoll_seconds = 0.5\non_retire = "cancel"\n'
            f'[[strategies]]\nid = "btc-sma"\nstrategy = "{strategy}"\nsymbol = "BTC/USDT"\n'
            'feed = "recording:binance:BTC/USDT"\nbar = "10s"\nspeed = 5\n')


def _bars():
    return load_bars("sample:binance:BTC/USDT:1h")


def _paper_version(store: StrategyStore, bars, **params) -> str:
    version = store.create_version(load_strategy("sma_cross")(**params), bars, author="alice")
    store.promote(version.id, bars, actor="alice", comment="paper run")
    return version.id


def _running(client: httpx.Client) -> str:
    (row,) = client.get("/strategies").json()
    return row["version"]


def _cli(*args: str, token: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tradepulse.cli", "strategies", *args], capture_output=True, text=True,
                          env=service_env(TRADEPULSE_API_TOKEN=token), timeout=120)


def test_a_version_goes_paper_then_live_with_a_named_sign_off_and_rolls_back(tmp_path: Path) -> None:
    bars = _bars()
    with StrategyStore(tmp_path / "store") as store:
        v1 = _paper_version(store, bars, fast=3, slow=8)
    service = PaperService(tmp_path, extra_env=APPROVERS)
    service.config_text = _config("promoted:sma_cross")
    with service, httpx.Client(base_url=service.url, headers=bearer(READ_TOKEN), timeout=30) as reader:
        assert _running(reader) == v1

        # Paper first: a newly promoted version is loaded without a restart.
        with StrategyStore(tmp_path / "store") as store:
            v2 = _paper_version(store, bars, fast=4, slow=12)
        eventually(lambda: _running(reader) == v2, timeout_seconds=30)

        def review(token: str, version: str, decision: str, comment: str = "paper matches the backtest") -> httpx.Response:
            return httpx.post(f"{service.url}/versions/{version}/{decision}", json={"comment": comment},
                              headers=bearer(token), timeout=30)

        refused = review(READ_TOKEN, v2, "approve")
        assert refused.status_code == 403 and "approve scope" in refused.json()["error"]["message"]
        assert review(OPERATE_TOKEN, v2, "approve").status_code == 403  # operating is not approving
        own = review(ALICE, v2, "approve")
        assert own.status_code == 409 and "someone else" in own.json()["error"]["message"]
        assert review(BOB, v2, "approve", comment=" ").status_code == 422
        assert review(BOB, "sma_cross-000000000000", "approve").status_code == 404

        rejected = review(BOB, v1, "reject", "superseded by the slower pair")
        assert rejected.status_code == 200 and rejected.json()["decision"]["stage"] == "research"
        approved = review(BOB, v2, "approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["decision"] == {**approved.json()["decision"], "approver": "bob", "stage": "live", "replaces": None}
        assert approved.json()["service"] == []  # the paper service already runs v2

        with StrategyStore(tmp_path / "store") as store:
            v3 = _paper_version(store, bars, fast=5, slow=15)
        eventually(lambda: _running(reader) == v3, timeout_seconds=30)
        assert review(BOB, v3, "approve").json()["decision"]["replaces"] == v2

        # An operator rolls back through the command line; the service goes back to v2 at once.
        denied = _cli("rollback", "sma_cross", "--url", service.url, "--reason", "fills worse than paper", token=READ_TOKEN)
        assert denied.returncode == 2 and denied.stderr.count("\n") == 1 and "operate token" in denied.stderr
        rolled = _cli("rollback", "sma_cross", "--url", service.url, "--reason", "fills worse than paper", "--json",
                      token=OPERATE_TOKEN)
        assert rolled.returncode == 0, rolled.stderr
        result = json.loads(rolled.stdout)
        assert result["decision"]["version"] == v2 and result["decision"]["from"] == v3
        assert result["service"] == [{**result["service"][0], "strategy_id": "btc-sma", "action": "loaded", "version": v2,
                                      "previous_version": v3}]
        assert _running(reader) == v2

        stages = {row["id"]: row["stage"] for row in reader.get("/versions").json()}
        assert stages == {v1: "research", v2: "live", v3: "retired"}
        detail = reader.get(f"/versions/{v2}").json()
        assert detail["running_in"] == ["btc-sma"] and [entry["kind"] for entry in detail["history"]][-1] == "promotion.rolled_back"
        for token in (ALICE, BOB):
            assert token not in json.dumps(detail)

    with Journal(tmp_path / "state" / "journals" / "btc-sma.sqlite", read_only=True) as journal:
        swaps = [(event.payload["from"]["version"], event.payload["to"]["version"], event.payload["actor"])
                 for event in journal.iter_events(kinds=["strategy.replaced"])]
    assert swaps[0] == (v1, v2, "system:governance") and swaps[1][:2] == (v2, v3)
    assert swaps[2] == (v3, v2, "operator:operate@api")
    with Journal(tmp_path / "state" / "service.sqlite", read_only=True) as journal:
        decisions = [(event.payload["decision"], event.payload.get("approver") or event.payload.get("actor"))
                     for event in journal.iter_events(kinds=["service.promotion"])]
    assert decisions == [("rejected", "bob"), ("approved", "bob"), ("approved", "bob"), ("rolled_back", "operator:operate@api")]
    log = service.log_path.read_text()
    for token in (ALICE, BOB, READ_TOKEN, OPERATE_TOKEN):
        assert token not in log


def test_a_pinned_version_that_is_rejected_stops_trading(tmp_path: Path) -> None:
    bars = _bars()
    with StrategyStore(tmp_path / "store") as store:
        v1 = _paper_version(store, bars, fast=3, slow=8)
    service = PaperService(tmp_path, extra_env=APPROVERS)
    service.config_text = _config(f"version:{v1}")
    with service, httpx.Client(base_url=service.url, headers=bearer(READ_TOKEN), timeout=30) as reader:
        assert reader.get("/status").json()["trading_state"] == "ACTIVE"
        answer = _cli("reject", v1, "--url", service.url, "--comment", "lookahead found in review", "--json", token=BOB)
        assert answer.returncode == 0, answer.stderr
        (change,) = json.loads(answer.stdout)["service"]
        assert change["action"] == "halted" and "research" in change["reason"]
        assert reader.get("/status").json()["trading_state"] == "HALTED"
        alerts = reader.get("/alerts").json()
        assert any(alert["kind"] == "strategy_version" and alert["severity"] == "critical" for alert in alerts)


def test_an_exchange_service_refuses_unreviewed_code_and_versions_not_live(tmp_path: Path) -> None:
    bars = _bars()
    with StrategyStore(tmp_path / "store") as store:
        v1 = _paper_version(store, bars, fast=3, slow=8)
    exchange = ('[venue]\nkind = "ccxt"\nexchange = "binance"\n[governance]\nstore = "store"\n'
                '[[strategies]]\nid = "btc"\nstrategy = "{}"\nsymbol = "BTC/USDT"\n')
    for strategy, expected in (("sma_cross", "trades only reviewed strategy versions"),
                               (f"version:{v1}", "is at paper; a ccxt venue trades only versions approved for live"),
                               ("promoted:sma_cross", "no version of sma_cross is approved for live")):
        (tmp_path / "live.toml").write_text(exchange.format(strategy))
        checked = subprocess.run([sys.executable, "-m", "tradepulse.cli", "serve", "--config", str(tmp_path / "live.toml"),
                                  "--check"], capture_output=True, text=True, env=service_env(), timeout=120)
        assert checked.returncode == 2 and checked.stderr.count("\n") == 1 and expected in checked.stderr, checked.stderr
