"""The individual pre-trade checks, in the order the gate runs them.

Each check returns ``None`` (pass) or a :class:`Denial` naming itself, a sentence with the limit
and the values, and the same numbers as data. Position-type checks only deny orders that *add*
risk: an order that shrinks an over-limit position always passes them, because blocking the way
out of a breach would make the breach worse.

Positions are judged at their worst case: the current position plus every open order on the same
side filling, plus this order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tradepulse.model.orders import OrderType, Side
from tradepulse.risk._common import ZERO, fmt_amount, fmt_quantity, fmt_seconds, quote_currency, to_decimal
from tradepulse.risk.actions import order_side, order_type, remaining_quantity
from tradepulse.risk.limits import RiskLimits
from tradepulse.risk.state import TradingMode, TradingState

#: Every check name a denial can carry, in the order the gate runs them.
CHECKS = (
    "order_fields",
    "trading_state",
    "instrument",
    "tick_size",
    "lot_size",
    "min_quantity",
    "last_trade",
    "price_band",
    "self_cross",
    "min_notional",
    "max_order_notional",
    "max_position_quantity",
    "max_position_notional",
    "max_gross_exposure",
    "max_gross_leverage",
    "max_net_exposure",
    "max_net_leverage",
    "max_open_orders",
    "order_rate",
    "gate_error",
)

_BPS = Decimal(10_000)
_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Denial:
    check: str
    reason: str
    details: dict[str, Any]


def _deny(check: str, reason: str, **details: Any) -> Denial:
    return Denial(check, reason, {"limit": check, **details})


@dataclass(frozen=True)
class OrderFacts:
    """An order normalised, with the position and price facts every check needs."""

    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    position: Decimal
    pending_same_side: Decimal
    last_trade: Decimal | None
    last_trade_age_seconds: float | None
    last_trade_fresh: bool
    instrument: Any
    flattening: bool = False  # the state is HALTED with a flatten in force

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign

    @property
    def worst_before(self) -> Decimal:
        """The position if every open order on this side fills, before this order."""
        return self.position + self.pending_same_side * self.side.sign

    @property
    def worst_after(self) -> Decimal:
        """The position if every open order on this side and this order fill."""
        return self.worst_before + self.signed_quantity

    @property
    def adds_risk(self) -> bool:
        return abs(self.worst_after) > abs(self.worst_before)

    @property
    def reduce_only(self) -> bool:
        """Shrinks an existing position without flipping it, even if all same-side orders fill."""
        if self.position == 0 or (self.position > 0) == (self.side is Side.BUY):
            return False
        return self.pending_same_side + self.quantity <= abs(self.position)

    @property
    def is_flatten_order(self) -> bool:
        """A reduce-only order sent while a halt's flatten is in force: the way out."""
        return self.flattening and self.reduce_only

    @property
    def reference_price(self) -> Decimal | None:
        """The price the order is valued at: its limit, or the last trade for a market order."""
        if self.order_type is OrderType.LIMIT:
            return self.limit_price
        return self.last_trade if self.last_trade_fresh else None

    @property
    def mark_price(self) -> Decimal | None:
        """The price positions are valued at: a fresh last trade, else the order's own price."""
        if self.last_trade is not None and self.last_trade_fresh:
            return self.last_trade
        return self.reference_price if self.reference_price is not None else self.last_trade

    @property
    def notional(self) -> Decimal | None:
        price = self.reference_price
        return None if price is None else self.quantity * price

    @property
    def currency(self) -> str:
        return quote_currency(self.symbol, self.instrument)

    def summary(self) -> dict[str, Any]:
        """The facts an approval journals alongside the order."""
        return {
            "notional": self.notional,
            "reference_price": self.reference_price,
            "position": self.position,
            "projected_position": self.worst_after,
            "adds_risk": self.adds_risk,
            "unit": self.currency,
        }

    def describe(self) -> str:
        return f"{self.side.value} {fmt_quantity(self.quantity)} {self.symbol}"


def _money(value: Decimal, currency: str) -> str:
    return f"{fmt_amount(value)} {currency}".rstrip()


