"""From a target exposure to an order intent: pure arithmetic, no state, no I/O.

The sizer mirrors the backtest's ``targetpercent`` order: the target quantity is
``target * equity / price`` (equity valued at the same unslipped price); a buy the cash cannot pay
for at the expected fill price plus the taker fee is cut to what it can; quantities round down to
the lot and below the venue's minimums nothing is ordered. The execution engine feeds it the OMS's
position, open orders and cash; the OMS itself only keeps orders and positions.
"""

from __future__ import annotations

from decimal import Decimal

from tradepulse.model.costs import Costs
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import ZERO, OrderIntent, OrderType, TimeInForce
from tradepulse.sim.market import slippage_fraction

__all__ = ["intent_for_quantity", "intent_for_target"]


def intent_for_quantity(
    instrument: Instrument,
    strategy_id: str,
    target_quantity: Decimal,
    working_quantity: Decimal,
    *,
    order_type: OrderType = OrderType.MARKET,
    limit_price: Decimal | None = None,
    time_in_force: TimeInForce = TimeInForce.GTC,
    reference_price: Decimal | None = None,
    reason: str = "",
) -> OrderIntent | None:
    """The intent that moves ``working_quantity`` (position plus open orders, signed) to ``target_quantity``.

    ``None`` when nothing needs doing or the difference is below the instrument's minimum quantity
    or notional (see :meth:`Instrument.intent_for_change <tradepulse.model.instruments.Instrument.intent_for_change>`).
    """
    return instrument.intent_for_change(
        strategy_id, target_quantity - working_quantity, order_type=order_type, limit_price=limit_price,
        time_in_force=time_in_force, reference_price=reference_price, reason=reason,
    )


def intent_for_target(
    instrument: Instrument,
    strategy_id: str,
    target: float,
    price: Decimal,
    *,
    equity: Decimal,
    cash: Decimal,
    working_quantity: Decimal,
    sizing_costs: Costs,
    capital: Decimal,
    cash_reserve_fraction: Decimal = ZERO,
    signal_bar: object | None = None,
    best_ask: Decimal | None = None,
) -> OrderIntent | None:
    """The market order that moves the position to ``target`` of ``equity`` at ``price``, or ``None``.

    Parameters
    ----------
    working_quantity
        The position plus every open order's signed remaining quantity (open orders count as filled,
        so a repeated target does not order twice).
    cash
        Quote currency not in the position; a buy never spends more than ``cash`` less
        ``cash_reserve_fraction`` of it, less one quote quantum (the venue rounds each fee
        half-even and must never find us short).
    best_ask
        The expected fill price of a buy when a quote is known (tick data); otherwise ``price`` moved
        by the cost model's slippage for ``signal_bar`` (bar data, as in the backtest).

    Examples
    --------
    >>> from tradepulse.model.instruments import Instrument
    >>> btc = Instrument("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"),
    ...                  min_quantity=Decimal("0.00001"), min_notional=Decimal("5"))
    >>> intent = intent_for_target(btc, "demo", 0.5, Decimal("50000"), equity=Decimal("1000"), cash=Decimal("1000"),
    ...                            working_quantity=Decimal(0), sizing_costs=Costs(fees_bps=0.0), capital=Decimal("1000"))
    >>> intent.side.value, intent.quantity
    ('buy', Decimal('0.01000'))
    """
    change = Decimal(repr(float(target))) * equity / price - working_quantity
    if change > 0:
        fee_rate = Decimal(repr(sizing_costs.fees_bps)) / Decimal(10_000)
        if best_ask is not None:
            fill_price = best_ask
        else:
            slip = slippage_fraction(sizing_costs.slippage, signal_bar, float(capital))
            fill_price = instrument.round_price(price * (1 + slip))
        unit_cost = fill_price * (1 + fee_rate)
        spendable = max(cash * (1 - cash_reserve_fraction) - instrument.quote_quantum, ZERO)
        change = min(change, spendable / unit_cost)
    return intent_for_quantity(
        instrument, strategy_id, working_quantity + change, working_quantity, reference_price=price,
        reason=f"target {target:g} of equity at {price}",
    )
