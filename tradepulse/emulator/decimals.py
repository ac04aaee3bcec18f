"""Exact decimal helpers for the venue edge: parse Binance number strings, print them back.

Binance prints every price and quantity with eight decimals (``"61837.63000000"``); the venue does
the same so a client comparing strings with real Binance answers sees no difference.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal(0)
EIGHT_PLACES = Decimal("0.00000001")


def to_decimal(text: str | int | float | Decimal) -> Decimal:
    """Return ``text`` as a Decimal; floats go through ``repr`` so 0.1 stays 0.1.

    Raises
    ------
    ValueError
        If ``text`` is not a finite number.
    """
    if isinstance(text, Decimal):
        value = text
    else:
        try:
            value = Decimal(repr(text) if isinstance(text, float) else str(text))
        except InvalidOperation:
            raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


def fmt8(value: Decimal | int | str | None) -> str:
    """Format ``value`` the way Binance prints amounts: fixed point, eight decimals.

    Examples
    --------
    >>> fmt8(Decimal("61837.63"))
    '61837.63000000'
    """
    if value is None:
        value = ZERO
    if not isinstance(value, Decimal):
        value = Decimal(value)
    return format(value.quantize(EIGHT_PLACES, rounding=ROUND_HALF_UP), "f")


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Return True when ``value`` is an exact multiple of ``step`` (always True for a zero step)."""
    if step <= 0:
        return True
    return value % step == 0
