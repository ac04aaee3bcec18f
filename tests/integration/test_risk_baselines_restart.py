"""kill -9 an engine mid-day: the restarted one keeps the breakers' baselines and trips where an unbroken run trips.

The trader is this file run as a script: a real engine (paper venue, SQLite journal file) holds a
long BTC position through the hourly sample until the morning of 2019-10-03, by when the day has
lost part of its budget and the peak lies two days back. It then waits to be killed (SIGKILL: no
clean stop, no shutdown snapshot). A new engine on the same journal replays the rest of the data;
its baselines, and the trips that follow, must be those of a run that was never interrupted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pandas as pd

from tradepulse.model.costs import Costs
from tradepulse.adapters.paper import PaperVenue
from tradepulse.model.clock import SimulatedClock
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.model.events import BarClose, MarketEvent
from tradepulse.adapters.paper.feeds import BarReplayFeed
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.store import Journal
from tradepulse.strategy import Strategy
from polling import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
TRADER_LIFETIME_SECONDS = 120  # a trader orphaned by a crashed test run ends on its own
# On 2019-10-03 the day starts at 10,257.69 and equity falls to 10,118.64 by 09:00 (139 lost) and
# 9,971.74 at 10:00 (286): the daily-loss breaker trips at 10:00. The peak, 10,376.91, is from
# 2019-10-01; equity is 414.73 below it at 22:00, which trips the drawdown breaker.
LIMITS = RiskLimits(
    max_daily_loss=Decimal(250), max_daily_loss_fraction=None, max_drawdown=Decimal(410), max_drawdown_fraction=None
)
KILLED_AFTER = "2019-10-03T09:00:00+00:00"  # the bar close the trader handles last


class AlwaysLong(Strategy):
    """Fully long from the first bar: equity follows the price, and a restart changes no order."""

    name = "always_long"

    @property
    def warmup_bars(self) -> int:
        return 1

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return pd.Series(1.0, index=bars.index)


def sample_events() -> list[MarketEvent]:
    return list(BarReplayFeed.from_source("sample:binance:BTC/USDT:1h", end="2019-10-06").events())


def kill_index(events: list[MarketEvent]) -> int:
    """How many events the trader handles before it waits to be killed."""
    return next(i for i, e in enumerate(events, 1) if isinstance(e, BarClose) and e.at.isoformat() == KILLED_AFTER)


async def _feed(events: Iterable[MarketEvent]):
    for event in events:
        yield event


def engine_on(path: Path, events: list[MarketEvent], durability: str = "full") -> LiveEngine:
    clock = SimulatedClock(events[0].at)
    costs = Costs(fees_bps=10)
    feed = BarReplayFeed.from_source("sample:binance:BTC/USDT:1h", end="2019-10-06")
    venue = PaperVenue([feed.instrument], clock=clock.now, balances={"USDT": Decimal("10000")}, slippage=costs.slippage)
    journal = Journal(path, durability=durability, clock=clock.now)
    risk = RiskControls(LIMITS, clock=clock.now, symbols=["BTC/USDT"], currency="USDT")
    return LiveEngine(
        AlwaysLong(), _feed(events), venue, journal, risk=risk, clock=clock,
        config=EngineConfig(symbol="BTC/USDT", capital=Decimal("10000"), sizing_costs=costs),
    )


async def feed_by_hand(engine: LiveEngine, events: Iterable[MarketEvent]) -> None:
    await engine.start()
    for event in events:
        await engine.clock.advance_to(event.at)
        await engine.on_event(event)


def baselines(engine: LiveEngine) -> dict:
    snapshot = engine.risk.breakers.snapshot()
    return {name: snapshot[name] for name in ("trading_day", "day_start_equity", "peak_equity")}


def trips(journal: Journal, after_seq: int = 0) -> list[tuple]:
    return [
        (e.payload["breaker"], e.payload["value"], e.payload["at"])
        for e in journal.iter_events(kinds=["risk.breaker_trip"]) if e.seq > after_seq
    ]


# -- the trader (runs in the subprocess) -----------------------------------------------------


def run_trader(path: Path, ready: Path) -> None:
    events = sample_events()
    engine = engine_on(path, events)
    asyncio.run(feed_by_hand(engine, events[: kill_index(events)]))
    ready.write_text("fed")
    # Wait to be killed: the engine is never stopped, so nothing is journaled on the way out.
    threading.Event().wait(TRADER_LIFETIME_SECONDS)


# -- the test --------------------------------------------------------------------------------


def test_after_kill_9_the_breakers_keep_their_baselines_and_trip_at_the_same_equity(tmp_path):
    events = sample_events()
    cut = kill_index(events)

    # The run that is never interrupted, for reference.
    unbroken = engine_on(tmp_path / "unbroken.sqlite", events, durability="fast")
    asyncio.run(feed_by_hand(unbroken, events[:cut]))
    expected_baselines = baselines(unbroken)
    assert expected_baselines["day_start_equity"] != expected_baselines["peak_equity"]
    asyncio.run(feed_by_hand(unbroken, events[cut:]))
    expected_trips = trips(unbroken.journal)
    assert [breaker for breaker, _, _ in expected_trips] == ["daily_loss", "drawdown"]
    unbroken.journal.close()

    path, ready = tmp_path / "journal.sqlite", tmp_path / "ready"
    search_path = [str(REPO_ROOT), str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(search_path)}
    trader = subprocess.Popen([sys.executable, __file__, str(path), str(ready)], env=environment, stderr=subprocess.PIPE)
    try:
        eventually(lambda: ready.exists() or trader.poll() is not None, 120)
    finally:
        trader.kill()  # SIGKILL
        _, stderr = trader.communicate()
    assert trader.returncode == -9 and ready.exists(), f"the trader ended on its own: {stderr.decode(errors='replace')[-2000:]}"

    with Journal(path, read_only=True) as journal:
        assert "engine.stopped" not in {e.kind for e in journal.iter_events()}, "the trader stopped cleanly"
        killed_at = journal.last_seq()

    restarted = engine_on(path, events[cut:])
    asyncio.run(restarted.start())
    assert baselines(restarted) == expected_baselines
    asyncio.run(feed_by_hand(restarted, events[cut:]))
    assert trips(restarted.journal, after_seq=killed_at) == expected_trips
    restarted.journal.close()


if __name__ == "__main__":
    run_trader(Path(sys.argv[1]), Path(sys.argv[2]))
