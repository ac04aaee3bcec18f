"""On a wall clock the engine notices time passing without market data: bars close, a dead feed halts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepulse.adapters.paper import PaperVenue
from tradepulse.model.clock import WallClock
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.model.events import Trade
from tradepulse.adapters.paper.feeds import fine_instrument
from tradepulse.risk import RiskControls, RiskLimits, TradingMode
from tradepulse.store import Journal
from tradepulse.strategy import load_strategy


async def eventually(condition, timeout_seconds: float = 10.0, interval_seconds: float = 0.02) -> None:
    """Poll ``condition`` until it holds (bounded), yielding to the engine's tasks in between."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_seconds)


def test_a_quiet_feed_still_closes_bars_and_a_dead_one_trips_the_stale_data_breaker(tmp_path):
    clock = WallClock()
    instrument = fine_instrument("BTC/USDT")
    venue = PaperVenue([instrument], clock=clock.now, balances={"USDT": Decimal("1000")})
    limits = RiskLimits(stale_after_seconds=0.5, max_daily_loss_fraction=None, max_drawdown_fraction=None)
    risk = RiskControls(limits, clock=clock.now, symbols=["BTC/USDT"], currency="USDT")
    feed_done = asyncio.Event()

    async def feed():
        for number in range(3):
            yield Trade("BTC/USDT", datetime.now(UTC), Decimal("100") + number, Decimal("1"), str(number))
        await feed_done.wait()  # then silence: the market data stops arriving

    config = EngineConfig(symbol="BTC/USDT", capital=Decimal("1000"), bar_period=timedelta(milliseconds=100), heartbeat_seconds=0.05)

    async def scenario():
        with Journal(tmp_path / "journal.sqlite", durability="fast") as journal:
            engine = LiveEngine(load_strategy("sma_cross")(fast=2, slow=3), feed(), venue, journal, risk=risk, clock=clock, config=config)
            running = asyncio.create_task(engine.run())
            await eventually(lambda: engine.report is not None and engine.report.bars >= 2)
            await eventually(lambda: risk.state.mode is TradingMode.HALTED)
            feed_done.set()
            await running
            return [event.payload for event in journal.iter_events(kinds=["risk.breaker_trip"])]

    trips = asyncio.run(scenario())
    assert trips[0]["breaker"] == "stale_data"