def order_fields(order: Any) -> Denial | None:
    """Deny an order whose basic fields are missing or nonsensical (before anything else)."""
    symbol = getattr(order, "symbol", None)
    if not isinstance(symbol, str) or not symbol.strip():
        return _deny("order_fields", f"order has no symbol (got {symbol!r})", field="symbol")
    try:
        order_side(order)
    except (AttributeError, ValueError):
        return _deny("order_fields", f"order side must be buy or sell, got {getattr(order, 'side', None)!r}", field="side")
    try:
        kind = order_type(order)
    except ValueError:
        return _deny("order_fields", f"order type must be market or limit, got {order.order_type!r}", field="order_type")
    try:
        quantity = to_decimal(getattr(order, "quantity", None))
    except ValueError:
        return _deny("order_fields", f"order quantity must be a number, got {getattr(order, 'quantity', None)!r}", field="quantity")
    if quantity <= 0:
        return _deny("order_fields", f"order quantity must be positive, got {fmt_quantity(quantity)}", field="quantity", value=quantity)
    if kind is OrderType.LIMIT:
        raw = getattr(order, "limit_price", None)
        try:
            price = to_decimal(raw)
        except ValueError:
            return _deny("order_fields", f"limit order needs a numeric limit price, got {raw!r}", field="limit_price")
        if price <= 0:
            return _deny("order_fields", f"limit price must be positive, got {fmt_quantity(price)}", field="limit_price", value=price)
    return None


def trading_state(facts: OrderFacts, state: TradingState) -> Denial | None:
    """Apply the kill switch: REDUCING allows reduce-only orders; HALTED allows only a flatten's."""
    mode = state.mode
    if mode is TradingMode.ACTIVE:
        return None
    details = {
        "state": mode,
        "state_since": state.since,
        "state_reason": state.reason,
        "state_actor": state.actor,
        "position": facts.position,
        "pending_same_side": facts.pending_same_side,
    }
    if mode is TradingMode.REDUCING:
        if facts.reduce_only:
            return None
        pending = ""
        if facts.pending_same_side:
            pending = f" and {fmt_quantity(facts.pending_same_side)} already on open {facts.side.value} orders"
        return _deny(
            "trading_state",
            f"trading state REDUCING: only orders that reduce an existing position are allowed; "
            f"{facts.describe()} against a position of {fmt_quantity(facts.position)}{pending} would not "
            f"(reduced by {state.actor}: {state.reason})",
            **details,
        )
    if state.flatten and facts.reduce_only:
        return None
    also = "; only the reduce-only orders of its flatten are allowed" if state.flatten else ""
    return _deny(
        "trading_state",
        f"trading state HALTED: no new orders{also} (halted by {state.actor} at "
        f"{state.since:%Y-%m-%d %H:%M:%S} UTC: {state.reason})",
        **details,
    )


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    return (value % step) == 0


