"""Parameterised notebooks as jobs: run with papermill, archive, schedule, record, alert.

A quant tags a notebook's defaults cell ``parameters`` and ends it with :func:`record_results`;
``tradepulse jobs run`` executes it once, a ``jobs.toml`` plus ``tradepulse jobs scheduler`` runs
it on a cron schedule. See docs/jobs.md for the walk-through and file formats.

Modules: ``results`` (record/read results), ``parameters`` (``-p`` parsing, declared parameters),
``runner`` (one papermill run), ``archive`` (archived notebook + JSON sidecar), ``schedule``
(jobs.toml and cron), ``scheduler`` (due jobs, retries, overlap), ``history`` (SQLite), ``alerts``
(webhooks).
"""

from __future__ import annotations

from tradepulse.jobs.alerts import AlertOutcome, AlertSettings, SecretUrl, mask_url, send_alert
from tradepulse.jobs.archive import RunError, RunRecord, archive_notebook_path, read_sidecar
from tradepulse.jobs.history import HistoryEntry, JobHistory, resolve_store_path
from tradepulse.jobs.parameters import declared_parameters, parse_parameter_value
from tradepulse.jobs.results import RESULTS_MIME_TYPE, read_results, record_results
from tradepulse.jobs.runner import RunControl, run_notebook
from tradepulse.jobs.schedule import CronSchedule, JobDefinition, JobsConfig, load_jobs_config
from tradepulse.jobs.scheduler import Dispatch, Scheduler

__all__ = [
    "RESULTS_MIME_TYPE",
    "AlertOutcome",
    "AlertSettings",
    "CronSchedule",
    "Dispatch",
    "HistoryEntry",
    "JobDefinition",
    "JobHistory",
    "JobsConfig",
    "RunControl",
    "RunError",
    "RunRecord",
    "Scheduler",
    "SecretUrl",
    "archive_notebook_path",
    "declared_parameters",
    "load_jobs_config",
    "mask_url",
    "parse_parameter_value",
    "read_results",
    "read_sidecar",
    "record_results",
    "resolve_store_path",
    "run_notebook",
    "send_alert",
]
