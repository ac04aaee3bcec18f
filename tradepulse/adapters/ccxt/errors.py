"""ccxt's exceptions, translated once into TradePulse's error tree (design decision 7).

Everything the ccxt adapter, the ccxt feed and ``tradepulse data download`` raise goes through
:func:`translate_ccxt_error`, so the rest of TradePulse never imports ccxt to catch something.
The table (:data:`CCXT_ERROR_TABLE`), most specific class first, because ccxt's hierarchy nests
(``ChecksumError`` is an ``InvalidNonce`` is a ``NetworkError``; ``OrderNotFound`` is an ``InvalidOrder``):

- ``RateLimitExceeded``, ``DDoSProtection`` (HTTP 429, 418) -> ``RateLimited``, with ``retry_after_s``;
- ``InvalidNonce`` (Binance -1021, clock skew) and ``ChecksumError`` (an order-book gap) ->
  ``TemporaryVenueError``; the caller resyncs the clock or the book, then retries;
- ``RequestTimeout``, ``ExchangeNotAvailable``, ``OnMaintenance``, any other ``NetworkError``,
  ``BadResponse``, ``NullResponse``, ``CancelPending`` (``OperationFailed``) -> ``TemporaryVenueError``;
- ``AuthenticationError``, ``PermissionDenied``, ``AccountSuspended``, ``AccountNotEnabled`` -> ``AuthenticationFailed``;
- ``InsufficientFunds`` -> ``InsufficientFunds``;
- ``OrderNotFound``, ``OrderNotCached`` -> ``OrderNotFound``;
- ``InvalidOrder`` and its kin (``DuplicateOrderId``, ``OrderImmediatelyFillable``, ...) -> ``OrderRejected``;
- any other ``ExchangeError`` (``BadRequest``, ``BadSymbol``, ``NotSupported``, ...) -> ``VenueError``;
- below ccxt, ``TimeoutError``, ``aiohttp.ClientError`` and ``OSError`` -> ``TemporaryVenueError``.

For order creation the question that matters is whether the order *might* exist:
:func:`is_definite_refusal` says the venue answered "no" (the order does not exist), and in that
case a refusal the table maps to something else is raised as an :class:`OrderRejected` subclass
(:class:`OrderRateLimited`, :class:`OrderAuthenticationFailed`, or plain ``OrderRejected`` for a bad
request), which is what the :class:`~tradepulse.execution.venues.Venue` protocol promises.
Anything else leaves the outcome unknown and the adapter looks the order up by client order id.

Messages name the venue and the operation, keep the venue's own code and text, drop URL query
strings (timestamps and signatures), and pass through :func:`~.credentials.redact`; the original
exception is not chained, so a traceback cannot carry more than the message does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

import aiohttp
import ccxt

from tradepulse.adapters.credentials import redact, venue_env_prefix
from tradepulse.errors import (
    AuthenticationFailed,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    TemporaryVenueError,
    TradePulseError,
    VenueError,
)

__all__ = [
    "CCXT_ERROR_TABLE",
    "OrderAuthenticationFailed",
    "OrderRateLimited",
    "ccxt_cause",
    "is_clock_skew",
    "is_definite_refusal",
    "translate_ccxt_error",
]

_MAX_DETAIL = 300


class OrderRateLimited(OrderRejected, RateLimited):
    """The venue refused an order because the client is over its rate limit; the order does not exist."""


class OrderAuthenticationFailed(OrderRejected, AuthenticationFailed):
    """The venue refused an order because it rejected the credentials; the order does not exist."""


#: ccxt exception class -> TradePulse error class; the first match wins (subclasses first).
CCXT_ERROR_TABLE: tuple[tuple[type[BaseException], type[VenueError]], ...] = (
    (ccxt.RateLimitExceeded, RateLimited),
    (ccxt.DDoSProtection, RateLimited),
    (ccxt.InvalidNonce, TemporaryVenueError),  # includes ChecksumError (an order-book sequence gap)
    (ccxt.RequestTimeout, TemporaryVenueError),
    (ccxt.ExchangeNotAvailable, TemporaryVenueError),
    (ccxt.NetworkError, TemporaryVenueError),
    (ccxt.OperationFailed, TemporaryVenueError),
    (ccxt.AuthenticationError, AuthenticationFailed),
    (ccxt.InsufficientFunds, InsufficientFunds),
    (ccxt.OrderNotFound, OrderNotFound),
    (ccxt.OrderNotCached, OrderNotFound),
    (ccxt.InvalidOrder, OrderRejected),
    (ccxt.BaseError, VenueError),
)

# An order request answered with one of these was refused: the order does not exist at the venue.
_REFUSALS: tuple[type[BaseException], ...] = (
    ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.AuthenticationError, ccxt.OperationRejected,
    ccxt.NotSupported, ccxt.ArgumentsRequired, ccxt.DDoSProtection, ccxt.RateLimitExceeded,
)
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (asyncio.TimeoutError, TimeoutError, aiohttp.ClientError, OSError)
_QUERY = re.compile(r"(\b[a-z]+://[^\s?\"']+)\?[^\s\"']*", re.IGNORECASE)


def ccxt_cause(error: BaseException) -> BaseException:
    """The ccxt exception behind ``error``: itself, or one in its ``__cause__``/``__context__`` chain.

    ccxt sometimes raises an unrelated exception from its own clean-up while handling a real one
    (ccxt 4.5.90 raises ``KeyError('spot')`` after a WebSocket authentication failure, with the
    ``AuthenticationError`` as context); the real one is what must be reported.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ccxt.BaseError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return error


