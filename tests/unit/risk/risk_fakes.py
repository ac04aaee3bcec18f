"""Real objects for the risk tests: a clock moved by hand, real instruments, orders and contexts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import Order, OrderIntent, OrderStatus, OrderType, Side
from tradepulse.risk import BaselineChange, LastTrade, RiskContext

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
D = Decimal

BTC = Instrument(
    "BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), lot_size=D("0.00001"), min_quantity=D("0.0001"), min_notional=D("5")
)
ETH = Instrument("ETH/USDT", "ETH", "USDT", tick_size=D("0.01"), lot_size=D("0.0001"), min_quantity=D("0.001"), min_notional=D("5"))
INSTRUMENTS = {"BTC/USDT": BTC, "ETH/USDT": ETH}
PRICES = {"BTC/USDT": D("50000"), "ETH/USDT": D("3000")}


class FakeClock:
    """A clock that only moves when told to (tests never sleep)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def intent(side: str = "buy", quantity: str = "0.1", price: str | None = None, symbol: str = "BTC/USDT") -> OrderIntent:
    """A limit order at ``price`` (or a market order when ``price`` is None)."""
    return OrderIntent(
        strategy="test",
        symbol=symbol,
        side=Side(side),
        quantity=D(quantity),
        order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
        limit_price=None if price is None else D(price),
    )


def open_order(side: str, quantity: str, symbol: str = "BTC/USDT", number: int = 1, filled: str = "0") -> Order:
    return Order(
        client_order_id=f"tp-test-{number}",
        symbol=symbol,
        side=Side(side),
        order_type=OrderType.LIMIT,
        quantity=D(quantity),
        created_at=T0,
        limit_price=PRICES[symbol],
        status=OrderStatus.ACCEPTED,
        filled_quantity=D(filled),
    )


def context(
    clock: FakeClock,
    positions: dict[str, str] | None = None,
    open_orders: tuple = (),
    prices: dict[str, Decimal] | None = None,
    trade_age_seconds: float = 0,
    **kwargs,
) -> RiskContext:
    """A context with last trades ``trade_age_seconds`` old at the clock's time."""
    at = clock() - timedelta(seconds=trade_age_seconds)
    return RiskContext(
        positions={symbol: D(q) for symbol, q in (positions or {}).items()},
        open_orders=open_orders,
        last_trades={symbol: LastTrade(price, at) for symbol, price in (PRICES if prices is None else prices).items()},
        instruments=kwargs.pop("instruments", INSTRUMENTS),
        **kwargs,
    )


def round_trips_through_json(payload: dict) -> bool:
    """The journal stores JSON: a payload must survive ``json.dumps``/``loads`` unchanged."""
    return json.loads(json.dumps(payload)) == payload


def acts(events: list) -> list:
    """The events that act (trips, state changes): without the baselines an input also reports."""
    return [event for event in events if not isinstance(event, BaselineChange)]
