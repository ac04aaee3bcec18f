"""Job history in SQLite: every attempt, every skipped occurrence, every alert, and scheduler state.

One file (``.tradepulse/jobs.sqlite`` by default) in WAL mode, so ``tradepulse jobs history`` can
read while the scheduler writes. Each call opens its own short-lived connection: the scheduler's
worker threads and other processes never share one.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.jobs.alerts import AlertOutcome
from tradepulse.jobs.archive import RunRecord, format_utc, new_run_id, parse_utc

SCHEMA_VERSION = 1
STORE_DIR_ENV = "TRADEPULSE_STORE_DIR"
STORE_FILE_NAME = "jobs.sqlite"
SKIPPED = "skipped"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            TEXT NOT NULL UNIQUE,
    job               TEXT NOT NULL,
    notebook          TEXT,
    trigger           TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempt           INTEGER NOT NULL,
    scheduled_for     TEXT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    duration_seconds  REAL,
    archive_path      TEXT,
    error             TEXT,
    error_json        TEXT,
    parameters_json   TEXT,
    results_json      TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, started_at);
CREATE TABLE IF NOT EXISTS alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT NOT NULL,
    job          TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    delivered    INTEGER NOT NULL,
    http_status  INTEGER,
    error        TEXT
);
CREATE TABLE IF NOT EXISTS job_state (
    job                 TEXT PRIMARY KEY,
    last_scheduled_for  TEXT NOT NULL
);
"""


def resolve_store_path(explicit: Path | str | None = None, cwd: Path | None = None) -> Path:
    """Return the history file to use: ``explicit``, else ``$TRADEPULSE_STORE_DIR/jobs.sqlite``,
    else ``.tradepulse/jobs.sqlite`` under ``cwd`` (the current directory)."""
    if explicit:
        return Path(explicit).expanduser()
    directory = os.environ.get(STORE_DIR_ENV)
    if directory:
        return Path(directory).expanduser() / STORE_FILE_NAME
    return (cwd or Path.cwd()) / ".tradepulse" / STORE_FILE_NAME


@dataclass(frozen=True)
class HistoryEntry:
    """One row of ``tradepulse jobs history``: an attempt, or an occurrence that was skipped."""

    run_id: str
    job: str
    status: str
    attempt: int
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    scheduled_for: datetime | None
    archive_path: str | None
    error: str | None
    results: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "status": self.status,
            "attempt": self.attempt,
            "trigger": self.trigger,
            "started_at": format_utc(self.started_at),
            "finished_at": format_utc(self.finished_at),
            "duration_seconds": self.duration_seconds,
            "scheduled_for": format_utc(self.scheduled_for),
            "archive_path": self.archive_path,
            "error": self.error,
            "results": self.results,
        }


@dataclass(frozen=True)
class AlertEntry:
    """One alert delivery attempt."""

    run_id: str
    job: str
    sent_at: datetime
    delivered: bool
    http_status: int | None
    error: str | None


