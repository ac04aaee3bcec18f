"""The engine and the risk layer: denials stop orders, the kill switch cancels and flattens, breakers halt."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pandas as pd
from live_helpers import bar_engine, kinds

from tradepulse.execution import OrderIntent, OrderStatus, OrderType, Side
from tradepulse.adapters.paper import VenueOrderStatus
from tradepulse.risk import RiskLimits, TradingMode
from tradepulse.strategy import IntParam, Strategy


async def feed_until(engine, events, condition):
    """Start the engine and feed events by hand until ``condition()``; return how many were fed."""
    await engine.start()
    for count, event in enumerate(events, start=1):
        await engine.clock.advance_to(event.at)
        await engine.on_event(event)
        if condition():
            return count
    raise AssertionError("the condition never held on this data")


def test_a_gate_denial_is_journaled_and_nothing_reaches_the_venue(tmp_path):
    limits = RiskLimits(max_order_notional=Decimal("100"), max_daily_loss_fraction=None, max_drawdown_fraction=None)
    engine, venue, journal, _ = bar_engine(tmp_path / "journal.sqlite", limits=limits)
    report = asyncio.run(engine.run())
    decisions = [e.payload for e in journal.iter_events(kinds=["risk.decision"])]
    assert decisions and all(not d["approved"] and d["check"] == "max_order_notional" for d in decisions)
    assert kinds(journal).count("order.denied") == len(decisions)
    assert "order.submitted" not in kinds(journal)
    assert report.fills == [] and {o.status for o in engine.oms.orders.values()} == {OrderStatus.DENIED}
    journal.close()


def test_the_kill_switch_cancels_resting_orders_and_later_targets_are_denied(tmp_path):
    engine, venue, journal, events = bar_engine(tmp_path / "journal.sqlite")

    async def scenario():
        fed = await feed_until(engine, events, lambda: engine.report.bars >= 3)
        price = engine.last_price
        # 3 % below the market: inside the gate's 5 % price band, far from being filled.
        bid = OrderIntent("manual", "BTC/USDT", Side.BUY, Decimal("0.1"), OrderType.LIMIT, (price * Decimal("0.97")).quantize(Decimal("0.01")))
        order = (await engine.execution.submit(bid, price, engine.clock.now())).order
        resting = (await venue.open_orders())[0].status
        await engine.halt("operator stop", actor="operator:alice")
        for event in events[fed:]:
            await engine.clock.advance_to(event.at)
            await engine.on_event(event)
        return order, resting, await venue.open_orders()

    order, resting, still_open = asyncio.run(scenario())
    assert order is not None and resting is VenueOrderStatus.NEW and still_open == []
    assert engine.oms.order(order.client_order_id).status is OrderStatus.CANCELED
    sequence = kinds(journal)
    halt = sequence.index("risk.state_change")
    assert halt < sequence.index("order.cancel_requested") < sequence.index("order.canceled")
    after = [e.payload for e in journal.iter_events(kinds=["risk.decision"]) if e.seq > journal.events(kinds=["risk.state_change"])[0].seq]
    assert after and all(d["check"] == "trading_state" for d in after)
    journal.close()


def test_a_halt_with_flatten_closes_the_position_after_the_cancels(tmp_path):
    engine, _, journal, events = bar_engine(tmp_path / "journal.sqlite")

    async def scenario():
        await feed_until(engine, events, lambda: engine.oms.position("BTC/USDT").quantity != 0)
        held = engine.oms.position("BTC/USDT").quantity
        await engine.halt("flatten for maintenance", actor="operator:alice", flatten=True)
        return held

    held = asyncio.run(scenario())
    assert held != 0 and engine.oms.position("BTC/USDT").quantity == 0
    flatten = list(engine.oms.orders.values())[-1]
    assert flatten.side is (Side.SELL if held > 0 else Side.BUY) and flatten.quantity == abs(held)
    assert engine.risk.state.mode is TradingMode.HALTED
    journal.close()


def test_a_drawdown_breaker_halts_trading_during_the_replay(tmp_path):
    limits = RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=Decimal("0.002"))
    engine, _, journal, _ = bar_engine(tmp_path / "journal.sqlite", limits=limits)
    asyncio.run(engine.run())
    trips = [e.payload for e in journal.iter_events(kinds=["risk.breaker_trip"])]
    assert trips[0]["breaker"] == "drawdown" and engine.risk.state.mode is TradingMode.HALTED
    trip_seq = journal.events(kinds=["risk.breaker_trip"])[0].seq
    later = [e.payload for e in journal.iter_events(kinds=["risk.decision"]) if e.seq > trip_seq]
    assert all(not d["approved"] for d in later)
    journal.close()


class FailsOnBarTen(Strategy):
    """Long from the start; raises on its tenth bar (a bug in a user strategy)."""

    name = "fails_on_bar_ten"
    bars_seen = IntParam(10, min=1)

    @property
    def warmup_bars(self) -> int:
        return 50

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        if len(bars) >= self.bars_seen:
            raise ZeroDivisionError("bug in the strategy")
        return pd.Series(1.0, index=bars.index)


def test_a_failing_strategy_is_journaled_and_halts_trading_without_stopping_the_engine(tmp_path):
    engine, _, journal, events = bar_engine(tmp_path / "journal.sqlite", strategy=FailsOnBarTen())
    report = asyncio.run(engine.run())
    errors = [e.payload for e in journal.iter_events(kinds=["strategy.error"])]
    assert errors[0]["error"] == "ZeroDivisionError" and report.bars == len(events) // 2
    assert engine.risk.state.mode is TradingMode.HALTED
    journal.close()
