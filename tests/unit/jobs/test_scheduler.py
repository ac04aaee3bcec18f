"""The scheduler driven by an injected clock: due times, retries, overlap, alerts, stopping.

Decisions about *when* (first sight, missed runs, DST, disabled jobs) use a runner that records
instead of executing; everything about *what happens to a run* uses real papermill runs.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tradepulse.jobs.archive import SUCCEEDED, RunRecord, utc_now
from tradepulse.jobs.history import JobHistory
from tradepulse.jobs.schedule import load_jobs_config
from tradepulse.jobs.scheduler import Scheduler

UTC = timezone.utc
T0 = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


def _scheduler(tmp_path: Path, jobs_toml: str, **options) -> Scheduler:
    path = tmp_path / "jobs.toml"
    path.write_text(jobs_toml)
    return Scheduler(load_jobs_config(path), JobHistory(tmp_path / "jobs.sqlite"), **options)


class RecordingRunner:
    """Stands in for papermill where only the scheduling decision is under test."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, notebook, parameters, **options) -> RunRecord:
        self.calls.append({"notebook": notebook, "parameters": parameters, **options})
        now = utc_now()
        return RunRecord(
            run_id=f"r{len(self.calls)}",
            job=options["job_name"],
            notebook=str(notebook),
            parameters=parameters,
            status="running",
            started_at=now,
            output_notebook=f"/archive/r{len(self.calls)}.ipynb",
            scheduled_for=options["scheduled_for"],
            trigger="schedule",
        ).finished(SUCCEEDED, now)


DAILY_BERLIN = """
[jobs.daily]
notebook = "notebooks/records_results.ipynb"
cron = "30 2 * * *"
timezone = "Europe/Berlin"
[jobs.daily.parameters]
lookback = 2
"""


def test_a_new_job_first_runs_at_its_next_cron_time_not_at_start(tmp_path, notebooks):
    runner = RecordingRunner()
    scheduler = _scheduler(tmp_path, DAILY_BERLIN, runner=runner)
    assert scheduler.tick(datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) == []
    assert scheduler.tick(datetime(2026, 11, 23, 1, 29, tzinfo=UTC)) == []
    [dispatch] = scheduler.tick(datetime(2026, 11, 23, 1, 30, 5, tzinfo=UTC))  # 02:30 CET
    assert (dispatch.job, dispatch.scheduled_for, dispatch.action) == (
        "daily",
        datetime(2026, 11, 23, 1, 30, tzinfo=UTC),
        "started",
    )
    assert scheduler.wait_idle(10)
    assert runner.calls[0]["parameters"] == {"lookback": 2} and runner.calls[0]["trigger"] == "schedule"
    assert scheduler.tick(datetime(2026, 11, 23, 1, 45, tzinfo=UTC)) == []  # handled once


