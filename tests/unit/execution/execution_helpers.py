"""Shared builders for the execution tests: real instruments, a deterministic clock, intents and fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepulse.execution import Fill, Instrument, OrderIntent, OrderType, Side

# Binance spot filters for these markets (PRICE_FILTER.tickSize, LOT_SIZE.stepSize, NOTIONAL.minNotional).
BTC_USDT = Instrument(
    "BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"), min_notional=Decimal("5")
)
ETH_USDT = Instrument("ETH/USDT", "ETH", "USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.0001"), min_notional=Decimal("5"))
ETH_BTC = Instrument(
    "ETH/BTC", "ETH", "BTC", tick_size=Decimal("0.00001"), lot_size=Decimal("0.0001"), min_notional=Decimal("0.0001")
)
INSTRUMENTS = (BTC_USDT, ETH_USDT, ETH_BTC)


class StepClock:
    """A clock that moves one millisecond per reading: deterministic, strictly increasing."""

    def __init__(self, start: datetime = datetime(2024, 3, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def market_buy(quantity: str, symbol: str = "BTC/USDT", strategy: str = "momentum", price: str = "43000.00") -> OrderIntent:
    return OrderIntent(strategy, symbol, Side.BUY, Decimal(quantity), reference_price=Decimal(price))


def limit(side: Side, quantity: str, price: str, symbol: str = "BTC/USDT", strategy: str = "momentum") -> OrderIntent:
    return OrderIntent(strategy, symbol, side, Decimal(quantity), OrderType.LIMIT, limit_price=Decimal(price))


def make_fill(
    client_order_id: str, trade_id: str, quantity: str, price: str, fee: str = "0", fee_currency: str = "", **extra
) -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id=client_order_id,
        fill_quantity=Decimal(quantity),
        fill_price=Decimal(price),
        filled_at=datetime(2024, 3, 1, 12, tzinfo=UTC),
        fee=Decimal(fee),
        fee_currency=fee_currency,
        **extra,
    )


ACTIONS = ["submit", "submit", "deny", "accept", "fill", "fill", "fill", "duplicate", "unknown", "cancel_request",
           "cancel", "cancel_reject", "reject", "expire", "mark"]


def random_session(oms, rng, steps: int) -> None:
    """Drive ``oms`` through ``steps`` random venue conversations, including nonsense the state table refuses."""
    from tradepulse.execution import InvalidTransition

    trade_ids: list[tuple[str, str]] = []
    instruments = {instrument.symbol: instrument for instrument in INSTRUMENTS}
    prices = {"BTC/USDT": Decimal("43000.00"), "ETH/USDT": Decimal("3000.00"), "ETH/BTC": Decimal("0.05000")}
    for _ in range(steps):
        action = rng.choice(ACTIONS)
        orders = list(oms.orders.values())
        order = rng.choice(orders) if orders else None
        symbol = rng.choice(list(instruments))
        instrument = instruments[symbol]
        quantity = instrument.lot_size * rng.randint(1, 5000)
        price = prices[symbol] + instrument.tick_size * rng.randint(-500, 500)
        try:
            if action in ("submit", "deny"):
                side = rng.choice([Side.BUY, Side.SELL])
                if rng.random() < 0.5:
                    strategy = rng.choice(["momentum", "mr"])
                    intent = OrderIntent(strategy, symbol, side, quantity, OrderType.LIMIT, limit_price=price)
                else:
                    intent = OrderIntent("momentum", symbol, side, quantity, reference_price=price)
                if action == "deny":
                    oms.deny(intent, "random denial", decision={"limit": price})
                elif instrument.order_problem(intent.quantity, intent.limit_price, intent.reference_price) is None:
                    oms.prepare_submit(intent)
            elif action == "fill" and order is not None:
                portion = order.remaining_quantity or order.quantity
                share = Decimal(rng.choice(["0.3", "0.5", "1"]))
                fill_quantity = max(instrument.lot_size, instruments[order.symbol].round_quantity(portion * share))
                trade_id = str(rng.randint(1, 10**9))
                fill_price = prices[order.symbol] + instruments[order.symbol].tick_size * rng.randint(-500, 500)
                oms.apply_fill(Fill(trade_id, order.client_order_id, fill_quantity, fill_price, datetime(2024, 3, 1, tzinfo=UTC),
                                    fee=Decimal("0.0001"), fee_currency=rng.choice(["", instruments[order.symbol].base])))
                trade_ids.append((order.client_order_id, trade_id))
            elif action == "duplicate" and trade_ids:
                client_order_id, trade_id = rng.choice(trade_ids)
                oms.apply_fill(Fill(trade_id, client_order_id, Decimal("1"), Decimal("1"), datetime(2024, 3, 1, tzinfo=UTC)))
            elif action == "unknown":
                oms.apply_fill(Fill(str(rng.randint(1, 10**9)), "tp-ghost-1", quantity, price, datetime(2024, 3, 1, tzinfo=UTC)))
            elif action == "mark":
                oms.mark_to_market({name: prices[name] + instruments[name].tick_size * rng.randint(-900, 900) for name in prices})
            elif order is not None:
                call = {
                    "accept": lambda: oms.apply_accept(order.client_order_id, "V" + order.client_order_id),
                    "cancel_request": lambda: oms.request_cancel(order.client_order_id),
                    "cancel": lambda: oms.apply_cancel(order.client_order_id, reason="venue"),
                    "cancel_reject": lambda: oms.apply_cancel_reject(order.client_order_id, "unknown order"),
                    "reject": lambda: oms.apply_reject(order.client_order_id, "rejected"),
                    "expire": lambda: oms.apply_expire(order.client_order_id),
                }.get(action)
                if call:
                    call()
        except InvalidTransition:
            pass
