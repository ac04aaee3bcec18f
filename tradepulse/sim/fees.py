"""Fee arithmetic, in one place for every simulated venue.

A commission is ``rate × notional``; a negative rate is a maker rebate (paid to the account). Which
asset it is charged in and how it is rounded are venue rules (:mod:`tradepulse.sim.rules`):
Binance, and so the local venue, charges a buyer in the base asset received and a seller in the
quote received, rounded half-up to eight decimals; the paper venue charges quote, rounded to the
instrument's quote quantum. An account that pays in a third asset (Binance's BNB setting) pays
``notional × rate × (1 − discount)`` worth of it at that asset's price.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from tradepulse.model.costs import rate_from_bps

__all__ = ["FeeAsset", "commission", "commission_in_other_asset", "rate_from_bps", "round_to_eight_places"]

_EIGHT_PLACES = Decimal("0.00000001")


class FeeAsset(enum.StrEnum):
    """Which asset a commission is charged in: the quote currency, or whatever the trade delivers."""

    QUOTE = "quote"
    RECEIVED = "received"


def round_to_eight_places(value: Decimal) -> Decimal:
    """Round a commission half-up to eight decimals, as Binance shows it."""
    return value.quantize(_EIGHT_PLACES, rounding=ROUND_HALF_UP)


def commission(
    price: Decimal, quantity: Decimal, rate: Decimal, *, buying: bool, fee_asset: FeeAsset,
    round_to: Callable[[Decimal], Decimal],
) -> tuple[Decimal, bool]:
    """Return ``(amount, in_base)``: the commission of one fill and whether it is in the base asset.

    Examples
    --------
    >>> commission(Decimal("50000"), Decimal("0.01"), Decimal("0.001"), buying=True,
    ...            fee_asset=FeeAsset.RECEIVED, round_to=round_to_eight_places)
    (Decimal('0.00001000'), True)
    >>> commission(Decimal("50000"), Decimal("0.01"), Decimal("0.001"), buying=True,
    ...            fee_asset=FeeAsset.QUOTE, round_to=lambda v: v.quantize(Decimal("0.01")))
    (Decimal('0.50'), False)
    """
    if fee_asset is FeeAsset.RECEIVED and buying:
        return round_to(quantity * rate), True
    return round_to(price * quantity * rate), False


def commission_in_other_asset(
    notional: Decimal, rate: Decimal, *, discount: Decimal, unit_price: Decimal, round_to: Callable[[Decimal], Decimal],
) -> Decimal:
    """The commission in a third asset worth ``unit_price`` quote each (Binance's BNB payment, discounted)."""
    return round_to(notional * rate * (1 - discount) / unit_price)
