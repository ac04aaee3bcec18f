"""The operational runbooks, run with papermill against a real paper service this test starts.

Each runbook records its outcome with ``tradepulse.jobs.record_results``; the assertions read it back
from the executed notebook and check it against the service itself (through ``LiveClient``). The
runbooks get the service's state directory or URL and the name of the variable holding the token,
as an operator would pass them, with ``allow_drill = False`` so they can never fall back to a drill
service of their own.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import papermill
import pytest

from polling import eventually
from service_fixtures import OPERATE_TOKEN, PaperService
from tradepulse.client import LiveClient
from tradepulse.jobs import read_results

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
TOKEN_VARIABLE = "RUNBOOK_TEST_OPERATE_TOKEN"


@pytest.fixture
def paper_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real ``tradepulse serve`` on the paper venue; yields ``(state_dir, url, pid)``."""
    # The recorded BTC/USDT stream replayed at 5x: the engine trades for about two minutes.
    with PaperService(tmp_path, speed=5, bar="5s") as service:
        # The notebooks' kernels inherit this process's environment: the token reaches them by name only.
        monkeypatch.setenv(TOKEN_VARIABLE, OPERATE_TOKEN)
        for variable in ("TRADEPULSE_API_TOKEN", "TRADEPULSE_API_OPERATE_TOKEN", "TRADEPULSE_API_READ_TOKEN"):
            monkeypatch.delenv(variable, raising=False)
        yield service.state_dir, service.url, service.pid


def run_runbook(name: str, output: Path, **parameters) -> dict:
    papermill.execute_notebook(str(RUNBOOKS / f"{name}.ipynb"), str(output), parameters=parameters,
                               cwd=str(RUNBOOKS), progress_bar=False, kernel_name="python3")
    text = output.read_text()
    assert OPERATE_TOKEN not in text, "a token was printed in the executed notebook"
    results = read_results(output)
    assert results is not None, f"{name} recorded no results"
    return results


def test_health_check_gives_a_running_service_a_clean_bill(paper_service, tmp_path):
    state_dir, _url, pid = paper_service
    results = run_runbook("service_health_check", tmp_path / "health.ipynb", state_dir=str(state_dir),
                          token_env=TOKEN_VARIABLE, allow_drill=False, raise_on_fail=True)
    assert results["mode"] == "service"
    assert results["verdict"] == "OK", results["checks"]
    assert set(results["checks"].values()) == {"OK"}
    assert {"service reachable", "health", "trading state", "engines", "venue", "feed staleness", "reconciliation",
            "circuit breakers", "open orders", "alerts"} <= set(results["checks"])
    with LiveClient.from_state_dir(state_dir, token=OPERATE_TOKEN) as client:
        status = client.status()
        assert status["service"]["pid"] == pid
        assert results["trading_state"] == status["trading_state"] == "ACTIVE"
        assert results["open_orders"] == len(client.orders(status=["SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED",
                                                                   "PENDING_CANCEL"]))
    assert results["health"] == "ok" and results["reconciled_engines"] == 0


def test_kill_switch_halts_flattens_then_resumes(paper_service, tmp_path):
    state_dir, url, _pid = paper_service
    with LiveClient(url, token=OPERATE_TOKEN) as client:
        # Wait for a position, so flattening has something to close.
        eventually(lambda: any(Decimal(p["quantity"]) != 0 for p in client.positions()), timeout_seconds=60,
                   interval_seconds=0.2)

        halted = run_runbook("kill_switch", tmp_path / "kill.ipynb", service_url=url, token_env=TOKEN_VARIABLE,
                             allow_drill=False, reason="papermill test: halt", flatten=True)
        assert halted["mode"] == "service"
        assert halted["halted"] is True and halted["resumed"] is False
        assert halted["trading_state_after_halt"] == halted["final_trading_state"] == "HALTED"
        assert halted["open_orders_after_halt"] == 0
        assert all(Decimal(quantity) == 0 for quantity in halted["positions_after_halt"].values())
        # The service agrees, and journaled the operator's reason.
        assert client.status()["trading_state"] == "HALTED"
        assert all(Decimal(p["quantity"]) == 0 for p in client.positions())
        changes = [row for row in client.risk(limit=50)["history"] if row["kind"] == "risk.state_change"]
        assert changes[0]["payload"]["new"] == "HALTED" and changes[0]["payload"]["reason"] == "papermill test: halt"

        # The health check sees the halt for what it is: a warning, not a failure.
        health = run_runbook("service_health_check", tmp_path / "health.ipynb", state_dir=str(state_dir),
                             token_env=TOKEN_VARIABLE, allow_drill=False)
        assert health["verdict"] == "WARN", health["checks"]
        assert health["checks"]["trading state"] == "WARN" and health["checks"]["alerts"] == "WARN"
        assert health["trading_state"] == "HALTED"

        resumed = run_runbook("kill_switch", tmp_path / "resume.ipynb", state_dir=str(state_dir),
                              token_env=TOKEN_VARIABLE, allow_drill=False, halt=False, resume=True,
                              resume_reason="papermill test: resume")
        assert resumed["halted"] is False and resumed["resumed"] is True
        assert resumed["final_trading_state"] == "ACTIVE"
        assert client.status()["trading_state"] == "ACTIVE"
        changes = [row for row in client.risk(limit=50)["history"] if row["kind"] == "risk.state_change"]
        assert changes[0]["payload"]["new"] == "ACTIVE" and changes[0]["payload"]["reason"] == "papermill test: resume"
