"""Building ccxt clients for TradePulse: credentials, local-venue URLs, logging, capabilities, conversions.

* :func:`create_exchange` builds a ``ccxt.pro`` client (``ccxt.async_support`` when the exchange has
  no ccxt.pro class) with the credentials revealed exactly once, ccxt's ``verbose`` printing refused
  (it prints request headers, API key included), and ccxt's logger replaced by
  :class:`RedactingLogger`: ccxt logs every request's headers at DEBUG, and Binance's
  ``X-MBX-APIKEY`` header is the API key.
* :func:`local_venue_urls` points a Binance-family client at a Binance-compatible local venue (the
  TradePulse emulator), from ``exchange_url=`` or ``TRADEPULSE_<EXCHANGE>_URL``. It exists for
  testing and rehearsals; production uses ccxt's own URLs.
* :func:`missing_capabilities` / :func:`require_capabilities` check ccxt's ``has`` table before any
  request, so an exchange without what TradePulse needs fails once, listing everything missing.
* :func:`to_decimal`, :func:`to_datetime`, :func:`instrument_from_market`: the Decimal edge
  (design decision 6). ccxt's unified structures carry floats parsed from the venue's decimal text;
  ``repr`` of such a float is the shortest text that reads back to it, which for venue numbers
  (at most 15 significant digits) is the venue's own number, so the conversion is exact.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from tradepulse.adapters.credentials import Credentials, redact, venue_env_prefix
from tradepulse.errors import ConfigError
from tradepulse.model.instruments import Instrument

__all__ = [
    "TRADING_CAPABILITIES",
    "RedactingLogger",
    "create_exchange",
    "exchange_url_from_env",
    "instrument_from_market",
    "local_venue_urls",
    "missing_capabilities",
    "require_capabilities",
    "to_datetime",
    "to_decimal",
    "to_milliseconds",
]

#: What the venue adapter needs from ``exchange.has``; user data may come from watchOrders or polling.
TRADING_CAPABILITIES: tuple[str, ...] = (
    "createOrder", "cancelOrder", "fetchOrder", "fetchOpenOrders", "fetchMyTrades", "fetchBalance",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Exchanges whose REST and WebSocket layout the local venue (tradepulse.emulator) speaks.
_BINANCE_FAMILY = ("binance", "binanceus")


class RedactingLogger:
    """A stand-in for ccxt's logger that formats each message and removes secrets before logging it.

    ccxt calls ``logger.debug(fmt, *args)`` with request headers among the args; a logging filter
    on a parent logger would see the record only after the arguments were bound, so the text is
    built and cleaned here and handed on without arguments.
    """

    def __init__(self, logger: logging.Logger, secrets: Iterable[str]) -> None:
        self._logger = logger
        self._secrets = tuple(secrets)

    def _log(self, level: int, message: object, *args: Any, **kwargs: Any) -> None:
        if not self._logger.isEnabledFor(level):
            return
        text = str(message)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text, *map(str, args)])
        kwargs.pop("exc_info", None)  # a traceback's frames could hold the secrets; the message says enough
        self._logger.log(level, redact(text, self._secrets), stacklevel=3)

    def debug(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.DEBUG, message, *args, **kwargs)

    def info(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.INFO, message, *args, **kwargs)

    def warning(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.WARNING, message, *args, **kwargs)

    warn = warning

    def error(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.ERROR, message, *args, **kwargs)

    def exception(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.ERROR, message, *args, **kwargs)

    def critical(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.CRITICAL, message, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - the logging.Logger name
        return self._logger.isEnabledFor(level)


def exchange_url_from_env(exchange_id: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``TRADEPULSE_<EXCHANGE>_URL`` if set: the base URL of a local venue to use instead of the exchange."""
    env = os.environ if environ is None else environ
    return env.get(f"{venue_env_prefix(exchange_id)}_URL") or None


