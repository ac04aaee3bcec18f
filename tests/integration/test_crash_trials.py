"""The crash-trial runner, run for real: 20 kill -9s of a trading service with venue faults on.

`tradepulse trials crash` starts the local venue and the service as processes, kills the service
at random moments (with an order answer lost, REST error bursts or dropped WebSockets injected
just before), warm-starts it each time, and audits the account with ccxt at the end. The test
reads its JSON report: every warm start reconciled cleanly, no fill was lost or doubled, no
client order id reached the venue twice, and the position equals the venue balance change.
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
    # The kills happened mid-trading, with faults injected.
    assert report["kills"][-1]["orders_journaled"] > 10
    assert {kill["fault"] for kill in report["kills"]} - {"none"}

    audit = report["audit"]
    assert audit["venue_trades"] == audit["journaled_fills"] > 0
    assert audit["journaled_orders"] >= audit["venue_orders"] > 0
