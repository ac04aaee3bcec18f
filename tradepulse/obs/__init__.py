"""Observability building blocks for the live service: JSON logs, Prometheus metrics, alert hooks.

See docs/observability.md for the log fields, redaction rules, every metric and the alert payloads.
"""

from tradepulse.obs.alerts import ALERT_KINDS, ALERT_SEVERITIES, AlertDelivery, AlertSender
from tradepulse.obs.json_logs import JsonFormatter, configure_logging, correlation, current_correlation_id, new_correlation_id
from tradepulse.obs.metrics import CONTENT_TYPE, TRADING_STATES, TradingMetrics
from tradepulse.obs.redaction import SecretUrl, mask_url, redact_text, redact_value, register_secret

__all__ = [
    "ALERT_KINDS",
    "ALERT_SEVERITIES",
    "CONTENT_TYPE",
    "TRADING_STATES",
    "AlertDelivery",
    "AlertSender",
    "JsonFormatter",
    "SecretUrl",
    "TradingMetrics",
    "configure_logging",
    "correlation",
    "current_correlation_id",
    "mask_url",
    "new_correlation_id",
    "redact_text",
    "redact_value",
    "register_secret",
]
