"""The execution engine remembers the target an order serves for as long as fills can still come."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from execution_helpers import BTC_USDT, StepClock

from tradepulse.adapters.paper import FeeSchedule, PaperVenue
from tradepulse.execution import OMS, OrderIntent, OrderStatus, OrderType, Side
from tradepulse.execution.engine import ExecutionEngine
from tradepulse.live.replay import REPLAY_RISK_LIMITS
from tradepulse.model.events import Trade
from tradepulse.risk import RiskControls
from tradepulse.store import Journal

SYMBOL = "BTC/USDT"


def test_each_partial_fill_carries_the_target_and_a_complete_order_is_forgotten(tmp_path):
    clock = StepClock()
    venue = PaperVenue([BTC_USDT], clock=clock, balances={"USDT": D("1000000")}, fees=FeeSchedule(10, 10))
    asyncio.run(venue.connect())
    venue.on_market(Trade(SYMBOL, clock(), D("60000.00"), D("1")))
    heard: list[tuple[str, float | None]] = []
    with Journal(tmp_path / "journal.sqlite", durability="fast", clock=clock) as journal:
        execution = ExecutionEngine(
            oms=OMS(journal, [BTC_USDT], clock=clock), venue=venue, journal=journal,
            risk=RiskControls(REPLAY_RISK_LIMITS, clock=clock, symbols=[SYMBOL], currency="USDT"),
            instrument=BTC_USDT, strategy_id="mom", capital=D("1000000"), clock=clock,
            on_fill=lambda fill, target: heard.append((fill.trade_id, target)),
        )

        async def session() -> OrderStatus:
            intent = OrderIntent("mom", SYMBOL, Side.BUY, D("2"), OrderType.LIMIT, limit_price=D("59000.00"))
            order = (await execution.submit(intent, D("60000.00"), clock(), target=0.5)).order
            assert order is not None, "the risk gate refused the test order"
            for _ in range(2):  # two prints through the limit fill it in two parts
                venue.on_market(Trade(SYMBOL, clock(), D("58990.00"), D("1")))
                await execution.apply_updates(venue.updates().drain_nowait())
            return execution.oms.order(order.client_order_id).status

        assert asyncio.run(session()) is OrderStatus.FILLED
    assert [target for _, target in heard] == [0.5, 0.5]
    # The memory bound itself: nothing more can fill, so the engine no longer holds the order's target.
    assert execution._targets == {}
