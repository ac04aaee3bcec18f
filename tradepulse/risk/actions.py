"""What the engine must do after a state change, as data: cancel orders, flatten positions.

The risk package never talks to a venue. A halt or a reduce returns these actions inside its
:class:`~tradepulse.risk.state.StateChange`; the engine journals the change and then carries them
out. Flatten quantities are computed by the engine *after* the cancels complete (a fill can land
while a cancel is in flight), which is why :class:`FlattenPositions` carries no quantities and
:func:`flatten_intents` takes the positions as they are at that moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal, Protocol, runtime_checkable

from tradepulse.model.orders import OrderIntent, OrderType, Side
from tradepulse.risk._common import ZERO

__all__ = [
    "CancelOpenOrders",
    "FlattenPositions",
    "InstrumentLike",
    "flatten_intents",
    "order_side",
    "order_type",
]


@runtime_checkable
class InstrumentLike(Protocol):
    """The venue constraints the gate needs (``tradepulse.model.instruments.Instrument`` fits).

    ``None`` or zero for an attribute means the venue sets no such constraint.
    """

    tick_size: Decimal | None
    lot_size: Decimal | None
    min_quantity: Decimal | None
    min_notional: Decimal | None


def order_side(order: Any) -> Side:
    """Return an order's side as :class:`Side`, accepting the enum or ``"buy"``/``"SELL"``."""
    return Side(str(order.side).lower())


def order_type(order: Any) -> OrderType:
    """Return an order's type as :class:`OrderType`, accepting the enum or a string."""
    return OrderType(str(getattr(order, "order_type", OrderType.MARKET)).lower())


def remaining_quantity(order: Any) -> Decimal:
    """Return the quantity of an open order that can still fill."""
    remaining = getattr(order, "remaining_quantity", None)
    if remaining is not None:
        return Decimal(remaining)
    return Decimal(order.quantity) - Decimal(getattr(order, "filled_quantity", ZERO) or ZERO)


@dataclass(frozen=True)
class CancelOpenOrders:
    """Cancel open orders at the venue: all of them, or only those that would add risk.

    Parameters
    ----------
    scope : {"all", "risk_increasing"}
        ``"all"`` on a halt. ``"risk_increasing"`` on a move to REDUCING: orders on the side that
        would grow a position's absolute size (or open one from flat); orders that close stay.
    """

    scope: Literal["all", "risk_increasing"] = "all"

    def selects(self, order: Any, positions: Mapping[str, Decimal]) -> bool:
        """Return whether ``order`` (an open order) must be cancelled under this action."""
        if self.scope == "all":
            return True
        position = Decimal(positions.get(order.symbol, ZERO))
        return position == 0 or (position > 0) == (order_side(order) is Side.BUY)

    def select(self, open_orders: Iterable[Any], positions: Mapping[str, Decimal]) -> list[Any]:
        """Return the open orders the engine must cancel, in the order given."""
        return [order for order in open_orders if self.selects(order, positions)]

    def to_payload(self) -> dict[str, Any]:
        """Return ``{"action": "cancel_open_orders", "scope": ...}``."""
        return {"action": "cancel_open_orders", "scope": self.scope}


@dataclass(frozen=True)
class FlattenPositions:
    """Close every open position with reduce-only market orders once the cancels are done.

    Build the orders with :func:`flatten_intents` from the positions at that moment; the gate
    approves them while the halt that asked for the flatten is in force.
    """

    def to_payload(self) -> dict[str, Any]:
        """Return ``{"action": "flatten_positions"}``."""
        return {"action": "flatten_positions"}


def flatten_intents(
    positions: Mapping[str, Decimal],
    instruments: Mapping[str, InstrumentLike] | None = None,
    strategy: str = "flatten",
) -> list[OrderIntent]:
    """Return the market orders that close ``positions``, rounded down to each lot size.

    A remainder below the lot size or the instrument's minimum quantity cannot be traded and is
    left as dust (rounding *down* is what guarantees a flatten never flips a position).

    Parameters
    ----------
    positions : Mapping[str, Decimal]
        Signed quantity per symbol.
    instruments : Mapping[str, InstrumentLike], optional
        Venue constraints per symbol; symbols without one are closed at their exact quantity.
    strategy : str
        Strategy id on the intents (it becomes part of the client order id).

    Examples
    --------
    >>> from decimal import Decimal
    >>> [(i.side.value, i.quantity) for i in flatten_intents({"BTC/USDT": Decimal("-0.5")})]
    [('buy', Decimal('0.5'))]
    """
    intents = []
    for symbol, signed in sorted(positions.items()):
        signed = Decimal(signed)
        if signed == 0:
            continue
        instrument = (instruments or {}).get(symbol)
        quantity = abs(signed)
        lot_size = getattr(instrument, "lot_size", None)
        if lot_size:
            quantity = (quantity / lot_size).to_integral_value(rounding=ROUND_DOWN) * lot_size
        min_quantity = getattr(instrument, "min_quantity", None) or ZERO
        if quantity <= 0 or quantity < min_quantity:
            continue
        side = Side.SELL if signed > 0 else Side.BUY
        intents.append(
            OrderIntent(
                strategy=strategy,
                symbol=symbol,
                side=side,
                quantity=quantity,
                order_type=OrderType.MARKET,
                reason=f"flatten {symbol} position {signed} after a halt",
            )
        )
    return intents
