"""The operational runbooks, run with papermill as a job would run them.

Each runbook records its outcome with ``tradepulse.jobs.record_results``; the assertions read it back
from the executed notebook. The runbooks that operate a service (health check, kill switch, incident
response) run against a real paper service this test starts and are checked against the service
itself (through ``LiveClient``): they get its state directory or URL and the name of the variable
holding the token, as an operator would pass them, with ``allow_drill = False`` so they can never
fall back to a drill service of their own. The drills (cold start, warm start review, key rotation,
abnormal market) start their own venue and service; they run with parameters other than their
defaults, so the parameters reach them.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import papermill
import pytest

from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService
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


def test_incident_response_reports_a_halt_and_only_reads(paper_service, tmp_path):
    state_dir, url, pid = paper_service
    with LiveClient(url, token=OPERATE_TOKEN) as client:
        eventually(lambda: client.fills(limit=1), timeout_seconds=60, interval_seconds=0.2)
        client.kill("papermill test: incident")
        results = run_runbook("incident_response", tmp_path / "incident.ipynb", state_dir=str(state_dir),
                              token_env=TOKEN_VARIABLE, allow_drill=False, log_file=str(state_dir.parent / "service.log"),
                              report_dir=str(tmp_path / "reports"), incident="papermill test: operator halt",
                              responder="pytest")
        assert results["mode"] == "service"
        report = Path(results["report"])
        assert report.parent == tmp_path / "reports" and re.fullmatch(r"incident-\d{8}T\d{6}Z\.ipynb", report.name)
        assert results["sections"] == ["Summary", "Timeline", "Status", "Risk", "Orders and positions", "Journal extract",
                                       "Service log", "Metrics", "Next steps"]
        assert results["trading_state"] == "HALTED" and results["secrets_found"] == 0
        assert results["journal_events"]["btc-sma"] > 0 and results["log_lines"] > 0 and results["metric_samples"] > 0
        text = report.read_text()
        assert OPERATE_TOKEN not in text and READ_TOKEN not in text
        assert "papermill test: operator halt" in text and "papermill test: incident" in text  # the kill's reason
        # It only read: the same process, still halted.
        status = client.status()
        assert status["service"]["pid"] == pid and status["trading_state"] == "HALTED"


def test_cold_start_records_the_baseline_of_the_balances_it_was_given(tmp_path):
    results = run_runbook("cold_start", tmp_path / "cold.ipynb", balances={"USDT": "3000", "BTC": "0.02"}, capital=1500,
                          first_fills=3)
    assert results["start_mode"] == "cold" and results["health"] == "ok" and results["trading_state"] == "ACTIVE"
    baseline = results["baseline"]
    assert Decimal(baseline["base_total"]) == Decimal("0.02") and Decimal(baseline["quote_total"]) == Decimal("3000")
    assert results["baseline_matches_venue"] and results["baseline_before_first_order"]
    assert results["fills"] >= 3 and results["stop_exit_code"] == 0 and results["journals_kept"] == ["btc-sma.sqlite"]


def test_warm_start_review_reconciles_the_fill_made_while_the_service_was_down(tmp_path):
    results = run_runbook("warm_start_review", tmp_path / "warm.ipynb", late_landing_ms=1500, fills_before_crash=2)
    assert results["killed_exit_code"] == -9 and results["start_mode_after_restart"] == "warm"
    assert results["resolved"] == [f"{results['in_flight_order']}: SUBMITTED -> FILLED"]
    # The in-flight market order may take more than one price level of the recorded book: one venue trade,
    # and one missed fill, per level. Every missed fill is one of its trades, and every one of its trades is applied.
    assert results["missed_fill_orders"] == [results["in_flight_order"]]
    assert results["missed_fill_trades"] == results["in_flight_trades"] and results["missed_fills"] >= 1
    assert results["adopted"] == 0 and results["foreign"] == 0
    assert results["reconciliation_ok"] and results["unexplained"] == [] and Decimal(results["balance_difference"]) == 0
    assert results["decision"] == "continue" and results["trading_state"] == "ACTIVE"


def test_key_rotation_refuses_no_client_and_locks_out_the_old_tokens(tmp_path):
    results = run_runbook("key_rotation", tmp_path / "rotation.ipynb", probe_interval_seconds=0.05)
    # The API tokens rotate by SIGHUP: no restart, no call ever finds the API away; the venue key takes one.
    assert results["token_reloads"] == ["add the new tokens", "remove the old tokens"]
    assert [restart["restart"] for restart in results["restarts"]] == ["new venue key"]
    assert results["probe_answers"] > 20 and results["refused_answers"] == 0 and results["unreachable_during_token_steps"] == 0
    assert results["old_tokens_after_removal"] == {"operate": "refused", "read": "refused"}
    assert results["new_tokens_accepted"] == {"operate": "operate", "read": "read"}
    assert results["orders_through_new_key"] >= 1 and results["old_key_account_untouched"]
    assert results["secrets_in_log"] == 0


def test_abnormal_market_halts_on_the_recorded_ether_fall(tmp_path):
    results = run_runbook("abnormal_market", tmp_path / "abnormal.ipynb", symbol="ETHUSDT")
    assert results["symbol"] == "ETH/USDT" and 0.004 < results["recorded_fall"] < 0.005
    assert results["states_seen"] == ["ACTIVE", "REDUCING", "HALTED"]
    assert results["breakers_tripped"] == ["daily_loss", "drawdown"]
    assert results["journal_sequence"] == ["daily_loss -> REDUCING", "breaker:daily_loss -> REDUCING",
                                           "drawdown -> HALTED", "breaker:drawdown -> HALTED"]
    assert results["flattened"] and results["trading_state"] == "HALTED"
    assert results["alerts"] == [["breaker_trip", "critical"], ["breaker_trip", "warning"]]
