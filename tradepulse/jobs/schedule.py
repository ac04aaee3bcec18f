"""``jobs.toml``: scheduled notebook jobs, validated strictly, and their cron schedules.

Every mistake in the file is a :class:`~tradepulse.errors.ConfigError` that names the job and the
key, found when the file is loaded rather than at three in the morning when the job is due.
Relative paths in the file are relative to the file's own folder, so the scheduler can be started
from anywhere.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from tradepulse.errors import ConfigError
from tradepulse.jobs.alerts import ALERT_FORMATS, AlertSettings, SecretUrl, check_webhook_url
from tradepulse.jobs.parameters import check_parameter_name, check_parameters
from tradepulse.jobs.runner import DEFAULT_KERNEL, DEFAULT_TIMEOUT_SECONDS, check_kernel

DEFAULT_CONFIG_NAME = "jobs.toml"
OVERLAP_POLICIES = ("skip", "queue", "allow")
_NICKNAMES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class CronSchedule:
    """A five-field cron expression evaluated in an IANA time zone.

    Daylight-saving changes follow Debian cron, which operators already know: a time that does not
    exist on the spring-forward day (02:30 in Europe/Berlin) fires at the first minute after the
    gap (03:00); a time that happens twice on the fall-back day fires once, at its first occurrence.
    Expressions firing every hour or more often fire in both repeated hours.

    Parameters
    ----------
    expression : str
        ``minute hour day-of-month month day-of-week``, or ``@hourly``/``@daily``/``@weekly``/
        ``@monthly``/``@yearly``.
    time_zone : str
        IANA name, e.g. ``"Europe/Berlin"``; ``"UTC"`` by default.

    Raises
    ------
    ConfigError
        For a malformed expression, one that never fires, or an unknown time zone.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> schedule = CronSchedule("30 2 * * *", "Europe/Berlin")
    >>> schedule.next_after(datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc)).isoformat()
    '2026-03-29T01:00:00+00:00'
    """

    def __init__(self, expression: str, time_zone: str = "UTC") -> None:
        self.expression = expression.strip()
        self.time_zone_name = time_zone
        try:
            self.time_zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {time_zone!r} (use an IANA name such as 'Europe/Berlin' or 'UTC')"
            ) from None
        self._fields = _NICKNAMES.get(self.expression.lower(), self.expression)
        if len(self._fields.split()) != 5:
            raise ConfigError(
                f"cron expression {expression!r} must have 5 fields (minute hour day-of-month month day-of-week)"
            )
        try:
            CronSim(self._fields, datetime(2000, 1, 1, tzinfo=self.time_zone))
        except CronSimError as exc:
            raise ConfigError(f"bad cron expression {expression!r}: {exc}") from None
        try:
            self.next_after(datetime(2000, 1, 1, tzinfo=timezone.utc))
        except StopIteration:
            raise ConfigError(f"cron expression {expression!r} never fires") from None

    def next_after(self, moment: datetime) -> datetime:
        """Return the first fire time strictly after ``moment``, as an aware UTC datetime.

        Parameters
        ----------
        moment : datetime
            An aware datetime (any zone).
        """
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        after_utc = moment.astimezone(timezone.utc)
        candidates = CronSim(self._fields, after_utc.astimezone(self.time_zone))
        # In the repeated hour of a fall-back day cronsim works on wall-clock time and can hand
        # back the first occurrence of a time we are already past; skip until truly later.
        for _ in range(8):
            candidate = next(candidates).astimezone(timezone.utc)
            if candidate > after_utc:
                return candidate
        raise StopIteration  # pragma: no cover - eight wall-clock repeats cannot happen

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """Return the last fire time at or before ``moment``, as an aware UTC datetime.

        The scheduler uses it to fold a backlog of missed occurrences (after downtime) into one run
        without walking through every one of them.
        """
        if moment.tzinfo is None:
            raise ValueError("latest_at_or_before needs an aware datetime")
        at_utc = moment.astimezone(timezone.utc)
        # cronsim's reverse search starts one second before its start, so start one second later.
        candidates = CronSim(self._fields, (at_utc + timedelta(seconds=1)).astimezone(self.time_zone), reverse=True)
        for _ in range(8):
            candidate = next(candidates).astimezone(timezone.utc)
            if candidate <= at_utc:
                return candidate
        raise StopIteration  # pragma: no cover - see next_after

    def fire_times(self, start: datetime, end: datetime) -> list[datetime]:
        """Return every fire time in ``(start, end]`` (UTC), oldest first."""
        times: list[datetime] = []
        moment = start
        while True:
            moment = self.next_after(moment)
            if moment > end:
                return times
            times.append(moment)

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.time_zone_name!r})"


@dataclass(frozen=True)
class JobDefinition:
    """One ``[jobs.NAME]`` table of jobs.toml.

    Attributes
    ----------
    name : str
        The job's name (the table key).
    notebook : Path
        Absolute path of the notebook.
    schedule : CronSchedule
        When it runs.
    parameters : dict
        Values injected into the notebook's ``parameters`` cell.
    timeout_seconds : float
        Limit for one attempt.
    cell_timeout_seconds : float or None
        Limit for any single cell.
    retries : int
        Extra attempts after a failed or timed-out one.
    retry_backoff_seconds : float
        Wait before the first retry; each further retry waits twice as long.
    overlap : str
        What to do when the job is due while a run of it is still going: ``skip`` the new one,
        ``queue`` it until the running one ends, or ``allow`` both at once.
    enabled : bool
        ``false`` keeps the definition but never schedules it.
    description : str
        Free text shown by ``tradepulse jobs list``.
    """

    name: str
    notebook: Path
    schedule: CronSchedule
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    cell_timeout_seconds: float | None = None
    retries: int = 0
    retry_backoff_seconds: float = 60.0
    overlap: str = "skip"
    enabled: bool = True
    description: str = ""

    def backoff_seconds(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed: doubling."""
        return self.retry_backoff_seconds * 2 ** (failed_attempt - 1)


