"""The run archive: where an executed notebook goes, and the JSON sidecar that describes the run.

Every run, successful or not, leaves two files side by side::

    <output_dir>/2026-11-22/backtest_report-20261122T031500Z-1a2b3c4d.ipynb   the executed notebook
    <output_dir>/2026-11-22/backtest_report-20261122T031500Z-1a2b3c4d.json    the sidecar (a RunRecord)

The date folder and the timestamp are UTC, so names sort in run order whatever the job's time zone;
the short id keeps two runs started in the same second apart.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tradepulse.errors import ConfigError

SIDECAR_FORMAT = "tradepulse.job-run/1"

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed_out"
CANCELLED = "cancelled"
FINAL_STATUSES = (SUCCEEDED, FAILED, TIMED_OUT, CANCELLED)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime, to the millisecond the sidecar keeps."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_utc(moment: datetime | None) -> str | None:
    """Format an aware datetime as ISO-8601 UTC with a ``Z`` suffix (``None`` stays ``None``)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str | None) -> datetime | None:
    """Parse what :func:`format_utc` wrote back into an aware UTC datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class RunError:
    """Why a run did not succeed.

    Attributes
    ----------
    exception : str
        Exception class name raised in the notebook (``"ValueError"``); ``"TimeoutError"`` when a limit
        ran out, ``"Cancelled"`` when the run was cancelled.
    message : str
        The exception message (``str(exc)`` inside the kernel), or what limit was hit.
    cell_index : int or None
        0-based index of the failing cell in the *source* notebook (papermill's injected cells are
        not counted), or ``None`` when the run failed outside any cell (e.g. the kernel would not start).
    execution_count : int or None
        The ``In [N]`` number of the failing cell in the archived notebook.
    """

    exception: str
    message: str
    cell_index: int | None = None
    execution_count: int | None = None

    def one_line(self) -> str:
        """Describe the error in one line for a terminal or an alert."""
        first_line = (self.message.strip().splitlines() or [""])[0]
        if len(first_line) > 200:
            first_line = first_line[:197] + "..."
        where = f"cell {self.cell_index}" if self.cell_index is not None else "the run"
        if self.exception == "TimeoutError":
            return f"{where} timed out: {first_line}"
        if self.exception == "Cancelled":
            return f"{where} was cancelled: {first_line}" if self.cell_index is not None else first_line
        return f"{where} raised {self.exception}: {first_line}" if first_line else f"{where} raised {self.exception}"


@dataclass(frozen=True)
class RunRecord:
    """Everything known about one notebook run; the sidecar JSON is this record.

    Attributes
    ----------
    run_id : str
        Short unique id, also the last part of the archived file names.
    job : str
        Job name (the notebook's stem for ad-hoc runs).
    notebook : str
        Absolute path of the source notebook.
    parameters : dict
        Parameters injected into the notebook.
    status : str
        ``running``, ``succeeded``, ``failed``, ``timed_out`` or ``cancelled``.
    started_at, finished_at : datetime
        Aware UTC datetimes; ``finished_at`` is ``None`` while running.
    output_notebook : str
        Path of the executed notebook in the archive.
    results : dict or None
        What the notebook passed to ``record_results``.
    error : RunError or None
        Set for every status other than ``succeeded`` and ``running``.
    attempt : int
        1 for the first try, 2 for the first retry, and so on.
    scheduled_for : datetime or None
        The cron time this run belongs to (``None`` for ad-hoc runs).
    trigger : str
        ``manual`` (``tradepulse jobs run``) or ``schedule``.
    kernel_name : str
        Jupyter kernel the notebook ran on.
    """

    run_id: str
    job: str
    notebook: str
    parameters: dict[str, Any]
    status: str
    started_at: datetime
    output_notebook: str
    finished_at: datetime | None = None
    results: dict[str, Any] | None = None
    error: RunError | None = None
    attempt: int = 1
    scheduled_for: datetime | None = None
    trigger: str = "manual"
    kernel_name: str = "python3"

    @property
    def duration_seconds(self) -> float | None:
        """Wall-clock seconds from start to finish, ``None`` while running."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @property
    def sidecar_path(self) -> Path:
        """Path of the JSON sidecar next to the archived notebook."""
        return Path(self.output_notebook).with_suffix(".json")

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def finished(self, status: str, finished_at: datetime, **changes: Any) -> RunRecord:
        """Return a copy closed with a final status."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        return replace(self, status=status, finished_at=finished_at, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the sidecar's JSON object."""
        payload = asdict(self)
        payload["error"] = asdict(self.error) if self.error else None
        for key in ("started_at", "finished_at", "scheduled_for"):
            payload[key] = format_utc(getattr(self, key))
        return {
            "format": SIDECAR_FORMAT,
            **payload,
            "duration_seconds": self.duration_seconds,
            "sidecar": str(self.sidecar_path),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RunRecord:
        """Rebuild a record from a sidecar's JSON object."""
        error = payload.get("error")
        return cls(
            run_id=payload["run_id"],
            job=payload["job"],
            notebook=payload["notebook"],
            parameters=dict(payload.get("parameters") or {}),
            status=payload["status"],
            started_at=parse_utc(payload["started_at"]),  # type: ignore[arg-type]
            finished_at=parse_utc(payload.get("finished_at")),
            output_notebook=payload["output_notebook"],
            results=payload.get("results"),
            error=RunError(**error) if error else None,
            attempt=int(payload.get("attempt", 1)),
            scheduled_for=parse_utc(payload.get("scheduled_for")),
            trigger=payload.get("trigger", "manual"),
            kernel_name=payload.get("kernel_name", "python3"),
        )


def new_run_id() -> str:
    """Return a short random id; 8 hex digits tell apart runs of one notebook in one second."""
    return uuid.uuid4().hex[:8]


def archive_notebook_path(output_dir: Path | str, notebook: Path | str, started_at: datetime, run_id: str) -> Path:
    """Return the archive path of a run's executed notebook.

    Parameters
    ----------
    output_dir : Path or str
        Root of the archive.
    notebook : Path or str
        Source notebook; its stem starts the file name.
    started_at : datetime
        Aware start time; the folder and stamp use its UTC date and time.
    run_id : str
        The run's short id.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> archive_notebook_path("runs", "reports/backtest_report.ipynb",
    ...                       datetime(2026, 11, 22, 3, 15, tzinfo=timezone.utc), "1a2b3c4d").as_posix()
    'runs/2026-11-22/backtest_report-20261122T031500Z-1a2b3c4d.ipynb'
    """
    utc = started_at.astimezone(timezone.utc)
    stem = Path(notebook).stem
    return Path(output_dir) / utc.strftime("%Y-%m-%d") / f"{stem}-{utc.strftime('%Y%m%dT%H%M%SZ')}-{run_id}.ipynb"


def write_sidecar(record: RunRecord) -> Path:
    """Write (or overwrite) a run's sidecar JSON atomically and return its path."""
    path = record.sidecar_path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    # A reader never sees half a sidecar: the rename replaces the old one in one step.
    os.replace(temporary, path)
    return path


def read_sidecar(path: Path | str) -> RunRecord:
    """Read a sidecar JSON (or the sidecar next to an archived ``.ipynb``) into a :class:`RunRecord`.

    Raises
    ------
    ConfigError
        If the file is missing or is not a TradePulse run sidecar.
    """
    path = Path(path)
    if path.suffix == ".ipynb":
        path = path.with_suffix(".json")
    if not path.is_file():
        raise ConfigError(f"run sidecar not found: {path}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != SIDECAR_FORMAT:
        raise ConfigError(f"{path} is not a TradePulse run sidecar (expected format {SIDECAR_FORMAT!r})")
    return RunRecord.from_dict(payload)
