"""Alert hooks: tell a webhook (Slack or any JSON receiver) when a job failed after its retries.

Delivery is best effort by design: a webhook that is down is logged and recorded in the history,
and never stops the scheduler or turns a failed run into anything else.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tradepulse.errors import ConfigError
from tradepulse.jobs.archive import RunRecord, format_utc
from tradepulse.obs.redaction import SecretUrl, mask_url  # one masking rule for every secret URL

logger = logging.getLogger(__name__)

ALERT_FORMATS = ("json", "slack")


def check_webhook_url(url: str, where: str) -> SecretUrl:
    """Validate an http(s) webhook URL and wrap it, or raise :class:`ConfigError` (URL masked)."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(f"{where}: webhook URL {mask_url(url)!r} must be an http:// or https:// URL with a host")
    return SecretUrl(url)


@dataclass(frozen=True)
class AlertSettings:
    """Where and how to send failure alerts (the ``[alerts]`` table of jobs.toml).

    Attributes
    ----------
    webhook_url : SecretUrl
        Receiver of the POST; masked whenever printed.
    format : str
        ``json`` (the run's facts as a JSON object) or ``slack`` (``{"text": ...}``).
    timeout_seconds : float
        HTTP timeout for one delivery.
    """

    webhook_url: SecretUrl
    format: str = "json"
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class AlertOutcome:
    """What happened to one alert delivery.

    Attributes
    ----------
    delivered : bool
        The receiver answered with a 2xx status.
    http_status : int or None
        The receiver's status code, ``None`` when it could not be reached.
    error : str or None
        Why delivery failed (the URL is never part of it).
    """

    delivered: bool
    http_status: int | None = None
    error: str | None = None


def alert_payload(record: RunRecord, attempts: int) -> dict[str, Any]:
    """Return the JSON body describing a failed run.

    Parameters
    ----------
    record : RunRecord
        The run's last attempt.
    attempts : int
        How many attempts were made in total.
    """
    error = record.error
    return {
        "job": record.job,
        "status": record.status,
        "error": error.one_line() if error else None,
        "exception": error.exception if error else None,
        "message": error.message if error else None,
        "cell": error.cell_index if error else None,
        # A run refused before it started (its notebook vanished, say) has no archive.
        "archive_path": record.output_notebook or None,
        "sidecar_path": str(record.sidecar_path) if record.output_notebook else None,
        "started_at": format_utc(record.started_at),
        "finished_at": format_utc(record.finished_at),
        "scheduled_for": format_utc(record.scheduled_for),
        "attempts": attempts,
        "run_id": record.run_id,
        "notebook": record.notebook,
    }


def slack_text(payload: dict[str, Any]) -> str:
    """Render the alert as one Slack message (mrkdwn)."""
    retries = f" after {payload['attempts']} attempts" if payload["attempts"] > 1 else ""
    return (
        f":rotating_light: TradePulse job *{payload['job']}* {payload['status'].replace('_', ' ')}{retries}\n"
        f"{payload['error'] or 'no error detail'}\n"
        f"started {payload['started_at']}, finished {payload['finished_at']}\n"
        f"archive: `{payload['archive_path']}`"
    )


def send_alert(settings: AlertSettings, record: RunRecord, attempts: int) -> AlertOutcome:
    """POST a failure alert for ``record``; never raises for a delivery problem.

    Parameters
    ----------
    settings : AlertSettings
        Receiver URL, body format and timeout.
    record : RunRecord
        The failed run's last attempt.
    attempts : int
        How many attempts were made in total.

    Returns
    -------
    AlertOutcome
        Whether the receiver accepted the alert.
    """
    payload = alert_payload(record, attempts)
    body = {"text": slack_text(payload)} if settings.format == "slack" else payload
    request = urllib.request.Request(
        settings.webhook_url.reveal(),
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "tradepulse-jobs"},
        method="POST",
    )
    masked = str(settings.webhook_url)
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        outcome = AlertOutcome(False, exc.code, f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        outcome = AlertOutcome(False, None, _without_url(f"{type(exc).__name__}: {reason}", settings.webhook_url))
    else:
        outcome = AlertOutcome(200 <= status < 300, status, None if 200 <= status < 300 else f"HTTP {status}")
    if outcome.delivered:
        logger.info("alert for %s run %s delivered to %s", record.job, record.run_id, masked)
    else:
        logger.warning("alert for %s run %s not delivered to %s: %s", record.job, record.run_id, masked, outcome.error)
    return outcome


def _without_url(text: str, url: SecretUrl) -> str:
    # Some socket errors quote the address they tried; make sure the token never rides along.
    return text.replace(url.reveal(), str(url))
