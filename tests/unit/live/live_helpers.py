"""Helpers for the live engine tests: an engine on the paper venue, built from real parts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tradepulse.model.costs import Costs
from tradepulse.adapters.paper import LatencyModel, PaperVenue
from tradepulse.model.clock import SimulatedClock
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.model.events import MarketEvent
from tradepulse.adapters.paper.feeds import BarReplayFeed
from tradepulse.live.replay import REPLAY_RISK_LIMITS
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.store import Journal
from tradepulse.store.journal import segment_rows
from tradepulse.strategy import Strategy, load_strategy

HOURLY = "sample:binance:BTC/USDT:1h"


async def _events(events: Iterable[MarketEvent]):
    for event in events:
        yield event


def bar_engine(
    journal_path: Path,
    *,
    strategy: Strategy | None = None,
    limits: RiskLimits | None = None,
    start: str | None = None,
    end: str | None = "2019-10-06",
    latency: LatencyModel | None = None,
    costs: Costs | None = None,
) -> tuple[LiveEngine, PaperVenue, Journal, list[MarketEvent]]:
    """An engine replaying the hourly sample (to ``end``) into a real journal on the paper venue.

    Returns the engine, its venue, its journal and the events (the caller decides how to feed them).
    """
    feed = BarReplayFeed.from_source(HOURLY, start=start, end=end)
    events = list(feed.events())
    clock = SimulatedClock(events[0].at)
    costs = costs or Costs(fees_bps=10)
    venue = PaperVenue(
        [feed.instrument], clock=clock.now, balances={"USDT": Decimal("10000")}, slippage=costs.slippage,
        latency=latency, allow_short=True,
    )
    journal = Journal(journal_path, durability="fast", clock=clock.now)
    risk = RiskControls(limits or REPLAY_RISK_LIMITS, clock=clock.now, symbols=["BTC/USDT"], currency="USDT")
    engine = LiveEngine(
        strategy or load_strategy("sma_cross")(fast=5, slow=20), _events(events), venue, journal,
        risk=risk, clock=clock, config=EngineConfig(symbol="BTC/USDT", capital=Decimal("10000"), sizing_costs=costs),
    )
    return engine, venue, journal, events


def kinds(journal: Journal) -> list[str]:
    return [event.kind for event in journal.iter_events()]


def rows(journal: Journal, kind: str) -> int:
    """How many rows the journal's segment events of ``kind`` (``market.bars``, ``portfolio.marks``) hold."""
    return sum(len(segment_rows(event.payload)) for event in journal.iter_events(kinds=[kind]))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
