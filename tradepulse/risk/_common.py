"""Small helpers shared by the risk modules: clocks, Decimal coercion, formatting, JSON payloads."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

#: A clock is any zero-argument callable returning the current time (an aware ``datetime``).
#: The live engine passes its own clock; tests pass a fake one they move by hand, so no test sleeps.
Clock = Callable[[], datetime]

ZERO = Decimal(0)
_CENT = Decimal("0.01")


def utc_now() -> datetime:
    """Return the current wall-clock time in UTC (the default clock)."""
    return datetime.now(timezone.utc)


_ZONEINFO_UTC = ZoneInfo("UTC")  # zoneinfo keeps one instance per key


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive ``datetime`` is taken to be UTC already."""
    if moment.tzinfo is timezone.utc or moment.tzinfo is _ZONEINFO_UTC:
        # Already UTC (the common case, on every tick; pandas gives zoneinfo's UTC): no new object.
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_decimal(value: Any) -> Decimal:
    """Convert ``value`` to ``Decimal`` exactly as written: floats go through ``str`` so 0.1 stays 0.1.

    Raises ``ValueError`` for booleans, NaN, infinities and anything that is not a number.
    """
    if isinstance(value, bool):
        # bool is an int subclass; ``max_open_orders = true`` in a TOML file is a mistake, not 1.
        raise ValueError("a boolean is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, float, str)):
        try:
            number = Decimal(str(value).strip().replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise ValueError(f"{value!r} is not a number")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def seconds(delta: timedelta) -> float:
    """Return ``delta`` in seconds as a float (for durations in payloads and reasons)."""
    return delta.total_seconds()


def fmt_amount(value: Decimal) -> str:
    """Format money for a human: thousands separators, two decimals unless more are significant.

    ``12500`` → ``12,500.00``; ``0.000123`` → ``0.000123`` (rounding it to cents would make a
    denial read "0.00 exceeds 0.00").
    """
    if value == value.quantize(_CENT):
        return f"{value:,.2f}"
    return f"{value.normalize():,f}"


def fmt_quantity(value: Decimal) -> str:
    """Format a quantity or price exactly, without exponent notation or trailing zeros."""
    text = f"{value.normalize():f}"
    return "0" if text in {"-0", "0"} else text


def fmt_seconds(value: float) -> str:
    """Format a duration in seconds for a reason string (``75 s``, ``0.25 s``)."""
    return f"{value:g} s"


def jsonable(value: Any) -> Any:
    """Convert ``value`` to JSON-safe data: Decimals become strings, datetimes ISO-8601 strings.

    Dataclasses with a ``to_payload`` method use it; other dataclasses become dicts of their fields.
    """
    kind = type(value)  # exact types first: every order's decision and baselines come through here
    if kind is str or kind is float or kind is int or value is None:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is dict:
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        # Plain digits (never "1E+1"), exactly as the journal writes them: Decimal(text) gives back the value.
        return format(value, "f")
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "to_payload"):
        return value.to_payload()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    return str(value)


def quote_currency(symbol: str, instrument: Any = None) -> str:
    """Return the currency a symbol's notional is counted in: ``BTC/USDT`` → ``USDT``.

    An instrument's own ``quote`` attribute wins; for ccxt-style derivatives (``BTC/USDT:USDT``)
    the quote before the settle suffix is used.
    """
    quote = getattr(instrument, "quote", None) if instrument is not None else None
    if quote:
        return str(quote)
    if "/" in symbol:
        return symbol.split("/", 1)[1].split(":", 1)[0]
    return ""