@dataclass(frozen=True)
class JobsConfig:
    """A loaded jobs.toml.

    Attributes
    ----------
    path : Path
        The file it came from.
    jobs : dict[str, JobDefinition]
        Jobs by name, in file order.
    output_dir : Path
        Root of the run archive.
    kernel_name : str
        Jupyter kernel the notebooks run on.
    max_concurrent_runs : int
        Runs executing at once across all jobs (each is a kernel process).
    alerts : AlertSettings or None
        Failure alert hook, if configured.
    """

    path: Path
    jobs: dict[str, JobDefinition]
    output_dir: Path
    kernel_name: str = DEFAULT_KERNEL
    max_concurrent_runs: int = 2
    alerts: AlertSettings | None = None


_TOP_KEYS = {"scheduler", "alerts", "jobs"}
_SCHEDULER_KEYS = {"output_dir", "kernel", "max_concurrent_runs"}
_ALERT_KEYS = {"webhook_url", "webhook_url_env", "webhook_url_file", "format", "timeout_seconds"}
_JOB_KEYS = {
    "notebook",
    "cron",
    "timezone",
    "parameters",
    "timeout_seconds",
    "cell_timeout_seconds",
    "retries",
    "retry_backoff_seconds",
    "overlap",
    "enabled",
    "description",
}


