"""``ReportsBoard`` on a real job history: a succeeded and a failed report run made with `tradepulse jobs run`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tradepulse.widgets.reports_board import ReportsBoard

REPORT = Path(__file__).resolve().parents[3] / "notebooks" / "reports" / "backtest_report.ipynb"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jobs")
    store = root / "jobs.sqlite"
    for name, parameters, code in (("btc_report", [], 0), ("broken_report", ["-p", "source", "sample:nowhere:XYZ:1h"], 1)):
        run = subprocess.run([sys.executable, "-m", "tradepulse.cli", "jobs", "run", str(REPORT), "--name", name,
                              "--output-dir", str(root / "archive"), "--store", str(store), "--timeout", "300", *parameters],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == code, run.stderr
    return store


def test_runs_are_listed_with_status_and_figures_and_the_failure_stands_out(history):
    board = ReportsBoard(history)
    assert [run["job"] for run in board.runs] == ["broken_report", "btc_report"]
    assert [run["job"] for run in board.failures] == ["broken_report"]
    assert 'data-runs="2"' in board.summary.value and 'data-failed="1"' in board.summary.value
    rows = re.findall(r'<tr class="tp-reports-row" data-run="[^"]+" data-failed="(true|false)"', board.table.value)
    assert rows == ["true", "false"]
    succeeded = next(run for run in board.runs if run["job"] == "btc_report")
    assert f'{succeeded["results"]["total_return"]:.2%}' in board.table.value


def test_picking_a_run_shows_its_report_without_code_and_with_its_chart_offline(history):
    board = ReportsBoard(history)
    succeeded = next(run for run in board.runs if run["job"] == "btc_report")
    board.run_picker.value = succeeded["run_id"]
    view = board.report_view.value
    assert view.startswith('<iframe class="tp-reports-frame"') and "Plotly.newPlot" in view
    assert "from tradepulse.backtest import" not in view  # the code is not on the page
    assert not re.search(r"<script[^>]*src=&quot;https?://", view)  # nothing loads from the internet


def test_no_history_yet_is_a_sentence_not_an_error(tmp_path):
    board = ReportsBoard(tmp_path / "jobs.sqlite")
    assert board.runs == [] and "No report runs yet" in board.summary.value
