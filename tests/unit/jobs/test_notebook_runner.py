"""run_notebook with real papermill runs: success with results, a failing cell, a timeout."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from tradepulse.errors import ConfigError
from tradepulse.jobs import read_results, read_sidecar, run_notebook
from tradepulse.jobs.history import JobHistory

KERNEL = "python3"  # always named: papermill would otherwise trust the notebook's metadata


def test_a_successful_run_archives_the_notebook_with_results_and_a_sidecar(notebooks, tmp_path):
    history = JobHistory(tmp_path / "jobs.sqlite")
    record = run_notebook(
        notebooks / "records_results.ipynb",
        {"lookback": 4, "options": {"label": "nightly"}, "weights": [0.5, 0.25]},
        output_dir=tmp_path / "archive",
        job_name="nightly",
        kernel_name=KERNEL,
        timeout_seconds=120,
        history=history,
    )
    assert record.status == "succeeded" and record.error is None
    output = (
        tmp_path
        / "archive"
        / record.started_at.strftime("%Y-%m-%d")
        / (f"records_results-{record.started_at.strftime('%Y%m%dT%H%M%SZ')}-{record.run_id}.ipynb")
    )
    assert record.output_notebook == str(output) and output.is_file()
    assert record.results == read_results(output)
    assert record.results == {
        "symbol": "BTC/USDT",
        "lookback": 4,
        "mean_close": 8.5,
        "weights_sum": 0.75,
        "label": "nightly",
        "enabled": True,
        "last_bar": "2024-01-10T00:00:00Z",
        "undefined_ratio": None,
        # The kernel named python3 is this environment's Python, started in the notebook's folder.
        "kernel_python": sys.executable,
        "working_directory": str(notebooks),
    }
    sidecar = json.loads(output.with_suffix(".json").read_text())
    assert sidecar["job"] == "nightly" and sidecar["status"] == "succeeded"
    assert sidecar["parameters"] == {"lookback": 4, "options": {"label": "nightly"}, "weights": [0.5, 0.25]}
    assert sidecar["duration_seconds"] > 0 and sidecar["results"]["mean_close"] == 8.5
    assert read_sidecar(output) == record
    # The results output is a JSON MIME bundle with a readable fallback, stored in the notebook.
    executed = nbformat.read(output, as_version=4)
    bundle = next(
        o
        for c in executed.cells
        for o in c.get("outputs", [])
        if "application/vnd.tradepulse.results+json" in o.get("data", {})
    )
    assert "text/plain" in bundle["data"]
    [entry] = history.entries()
    assert (entry.run_id, entry.status, entry.archive_path) == (record.run_id, "succeeded", str(output))


def test_a_failing_cell_is_reported_by_index_and_exception_and_the_notebook_is_kept(notebooks, tmp_path):
    record = run_notebook(
        notebooks / "fails_in_known_cell.ipynb", {"threshold": 7}, output_dir=tmp_path, kernel_name=KERNEL
    )
    assert record.status == "failed"
    assert (record.error.cell_index, record.error.exception, record.error.message) == (
        2,
        "ValueError",
        "threshold 7 is above 1",
    )
    assert record.error.execution_count is not None
    assert record.results is None
    executed = nbformat.read(record.output_notebook, as_version=4)
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))
    assert read_sidecar(record.output_notebook).error == record.error


def test_a_run_past_its_overall_limit_times_out_in_the_sleeping_cell(notebooks, tmp_path):
    record = run_notebook(
        notebooks / "sleeps_past_timeout.ipynb",
        {"sleep_seconds": 60},
        output_dir=tmp_path,
        kernel_name=KERNEL,
        timeout_seconds=8,  # room for a slow kernel start on a busy machine
    )
    assert record.status == "timed_out"
    assert (record.error.exception, record.error.cell_index) == ("TimeoutError", 2)
    assert "8 s" in record.error.message  # names the limit that was hit
    assert record.duration_seconds < 30
    assert nbformat.read(record.output_notebook, as_version=4).cells  # kept, with what ran


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"notebook": "missing.ipynb"}, "not found"),
        ({"parameters": {"lookbak": 1}}, "unknown parameter 'lookbak'.*symbol, lookback"),
        ({"kernel_name": "no-such-kernel"}, "no Jupyter kernel named 'no-such-kernel'"),
        ({"timeout_seconds": 0}, "timeout must be a positive"),
        ({"cell_timeout_seconds": -5}, "cell timeout must be a positive"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(notebooks, tmp_path, arguments, match):
    options = {"notebook": "records_results.ipynb", "parameters": {}, "kernel_name": KERNEL, **arguments}
    with pytest.raises(ConfigError, match=match):
        run_notebook(
            notebooks / options.pop("notebook"), options.pop("parameters"), output_dir=tmp_path / "archive", **options
        )
    assert not (tmp_path / "archive").exists()
