"""Run one parameterised notebook with papermill, archive it, and describe the run in a sidecar.

A run never raises for what happens *inside* the notebook: an exception, a timeout or a
cancellation becomes a :class:`~tradepulse.jobs.archive.RunRecord` with that status, and the
executed notebook is kept either way. Bad input (missing notebook, undeclared parameter, unknown
kernel, nonsensical limits) raises :class:`~tradepulse.errors.ConfigError` before anything runs.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.jobs.archive import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    TIMED_OUT,
    RunError,
    RunRecord,
    archive_notebook_path,
    new_run_id,
    utc_now,
    write_sidecar,
)
from tradepulse.jobs.history import JobHistory
from tradepulse.jobs.parameters import check_parameters
from tradepulse.jobs.results import read_results

logger = logging.getLogger(__name__)

DEFAULT_KERNEL = "python3"
DEFAULT_OUTPUT_DIR = Path("reports") / "jobs"
DEFAULT_TIMEOUT_SECONDS = 3600.0
# Kernel start-up is bounded separately from the cells; a kernel that needs longer is broken.
KERNEL_START_LIMIT_SECONDS = 60.0
# nbclient reads a timeout of 0 as "no limit", so a spent budget still leaves a sliver.
_SMALLEST_CELL_LIMIT_SECONDS = 0.05
_INJECTED_TAG = "injected-parameters"


class RunCancelled(Exception):
    """Raised inside the execution loop to stop before the next cell once a run is cancelled."""


class RunControl:
    """A handle to cancel a run from another thread (the scheduler uses it on shutdown).

    Examples
    --------
    >>> control = RunControl()
    >>> # in a worker thread: run_notebook(path, control=control)
    >>> control.cancel()  # from anywhere: interrupts the running cell, records status "cancelled"
    """

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self.reason = "the run was cancelled"
        self._kernel_pid: int | None = None
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self, reason: str | None = None) -> None:
        """Stop the run: interrupt the running cell now and run no further cell.

        Parameters
        ----------
        reason : str, optional
            Recorded as the run's error message (e.g. ``"the scheduler stopped"``).
        """
        with self._lock:
            if reason and not self._cancelled.is_set():
                self.reason = reason
            self._cancelled.set()
            pid = self._kernel_pid
        if pid is not None:
            try:
                # SIGINT is how Jupyter interrupts a kernel; the cell ends with KeyboardInterrupt.
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def _kernel_started(self, pid: int | None) -> None:
        with self._lock:
            self._kernel_pid = pid
        if pid is not None and self.cancelled:
            self.cancel()


class _ExecutionWatch:
    """Follows papermill's cell loop: which cell runs, which limit binds, and cancellation."""

    def __init__(
        self,
        deadline: float | None,
        overall_limit_seconds: float | None,
        cell_limit_seconds: float | None,
        control: RunControl,
    ) -> None:
        self.deadline = deadline
        self.overall_limit_seconds = overall_limit_seconds
        self.cell_limit_seconds = cell_limit_seconds
        self.control = control
        self.cell_index: int | None = None  # index among the source notebook's cells
        self.limit_seconds: float | None = None
        self.limit_is_overall = False
        self._injected_cells_seen = 0
        # The kernel's own stderr (not cell output, which travels over ZeroMQ): start-up warnings
        # and the last words of a crashing kernel. Kept out of the terminal, quoted when it died.
        self.kernel_stderr = tempfile.TemporaryFile()

    def kernel_stderr_tail(self, lines: int = 5) -> str:
        self.kernel_stderr.seek(0)
        text = self.kernel_stderr.read().decode("utf-8", errors="replace")
        kept = [line for line in text.splitlines() if line.strip() and "without encryption" not in line]
        return " | ".join(kept[-lines:])

    def on_cell_execute(self, cell: Any, cell_index: int, **_: Any) -> None:
        if self.control.cancelled:
            raise RunCancelled()
        if _INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            self._injected_cells_seen += 1
            self.cell_index = None
        else:
            self.cell_index = cell_index - self._injected_cells_seen

    def cell_timeout(self, cell: Any) -> float | None:
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        limits = [limit for limit in (self.cell_limit_seconds, remaining) if limit is not None]
        if not limits:
            self.limit_seconds = None
            return None
        self.limit_seconds = min(limits)
        self.limit_is_overall = remaining is not None and remaining <= (self.cell_limit_seconds or float("inf"))
        return max(self.limit_seconds, _SMALLEST_CELL_LIMIT_SECONDS)

    def kernel_manager_class(self) -> type:
        from jupyter_client.manager import AsyncKernelManager

        control = self.control
        kernel_stderr = self.kernel_stderr

        class _TrackedKernelManager(AsyncKernelManager):
            # nbclient creates and owns the manager; this subclass only redirects the kernel's
            # stderr and tells the control the kernel's pid.
            async def _async_launch_kernel(self, kernel_cmd: list[str], **kwargs: Any) -> None:
                kwargs["stderr"] = kernel_stderr
                await super()._async_launch_kernel(kernel_cmd, **kwargs)

            async def _async_post_start_kernel(self, **kwargs: Any) -> None:
                await super()._async_post_start_kernel(**kwargs)
                control._kernel_started(getattr(self.provisioner, "pid", None))

        return _TrackedKernelManager


