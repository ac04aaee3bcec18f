"""The ethical trading rules inside a running engine on the paper venue: self-crossing orders never
leave the engine, and the order-to-trade breaker is fed by real submissions, cancels and fills."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from live_helpers import bar_engine, kinds

from tradepulse.execution import OrderIntent, OrderStatus, OrderType, SubmitStatus, Side
from tradepulse.risk import RiskLimits, TradingMode

NO_LOSS_BREAKERS = dict(max_daily_loss_fraction=None, max_drawdown_fraction=None)


async def started(engine, events, bars: int = 3) -> int:
    """Start the engine and feed ``bars`` bars (sma_cross 5/20 does not trade yet); return how many events."""
    await engine.start()
    for count, event in enumerate(events, start=1):
        await engine.clock.advance_to(event.at)
        await engine.on_event(event)
        if engine.report.bars >= bars:
            return count
    raise AssertionError("not enough bars")


def limit_intent(engine, side: Side, fraction: str) -> OrderIntent:
    """A limit order ``fraction`` away from the last price (inside the gate's 5 % band, far from filling)."""
    price = (engine.last_price * (1 + Decimal(fraction))).quantize(Decimal("0.01"))
    return OrderIntent("manual", "BTC/USDT", side, Decimal("0.01"), OrderType.LIMIT, price)


def order_flow(journal) -> list[str]:
    """What the journaled risk.baselines recorded, in order: order / cancel / trade."""
    return [what for event in journal.iter_events(kinds=["risk.baselines"])
            for _, what in event.payload.get("order_flow_added", [])]


def test_a_self_crossing_order_is_denied_and_never_reaches_the_venue(tmp_path):
    engine, venue, journal, events = bar_engine(tmp_path / "journal.sqlite", limits=RiskLimits(**NO_LOSS_BREAKERS))

    async def scenario():
        await started(engine, events)
        ask = (await engine.execution.submit(limit_intent(engine, Side.SELL, "0.03"), engine.last_price, engine.clock.now())).order
        market_buy = OrderIntent("manual", "BTC/USDT", Side.BUY, Decimal("0.01"))
        crossing = await engine.execution.submit(market_buy, engine.last_price, engine.clock.now())
        below = await engine.execution.submit(limit_intent(engine, Side.BUY, "-0.03"), engine.last_price, engine.clock.now())
        return ask, crossing, below, await venue.open_orders()

    ask, crossing, below, resting = asyncio.run(scenario())
    assert crossing.status is SubmitStatus.DENIED and crossing.order.status is OrderStatus.DENIED
    assert ask.client_order_id in crossing.reason and "self-trade" in crossing.reason
    denied = journal.events(kinds=["order.denied"])[0].payload
    assert denied["decision"]["check"] == "self_cross"
    decision = [e.payload for e in journal.iter_events(kinds=["risk.decision"]) if e.payload["check"] == "self_cross"][0]
    assert decision["details"]["resting_client_order_id"] == ask.client_order_id
    assert decision["details"]["resting_price"] == str(ask.limit_price)
    assert below.status is SubmitStatus.SENT  # a bid below the own ask does not cross
    assert sorted(order.client_order_id for order in resting) == sorted([ask.client_order_id, below.order.client_order_id])
    assert kinds(journal).count("order.submitted") == 2
    journal.close()


def test_orders_cancelled_without_trading_trip_the_order_to_trade_breaker(tmp_path):
    limits = RiskLimits(**NO_LOSS_BREAKERS, max_order_to_trade_ratio=3, order_to_trade_min_orders=3)
    engine, venue, journal, events = bar_engine(tmp_path / "journal.sqlite", limits=limits)

    async def scenario():
        await started(engine, events)
        results = []
        for _ in range(3):
            result = await engine.execution.submit(limit_intent(engine, Side.BUY, "-0.03"), engine.last_price, engine.clock.now())
            results.append(result)
            if engine.risk.state.mode is TradingMode.ACTIVE:
                await engine.execution.cancel(result.order)
        after = await engine.execution.submit(limit_intent(engine, Side.BUY, "-0.03"), engine.last_price, engine.clock.now())
        return results, after, await venue.open_orders()

    results, after, still_open = asyncio.run(scenario())
    assert [r.status for r in results] == [SubmitStatus.SENT] * 3
    trip = journal.events(kinds=["risk.breaker_trip"])[0].payload
    # The third order: 3 orders and 2 cancels against no trade, ratio 5.
    assert (trip["breaker"], trip["limit"], trip["value"], trip["unit"]) == ("order_to_trade", "max_order_to_trade_ratio", "5", "ratio")
    assert trip["details"]["orders"] == 3 and trip["details"]["cancels"] == 2 and trip["details"]["trades"] == 0
    change = journal.events(kinds=["risk.state_change"])[0].payload
    assert change["new"] == "HALTED" and change["actor"] == "breaker:order_to_trade"
    # The halt cancelled the third order (its cancel is counted too), and nothing new goes out.
    assert still_open == [] and engine.oms.order(results[2].order.client_order_id).status is OrderStatus.CANCELED
    assert after.status is SubmitStatus.DENIED and "trading state HALTED" in after.reason
    assert order_flow(journal) == ["order", "cancel", "order", "cancel", "order", "cancel"]
    status = engine.risk.status()
    assert set(status["tripped"]) == {"order_to_trade"}
    assert status["breakers"]["order_to_trade"]["orders"] == 3 and status["breakers"]["order_to_trade"]["cancels"] == 3
    journal.close()


def test_a_replay_whose_orders_fill_feeds_one_order_and_one_trade_per_fill_and_never_trips(tmp_path):
    # The replay's own limits: the order-to-trade breaker is on, at its defaults.
    engine, _, journal, _ = bar_engine(tmp_path / "journal.sqlite")
    report = asyncio.run(engine.run())
    flow = order_flow(journal)
    assert report.fills and flow.count("order") == kinds(journal).count("order.submitted")
    assert flow.count("trade") == kinds(journal).count("order.filled") == len(report.fills)
    assert "risk.breaker_trip" not in kinds(journal) and engine.risk.state.mode is TradingMode.ACTIVE
    journal.close()
