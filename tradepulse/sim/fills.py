"""Fill rules, in one place for every simulated venue: walking a book, and when a resting limit fills.

* **Taking liquidity.** A taker walks the levels best first, net of what earlier fills already took
  (each venue remembers that until the level next changes), never beyond its limit price, until
  its quantity (or, for a quote-sized market order, its quote budget) is used up.
* **Resting limits against trade prints.** Under :attr:`LimitFill.TOUCH` a recorded trade at the
  limit price or better fills a resting order, but only a trade whose aggressor came to our side
  (a seller hitting the bids fills resting buys): the local venue's rule, the order being first in
  the queue at its price. Under :attr:`LimitFill.THROUGH` only a trade strictly beyond the limit
  fills it, whatever its direction: the paper venue's conservative rule, since a print at our
  price may have filled orders queued ahead of ours. Either way a print fills at most its size.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal

__all__ = ["LimitFill", "floor_to_step", "resting_fill_quantity", "take_levels"]

ZERO = Decimal(0)


class LimitFill(enum.StrEnum):
    """When a recorded trade fills a resting limit order (see the module docstring)."""

    TOUCH = "touch"
    THROUGH = "through"


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``step`` (a step of zero means no rounding)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def take_levels(
    levels: Iterable[tuple[Decimal, Decimal]],
    *,
    buying: bool,
    quantity: Decimal | None = None,
    quote_budget: Decimal | None = None,
    limit_price: Decimal | None = None,
    step: Decimal = ZERO,
) -> list[tuple[Decimal, Decimal]]:
    """The ``(price, quantity)`` a taker gets from ``levels`` (best first, net of what was taken).

    Exactly one of ``quantity`` and ``quote_budget`` is given; a quote budget buys whole ``step``
    lots at each level.

    Examples
    --------
    >>> asks = [(Decimal("100"), Decimal("1")), (Decimal("101"), Decimal("2"))]
    >>> take_levels(asks, buying=True, quantity=Decimal("1.5"))
    [(Decimal('100'), Decimal('1')), (Decimal('101'), Decimal('0.5'))]
    >>> take_levels(asks, buying=True, quantity=Decimal("1.5"), limit_price=Decimal("100"))
    [(Decimal('100'), Decimal('1'))]
    """
    if (quantity is None) == (quote_budget is None):
        raise ValueError("give exactly one of quantity and quote_budget")
    plan: list[tuple[Decimal, Decimal]] = []
    remaining, budget = quantity, quote_budget
    for price, available in levels:
        if limit_price is not None and (price > limit_price if buying else price < limit_price):
            break
        if budget is not None:
            take = min(available, floor_to_step(budget / price, step))
        else:
            assert remaining is not None
            take = min(available, remaining)
        if take <= 0:
            break
        plan.append((price, take))
        if budget is not None:
            budget -= take * price
        else:
            remaining -= take  # type: ignore[operator]
            if remaining <= 0:
                break
    return plan


def resting_fill_quantity(
    rule: LimitFill, *, buying: bool, limit_price: Decimal, remaining: Decimal, trade_price: Decimal,
    trade_quantity: Decimal, buyer_is_maker: bool | None,
) -> Decimal:
    """How much of a resting limit order one recorded trade fills under ``rule`` (zero: none).

    Examples
    --------
    >>> resting_fill_quantity(LimitFill.TOUCH, buying=True, limit_price=Decimal("100"), remaining=Decimal("2"),
    ...                       trade_price=Decimal("100"), trade_quantity=Decimal("0.5"), buyer_is_maker=True)
    Decimal('0.5')
    >>> resting_fill_quantity(LimitFill.THROUGH, buying=True, limit_price=Decimal("100"), remaining=Decimal("2"),
    ...                       trade_price=Decimal("100"), trade_quantity=Decimal("0.5"), buyer_is_maker=True)
    Decimal('0')
    """
    if rule is LimitFill.TOUCH:
        # A seller hitting the bids (the buyer was the maker) reaches resting buys, and the reverse.
        our_side_hit = buyer_is_maker is None or buyer_is_maker == buying
        reached = trade_price <= limit_price if buying else trade_price >= limit_price
        if not (our_side_hit and reached):
            return ZERO
    elif not (trade_price < limit_price if buying else trade_price > limit_price):
        return ZERO
    return min(remaining, trade_quantity)