def is_clock_skew(error: BaseException) -> bool:
    """Whether ``error`` is the venue refusing our timestamp (Binance ``-1021``): resync the clock."""
    cause = ccxt_cause(error)
    return isinstance(cause, ccxt.InvalidNonce) and not isinstance(cause, ccxt.ChecksumError)


def is_definite_refusal(error: BaseException) -> bool:
    """Whether an order request that raised ``error`` was certainly not placed.

    True for the venue's explicit refusals (invalid order, insufficient funds, bad request,
    credentials, rate limits: a 429/418 request is not processed). False for timeouts, dropped
    connections, 5xx answers and anything unrecognised: the order may exist.
    """
    if isinstance(error, TradePulseError):
        return isinstance(error, (OrderRejected, InsufficientFunds))
    return isinstance(ccxt_cause(error), _REFUSALS)


def translate_ccxt_error(
    error: BaseException,
    *,
    venue: str,
    operation: str,
    secrets: Iterable[str] = (),
    retry_after_s: float | None = None,
    order_request: bool = False,
) -> TradePulseError:
    """Return the TradePulse error for a ccxt (or transport) exception.

    Parameters
    ----------
    error
        What ccxt (or aiohttp/asyncio underneath it) raised.
    venue
        The exchange id, named in the message.
    operation
        What was being done, e.g. ``"create_order BTC/USDT"``.
    secrets
        Values to redact from the message (credentials).
    retry_after_s
        The venue's ``Retry-After``, attached to :class:`RateLimited` errors.
    order_request
        The error answers an order submission: definite refusals become ``OrderRejected``
        (sub)classes, because the order does not exist.

    Examples
    --------
    >>> import ccxt
    >>> error = translate_ccxt_error(ccxt.InsufficientFunds('binance {"code":-2010}'), venue="binance", operation="create_order")
    >>> type(error).__name__, str(error)
    ('InsufficientFunds', 'binance refused create_order: insufficient funds (binance {"code":-2010})')
    """
    if isinstance(error, TradePulseError):
        return error
    cause = ccxt_cause(error)
    detail = _detail(cause, secrets)
    target = _target_class(cause)
    if order_request and is_definite_refusal(cause):
        if issubclass(target, RateLimited):
            target = OrderRateLimited
        elif issubclass(target, AuthenticationFailed):
            target = OrderAuthenticationFailed
        elif not issubclass(target, (OrderRejected, InsufficientFunds)):
            target = OrderRejected
    translated = target(_message(target, venue, operation, detail, retry_after_s))
    if isinstance(translated, RateLimited):
        translated.retry_after_s = retry_after_s  # type: ignore[attr-defined]
    translated.ccxt_error = type(cause).__name__  # type: ignore[attr-defined]
    return translated


def _target_class(error: BaseException) -> type[VenueError]:
    for ccxt_class, target in CCXT_ERROR_TABLE:
        if isinstance(error, ccxt_class):
            return target
    if isinstance(error, _TRANSPORT_ERRORS):
        return TemporaryVenueError
    return VenueError


def _detail(error: BaseException, secrets: Iterable[str]) -> str:
    text = str(error) or type(error).__name__
    text = _QUERY.sub(r"\1", text)
    text = " ".join(text.split())
    text = redact(text, secrets)
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    return text


def _message(target: type[VenueError], venue: str, operation: str, detail: str, retry_after_s: float | None) -> str:
    if issubclass(target, OrderRateLimited):
        wait = f"; retry after {retry_after_s:g} s" if retry_after_s else ""
        return f"{venue} refused {operation}: rate limited, the order was not placed ({detail}){wait}"
    if issubclass(target, RateLimited):
        wait = f"retry after {retry_after_s:g} s" if retry_after_s else "back off before retrying"
        return f"{venue} is rate-limiting this client during {operation} ({detail}); {wait} and lower the request rate"
    if issubclass(target, AuthenticationFailed):
        prefix = venue_env_prefix(venue)
        return (f"{venue} rejected the API credentials during {operation} ({detail}); check {prefix}_API_KEY and "
                f"{prefix}_API_SECRET (or their _FILE variants), the key's permissions and its IP allow-list")
    if issubclass(target, InsufficientFunds):
        return f"{venue} refused {operation}: insufficient funds ({detail})"
    if issubclass(target, OrderNotFound):
        return f"{venue} does not know the order ({operation}: {detail})"
    if issubclass(target, OrderRejected):
        return f"{venue} rejected {operation} ({detail})"
    if issubclass(target, TemporaryVenueError):
        return f"{venue} {operation} failed temporarily ({detail}); safe to retry with backoff"
    return f"{venue} {operation} failed ({detail})"
