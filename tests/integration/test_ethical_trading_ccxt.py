"""The ethical trading rules in a real run: the live engine trading through ccxt's real ``binance`` class
against the local venue.

* A market buy while the account's own ask rests is refused by the gate and never reaches the venue.
* Bids placed and cancelled without trading trip the order-to-trade breaker: the trip is journaled,
  the halt cancels the resting bid at the venue, nothing new goes out, and a restarted engine on the
  same journal comes back halted with the breaker still tripped.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from emulator_fixtures import VENUE_API_KEY, VENUE_API_SECRET, binance_client, new_account, no_events, run
from engine_fixtures import BTC, venue_environ

from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.emulator import AccountSpec, VenueThread
from tradepulse.execution import OrderIntent, OrderStatus, OrderType, Side, SubmitStatus
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.model.clock import WallClock
from tradepulse.risk import RiskControls, RiskLimits, TradingMode
from tradepulse.store import Journal
from tradepulse.strategy import load_strategy

# Loss breakers off (a hand-driven engine has no equity story); the order-to-trade breaker tight.
LIMITS = RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=None, max_order_to_trade_ratio=3,
                    order_to_trade_min_orders=3)


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),), seed=11) as running:
        yield running


async def started_engine(venue: VenueThread, key: str, secret: str, journal: Journal) -> LiveEngine:
    """A started engine on this account with ``LIMITS`` and an empty feed (orders go through ``engine.execution``)."""
    clock = WallClock()
    adapter = CcxtVenue.create("binance", environ=venue_environ(venue, key, secret), symbols=[BTC],
                               retry=RetryPolicy(seed=3, base_delay_s=0.01))
    risk = RiskControls(LIMITS, clock=clock.now, symbols=[BTC], currency="USDT")
    engine = LiveEngine(load_strategy("sma_cross")(fast=2, slow=3), no_events(), adapter, journal, risk=risk, clock=clock,
                        config=EngineConfig(symbol=BTC, capital=D("1000")))
    await engine.start()
    return engine


async def book(exchange) -> tuple[D, D]:
    top = await exchange.fetch_order_book(BTC, 5)
    return D(repr(top["bids"][0][0])), D(repr(top["asks"][0][0]))


def limit(side: Side, price: D) -> OrderIntent:
    return OrderIntent("manual", BTC, side, D("0.001"), OrderType.LIMIT, limit_price=price.quantize(D("0.01")))


async def open_ids(exchange) -> set[str]:
    return {order["clientOrderId"] for order in await exchange.fetch_open_orders(BTC)}


def test_a_market_buy_against_the_own_resting_ask_never_reaches_the_venue(venue, tmp_path: Path):
    key, secret = new_account(venue, {"USDT": "1000", "BTC": "0.01"})

    async def scenario() -> None:
        with Journal(tmp_path / "journal.sqlite") as journal:
            engine = await started_engine(venue, key, secret, journal)
            try:
                async with binance_client(venue, key, secret) as exchange:
                    bid, ask = await book(exchange)
                    resting = await engine.execution.submit(limit(Side.SELL, ask * D("1.03")), bid, engine.clock.now())
                    assert resting.status is SubmitStatus.SENT and resting.order.status is OrderStatus.ACCEPTED
                    crossing = await engine.execution.submit(OrderIntent("manual", BTC, Side.BUY, D("0.001")), ask, engine.clock.now())
                    assert crossing.status is SubmitStatus.DENIED and "self-trade" in crossing.reason
                    assert resting.order.client_order_id in crossing.reason
                    assert await open_ids(exchange) == {resting.order.client_order_id}
                    assert await exchange.fetch_my_trades(BTC) == []
                    assert [e.payload["decision"]["check"] for e in journal.iter_events(kinds=["order.denied"])] == ["self_cross"]
                    await engine.cancel_open_orders()
            finally:
                await engine.venue.close()

    run(scenario(), timeout_s=60)


def test_orders_cancelled_without_trading_trip_the_order_to_trade_breaker_and_it_survives_a_restart(venue, tmp_path: Path):
    key, secret = new_account(venue, {"USDT": "1000", "BTC": "0"})
    path = tmp_path / "journal.sqlite"

    async def trade_until_the_trip() -> None:
        with Journal(path) as journal:
            engine = await started_engine(venue, key, secret, journal)
            try:
                async with binance_client(venue, key, secret) as exchange:
                    bid, _ = await book(exchange)
                    sent = []
                    for _ in range(3):
                        result = await engine.execution.submit(limit(Side.BUY, bid * D("0.97")), bid, engine.clock.now())
                        assert result.status is SubmitStatus.SENT
                        sent.append(result.order.client_order_id)
                        if engine.risk.state.mode is TradingMode.ACTIVE:
                            outcome = await engine.execution.cancel(result.order)
                            assert outcome.outcome == "cancelled"
                    trip = journal.events(kinds=["risk.breaker_trip"])[0].payload
                    assert (trip["breaker"], trip["value"], trip["details"]["orders"], trip["details"]["cancels"]) == (
                        "order_to_trade", "5", 3, 2)
                    assert engine.risk.state.mode is TradingMode.HALTED
                    assert engine.oms.order(sent[2]).status is OrderStatus.CANCELED  # the halt's cancel
                    assert await open_ids(exchange) == set()
                    after = await engine.execution.submit(limit(Side.BUY, bid * D("0.97")), bid, engine.clock.now())
                    assert after.status is SubmitStatus.DENIED and after.order.status is OrderStatus.DENIED
                    venue_orders = await exchange.fetch_orders(BTC)
                    assert sorted(order["clientOrderId"] for order in venue_orders) == sorted(sent)  # the fourth never left
            finally:
                await engine.venue.close()

    async def restart() -> None:
        with Journal(path) as journal:
            engine = await started_engine(venue, key, secret, journal)
            try:
                assert engine.risk.state.mode is TradingMode.HALTED
                status = engine.risk.status()
                assert set(status["tripped"]) == {"order_to_trade"}
                assert status["breakers"]["order_to_trade"]["orders"] == 3 and status["breakers"]["order_to_trade"]["cancels"] == 3
            finally:
                await engine.venue.close()

    run(trade_until_the_trip(), timeout_s=60)
    run(restart(), timeout_s=60)