def local_venue_urls(exchange_id: str, base_url: str) -> dict[str, Any]:
    """ccxt ``urls`` that send every spot request of ``exchange_id`` to the venue at ``base_url``.

    Only Binance-family exchanges are supported: the local venue speaks Binance's spot API.

    Examples
    --------
    >>> local_venue_urls("binance", "http://127.0.0.1:8765")["api"]["public"]
    'http://127.0.0.1:8765/api/v3'
    """
    if exchange_id not in _BINANCE_FAMILY:
        raise ConfigError(
            f"an exchange URL override is supported for Binance-compatible local venues only "
            f"({', '.join(_BINANCE_FAMILY)}), not {exchange_id!r}"
        )
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"exchange URL must look like http://host:port, got {base_url!r}")
    root = f"{parsed.scheme}://{parsed.netloc}"
    ws_root = f"{'wss' if parsed.scheme == 'https' else 'ws'}://{parsed.netloc}"
    return {"api": {
        "public": f"{root}/api/v3",
        "private": f"{root}/api/v3",
        "v1": f"{root}/api/v1",
        # ccxt tells a spot socket from a futures one by "/stream" in its URL; keep it.
        "ws": {"spot": f"{ws_root}/stream/ws", "margin": f"{ws_root}/stream/ws", "ws-api": {"spot": f"{ws_root}/ws-api/v3"}},
    }}


