"""The run archive: dated, unique names and a sidecar that round-trips."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tradepulse.errors import ConfigError
from tradepulse.jobs.archive import (
    FAILED,
    RUNNING,
    RunError,
    RunRecord,
    archive_notebook_path,
    new_run_id,
    read_sidecar,
    write_sidecar,
)

STARTED = datetime(2026, 11, 22, 3, 15, 0, 250000, tzinfo=timezone.utc)


def test_archive_name_is_dated_in_utc_and_ends_with_the_run_id(tmp_path):
    berlin_evening = datetime(2026, 11, 22, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    path = archive_notebook_path(tmp_path, "notebooks/reports/backtest_report.ipynb", berlin_evening, "1a2b3c4d")
    assert path == tmp_path / "2026-11-22" / "backtest_report-20261122T223000Z-1a2b3c4d.ipynb"


def test_run_ids_tell_apart_runs_started_in_the_same_second(tmp_path):
    paths = {archive_notebook_path(tmp_path, "report.ipynb", STARTED, new_run_id()) for _ in range(200)}
    assert len(paths) == 200


def _record(tmp_path, **changes) -> RunRecord:
    fields = dict(
        run_id="1a2b3c4d",
        job="daily",
        notebook="/abs/report.ipynb",
        parameters={"fees_bps": 5, "params": {"fast": 10}},
        status=RUNNING,
        started_at=STARTED,
        output_notebook=str(archive_notebook_path(tmp_path, "report.ipynb", STARTED, "1a2b3c4d")),
        scheduled_for=STARTED.replace(microsecond=0),
        trigger="schedule",
        attempt=2,
    )
    fields.update(changes)
    return RunRecord(**fields)


def test_sidecar_round_trips_a_failed_run(tmp_path):
    record = _record(tmp_path).finished(
        FAILED, STARTED + timedelta(seconds=12.5), error=RunError("ValueError", "bad fee", 4, 3), results={"n": 1}
    )
    path = write_sidecar(record)
    assert path == tmp_path / "2026-11-22" / "report-20261122T031500Z-1a2b3c4d.json"
    assert read_sidecar(path) == record
    assert read_sidecar(record.output_notebook) == record  # the notebook's path finds its sidecar
    payload = json.loads(path.read_text())
    assert payload["duration_seconds"] == 12.5
    assert payload["started_at"] == "2026-11-22T03:15:00.250Z"
    assert payload["error"] == {"exception": "ValueError", "message": "bad fee", "cell_index": 4, "execution_count": 3}


def test_a_running_record_has_no_duration_and_cannot_finish_as_running(tmp_path):
    record = _record(tmp_path)
    assert record.duration_seconds is None
    with pytest.raises(ValueError):
        record.finished(RUNNING, STARTED)


def test_error_one_liner_names_the_cell_and_exception():
    assert (
        RunError("ValueError", "threshold 5 is above 1\nmore", 2).one_line()
        == "cell 2 raised ValueError: threshold 5 is above 1"
    )
    assert RunError("TimeoutError", "it ran past the 5 s per-cell limit", 3).one_line() == (
        "cell 3 timed out: it ran past the 5 s per-cell limit"
    )
    assert RunError("DeadKernelError", "Kernel died").one_line() == "the run raised DeadKernelError: Kernel died"


def test_reading_something_that_is_not_a_sidecar_is_a_config_error(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not a TradePulse run sidecar"):
        read_sidecar(other)
    with pytest.raises(ConfigError, match="not found"):
        read_sidecar(tmp_path / "missing.json")
