"""The SQLite job history: WAL, schema version, attempts, skips, alerts, scheduler state."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from tradepulse.errors import ConfigError
from tradepulse.jobs.alerts import AlertOutcome
from tradepulse.jobs.archive import FAILED, RUNNING, SUCCEEDED, RunError, RunRecord
from tradepulse.jobs.history import SCHEMA_VERSION, JobHistory, resolve_store_path

T0 = datetime(2026, 11, 22, 6, 30, tzinfo=timezone.utc)


def _record(run_id: str, job: str, started: datetime, status: str = RUNNING) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        job=job,
        notebook="/nb.ipynb",
        parameters={"a": 1},
        status=status,
        started_at=started,
        output_notebook=f"/archive/{run_id}.ipynb",
        trigger="schedule",
    )


def test_a_new_store_is_in_wal_mode_with_a_schema_version(tmp_path):
    history = JobHistory(tmp_path / "deep" / "jobs.sqlite")
    assert history.journal_mode == "wal"
    assert history.schema_version == SCHEMA_VERSION
    JobHistory(history.path)  # reopening keeps one version row
    with sqlite3.connect(history.path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_a_run_is_updated_in_place_from_running_to_its_final_status(tmp_path):
    history = JobHistory(tmp_path / "jobs.sqlite")
    started = _record("r1", "daily", T0)
    history.record_run(started)
    assert [e.status for e in history.entries()] == [RUNNING]
    history.record_run(started.finished(FAILED, T0 + timedelta(seconds=3), error=RunError("ValueError", "bad", 2)))
    [entry] = history.entries()
    assert (entry.status, entry.duration_seconds, entry.error) == (FAILED, 3.0, "cell 2 raised ValueError: bad")
    assert entry.archive_path == "/archive/r1.ipynb" and entry.scheduled_for is None


def test_entries_are_newest_first_filtered_by_job_and_limited(tmp_path):
    history = JobHistory(tmp_path / "jobs.sqlite")
    for minute in range(5):
        history.record_run(
            _record(f"d{minute}", "daily", T0 + timedelta(minutes=minute)).finished(
                SUCCEEDED, T0 + timedelta(minutes=minute, seconds=1), results={"m": minute}
            )
        )
        history.record_run(_record(f"w{minute}", "weekly", T0 + timedelta(minutes=minute, seconds=30)))
    assert [e.run_id for e in history.entries("daily", limit=3)] == ["d4", "d3", "d2"]
    assert history.entries("daily", limit=1)[0].results == {"m": 4}
    assert [e.job for e in history.entries(limit=2)] == ["weekly", "daily"]
    assert history.entries("nobody") == []


def test_skips_alerts_and_scheduler_state_are_kept(tmp_path):
    history = JobHistory(tmp_path / "jobs.sqlite")
    history.record_skipped("daily", T0, T0 + timedelta(seconds=1), "the previous run was still going")
    [skip] = history.entries("daily")
    assert (skip.status, skip.attempt, skip.archive_path) == ("skipped", 0, None)

    record = _record("r1", "daily", T0, FAILED)
    history.record_alert(record, AlertOutcome(False, 500, "HTTP 500 Internal Server Error"), T0)
    [alert] = history.alerts("daily")
    assert (alert.run_id, alert.delivered, alert.http_status) == ("r1", False, 500)

    assert history.last_scheduled_for("daily") is None
    history.set_last_scheduled_for("daily", T0)
    history.set_last_scheduled_for("daily", T0 + timedelta(days=1))
    assert history.last_scheduled_for("daily") == T0 + timedelta(days=1)


def test_a_store_from_a_newer_schema_or_not_sqlite_is_refused(tmp_path):
    newer = JobHistory(tmp_path / "newer.sqlite")
    with sqlite3.connect(newer.path) as connection:
        connection.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigError, match="newer"):
        JobHistory(newer.path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="not a usable SQLite"):
        JobHistory(garbage)


def test_store_location_defaults_under_the_current_directory_and_follows_the_env(tmp_path, monkeypatch):
    monkeypatch.delenv("TRADEPULSE_STORE_DIR", raising=False)
    assert resolve_store_path(cwd=tmp_path) == tmp_path / ".tradepulse" / "jobs.sqlite"
    monkeypatch.setenv("TRADEPULSE_STORE_DIR", str(tmp_path / "state"))
    assert resolve_store_path(cwd=tmp_path) == tmp_path / "state" / "jobs.sqlite"
    assert resolve_store_path(tmp_path / "explicit.sqlite") == tmp_path / "explicit.sqlite"
