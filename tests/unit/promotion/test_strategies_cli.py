"""``tradepulse strategies``: list, show and promote, with one JSON object and the usual exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRAPS = Path(__file__).resolve().parents[1] / "strategy" / "check_traps.py"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tradepulse.cli", "strategies", *args], capture_output=True, text=True)


def test_promote_then_list_and_show_the_version(tmp_path):
    store = str(tmp_path / "store")
    promoted = _cli("promote", "sma_cross", "sample:binance:BTC/USDT:1h", "-p", "fast=10", "--author", "ana",
                    "--comment", "first paper run", "--store", store, "--json")
    assert promoted.returncode == 0, promoted.stderr
    result = json.loads(promoted.stdout)
    assert result["stage"] == "paper" and result["promoted"] is True and result["checks"]["passed"] is True

    listed = json.loads(_cli("--store", store, "list", "--json").stdout)
    assert "sma_cross" in {row["name"] for row in listed["strategies"]}
    assert [(row["id"], row["stage"], row["author"]) for row in listed["versions"]] == [(result["version"], "paper", "ana")]

    shown = _cli("show", result["version"], "--store", store, "--json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert [entry["kind"] for entry in document["record"]] == ["promotion.version_created", "promotion.promoted"]
    assert document["record"][-1]["comment"] == "first paper run" and Path(document["source"]).is_file()


def test_a_strategy_failing_a_check_is_stored_but_not_promoted_exit_1(tmp_path):
    refused = _cli("promote", f"{TRAPS}:PeeksAhead", "sample:binance:BTC/USDT:1h", "--author", "ana",
                   "--store", str(tmp_path), "--json")
    assert refused.returncode == 1, refused.stderr
    result = json.loads(refused.stdout)
    assert result["stage"] == "research" and "lookahead" in result["refused"]


def test_an_unknown_version_is_one_line_and_exit_2(tmp_path):
    shown = _cli("show", "nothing-000000000000", "--store", str(tmp_path))
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1 and "no strategy version" in shown.stderr