def create_exchange(
    exchange_id: str,
    *,
    credentials: Credentials | None = None,
    exchange_url: str | None = None,
    config: Mapping[str, Any] | None = None,
    enable_rate_limit: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Build a ccxt client for ``exchange_id`` (create it inside the event loop that will use it).

    Parameters
    ----------
    exchange_id
        A ccxt exchange id (``"binance"``).
    credentials
        From :func:`~tradepulse.adapters.credentials.load_credentials`; ``None`` for
        market data only.
    exchange_url
        Base URL of a Binance-compatible local venue (testing); ``TRADEPULSE_<EXCHANGE>_URL`` when
        omitted, else ccxt's real URLs.
    config
        Extra ccxt constructor settings (``options`` merged key by key). ``apiKey``/``secret`` and
        ``verbose`` are refused: credentials come from the environment, and verbose mode prints them.
    enable_rate_limit
        ccxt's client-side throttle (on by default).

    Examples
    --------
    >>> exchange = create_exchange("binance", exchange_url="http://127.0.0.1:8765")  # doctest: +SKIP
    """
    import ccxt
    import ccxt.async_support
    import ccxt.pro

    extra = dict(config or {})
    forbidden = sorted({"apiKey", "secret", "password", "uid", "privateKey"} & set(extra))
    if forbidden:
        raise ConfigError(f"credentials are read from TRADEPULSE_* environment variables only, not from config ({', '.join(forbidden)})")
    if extra.pop("verbose", False):
        raise ConfigError("ccxt verbose mode prints request headers, API keys included; it cannot be enabled")
    cls = getattr(ccxt.pro, exchange_id, None) or getattr(ccxt.async_support, exchange_id, None)
    if cls is None or exchange_id not in ccxt.exchanges:
        raise ConfigError(f"unknown ccxt exchange {exchange_id!r}; see ccxt.exchanges for the ids")
    settings: dict[str, Any] = {"enableRateLimit": enable_rate_limit, "options": {}}
    url = exchange_url or exchange_url_from_env(exchange_id, environ)
    if exchange_id in _BINANCE_FAMILY:
        # Spot only: without these, load_markets with a key also calls /sapi currency and margin
        # endpoints (extra permissions, extra weight) that a spot strategy never needs.
        settings["options"].update({"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                    "fetchMargins": False, "fetchOpenOrders": {"warnWithoutSymbol": False}})
    if url:
        settings["urls"] = local_venue_urls(exchange_id, url)
    options = extra.pop("options", None) or {}
    settings.update(extra)
    settings["options"].update(options)
    if credentials is not None:
        settings["apiKey"] = credentials.api_key.reveal()
        settings["secret"] = credentials.api_secret.reveal()
        if credentials.password is not None:
            settings["password"] = credentials.password.reveal()
    exchange = cls(settings)
    secrets = credentials.secrets() if credentials is not None else ()
    exchange.logger = RedactingLogger(logging.getLogger(f"tradepulse.ccxt.{exchange_id}"), secrets)
    if url:
        # ccxt applies Binance's spot error table only to requests to Binance's own host; a local
        # venue speaking the same API gets the same table, so its errors map as the real ones do.
        spot = exchange.exceptions.get("spot", {}) if isinstance(exchange.exceptions, dict) else {}
        if isinstance(spot, dict):
            exchange.exceptions["exact"].update(spot.get("exact", {}))
            exchange.exceptions["broad"].update(spot.get("broad", {}))
    return exchange


def missing_capabilities(has: Mapping[str, Any], required: Iterable[str | tuple[str, ...]]) -> list[str]:
    """Names in ``required`` that ``has`` lacks; a tuple means "any of these" (listed as ``a or b``).

    Examples
    --------
    >>> missing_capabilities({"fetchOrder": True, "watchOrders": False}, ["fetchOrder", ("watchOrders", "fetchOpenOrders")])
    ['watchOrders or fetchOpenOrders']
    """
    missing = []
    for need in required:
        options = (need,) if isinstance(need, str) else tuple(need)
        if not any(has.get(name) for name in options):
            missing.append(" or ".join(options))
    return missing


def require_capabilities(exchange: Any, required: Iterable[str | tuple[str, ...]], purpose: str) -> None:
    """Raise one :class:`ConfigError` listing every capability ``exchange`` lacks for ``purpose``."""
    missing = missing_capabilities(exchange.has, required)
    if missing:
        raise ConfigError(
            f"ccxt exchange {exchange.id!r} cannot be used for {purpose}: it lacks {', '.join(missing)} "
            f"(ccxt's `has` table); pick an exchange that supports them"
        )


def to_decimal(value: Any) -> Decimal | None:
    """A venue number as an exact Decimal (``None`` stays ``None``); floats via their shortest repr.

    Examples
    --------
    >>> to_decimal(61234.56), to_decimal("0.00100000"), to_decimal(1e-05)
    (Decimal('61234.56'), Decimal('0.00100000'), Decimal('0.00001'))
    """
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not a venue number")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                return None
            number = Decimal(repr(value))
        else:
            number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number


def to_datetime(milliseconds: Any) -> datetime | None:
    """A ccxt timestamp (ms since the epoch) as an aware UTC datetime; ``None`` for missing or non-positive."""
    if milliseconds is None:
        return None
    try:
        value = int(milliseconds)
    except (TypeError, ValueError):
        return None
    return _EPOCH + timedelta(milliseconds=value) if value > 0 else None


def to_milliseconds(at: datetime) -> int:
    """An aware datetime as ms since the epoch (what ccxt's ``since`` takes)."""
    if at.tzinfo is None:
        raise ConfigError(f"times must be timezone-aware, got {at.isoformat()}")
    return (at - _EPOCH) // timedelta(milliseconds=1)


def instrument_from_market(market: Mapping[str, Any], precision_mode: int) -> Instrument | None:
    """The :class:`Instrument` of a ccxt market: tick, lot and minimums from ``precision`` and ``limits``.

    Returns ``None`` when the market has no fixed grid TradePulse can trade on (precision given in
    significant digits, or missing).
    """
    from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

    precision = market.get("precision") or {}

    def step(value: Any) -> Decimal | None:
        if value is None:
            return None
        if precision_mode == TICK_SIZE:
            return to_decimal(value)
        if precision_mode == DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(value))
        return None  # SIGNIFICANT_DIGITS: no fixed grid

    tick, lot = step(precision.get("price")), step(precision.get("amount"))
    if tick is None or lot is None or tick <= 0 or lot <= 0:
        return None
    limits = market.get("limits") or {}
    min_quantity = to_decimal((limits.get("amount") or {}).get("min")) or Decimal(0)
    min_notional = to_decimal((limits.get("cost") or {}).get("min")) or Decimal(0)
    return Instrument(
        market["symbol"], market["base"], market["quote"], tick_size=tick, lot_size=lot,
        min_quantity=max(min_quantity, Decimal(0)), min_notional=max(min_notional, Decimal(0)),
    )
