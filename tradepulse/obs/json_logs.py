"""JSON logs: one object per line, with the correlation id of the work in progress and no secrets.

Named ``json_logs`` rather than ``logging`` so it never shadows the standard library module.

Every record becomes one line of JSON::

    {"ts": "2026-11-22T04:13:18.123+00:00", "level": "INFO", "logger": "tradepulse.live.engine",
     "message": "order submitted", "service": "tradepulse", "correlation_id": "c-17", "symbol": "BTC/USDT"}

Fields passed with ``extra=`` land at the top level. The correlation id lives in a
:class:`contextvars.ContextVar`, so each asyncio task and each thread sees its own.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

from tradepulse.obs.redaction import redact_text, redact_value

__all__ = [
    "CorrelationFilter",
    "JsonFormatter",
    "RedactionFilter",
    "configure_logging",
    "correlation",
    "current_correlation_id",
    "new_correlation_id",
]

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tradepulse_correlation_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` (or a filter).
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}
# Output keys an ``extra`` field must not take: the fixed fields, and those the formatter fills from
# exc_info/stack_info (an extra there was overwritten, or, not being text, lost the whole record).
_RESERVED = ("ts", "level", "logger", "message", "service", "exception", "exception_type", "stack")
_HANDLER_MARK = "_tradepulse_obs_handler"
_REDACTED_MARK = "_tradepulse_redacted"  # set by RedactionFilter on records it has masked


def new_correlation_id() -> str:
    """Return a fresh random correlation id (32 hex characters)."""
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    """Return the correlation id of the current context, or ``None`` outside :func:`correlation`."""
    return _correlation_id.get()


@contextmanager
def correlation(correlation_id: str | None = None) -> Iterator[str]:
    """Tag every log record inside the block with ``correlation_id``.

    Parameters
    ----------
    correlation_id : str, optional
        An id that ties the records together, usually the client order id; a new random id
        when omitted.

    Yields
    ------
    str
        The id in force inside the block.

    Examples
    --------
    >>> with correlation("ord-42") as cid:
    ...     current_correlation_id() == cid == "ord-42"
    True
    >>> current_correlation_id() is None
    True
    """
    cid = correlation_id or new_correlation_id()
    token = _correlation_id.set(cid)
    try:
        yield cid
    finally:
        _correlation_id.reset(token)


class CorrelationFilter(logging.Filter):
    """Stamp ``record.correlation_id`` from the current context (an explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = _correlation_id.get()
        return True


class RedactionFilter(logging.Filter):
    """Mask secrets in a record's message, arguments and extra fields before any handler sees it.

    The message is rendered with its arguments first and the arguments dropped, because a secret
    can be split between the format string and an argument only after formatting.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record (or its secret)
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_text(str(message))
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and key not in ("correlation_id", _REDACTED_MARK):
                setattr(record, key, redact_value(value, key))
        setattr(record, _REDACTED_MARK, True)
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON.

    Parameters
    ----------
    service : str
        Name written in every record's ``service`` field (several services share a log store).

    Notes
    -----
    The whole output object is redacted once more before serialising, so a secret in an
    exception traceback or in a handler that lacks :class:`RedactionFilter` still stays out.
    """

    def __init__(self, service: str = "tradepulse") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        cid = getattr(record, "correlation_id", None) or _correlation_id.get()
        if cid is not None:
            entry["correlation_id"] = str(cid)  # an explicit extra may be any object; the field is text
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key in ("correlation_id", _REDACTED_MARK):
                continue
            entry[f"extra_{key}" if key in _RESERVED else key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
            entry["exception_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        if getattr(record, _REDACTED_MARK, False):
            # RedactionFilter already masked the message and every extra field (it dominated the
            # cost of a log line to do it twice); what it could not see is rendered here.
            for key in ("exception", "stack"):
                if key in entry:
                    entry[key] = redact_text(entry[key])
            return json.dumps(entry, ensure_ascii=False, default=str)
        return json.dumps(redact_value(entry), ensure_ascii=False, default=str)


def configure_logging(
    level: int | str = "INFO",
    stream: IO[str] | None = None,
    service: str = "tradepulse",
    logger: logging.Logger | None = None,
) -> logging.Handler:
    """Send ``logger``'s records (the root logger by default) to ``stream`` as JSON lines.

    Calling it again replaces the handler it installed before (not handlers others added),
    so a service can reconfigure level or stream without doubling every line.

    Parameters
    ----------
    level : int or str
        Minimum level, e.g. ``"INFO"`` or ``logging.DEBUG``.
    stream : file-like, optional
        Where lines go; ``sys.stderr`` by default.
    service : str
        Value of every record's ``service`` field.
    logger : logging.Logger, optional
        Logger to configure; the root logger by default.

    Returns
    -------
    logging.Handler
        The installed handler (remove it with ``logger.removeHandler``).

    Examples
    --------
    >>> import io, json, logging
    >>> out = io.StringIO()
    >>> _ = configure_logging("INFO", out, service="demo", logger=logging.getLogger("demo"))
    >>> with correlation("ord-1"):
    ...     logging.getLogger("demo").info("sent %s", "BTC/USDT", extra={"qty": 0.5})
    >>> record = json.loads(out.getvalue())
    >>> record["correlation_id"], record["qty"], record["message"]
    ('ord-1', 0.5, 'sent BTC/USDT')
    """
    target = logger if logger is not None else logging.getLogger()
    for handler in list(target.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            target.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter(service=service))
    # Correlation first: redaction must not see (or mask) the id, and the id must come from
    # the caller's context, which handlers run in.
    handler.addFilter(CorrelationFilter())
    handler.addFilter(RedactionFilter())
    target.addHandler(handler)
    target.setLevel(level if isinstance(level, int) else level.upper())
    return handler