def check_kernel(kernel_name: str) -> str:
    """Return the language of the installed Jupyter kernel ``kernel_name``, or raise :class:`ConfigError`."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        return str(manager.get_kernel_spec(kernel_name).language or "python")
    except NoSuchKernel:
        installed = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise ConfigError(
            f"no Jupyter kernel named {kernel_name!r} (installed: {installed}); "
            "install one with: python -m ipykernel install --sys-prefix"
        ) from None


def _check_limit(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def run_notebook(
    notebook: Path | str,
    parameters: Mapping[str, Any] | None = None,
    *,
    output_dir: Path | str = DEFAULT_OUTPUT_DIR,
    job_name: str | None = None,
    timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    cell_timeout_seconds: float | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    attempt: int = 1,
    scheduled_for: datetime | None = None,
    trigger: str = "manual",
    progress_bar: bool = False,
    control: RunControl | None = None,
    history: JobHistory | None = None,
) -> RunRecord:
    """Execute a notebook with papermill and archive it with a JSON sidecar.

    Parameters
    ----------
    notebook : Path or str
        Source notebook; the kernel starts in its folder, as JupyterLab would.
    parameters : Mapping[str, Any], optional
        Values for names the notebook's ``parameters`` cell declares; any other name is refused.
    output_dir : Path or str
        Root of the run archive (see :mod:`tradepulse.jobs.archive` for the layout).
    job_name : str, optional
        Name recorded for the run; defaults to the notebook's stem.
    timeout_seconds : float or None
        Limit for the whole run, kernel start included; ``None`` for none.
    cell_timeout_seconds : float or None
        Limit for any single cell (papermill's ``execution_timeout``); ``None`` leaves only the
        overall limit.
    kernel_name : str
        Installed Jupyter kernel to run on (``jupyter kernelspec list``).
    attempt, scheduled_for, trigger
        Recorded in the sidecar; the scheduler sets them.
    progress_bar : bool
        Show papermill's per-cell progress bar on stderr.
    control : RunControl, optional
        Lets another thread cancel the run.
    history : JobHistory, optional
        Job history to record the run in, once when it starts and once when it ends.

    Returns
    -------
    RunRecord
        The finished run: ``succeeded``, ``failed``, ``timed_out`` or ``cancelled``.

    Raises
    ------
    ConfigError
        For bad input, before anything executes.

    Examples
    --------
    >>> record = run_notebook("notebooks/reports/backtest_report.ipynb",
    ...                       {"strategy": "sma_cross", "fees_bps": 5}, timeout_seconds=600)  # doctest: +SKIP
    >>> record.status, record.results["sharpe"]  # doctest: +SKIP
    ('succeeded', 1.42)
    """
    source = Path(notebook).expanduser().resolve()
    parameters = dict(parameters or {})
    timeout_seconds = _check_limit("timeout", timeout_seconds)
    cell_timeout_seconds = _check_limit("cell timeout", cell_timeout_seconds)
    language = check_kernel(kernel_name)
    check_parameters(source, parameters, kernel_name=kernel_name, language=language)
    control = control or RunControl()

    started_at = utc_now()
    started_monotonic = time.monotonic()
    run_id = new_run_id()
    output = archive_notebook_path(Path(output_dir).expanduser().resolve(), source, started_at, run_id)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the archive folder {output.parent}: {exc.strerror}") from None
    record = RunRecord(
        run_id=run_id,
        job=job_name or source.stem,
        notebook=str(source),
        parameters=parameters,
        status=RUNNING,
        started_at=started_at,
        output_notebook=str(output),
        attempt=attempt,
        scheduled_for=scheduled_for,
        trigger=trigger,
        kernel_name=kernel_name,
    )
    # The sidecar exists from the start, so a run that is still going is visible in the archive.
    write_sidecar(record)
    if history is not None:
        history.record_run(record)

    deadline = None if timeout_seconds is None else started_monotonic + timeout_seconds
    watch = _ExecutionWatch(deadline, timeout_seconds, cell_timeout_seconds, control)
    try:
        status, error = _execute(source, output, parameters, kernel_name, language, progress_bar, watch)
    except KeyboardInterrupt:
        record = record.finished(
            CANCELLED, utc_now(), error=RunError("KeyboardInterrupt", "interrupted", watch.cell_index)
        )
        write_sidecar(record)
        if history is not None:
            history.record_run(record)
        raise
    finally:
        watch.kernel_stderr.close()
    if status == FAILED and deadline is not None and time.monotonic() >= deadline and error.cell_index is None:
        # The budget ran out outside any cell (a kernel that started too slowly): still a timeout.
        status, error = TIMED_OUT, RunError("TimeoutError", f"the run's {timeout_seconds:g} s limit ran out")

    try:
        results = read_results(output) if output.is_file() else None
    except ConfigError:  # a notebook papermill could not finish writing still gets its sidecar
        results = None
    record = record.finished(status, utc_now(), results=results, error=error)
    write_sidecar(record)
    if history is not None:
        history.record_run(record)
    logger.info("run %s of %s %s in %.1f s", record.run_id, record.job, record.status, record.duration_seconds)
    return record


def _execute(
    source: Path,
    output: Path,
    parameters: dict[str, Any],
    kernel_name: str,
    language: str,
    progress_bar: bool,
    watch: _ExecutionWatch,
) -> tuple[str, RunError | None]:
    import papermill
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    start_limit = KERNEL_START_LIMIT_SECONDS
    if watch.deadline is not None:
        start_limit = min(start_limit, watch.deadline - time.monotonic())
    start_limit = max(1, math.ceil(start_limit))  # nbclient wants whole seconds here
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=parameters,
            kernel_name=kernel_name,
            language=language,
            progress_bar=progress_bar,
            start_timeout=start_limit,
            # Engine options, passed through papermill to nbclient's NotebookClient:
            timeout_func=watch.cell_timeout,
            on_cell_execute=watch.on_cell_execute,
            kernel_manager_class=watch.kernel_manager_class(),
            # Outputs are complete once the last cell replied; a graceful shutdown of a kernel
            # stuck in a timed-out cell would only add seconds.
            shutdown_kernel="immediate",
            # The kernel's working directory, set per run: papermill's own ``cwd`` option changes
            # the whole process's directory, which concurrent scheduled runs would race on.
            resources={"metadata": {"path": str(source.parent)}},
        )
    except PapermillExecutionError as exc:
        error = RunError(exc.ename, str(exc.evalue), watch.cell_index, exc.exec_count)
        if watch.control.cancelled:
            return CANCELLED, RunError("Cancelled", watch.control.reason, watch.cell_index)
        return FAILED, error
    except CellTimeoutError:
        if watch.limit_is_overall:
            message = f"the run's {watch.overall_limit_seconds:g} s limit ran out"
        else:
            message = f"it ran past the {watch.cell_limit_seconds:g} s per-cell limit"
        return TIMED_OUT, RunError("TimeoutError", message, watch.cell_index)
    except RunCancelled:
        return CANCELLED, RunError("Cancelled", watch.control.reason, watch.cell_index)
    except Exception as exc:  # a dead kernel, a kernel that never started: the run failed, we did not
        if watch.control.cancelled:
            return CANCELLED, RunError("Cancelled", watch.control.reason, watch.cell_index)
        message = str(exc) or repr(exc)
        kernel_said = watch.kernel_stderr_tail()
        if kernel_said:
            message += f" (kernel stderr: {kernel_said})"
        return FAILED, RunError(type(exc).__name__, message, watch.cell_index)
    return SUCCEEDED, None