class JobHistory:
    """The SQLite history of job runs.

    Parameters
    ----------
    path : Path or str
        The database file; its folder is created when missing.

    Raises
    ------
    ConfigError
        If the file is not a SQLite database or was written by a newer schema.

    Examples
    --------
    >>> history = JobHistory(resolve_store_path())  # doctest: +SKIP
    >>> [entry.status for entry in history.entries("btc_daily_report", limit=5)]  # doctest: +SKIP
    ['succeeded', 'failed']
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the history folder {self.path.parent}: {exc.strerror}") from None
        self._initialise()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the job history {self.path}: {exc}") from None
        try:
            with connection:  # commits on success, rolls back on error
                yield connection
        finally:
            connection.close()

    def _initialise(self) -> None:
        try:
            with self._connect() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA)
                row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
                version = row[0]
                if version is None:
                    connection.execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))",
                        (SCHEMA_VERSION,),
                    )
                elif version > SCHEMA_VERSION:
                    raise ConfigError(
                        f"{self.path} uses job-history schema {version}, newer than this TradePulse knows "
                        f"({SCHEMA_VERSION}); upgrade TradePulse or use another --store"
                    )
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path} is not a usable SQLite job history: {exc}") from None

    @property
    def schema_version(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        with self._connect() as connection:
            return str(connection.execute("PRAGMA journal_mode").fetchone()[0])

    def record_run(self, record: RunRecord) -> None:
        """Insert or update the row of one attempt (keyed by its run id)."""
        error = record.error
        row = {
            "run_id": record.run_id,
            "job": record.job,
            "notebook": record.notebook,
            "trigger": record.trigger,
            "status": record.status,
            "attempt": record.attempt,
            "scheduled_for": format_utc(record.scheduled_for),
            "started_at": format_utc(record.started_at),
            "finished_at": format_utc(record.finished_at),
            "duration_seconds": record.duration_seconds,
            "archive_path": record.output_notebook,
            "error": error.one_line() if error else None,
            "error_json": json.dumps(error.__dict__) if error else None,
            "parameters_json": json.dumps(record.parameters),
            "results_json": json.dumps(record.results) if record.results is not None else None,
        }
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        updates = ", ".join(f"{name} = excluded.{name}" for name in row if name != "run_id")
        with self._connect() as connection:
            connection.execute(
                f"INSERT INTO runs ({columns}) VALUES ({placeholders}) ON CONFLICT(run_id) DO UPDATE SET {updates}",
                row,
            )

    def record_skipped(self, job: str, scheduled_for: datetime, at: datetime, reason: str) -> str:
        """Record an occurrence the overlap policy skipped; return its id."""
        run_id = new_run_id()
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO runs (run_id, job, trigger, status, attempt, scheduled_for, started_at, finished_at,"
                " duration_seconds, error) VALUES (?, ?, 'schedule', ?, 0, ?, ?, ?, 0, ?)",
                (run_id, job, SKIPPED, format_utc(scheduled_for), format_utc(at), format_utc(at), reason),
            )
        return run_id

    def record_alert(self, record: RunRecord, outcome: AlertOutcome, sent_at: datetime) -> None:
        """Record one alert delivery attempt for a run."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO alerts (run_id, job, sent_at, delivered, http_status, error) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.run_id,
                    record.job,
                    format_utc(sent_at),
                    int(outcome.delivered),
                    outcome.http_status,
                    outcome.error,
                ),
            )

    def entries(self, job: str | None = None, limit: int = 20) -> list[HistoryEntry]:
        """Return past attempts (and skipped occurrences), newest first.

        Parameters
        ----------
        job : str, optional
            Only this job's rows.
        limit : int
            At most this many rows.
        """
        query = "SELECT * FROM runs"
        arguments: list[Any] = []
        if job is not None:
            query += " WHERE job = ?"
            arguments.append(job)
        query += " ORDER BY started_at DESC, id DESC LIMIT ?"
        arguments.append(limit)
        with self._connect() as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute(query, arguments).fetchall()
        return [
            HistoryEntry(
                run_id=row["run_id"],
                job=row["job"],
                status=row["status"],
                attempt=row["attempt"],
                trigger=row["trigger"],
                started_at=parse_utc(row["started_at"]),  # type: ignore[arg-type]
                finished_at=parse_utc(row["finished_at"]),
                duration_seconds=row["duration_seconds"],
                scheduled_for=parse_utc(row["scheduled_for"]),
                archive_path=row["archive_path"],
                error=row["error"],
                results=json.loads(row["results_json"]) if row["results_json"] else None,
            )
            for row in rows
        ]

    def alerts(self, job: str | None = None) -> list[AlertEntry]:
        """Return alert deliveries, oldest first."""
        query = "SELECT run_id, job, sent_at, delivered, http_status, error FROM alerts"
        arguments: list[Any] = []
        if job is not None:
            query += " WHERE job = ?"
            arguments.append(job)
        with self._connect() as connection:
            rows = connection.execute(query + " ORDER BY id", arguments).fetchall()
        return [AlertEntry(r[0], r[1], parse_utc(r[2]), bool(r[3]), r[4], r[5]) for r in rows]  # type: ignore[arg-type]

    def last_scheduled_for(self, job: str) -> datetime | None:
        """Return the most recent cron time the scheduler handled for ``job``."""
        with self._connect() as connection:
            row = connection.execute("SELECT last_scheduled_for FROM job_state WHERE job = ?", (job,)).fetchone()
        return parse_utc(row[0]) if row else None

    def set_last_scheduled_for(self, job: str, scheduled_for: datetime) -> None:
        """Remember that ``job``'s occurrence at ``scheduled_for`` was handled (run, queued or skipped)."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO job_state (job, last_scheduled_for) VALUES (?, ?)"
                " ON CONFLICT(job) DO UPDATE SET last_scheduled_for = excluded.last_scheduled_for",
                (job, format_utc(scheduled_for)),
            )