def test_occurrences_missed_while_down_fold_into_one_run(tmp_path, notebooks):
    runner = RecordingRunner()
    scheduler = _scheduler(tmp_path, DAILY_BERLIN, runner=runner)
    scheduler.history.set_last_scheduled_for("daily", datetime(2026, 11, 20, 1, 30, tzinfo=UTC))
    [dispatch] = scheduler.tick(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert dispatch.scheduled_for == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert scheduler.wait_idle(10) and len(runner.calls) == 1


def test_ticking_through_the_spring_forward_night_runs_the_0230_job_once_at_0300(tmp_path, notebooks):
    runner = RecordingRunner()
    scheduler = _scheduler(tmp_path, DAILY_BERLIN, runner=runner)
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    started = []
    while now < datetime(2026, 3, 30, 12, 0, tzinfo=UTC):
        started += [d.scheduled_for for d in scheduler.tick(now)]
        now += timedelta(minutes=10)
    assert scheduler.wait_idle(10)
    assert [moment.isoformat() for moment in started] == [
        "2026-03-29T01:00:00+00:00",  # 03:00 CEST: 02:30 did not exist
        "2026-03-30T00:30:00+00:00",  # 02:30 CEST
    ]


def test_a_disabled_job_never_runs_and_next_due_ignores_it(tmp_path, notebooks):
    runner = RecordingRunner()
    scheduler = _scheduler(
        tmp_path,
        DAILY_BERLIN
        + """
[jobs.hourly]
notebook = "notebooks/records_results.ipynb"
cron = "0 * * * *"
enabled = false
""",
        runner=runner,
    )
    scheduler.tick(T0)
    assert [d.job for d in scheduler.tick(T0 + timedelta(days=2))] == ["daily"]
    assert scheduler.wait_idle(10)
    assert [call["job_name"] for call in runner.calls] == ["daily"]
    assert scheduler.next_due(T0) == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


def test_run_forever_returns_at_until_and_on_a_stop_request(tmp_path, notebooks):
    scheduler = _scheduler(tmp_path, DAILY_BERLIN, runner=RecordingRunner())
    started = time.monotonic()
    scheduler.run_forever(until=utc_now() + timedelta(seconds=0.3))
    assert time.monotonic() - started < 10

    scheduler = _scheduler(tmp_path, DAILY_BERLIN, runner=RecordingRunner())
    loop = threading.Thread(target=scheduler.run_forever)
    loop.start()
    scheduler.request_stop()
    loop.join(10)
    assert not loop.is_alive()


# -- real notebook runs ---------------------------------------------------------------------------


def _due_now(scheduler: Scheduler, job: str) -> None:
    scheduler.history.set_last_scheduled_for(job, T0 - timedelta(minutes=1))


def test_a_failing_job_is_retried_then_alerts_once(tmp_path, notebooks, webhook):
    scheduler = _scheduler(
        tmp_path,
        f"""
[alerts]
webhook_url = "{webhook.url}"
[jobs.fragile]
notebook = "notebooks/fails_in_known_cell.ipynb"
cron = "* * * * *"
retries = 1
retry_backoff_seconds = 0.2
[jobs.fragile.parameters]
threshold = 9
""",
    )
    _due_now(scheduler, "fragile")
    assert [d.action for d in scheduler.tick(T0)] == ["started"]
    assert scheduler.wait_idle(120)
    attempts = scheduler.history.entries("fragile")
    assert [(e.attempt, e.status) for e in attempts] == [(2, "failed"), (1, "failed")]
    assert all(e.scheduled_for == T0 and "cell 2 raised ValueError" in e.error for e in attempts)
    [body] = webhook.bodies()
    assert (body["job"], body["status"], body["cell"], body["attempts"]) == ("fragile", "failed", 2, 2)
    assert body["archive_path"] == attempts[0].archive_path and Path(body["archive_path"]).is_file()
    [alert] = scheduler.history.alerts("fragile")
    assert alert.delivered and alert.run_id == attempts[0].run_id
    assert [r.status for r in scheduler.final_records] == ["failed"]


def test_an_undeliverable_alert_is_recorded_and_the_run_stays_failed(tmp_path, notebooks, closed_port_url):
    scheduler = _scheduler(
        tmp_path,
        f"""
[alerts]
webhook_url = "{closed_port_url}"
format = "slack"
timeout_seconds = 2
[jobs.fragile]
notebook = "notebooks/fails_in_known_cell.ipynb"
cron = "* * * * *"
""",
    )
    _due_now(scheduler, "fragile")
    scheduler.tick(T0)
    assert scheduler.wait_idle(120)
    [alert] = scheduler.history.alerts("fragile")
    assert not alert.delivered and alert.error and "s3cr3t" not in alert.error
    assert [e.status for e in scheduler.history.entries("fragile")] == ["failed"]
    # The scheduler carries on: the next minute is dispatched as usual.
    assert [d.action for d in scheduler.tick(T0 + timedelta(minutes=1))] == ["started"]
    assert scheduler.stop(grace_seconds=60)


def test_skip_overlap_records_the_skipped_occurrence_and_stop_cancels_the_running_run(
    tmp_path, notebooks, webhook, eventually
):
    scheduler = _scheduler(
        tmp_path,
        f"""
[alerts]
webhook_url = "{webhook.url}"
[jobs.slow]
notebook = "notebooks/sleeps_past_timeout.ipynb"
cron = "* * * * *"
overlap = "skip"
retries = 3
""",
    )
    _due_now(scheduler, "slow")
    assert [d.action for d in scheduler.tick(T0)] == ["started"]
    assert [d.action for d in scheduler.tick(T0 + timedelta(minutes=1))] == ["skipped"]
    eventually(lambda: [e for e in scheduler.history.entries("slow") if e.status == "running"])
    assert scheduler.stop(grace_seconds=60)
    statuses = {e.scheduled_for: (e.status, e.attempt) for e in scheduler.history.entries("slow")}
    assert statuses == {T0: ("cancelled", 1), T0 + timedelta(minutes=1): ("skipped", 0)}
    assert webhook.requests == []  # stopping is not a failure: no retry, no alert


def test_queue_overlap_runs_the_queued_occurrence_after_the_running_one(tmp_path, notebooks):
    scheduler = _scheduler(
        tmp_path,
        """
[jobs.report]
notebook = "notebooks/records_results.ipynb"
cron = "* * * * *"
overlap = "queue"
""",
    )
    _due_now(scheduler, "report")
    assert [d.action for d in scheduler.tick(T0)] == ["started"]
    assert [d.action for d in scheduler.tick(T0 + timedelta(minutes=1))] == ["queued"]
    assert scheduler.wait_idle(120)
    second, first = scheduler.history.entries("report")
    assert (first.scheduled_for, second.scheduled_for) == (T0, T0 + timedelta(minutes=1))
    assert first.status == second.status == "succeeded"
    assert second.started_at >= first.finished_at
    assert first.results["lookback"] == 3
