"""The crash-trial runner, run for real: 20 kill -9s of a trading service with venue faults on, and 8 of a
two-symbol portfolio strategy.

`tradepulse trials crash` starts the local venue and the service as processes, kills the service
at random moments (with an order answer lost, an order landing late, REST error bursts, dropped
WebSockets, a kill during an outage followed by a second kill, or a breaker trip injected just before), warm-starts it each time, and audits the account with ccxt at the end. The test
reads its JSON report: every warm start reconciled cleanly, no fill was lost or doubled, no
client order id reached the venue twice, the position equals the venue balance change, and every
restart kept the breaker baselines and trips it had before the kill.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

RUNS = 20


@pytest.mark.slow
def test_twenty_kill_nine_trials_leave_no_duplicate_orders_no_lost_fills_and_positions_equal_balances(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "tradepulse.cli", "trials", "crash", "--runs", str(RUNS), "--seed", "3",
         "--work", str(tmp_path / "trials"), "--json"],
        capture_output=True, text=True, timeout=900,
    )
    report = json.loads(completed.stdout)
    assert report["problems"] == [] and report["ok"] is True, report["problems"]
    assert completed.returncode == 0

    # Every run was killed, and each restart was a warm start that explained everything.
    assert len(report["kills"]) == RUNS
    assert len(report["reconciliations"]) == RUNS
    assert all(entry["ok"] and entry["unexplained"] == [] for entry in report["reconciliations"])
    assert all(entry["balance"]["checked"] for entry in report["reconciliations"])
    # The kills happened mid-trading, every scenario at least once (a shuffled cycle of eight over twenty runs).
    assert report["kills"][-1]["orders_journaled"] > 10
    kills = {kill["fault"]: kill for kill in report["kills"]}
    assert set(kills) == {"lose_order_response", "land_order_late", "rest_error_burst", "drop_user_stream",
                          "drop_market_stream", "outage_double_kill", "breaker_trip", "none"}
    # The breaker tripped before its kill; the second kill left nothing open that the first could not cancel.
    assert all(kill["tripped"] for kill in report["kills"] if kill["fault"] == "breaker_trip")
    assert all(kill["open_after_second_kill"] == [] for kill in report["kills"] if kill["fault"] == "outage_double_kill")
    # Every warm start restored the breaker baselines the journal held at the kill (problems would list any that did not).
    assert len(report["baselines"]) == RUNS
    tripped_runs = [kill["run"] for kill in report["kills"] if kill["fault"] == "breaker_trip"]
    assert all("venue_errors" in entry["tripped_after"] for entry in report["baselines"] if entry["run"] - 1 in tripped_runs)

    audit = report["audit"]
    assert audit["venue_trades"] == audit["journaled_fills"] > 0
    # The account pays commissions in BNB: fills carried a third-currency fee and kept trading.
    assert audit["fee_currencies"].get("BNB", 0) > 0
    assert audit["journaled_orders"] >= audit["venue_orders"] > 0


PORTFOLIO_RUNS = 8


@pytest.mark.slow
def test_a_two_symbol_portfolio_survives_kill_nine_trials_with_both_members_audited(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "tradepulse.cli", "trials", "crash", "--portfolio", "--runs", str(PORTFOLIO_RUNS), "--seed", "5",
         "--work", str(tmp_path / "trials"), "--json"],
        capture_output=True, text=True, timeout=900,
    )
    report = json.loads(completed.stdout)
    assert report["problems"] == [] and report["ok"] is True, report["problems"]
    assert completed.returncode == 0
    assert len(report["kills"]) == PORTFOLIO_RUNS == len(report["reconciliations"])
    assert all(entry["ok"] and entry["unexplained"] == [] for entry in report["reconciliations"])
    # One cycle of the eight scenarios: each ran once against the portfolio engine.
    assert len({kill["fault"] for kill in report["kills"]}) == 8
    audit = report["audit"]
    assert audit["venue_trades"] == audit["journaled_fills"] > 0
    # Both members traded, and each position equals its own base asset's balance change (problems would say otherwise).
    members = audit["members"]
    assert set(members) == {"BTC/USDT", "ETH/USDT"}
    assert audit["journaled_orders"] >= audit["venue_orders"] > 0