def load_jobs_config(path: Path | str, check_notebooks: bool = True) -> JobsConfig:
    """Load and validate a jobs.toml.

    Parameters
    ----------
    path : Path or str
        The file.
    check_notebooks : bool
        Also check that each notebook exists and declares every parameter given to it, and that
        the kernel is installed.

    Returns
    -------
    JobsConfig

    Raises
    ------
    ConfigError
        For anything wrong, naming the job and key.

    Examples
    --------
    >>> config = load_jobs_config("jobs.toml")  # doctest: +SKIP
    >>> [job.name for job in config.jobs.values() if job.enabled]  # doctest: +SKIP
    ['btc_daily_report']
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"jobs file not found: {path}")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    base = path.resolve().parent
    _reject_unknown(document, _TOP_KEYS, f"{path}")

    scheduler = _table(document, "scheduler", f"{path}")
    _reject_unknown(scheduler, _SCHEDULER_KEYS, f"{path}: [scheduler]")
    where = f"{path}: [scheduler]"
    output_dir = base / _typed(scheduler, "output_dir", str, where, "reports/jobs")
    kernel_name = _typed(scheduler, "kernel", str, where, DEFAULT_KERNEL)
    max_concurrent_runs = _typed(scheduler, "max_concurrent_runs", int, where, 2)
    if max_concurrent_runs < 1:
        raise ConfigError(f"{where}: key 'max_concurrent_runs' must be at least 1")

    language = None
    if check_notebooks:
        try:
            language = check_kernel(kernel_name)
        except ConfigError as exc:
            raise ConfigError(f"{where}: key 'kernel': {exc}") from None
    alerts = _load_alerts(document, path, base)

    jobs_table = _table(document, "jobs", f"{path}")
    jobs: dict[str, JobDefinition] = {}
    for name, table in jobs_table.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'jobs.{name}' must be a table ([jobs.{name}])")
        jobs[name] = _load_job(name, table, path, base, check_notebooks, kernel_name, language)
    if not jobs:
        raise ConfigError(f"{path}: no jobs defined (add a [jobs.NAME] table)")
    return JobsConfig(path.resolve(), jobs, output_dir, kernel_name, max_concurrent_runs, alerts)


def _load_job(
    name: str,
    table: dict[str, Any],
    path: Path,
    base: Path,
    check_notebooks: bool,
    kernel_name: str,
    language: str | None,
) -> JobDefinition:
    where = f"{path}: job {name!r}"
    if not name.replace("-", "_").isidentifier():
        raise ConfigError(f"{where}: job names use letters, digits, '_' and '-' only")
    _reject_unknown(table, _JOB_KEYS, where)
    for required in ("notebook", "cron"):
        if required not in table:
            raise ConfigError(f"{where}: missing key {required!r}")

    notebook = base / _typed(table, "notebook", str, where)
    if check_notebooks and not notebook.is_file():
        raise ConfigError(f"{where}: key 'notebook': file not found: {notebook}")
    try:
        schedule = CronSchedule(_typed(table, "cron", str, where), _typed(table, "timezone", str, where, "UTC"))
    except ConfigError as exc:
        key = "timezone" if "time zone" in str(exc) else "cron"
        raise ConfigError(f"{where}: key {key!r}: {exc}") from None

    parameters = _typed(table, "parameters", dict, where, {})
    for parameter in parameters:
        try:
            check_parameter_name(parameter)
        except ConfigError as exc:
            raise ConfigError(f"{where}: key 'parameters': {exc}") from None
    if check_notebooks:
        check_parameters(notebook, parameters, f"{where}: key 'parameters': ", kernel_name, language)

    overlap = _typed(table, "overlap", str, where, "skip")
    if overlap not in OVERLAP_POLICIES:
        raise ConfigError(f"{where}: key 'overlap' must be one of {', '.join(OVERLAP_POLICIES)}, got {overlap!r}")
    retries = _typed(table, "retries", int, where, 0)
    if retries < 0:
        raise ConfigError(f"{where}: key 'retries' must be 0 or more")
    return JobDefinition(
        name=name,
        notebook=notebook,
        schedule=schedule,
        parameters=parameters,
        timeout_seconds=_positive(table, "timeout_seconds", where, DEFAULT_TIMEOUT_SECONDS),
        cell_timeout_seconds=_positive(table, "cell_timeout_seconds", where, None),
        retries=retries,
        retry_backoff_seconds=_non_negative(table, "retry_backoff_seconds", where, 60.0),
        overlap=overlap,
        enabled=_typed(table, "enabled", bool, where, True),
        description=_typed(table, "description", str, where, ""),
    )


def _load_alerts(document: dict[str, Any], path: Path, base: Path) -> AlertSettings | None:
    alerts = _table(document, "alerts", f"{path}")
    if not alerts:
        return None
    where = f"{path}: [alerts]"
    _reject_unknown(alerts, _ALERT_KEYS, where)
    sources = [key for key in ("webhook_url", "webhook_url_env", "webhook_url_file") if key in alerts]
    if len(sources) != 1:
        raise ConfigError(f"{where}: give exactly one of webhook_url, webhook_url_env, webhook_url_file")
    key = sources[0]
    value = _typed(alerts, key, str, where)
    if key == "webhook_url_env":
        url = os.environ.get(value, "").strip()
        if not url:
            raise ConfigError(f"{where}: key 'webhook_url_env': environment variable {value} is not set")
    elif key == "webhook_url_file":
        secret_file = base / value
        if not secret_file.is_file():
            raise ConfigError(f"{where}: key 'webhook_url_file': file not found: {secret_file}")
        url = secret_file.read_text(encoding="utf-8").strip()
    else:
        url = value.strip()
    webhook_url: SecretUrl = check_webhook_url(url, f"{where}: key {key!r}")
    alert_format = _typed(alerts, "format", str, where, "json")
    if alert_format not in ALERT_FORMATS:
        raise ConfigError(f"{where}: key 'format' must be one of {', '.join(ALERT_FORMATS)}, got {alert_format!r}")
    return AlertSettings(webhook_url, alert_format, _positive(alerts, "timeout_seconds", where, 10.0))


def _table(document: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table ([{key}])")
    return value


def _reject_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


_MISSING: Any = object()


def _typed(table: dict[str, Any], key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    if key not in table:
        if default is _MISSING:
            raise ConfigError(f"{where}: missing key {key!r}")
        return default
    value = table[key]
    # TOML booleans are not numbers here, even though Python's bool is an int.
    wrong = isinstance(value, bool) != (kind is bool) or not isinstance(value, kind)
    if kind is float:
        wrong = isinstance(value, bool) or not isinstance(value, (int, float))
    if wrong:
        raise ConfigError(f"{where}: key {key!r} must be {_KIND_NAMES[kind]}, got {value!r}")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a table"}


def _positive(table: dict[str, Any], key: str, where: str, default: float | None) -> Any:
    value = _typed(table, key, float, where, default)
    if value is not None and value <= 0:
        raise ConfigError(f"{where}: key {key!r} must be a positive number of seconds, got {value!r}")
    return None if value is None else float(value)


def _non_negative(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = _typed(table, key, float, where, default)
    if value < 0:
        raise ConfigError(f"{where}: key {key!r} must be 0 or more seconds, got {value!r}")
    return float(value)