def order_checks(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    """Run the venue-minimum, price and exposure checks in ``CHECKS`` order; return the first denial."""
    for check in (_venue_minimums, _prices, _self_cross, _notionals, _positions, _exposure, _net_exposure, _open_orders):
        denial = check(facts, context, limits)
        if denial is not None:
            return denial
    return None


def _venue_minimums(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    instrument = facts.instrument
    if instrument is None:
        return _deny(
            "instrument",
            f"no instrument metadata for {facts.symbol}: its tick, lot and minimum sizes cannot be checked "
            "(load the venue's markets first)",
        )
    tick = getattr(instrument, "tick_size", None)
    if tick and facts.limit_price is not None and not _is_multiple(facts.limit_price, tick):
        return _deny(
            "tick_size",
            f"limit price {fmt_quantity(facts.limit_price)} is not a multiple of the tick size {fmt_quantity(tick)} for {facts.symbol}",
            value=facts.limit_price,
            limit_value=tick,
        )
    lot = getattr(instrument, "lot_size", None)
    if lot and not _is_multiple(facts.quantity, lot):
        return _deny(
            "lot_size",
            f"quantity {fmt_quantity(facts.quantity)} is not a multiple of the lot size {fmt_quantity(lot)} for {facts.symbol}",
            value=facts.quantity,
            limit_value=lot,
        )
    minimum = getattr(instrument, "min_quantity", None)
    if minimum and facts.quantity < minimum:
        return _deny(
            "min_quantity",
            f"quantity {fmt_quantity(facts.quantity)} is below the venue minimum {fmt_quantity(minimum)} for {facts.symbol}",
            value=facts.quantity,
            limit_value=minimum,
        )
    return None


def _prices(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    band = limits.for_symbol(facts.symbol).price_band_bps
    needs_last_trade = facts.order_type is OrderType.MARKET or band is not None
    if facts.is_flatten_order and facts.order_type is OrderType.MARKET:
        # A dead feed is a common reason to halt and flatten; refusing the exit for want of a
        # price would keep the position open exactly when it should close. It cannot flip.
        needs_last_trade = False
    if needs_last_trade and not facts.last_trade_fresh:
        why = "a market order" if facts.order_type is OrderType.MARKET else "the price band check"
        if facts.last_trade is None:
            seen = "no trade seen yet"
        else:
            seen = f"last trade {fmt_seconds(facts.last_trade_age_seconds or 0.0)} ago"
        return _deny(
            "last_trade",
            f"{why} needs a last trade price for {facts.symbol} at most "
            f"{fmt_seconds(limits.last_trade_max_age_seconds)} old ({seen}; last_trade_max_age_seconds "
            f"{limits.last_trade_max_age_seconds:g})",
            value=facts.last_trade_age_seconds,
            limit_value=limits.last_trade_max_age_seconds,
            unit="s",
            last_trade_price=facts.last_trade,
        )
    if band is not None and facts.order_type is OrderType.LIMIT and facts.limit_price is not None and facts.last_trade:
        distance_bps = abs(facts.limit_price - facts.last_trade) / facts.last_trade * _BPS
        if distance_bps > band:
            return _deny(
                "price_band",
                f"limit price {fmt_amount(facts.limit_price)} is {distance_bps.quantize(_HUNDREDTH, rounding=ROUND_HALF_EVEN)} bps from the "
                f"last trade {fmt_amount(facts.last_trade)}, outside price_band_bps {band.normalize():f}",
                value=distance_bps,
                limit_value=band,
                unit="bps",
                limit_price=facts.limit_price,
                last_trade_price=facts.last_trade,
            )
    return None


def resting_crossed(facts: OrderFacts, open_orders: Sequence[Any]) -> list[Any]:
    """Return this account's open limit orders on the other side of ``facts.symbol`` that the order
    would trade against, best price first (the lowest sell for a buy, the highest buy for a sell).

    ``open_orders`` are already free of terminal orders (see ``RiskContext``); an order waiting for
    its cancel confirmation (``PENDING_CANCEL``) still counts, because until the venue confirms
    the cancel it may still be on the book. Market orders never rest on a book and are not counted.
    """
    crossed = []
    for order in open_orders:
        if order.symbol != facts.symbol or order_side(order) is facts.side or order_type(order) is not OrderType.LIMIT:
            continue
        price = getattr(order, "limit_price", None)
        if price is None or remaining_quantity(order) <= 0:
            continue
        price = to_decimal(price)
        if facts.limit_price is not None:
            if facts.side is Side.BUY and facts.limit_price < price:
                continue
            if facts.side is Side.SELL and facts.limit_price > price:
                continue
        crossed.append((price, order))
    best_first = sorted(crossed, key=lambda item: (item[0] if facts.side is Side.BUY else -item[0], str(getattr(item[1], "client_order_id", ""))))
    return [order for _, order in best_first]


def _self_cross(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    """Refuse an order that would trade against this account's own resting order (a self-trade).

    A policy, not a limit: it cannot be switched off. A buy crosses when it is a market order or
    its limit is at or above the lowest own resting sell on the symbol; a sell, symmetrically.
    """
    crossed = resting_crossed(facts, context.open_orders)
    if not crossed:
        return None
    resting = crossed[0]
    resting_price = to_decimal(resting.limit_price)
    resting_id = getattr(resting, "client_order_id", None)
    resting_status = getattr(resting, "status", None)
    status_note = f", {resting_status}" if resting_status is not None else ""
    at = "at market" if facts.limit_price is None else f"at {fmt_amount(facts.limit_price)}"
    others = f" (and {len(crossed) - 1} more own order{'s' if len(crossed) > 2 else ''})" if len(crossed) > 1 else ""
    return _deny(
        "self_cross",
        f"{facts.describe()} {at} would trade against this account's own resting {order_side(resting).value} order "
        f"{resting_id} ({fmt_quantity(remaining_quantity(resting))} at {fmt_amount(resting_price)}{status_note}){others}: "
        "a self-trade; cancel the resting order and wait for the venue to confirm the cancel first",
        value=facts.limit_price,
        limit_value=resting_price,
        unit=facts.currency,
        order_type=facts.order_type,
        order_price=facts.limit_price,
        resting_client_order_id=resting_id,
        resting_side=order_side(resting),
        resting_price=resting_price,
        resting_quantity=remaining_quantity(resting),
        resting_status=resting_status,
        crossing_orders=len(crossed),
    )


def _notionals(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    notional = facts.notional
    currency = facts.currency
    min_notional = getattr(facts.instrument, "min_notional", None)
    if notional is None:
        # Only a flatten market order without a fresh trade gets here unpriced; see _prices.
        return None
    if min_notional and notional < min_notional:
        return _deny(
            "min_notional",
            f"order notional {_money(notional, currency)} is below the venue minimum {fmt_amount(min_notional)} for {facts.symbol}",
            value=notional,
            limit_value=min_notional,
            unit=currency,
        )
    maximum = limits.for_symbol(facts.symbol).max_order_notional
    # A flatten closes a position that may have been built by many orders; it is bounded by that
    # position (reduce-only), so splitting it to fit max_order_notional would only delay the exit.
    if maximum is not None and notional > maximum and not facts.is_flatten_order:
        return _deny(
            "max_order_notional",
            f"order notional {_money(notional, currency)} exceeds max_order_notional {fmt_amount(maximum)}",
            value=notional,
            limit_value=maximum,
            unit=currency,
        )
    return None


def _positions(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    if not facts.adds_risk:
        return None
    symbol_limits = limits.for_symbol(facts.symbol)
    projected = abs(facts.worst_after)
    pending = f" (including {fmt_quantity(facts.pending_same_side)} on open orders)" if facts.pending_same_side else ""
    maximum = symbol_limits.max_position_quantity
    if maximum is not None and projected > maximum:
        return _deny(
            "max_position_quantity",
            f"{facts.symbol} position would reach {fmt_quantity(facts.worst_after)}{pending}, beyond "
            f"max_position_quantity {fmt_quantity(maximum)}",
            value=projected,
            limit_value=maximum,
            position=facts.position,
        )
    maximum = symbol_limits.max_position_notional
    if maximum is not None and facts.mark_price is not None:
        value = projected * facts.mark_price
        if value > maximum:
            return _deny(
                "max_position_notional",
                f"{facts.symbol} position value would reach {_money(value, facts.currency)}{pending}, beyond "
                f"max_position_notional {fmt_amount(maximum)}",
                value=value,
                limit_value=maximum,
                unit=facts.currency,
                position=facts.position,
                mark_price=facts.mark_price,
            )
    return None


def gross_exposure(facts: OrderFacts, context: Any) -> tuple[Decimal | None, str]:
    """Return current gross exposure (given, or computed from positions × last trades) and, if
    it cannot be computed, the symbol whose price is missing."""
    if context.gross_exposure is not None:
        return context.gross_exposure, ""
    total = ZERO
    for symbol, quantity in context.positions.items():
        if quantity == 0:
            continue
        trade = context.last_trades.get(symbol)
        price = facts.mark_price if symbol == facts.symbol else (trade.price if trade is not None else None)
        if price is None:
            return None, symbol
        total += abs(quantity) * price
    return total, ""


def _exposure(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    if not facts.adds_risk or (limits.max_gross_exposure is None and limits.max_gross_leverage is None):
        return None
    current, missing = gross_exposure(facts, context)
    currency = facts.currency
    check = "max_gross_exposure" if limits.max_gross_exposure is not None else "max_gross_leverage"
    if current is None or facts.mark_price is None:
        return _deny(
            check,
            f"gross exposure is unknown (no price for {missing or facts.symbol}); pass context.gross_exposure "
            "or a last trade for every open position",
        )
    projected = current + (abs(facts.worst_after) - abs(facts.position)) * facts.mark_price
    maximum = limits.max_gross_exposure
    if maximum is not None and projected > maximum:
        return _deny(
            "max_gross_exposure",
            f"gross exposure would reach {_money(projected, currency)}, beyond max_gross_exposure {fmt_amount(maximum)}",
            value=projected,
            limit_value=maximum,
            unit=currency,
            current=current,
        )
    leverage_limit = limits.max_gross_leverage
    if leverage_limit is None:
        return None
    equity = context.equity
    if equity is None or equity <= 0:
        return _deny(
            "max_gross_leverage",
            f"gross leverage cannot be checked: equity is {'unknown' if equity is None else _money(equity, currency)} "
            "(pass context.equity)",
            equity=equity,
        )
    leverage = projected / equity
    if leverage > leverage_limit:
        return _deny(
            "max_gross_leverage",
            f"gross leverage would reach {leverage.quantize(_HUNDREDTH, rounding=ROUND_HALF_EVEN)}x ({_money(projected, currency)} on equity "
            f"{_money(equity, currency)}), beyond max_gross_leverage {leverage_limit.normalize():f}x",
            value=leverage,
            limit_value=leverage_limit,
            unit="x",
            gross_exposure=projected,
            equity=equity,
        )
    return None


def net_exposure(facts: OrderFacts, context: Any) -> tuple[Decimal | None, str]:
    """Return current net exposure (sum of signed position x price over every symbol) and, if it
    cannot be computed, the symbol whose price is missing."""
    total = ZERO
    for symbol, quantity in context.positions.items():
        if quantity == 0:
            continue
        trade = context.last_trades.get(symbol)
        price = facts.mark_price if symbol == facts.symbol else (trade.price if trade is not None else None)
        if price is None:
            return None, symbol
        total += quantity * price
    return total, ""


def _net_exposure(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    """A portfolio's net (long minus short) exposure: only orders that move it away from zero are judged."""
    if limits.max_net_exposure is None and limits.max_net_leverage is None:
        return None
    current, missing = net_exposure(facts, context)
    check = "max_net_exposure" if limits.max_net_exposure is not None else "max_net_leverage"
    if current is None or facts.mark_price is None:
        if not facts.adds_risk:
            return None
        return _deny(check, f"net exposure is unknown (no price for {missing or facts.symbol}); pass a last trade for every open position")
    projected = current + (facts.worst_after - facts.worst_before) * facts.mark_price
    if abs(projected) <= abs(current):
        return None  # the order brings the book closer to neutral: never block that
    currency = facts.currency
    maximum = limits.max_net_exposure
    if maximum is not None and abs(projected) > maximum:
        return _deny(
            "max_net_exposure",
            f"net exposure would reach {_money(projected, currency)}, beyond max_net_exposure {fmt_amount(maximum)}",
            value=projected,
            limit_value=maximum,
            unit=currency,
            current=current,
        )
    leverage_limit = limits.max_net_leverage
    if leverage_limit is None:
        return None
    equity = context.equity
    if equity is None or equity <= 0:
        return _deny(
            "max_net_leverage",
            f"net leverage cannot be checked: equity is {'unknown' if equity is None else _money(equity, currency)} (pass context.equity)",
            equity=equity,
        )
    leverage = abs(projected) / equity
    if leverage > leverage_limit:
        return _deny(
            "max_net_leverage",
            f"net leverage would reach {leverage.quantize(_HUNDREDTH, rounding=ROUND_HALF_EVEN)}x ({_money(projected, currency)} on equity "
            f"{_money(equity, currency)}), beyond max_net_leverage {leverage_limit.normalize():f}x",
            value=leverage,
            limit_value=leverage_limit,
            unit="x",
            net_exposure=projected,
            equity=equity,
        )
    return None


def _open_orders(facts: OrderFacts, context: Any, limits: RiskLimits) -> Denial | None:
    maximum = limits.max_open_orders
    count = len(context.open_orders)
    if maximum is not None and count + 1 > maximum:
        return _deny(
            "max_open_orders",
            f"{count} orders are open; one more would exceed max_open_orders {maximum}",
            value=count + 1,
            limit_value=maximum,
        )
    return None


def order_rate(count: int, approved_at: Sequence[datetime], now: datetime, limits: RiskLimits) -> Denial | None:
    """Deny when the sliding window already holds ``max_orders_per_window`` approvals."""
    maximum = limits.max_orders_per_window
    if maximum is None or count + 1 <= maximum:
        return None
    window = limits.order_window_seconds
    frees_in = (approved_at[0] + timedelta(seconds=window) - now).total_seconds() if approved_at else 0.0
    return _deny(
        "order_rate",
        f"{count} orders approved in the last {fmt_seconds(window)}; one more would exceed "
        f"max_orders_per_window {maximum} (a slot frees in {fmt_seconds(round(frees_in, 3))})",
        value=count + 1,
        limit_value=maximum,
        window_seconds=window,
        retry_after_seconds=frees_in,
    )
