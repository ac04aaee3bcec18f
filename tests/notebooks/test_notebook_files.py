"""The stored notebooks: clean files, a schedulable report, dashboard pages that build their widget.

Running every notebook top to bottom is nbval's job (see notebooks/README.md); these tests check
what nbval does not: how the files are stored, and the report's parameter contract.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import papermill
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_outputs import CHECK_MARKER, NOTEBOOKS_DIR, TEXT_MIME_TYPES, is_checked, notebook_paths  # noqa: E402

from tradepulse.jobs import read_results  # noqa: E402

REPORT = NOTEBOOKS_DIR / "reports" / "backtest_report.ipynb"
EXPECTED_NOTEBOOKS = {
    "quickstart.ipynb",
    "indicators_tour.ipynb",
    "backtest_explorer.ipynb",
    "indicators_dashboard.ipynb",
    "live_dashboard.ipynb",
    "overview_dashboard.ipynb",
    "history_dashboard.ipynb",
    "research_reports.ipynb",
    "from_notebook_to_paper.ipynb",
    "sweeps_and_walkforward.ipynb",
    "portfolio.ipynb",
    "reports/backtest_report.ipynb",
}


def test_every_documented_notebook_is_there():
    found = {str(path.relative_to(NOTEBOOKS_DIR)) for path in notebook_paths()}
    assert EXPECTED_NOTEBOOKS <= found


RUNBOOKS_DIR = NOTEBOOKS_DIR.parent / "runbooks"


@pytest.mark.parametrize("path", notebook_paths() + notebook_paths(RUNBOOKS_DIR),
                         ids=lambda p: str(p.relative_to(NOTEBOOKS_DIR.parent)))
def test_notebook_is_stored_without_outputs_except_checked_text_references(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert "widgets" not in notebook.metadata, "saved widget state: run tests/notebooks/notebook_outputs.py strip"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name} cell {index}"
        if is_checked(cell):
            assert cell.execution_count == 1 and cell.outputs, f"{where}: {CHECK_MARKER} needs its reference output"
            for output in cell.outputs:
                assert output.output_type in {"stream", "execute_result", "display_data"}, where
                assert set(output.get("data", {})) <= TEXT_MIME_TYPES, f"{where}: references must be text"
        else:
            assert cell.outputs == [] and cell.execution_count is None, f"{where}: stored with output"


def test_every_runbook_is_there_and_takes_papermill_parameters():
    runbooks = {path.name: path for path in notebook_paths(RUNBOOKS_DIR)}
    assert {"service_health_check.ipynb", "kill_switch.ipynb", "venue_outage_drill.ipynb", "cold_start.ipynb",
            "warm_start_review.ipynb", "key_rotation.ipynb", "incident_response.ipynb", "abnormal_market.ipynb"} <= set(runbooks)
    for path in runbooks.values():
        assert papermill.inspect_notebook(str(path)), f"{path.name} has no parameters cell"


def test_report_declares_the_parameters_a_job_sets():
    parameters = papermill.inspect_notebook(str(REPORT))
    assert {name: info["default"] for name, info in parameters.items()} == {
        "source": '"sample:binance:BTC/USDT:1h"',
        "strategy": '"sma_cross"',
        "params": "{}",
        "fees_bps": "10.0",
        "slippage_bps": "0.0",
    }


def test_report_runs_with_job_parameters_and_records_its_key_statistics(tmp_path):
    output = tmp_path / "report.ipynb"
    papermill.execute_notebook(
        str(REPORT),
        str(output),
        parameters={"strategy": "mean_reversion", "params": {"window": 30, "entry_z": 1.5}, "fees_bps": 5.0},
        cwd=str(REPORT.parent),
        progress_bar=False,
        kernel_name="python3",
    )
    results = read_results(output)
    assert results["strategy"] == "mean_reversion"
    assert results["params"]["window"] == 30 and results["params"]["entry_z"] == 1.5
    assert results["fees_bps"] == 5.0
    assert results["bars"] == 583
    for key in ("total_return", "sharpe", "max_drawdown", "win_rate", "trades", "final_equity"):
        assert key in results
