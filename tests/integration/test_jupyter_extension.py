"""The ``tradepulse_jupyter`` server extension inside a real ``jupyter server`` process.

The Jupyter server runs with the extension enabled on the command line (``extensions/`` on its
PYTHONPATH, as the README says), a random port, its own token and a private config/runtime
directory; it finds the TradePulse service through ``TRADEPULSE_STATE_DIR`` and reads it with
``TRADEPULSE_API_TOKEN``. The service is a real ``tradepulse serve`` on the paper venue; the
strategy store (``TRADEPULSE_STORE``) is a real one, its versions made by ``tradepulse.promotion``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService, clean_env, stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = REPO_ROOT / "extensions"
sys.path.insert(0, str(EXTENSIONS))  # the extension is importable the way Jupyter imports it

JUPYTER_TOKEN = secrets.token_hex(24)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jupyter-service") / "state"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A strategy store with a version at each of live, paper and research."""
    return make_store(tmp_path_factory.mktemp("jupyter-store") / "store")


def make_store(folder: Path) -> Path:
    from tradepulse.data import load_bars
    from tradepulse.promotion import StrategyStore
    from tradepulse.strategy import load_strategy

    bars = load_bars("sample:binance:BTC/USDT:1h")
    sma = load_strategy("sma_cross")
    with StrategyStore(folder) as store:
        live = store.create_version(sma(fast=10, slow=30), bars, author="ana")
        store.promote(live.id, bars, actor="ana", comment="paper for two weeks")
        store.approve(live.id, approver="risk-bob", comment="reviewed fills and drawdown")
        paper = store.create_version(sma(fast=8, slow=30), bars, author="ana")
        store.promote(paper.id, bars, actor="ana")
        store.create_version(sma(fast=5, slow=30), bars, author="carl")
    return folder


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory, state_dir: Path, store_dir: Path):
    """A real Jupyter server with the extension; yields its base URL."""
    home = tmp_path_factory.mktemp("jupyter-home")
    runtime = home / "runtime"
    env = clean_env("JUPYTER_", "TRADEPULSE_STORE")
    env.update({
        "PYTHONPATH": os.pathsep.join([str(EXTENSIONS), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_TOKEN": JUPYTER_TOKEN,
        "TRADEPULSE_API_TOKEN": READ_TOKEN, "TRADEPULSE_STATE_DIR": str(state_dir),
        "TRADEPULSE_STORE": str(store_dir), "PYTHONWARNINGS": "ignore",
    })
    log = (home / "jupyter.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.port=0", f"--ServerApp.root_dir={REPO_ROOT}",
         '--ServerApp.jpserver_extensions={"tradepulse_jupyter": True}'],
        env=env, cwd=home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def server_info() -> dict | None:
        assert process.poll() is None, (home / "jupyter.log").read_text()
        for path in runtime.glob(f"jpserver-{process.pid}.json"):
            try:
                return json.loads(path.read_text())
            except ValueError:
                return None
        return None

    try:
        info = eventually(server_info, timeout_seconds=90, interval_seconds=0.2)
        base = f"http://127.0.0.1:{info['port']}"
        eventually(lambda: _get(base, "/api/status").status_code == 200, timeout_seconds=60)
        assert "tradepulse_jupyter | extension was successfully loaded" in (home / "jupyter.log").read_text()
        yield base
    finally:
        stop_process(process)
        log.close()


@pytest.fixture
def service(state_dir: Path) -> Iterator[PaperService]:
    """A real paper service in ``state_dir`` (the test may stop it)."""
    with PaperService(state_dir.parent, speed=5) as running:
        yield running


def _get(base: str, path: str, token: str | None = JUPYTER_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(f"{base}{path}", headers=headers, timeout=30, trust_env=False)


def _no_tokens(response: httpx.Response) -> None:
    for token in (READ_TOKEN, OPERATE_TOKEN, JUPYTER_TOKEN):
        assert token not in response.text


def test_extension_declares_its_entry_points():
    import tradepulse_jupyter

    assert tradepulse_jupyter._jupyter_server_extension_points() == [{"module": "tradepulse_jupyter"}]
    assert callable(tradepulse_jupyter._load_jupyter_server_extension)


def test_unauthenticated_requests_are_forbidden(jupyter):
    for path in ("/tradepulse/service", "/tradepulse/runbooks", "/tradepulse/strategies"):
        response = _get(jupyter, path, token=None)
        assert response.status_code == 403, (path, response.text)
        _no_tokens(response)
    for path in ("/tradepulse/service", "/tradepulse/strategies"):
        assert _get(jupyter, path, token="not-the-jupyter-token").status_code == 403


def test_runbooks_are_listed_with_their_headings(jupyter):
    response = _get(jupyter, "/tradepulse/runbooks")
    assert response.status_code == 200, response.text
    body = response.json()
    assert Path(body["runbooks_dir"]) == REPO_ROOT / "runbooks"
    titles = {entry["name"]: entry["title"] for entry in body["runbooks"]}
    assert titles["service_health_check"] == "Service health check"
    assert titles["kill_switch"].startswith("Kill switch")
    assert titles["venue_outage_drill"] == "Venue outage drill"
    assert all(entry["file"] == f"{entry['name']}.ipynb" for entry in body["runbooks"])
    # The path JupyterLab opens it by: relative to the server's root (the repository here).
    assert all(entry["path"] == f"runbooks/{entry['file']}" for entry in body["runbooks"])


def test_strategy_versions_are_listed_with_their_stage(jupyter, store_dir):
    before = sorted(path.name for path in store_dir.rglob("*"))
    response = _get(jupyter, "/tradepulse/strategies")
    assert response.status_code == 200, response.text
    body = response.json()
    assert Path(body["store"]) == store_dir and body["exists"] is True
    assert body["stages"] == ["research", "paper", "live", "retired"]
    rows = {(row["params"]["fast"], row["stage"], row["author"]) for row in body["versions"]}
    assert rows == {(10, "live", "ana"), (8, "paper", "ana"), (5, "research", "carl")}
    for row in body["versions"]:
        assert row["id"].startswith("sma_cross-") and row["name"] == "sma_cross" and row["checks_passed"] is True
        assert set(row) == {"id", "name", "class", "params", "author", "created_at", "checks_passed", "stage"}
    # Oldest first, as `tradepulse strategies list` shows them; reading changed nothing in the store.
    assert [row["params"]["fast"] for row in body["versions"]] == [10, 8, 5]
    assert sorted(path.name for path in store_dir.rglob("*")) == before


def test_a_missing_store_is_an_empty_list_and_is_not_created(tmp_path):
    from tradepulse_jupyter.handlers import read_store

    answer = read_store(tmp_path / "no-store")
    assert answer == {"store": str(tmp_path / "no-store"), "exists": False,
                      "stages": ["research", "paper", "live", "retired"], "versions": []}
    assert not (tmp_path / "no-store").exists()


def test_service_status_while_running_then_503_once_stopped(jupyter, service):
    response = _get(jupyter, "/tradepulse/service")
    assert response.status_code == 200, response.text
    _no_tokens(response)
    body = response.json()
    assert body["status"]["service"]["pid"] == service.pid
    assert body["status"]["trading_state"] == "ACTIVE"
    assert body["status"]["engines"][0]["strategy_id"] == "btc-sma"
    assert body["health"]["status"] in ("ok", "degraded")
    summary = body["summary"]
    assert summary["trading_state"] == "ACTIVE" and summary["health"] == body["health"]["status"]
    assert summary["venue"] == body["status"]["venue"]["name"] and summary["engines"] == 1
    assert summary["open_orders"] == len(body["open_orders"]) and summary["positions_open"] <= len(body["positions"])
    # Equity is summed exactly from the service's decimal strings (10,000 of paper cash, give or take its P&L).
    assert 9000 < float(summary["equity"]) < 11000 and "e" not in summary["equity"].lower()
    assert body["url"].startswith("http://127.0.0.1:") and body["url"].endswith("/api/v1")

    service.stop()
    response = eventually(lambda: (r := _get(jupyter, "/tradepulse/service")).status_code == 503 and r,
                          timeout_seconds=30, interval_seconds=0.2)
    _no_tokens(response)
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "no TradePulse service is running" in error["message"]


def test_the_summary_counts_what_is_open_and_sums_money_exactly():
    from tradepulse_jupyter.handlers import open_order_states, summarize

    assert open_order_states() == ["SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "PENDING_CANCEL"]
    health = {"status": "degraded", "uptime_seconds": 12.5, "trading_state": "REDUCING"}
    status = {"trading_state": "REDUCING", "venue": {"name": "paper", "connected": False},
              "engines": [{"running": True}, {"running": False}]}
    positions = [{"equity": "5000.10", "net_pnl": "0.20", "quantity": "0"},
                 {"equity": "5000.20", "net_pnl": "-1E-8", "quantity": "0.01"}]
    summary = summarize(health, status, positions, [{"id": 1}, {"id": 2}])
    assert summary == {"trading_state": "REDUCING", "health": "degraded", "uptime_seconds": 12.5, "venue": "paper",
                       "venue_connected": False, "engines": 2, "engines_running": 1, "equity": "10000.30",
                       "net_pnl": "0.19999999", "positions_open": 1, "open_orders": 2}
    assert summarize(health, status, [], [])["equity"] is None
