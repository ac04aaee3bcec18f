"""The job scheduler: decides which jobs are due, runs them with retries, and alerts on failure.

The clock is injected: :meth:`Scheduler.tick` takes the current time as an argument and starts
whatever is due at that time, so tests drive the schedule through days (or a DST change) without
waiting. :meth:`Scheduler.run_forever` is the long-running loop around it.

Each run executes in its own worker thread (a notebook runs in its own kernel process, so threads
only wait); ``max_concurrent_runs`` bounds how many kernels run at once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradepulse.jobs.alerts import AlertOutcome, send_alert
from tradepulse.jobs.archive import CANCELLED, FAILED, SUCCEEDED, RunError, RunRecord, new_run_id, utc_now
from tradepulse.jobs.history import JobHistory
from tradepulse.jobs.runner import RunControl, run_notebook
from tradepulse.jobs.schedule import JobDefinition, JobsConfig

logger = logging.getLogger(__name__)

# The long-running loop re-reads the clock at least this often, so a wall-clock jump (NTP, a
# suspended laptop) delays a job by at most this much.
MAX_IDLE_SECONDS = 60.0
STARTED, QUEUED, SKIPPED = "started", "queued", "skipped"


@dataclass(frozen=True)
class Dispatch:
    """What :meth:`Scheduler.tick` did with one due occurrence.

    Attributes
    ----------
    job : str
        Job name.
    scheduled_for : datetime
        The cron time (UTC) that came due.
    action : str
        ``started``, ``queued`` (a run of the job is still going) or ``skipped`` (overlap = skip).
    """

    job: str
    scheduled_for: datetime
    action: str


@dataclass
class _JobActivity:
    active_runs: int = 0
    queued: deque[datetime] = field(default_factory=deque)
    controls: set[RunControl] = field(default_factory=set)


class Scheduler:
    """Run the jobs of a jobs.toml on their cron schedules.

    Parameters
    ----------
    config : JobsConfig
        The loaded jobs.toml.
    history : JobHistory
        Where attempts, skips, alerts and the last handled cron time of each job are kept.
    clock : callable, optional
        Returns the current aware UTC time; only :meth:`run_forever` reads it.
    runner : callable, optional
        Executes one attempt; :func:`~tradepulse.jobs.runner.run_notebook` unless replaced.

    Notes
    -----
    A job the scheduler has never seen starts counting from the first tick: it runs at its next
    cron time, not immediately. Occurrences missed while the scheduler was down are folded into
    one run at the next tick.

    Examples
    --------
    >>> scheduler = Scheduler(load_jobs_config("jobs.toml"), JobHistory(".tradepulse/jobs.sqlite"))  # doctest: +SKIP
    >>> scheduler.tick(datetime(2026, 11, 23, 6, 30, tzinfo=timezone.utc))  # doctest: +SKIP
    [Dispatch(job='btc_daily_report', scheduled_for=datetime(2026, 11, 23, 6, 30, ...), action='started')]
    """

    def __init__(
        self,
        config: JobsConfig,
        history: JobHistory,
        *,
        clock: Callable[[], datetime] = utc_now,
        runner: Callable[..., RunRecord] = run_notebook,
    ) -> None:
        self.config = config
        self.history = history
        self.clock = clock
        self.runner = runner
        self._lock = threading.Condition()
        self._activity = {name: _JobActivity() for name in config.jobs}
        self._slots = threading.BoundedSemaphore(config.max_concurrent_runs)
        self._stopping = threading.Event()
        self._final_records: list[RunRecord] = []

    # -- deciding -------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Dispatch]:
        """Start, queue or skip every job due at ``now``; return what was done.

        Parameters
        ----------
        now : datetime
            The current time (aware).
        """
        dispatches: list[Dispatch] = []
        for job in self.config.jobs.values():
            last_handled = self.history.last_scheduled_for(job.name)
            if last_handled is None:
                # First sight of this job: start counting now instead of replaying its past.
                self.history.set_last_scheduled_for(job.name, now)
                continue
            if job.schedule.next_after(last_handled) > now:
                continue
            occurrence = job.schedule.latest_at_or_before(now)
            self.history.set_last_scheduled_for(job.name, occurrence)
            if not job.enabled:
                continue
            dispatches.append(self._dispatch(job, occurrence, now))
        return dispatches

    def next_due(self, now: datetime) -> datetime | None:
        """Return the earliest time (UTC) any enabled job comes due after ``now``, or ``None``."""
        upcoming = [job.schedule.next_after(now) for job in self.config.jobs.values() if job.enabled]
        return min(upcoming, default=None)

    def _dispatch(self, job: JobDefinition, occurrence: datetime, now: datetime) -> Dispatch:
        with self._lock:
            activity = self._activity[job.name]
            if self._stopping.is_set():
                action = SKIPPED
            elif activity.active_runs and job.overlap == "skip":
                action = SKIPPED
            elif activity.active_runs and job.overlap == "queue":
                activity.queued.append(occurrence)
                action = QUEUED
            else:
                activity.active_runs += 1
                action = STARTED
        if action == SKIPPED:
            reason = "the scheduler is stopping" if self._stopping.is_set() else "the previous run was still going"
            self.history.record_skipped(job.name, occurrence, now, reason)
            logger.warning("skipped %s due at %s: %s", job.name, occurrence.isoformat(), reason)
        else:
            logger.info("%s %s due at %s", action, job.name, occurrence.isoformat())
            if action == STARTED:
                self._start_worker(job, occurrence)
        return Dispatch(job.name, occurrence, action)

    # -- running --------------------------------------------------------------------------------

    def _start_worker(self, job: JobDefinition, occurrence: datetime) -> None:
        worker = threading.Thread(target=self._work, args=(job, occurrence), name=f"job-{job.name}", daemon=True)
        worker.start()

    def _work(self, job: JobDefinition, occurrence: datetime) -> None:
        try:
            self._run_with_retries(job, occurrence)
        except Exception:  # a worker must never die silently: the scheduler keeps its count right
            logger.exception("job %s crashed the scheduler's worker", job.name)
        finally:
            with self._lock:
                activity = self._activity[job.name]
                next_occurrence = activity.queued.popleft() if activity.queued and not self._stopping.is_set() else None
                if next_occurrence is None:
                    activity.active_runs -= 1
                self._lock.notify_all()
            if next_occurrence is not None:
                # The queued run inherits this run's place, so the count of active runs stays put.
                self._start_worker(job, next_occurrence)

    def _run_with_retries(self, job: JobDefinition, occurrence: datetime) -> None:
        attempts = job.retries + 1
        record: RunRecord | None = None
        for attempt in range(1, attempts + 1):
            record = self._attempt(job, occurrence, attempt)
            if record.status in (SUCCEEDED, CANCELLED):
                self._keep_final(record)
                return
            if attempt < attempts:
                delay = job.backoff_seconds(attempt)
                logger.warning("%s attempt %d %s; retrying in %g s", job.name, attempt, record.status, delay)
                if self._stopping.wait(delay):
                    self._keep_final(record)
                    return
        assert record is not None
        self._keep_final(record)
        self._alert(record, attempts)

    def _keep_final(self, record: RunRecord) -> None:
        with self._lock:
            self._final_records.append(record)

    def _attempt(self, job: JobDefinition, occurrence: datetime, attempt: int) -> RunRecord:
        control = RunControl()
        with self._lock:
            self._activity[job.name].controls.add(control)
        # Waiting for a kernel slot counts as running for the overlap policy: the run has begun.
        has_slot = False
        while not has_slot and not self._stopping.is_set():
            has_slot = self._slots.acquire(timeout=0.5)
        try:
            if not has_slot:
                error = RunError("Cancelled", "the scheduler stopped before the run got a kernel slot")
                return self._refused(job, occurrence, attempt, error, CANCELLED)
            try:
                return self.runner(
                    job.notebook,
                    job.parameters,
                    output_dir=self.config.output_dir,
                    job_name=job.name,
                    timeout_seconds=job.timeout_seconds,
                    cell_timeout_seconds=job.cell_timeout_seconds,
                    kernel_name=self.config.kernel_name,
                    attempt=attempt,
                    scheduled_for=occurrence,
                    trigger="schedule",
                    control=control,
                    history=self.history,
                )
            except Exception as exc:  # bad input found at run time (the notebook was deleted, say)
                return self._refused(job, occurrence, attempt, RunError(type(exc).__name__, str(exc)), FAILED)
        finally:
            if has_slot:
                self._slots.release()
            with self._lock:
                self._activity[job.name].controls.discard(control)

    def _refused(
        self, job: JobDefinition, occurrence: datetime, attempt: int, error: RunError, status: str
    ) -> RunRecord:
        now = utc_now()
        record = RunRecord(
            run_id=new_run_id(),
            job=job.name,
            notebook=str(job.notebook),
            parameters=dict(job.parameters),
            status=status,
            started_at=now,
            finished_at=now,
            output_notebook="",
            error=error,
            attempt=attempt,
            scheduled_for=occurrence,
            trigger="schedule",
            kernel_name=self.config.kernel_name,
        )
        self.history.record_run(record)
        logger.error("%s attempt %d could not run: %s", job.name, attempt, error.message)
        return record

    def _alert(self, record: RunRecord, attempts: int) -> None:
        logger.error(
            "%s %s after %d attempt(s): %s",
            record.job,
            record.status,
            attempts,
            record.error.one_line() if record.error else "",
        )
        if self.config.alerts is None:
            return
        try:
            outcome = send_alert(self.config.alerts, record, attempts)
        except Exception as exc:  # send_alert catches delivery errors; this guards against the unforeseen
            outcome = AlertOutcome(False, None, f"{type(exc).__name__}: {exc}")
        self.history.record_alert(record, outcome, utc_now())

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def final_records(self) -> list[RunRecord]:
        """The last attempt of every occurrence that finished, in the order they finished."""
        with self._lock:
            return list(self._final_records)

    @property
    def stop_requested(self) -> bool:
        return self._stopping.is_set()

    @property
    def active_runs(self) -> int:
        """Runs in flight (including queued occurrences' predecessors, not the queued ones)."""
        with self._lock:
            return sum(activity.active_runs for activity in self._activity.values())

    def wait_idle(self, timeout_seconds: float) -> bool:
        """Block until no run is in flight or queued; return ``False`` if ``timeout_seconds`` passed."""
        with self._lock:
            return self._lock.wait_for(
                lambda: all(not a.active_runs and not a.queued for a in self._activity.values()), timeout_seconds
            )

    def request_stop(self) -> None:
        """Ask :meth:`run_forever` to return; safe to call from any thread."""
        self._stopping.set()

    def stop(self, grace_seconds: float = 30.0) -> bool:
        """Stop: start nothing new, drop queued occurrences, cancel running runs, wait for them.

        Parameters
        ----------
        grace_seconds : float
            How long to wait for cancelled runs to record their end.

        Returns
        -------
        bool
            ``True`` if every run ended within the grace period.
        """
        self._stopping.set()
        with self._lock:
            dropped = [(name, occurrence) for name, a in self._activity.items() for occurrence in a.queued]
            for activity in self._activity.values():
                activity.queued.clear()
            controls = [control for a in self._activity.values() for control in a.controls]
        now = utc_now()
        for name, occurrence in dropped:
            self.history.record_skipped(name, occurrence, now, "the scheduler stopped before it ran")
        for control in controls:
            control.cancel("the scheduler stopped")
        return self.wait_idle(grace_seconds)

    def run_forever(self, until: datetime | None = None) -> None:
        """Tick whenever a job is due, until ``until`` or :meth:`request_stop` (from any thread).

        On the way out, running runs are cancelled (their notebooks are kept, status ``cancelled``).

        Parameters
        ----------
        until : datetime, optional
            Return at this time (aware).
        """
        try:
            while not self._stopping.is_set():
                now = self.clock()
                if until is not None and now >= until:
                    break
                try:
                    self.tick(now)
                except Exception:  # a locked or full history disk must not end the scheduler; try again
                    logger.exception("tick at %s failed; retrying", now.isoformat())
                wake_at = [moment for moment in (self.next_due(now), until) if moment is not None]
                idle = min([MAX_IDLE_SECONDS] + [(moment - now).total_seconds() for moment in wake_at])
                self._stopping.wait(max(idle, 0.01))
        finally:
            self.stop()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
