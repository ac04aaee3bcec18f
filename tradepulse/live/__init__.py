"""The live engine: feeds, bar building, the async loop from market data to orders, and its clock.

``feed -> bar builder -> strategy -> target -> order intent -> risk gate -> OMS -> venue``, with
venue updates flowing back into the OMS and every step journaled. The same strategy class runs
here and in backtests; replaying history through the engine against the paper venue reproduces
the backtest's trades (``tests/integration/test_live_parity.py``). See ``docs/live.md``.

Names load their module on first use, so ``import tradepulse.live.events`` stays cheap and the
venue package can import market-event types without importing the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Bar": "events",
    "BarClose": "events",
    "BarOpen": "events",
    "BookTicker": "events",
    "DepthDiff": "events",
    "DepthSnapshot": "events",
    "MarketEvent": "events",
    "Trade": "events",
    "OrderBook": "book",
    "BarWindow": "bars",
    "TimeBarBuilder": "bars",
    "parse_period": "bars",
    "EngineClock": "clock",
    "SimulatedClock": "clock",
    "WallClock": "clock",
    "BarReplayFeed": "feeds",
    "RECORDINGS": "feeds",
    "RecordingFeed": "feeds",
    "fine_instrument": "feeds",
    "open_feed": "feeds",
    "EngineConfig": "engine",
    "LiveEngine": "engine",
    "ReplayReport": "report",
    "run_replay": "replay",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from tradepulse.live.bars import BarWindow, TimeBarBuilder, parse_period
    from tradepulse.live.book import OrderBook
    from tradepulse.live.clock import EngineClock, SimulatedClock, WallClock
    from tradepulse.live.engine import EngineConfig, LiveEngine
    from tradepulse.live.events import Bar, BarClose, BarOpen, BookTicker, DepthDiff, DepthSnapshot, MarketEvent, Trade
    from tradepulse.live.feeds import RECORDINGS, BarReplayFeed, RecordingFeed, fine_instrument, open_feed
    from tradepulse.live.replay import run_replay
    from tradepulse.live.report import ReplayReport


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tradepulse.live' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tradepulse.live.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
