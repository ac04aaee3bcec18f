"""Alert hooks: tell a webhook (Slack or any JSON receiver) that the live service needs a human.

Delivery is best effort by design: a receiver that is down, slow or answering errors is logged
and reported back in an :class:`AlertDelivery`, and never raises into the engine that is busy
halting trading. The webhook URL is a secret (Slack's carries its token in the path): it is
registered for redaction and only ever shown masked.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tradepulse.obs.json_logs import current_correlation_id
from tradepulse.obs.redaction import SecretUrl, redact_value, register_secret

__all__ = ["ALERT_FORMATS", "ALERT_KINDS", "ALERT_SEVERITIES", "AlertDelivery", "AlertSender"]

logger = logging.getLogger(__name__)

ALERT_FORMATS = ("json", "slack")

#: What can go wrong that a human must hear about.
#: ``strategy_version``: a promoted version was loaded (info) or a running one withdrawn and halted (critical).
ALERT_KINDS = ("breaker_trip", "kill", "reconciliation_mismatch", "feed_loss", "strategy_version")

ALERT_SEVERITIES = ("info", "warning", "critical")

_SLACK_ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


@dataclass(frozen=True)
class AlertDelivery:
    """What happened to one alert.

    Attributes
    ----------
    delivered : bool
        The receiver answered with a 2xx status.
    http_status : int or None
        The receiver's status code; ``None`` when it could not be reached or nothing was sent.
    error : str or None
        Why delivery failed; never contains the webhook URL.
    """

    delivered: bool
    http_status: int | None = None
    error: str | None = None


class AlertSender:
    """POST alerts to one webhook.

    Parameters
    ----------
    webhook_url : str or SecretUrl
        The receiver; must be http(s) with a host. Masked in every log and error.
    format : {"json", "slack"}
        ``json`` posts the generic body (see docs/observability.md); ``slack`` posts ``{"text": ...}``.
    timeout : float
        Seconds to wait for the receiver before giving up on this alert.
    service : str
        Name carried in every alert, to tell several services apart in one channel.
    clock : callable, optional
        Returns the current aware ``datetime``; UTC wall clock by default.

    Raises
    ------
    ValueError
        At construction, for a URL that is not http(s) or an unknown format (configuration
        mistakes should fail at start-up, not when the first breaker trips).

    Examples
    --------
    >>> sender = AlertSender("http://127.0.0.1:9/hooks/T0K3N", timeout=0.5)
    >>> str(sender.webhook_url)
    'http://127.0.0.1:9/***'
    """

    def __init__(
        self,
        webhook_url: str | SecretUrl,
        format: str = "json",  # noqa: A002 - the name the config and docs use
        timeout: float = 5.0,
        service: str = "tradepulse",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        url = webhook_url if isinstance(webhook_url, SecretUrl) else SecretUrl(str(webhook_url))
        try:
            parts = urlsplit(url.reveal())
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(f"webhook URL {str(url)!r} must be an http:// or https:// URL with a host")
        if format not in ALERT_FORMATS:
            raise ValueError(f"alert format must be one of {', '.join(ALERT_FORMATS)}, not {format!r}")
        self.webhook_url = url
        self.format = format
        self.timeout = timeout
        self.service = service
        self._clock = clock or (lambda: datetime.now(UTC))
        # Whoever logs the URL by accident (a traceback, a debug line) still logs it masked.
        register_secret(url.reveal())

    def payload(
        self, kind: str, severity: str, message: str, details: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Return the JSON body :meth:`send` would post (secrets in ``details`` masked)."""
        body: dict[str, Any] = {
            "kind": kind,
            "severity": severity,
            "message": message,
            "service": self.service,
            "at": self._clock().astimezone(UTC).isoformat(timespec="seconds"),
            "correlation_id": current_correlation_id(),
            "details": dict(details or {}),
        }
        # Round-trip through JSON so Decimals and datetimes become plain strings before redaction.
        safe = json.loads(json.dumps(body, default=str))
        redacted: dict[str, Any] = redact_value(safe)
        if self.format == "slack":
            return {"text": _slack_text(redacted)}
        return redacted

    def send(
        self, kind: str, severity: str, message: str, details: Mapping[str, Any] | None = None
    ) -> AlertDelivery:
        """POST one alert; never raises.

        Parameters
        ----------
        kind : str
            One of :data:`ALERT_KINDS`.
        severity : str
            One of :data:`ALERT_SEVERITIES`.
        message : str
            One human sentence: what happened and what to do.
        details : mapping, optional
            Facts for the receiver (symbol, breaker, limit, ...); must be JSON-friendly.

        Returns
        -------
        AlertDelivery
            Whether the receiver accepted it. An unknown kind or severity is not sent and comes
            back as an undelivered result (a typo must not crash the path that is halting trading).
        """
        if kind not in ALERT_KINDS or severity not in ALERT_SEVERITIES:
            error = f"unknown alert kind {kind!r} or severity {severity!r}"
            logger.error("alert not sent", extra={"alert_kind": kind, "severity": severity, "error": error})
            return AlertDelivery(False, None, error)
        try:
            data = json.dumps(self.payload(kind, severity, message, details)).encode("utf-8")
        except Exception as exc:  # a details object that cannot be encoded must not raise either
            return self._report(kind, AlertDelivery(False, None, f"payload not encodable: {type(exc).__name__}"))
        request = urllib.request.Request(
            self.webhook_url.reveal(),
            data=data,
            headers={"Content-Type": "application/json", "User-Agent": "tradepulse-obs"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            outcome = AlertDelivery(False, exc.code, f"HTTP {exc.code} {exc.reason}")
        except Exception as exc:  # URLError, timeouts, resets: all just mean "not delivered"
            reason = getattr(exc, "reason", exc)
            outcome = AlertDelivery(False, None, self._without_url(f"{type(exc).__name__}: {reason}"))
        else:
            ok = 200 <= status < 300
            outcome = AlertDelivery(ok, status, None if ok else f"HTTP {status}")
        return self._report(kind, outcome)

    def _report(self, kind: str, outcome: AlertDelivery) -> AlertDelivery:
        fields = {
            "alert_kind": kind,
            "webhook": str(self.webhook_url),
            "delivered": outcome.delivered,
            "http_status": outcome.http_status,
            "error": outcome.error,
        }
        if outcome.delivered:
            logger.info("alert delivered", extra=fields)
        else:
            logger.warning("alert not delivered", extra=fields)
        return outcome

    def _without_url(self, text: str) -> str:
        # Some socket errors quote the address they tried; make sure the token never rides along.
        return text.replace(self.webhook_url.reveal(), str(self.webhook_url))


def _slack_text(body: Mapping[str, Any]) -> str:
    icon = _SLACK_ICONS.get(body["severity"], "")
    lines = [f"{icon} *{body['severity'].upper()}* {body['service']} `{body['kind']}`: {body['message']}"]
    lines += [f"• {key}: {value}" for key, value in body["details"].items()]
    if body.get("correlation_id"):
        lines.append(f"correlation id: `{body['correlation_id']}`")
    lines.append(f"at {body['at']}")
    return "\n".join(lines)
