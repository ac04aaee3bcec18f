"""The live engine: feeds, bar building, the async loop from market data to orders, and its clock.

``feed -> bar builder -> strategy -> target -> order intent -> risk gate -> OMS -> venue``, with
venue updates flowing back into the OMS and every step journaled. The same strategy class runs
here and in backtests; replaying history through the engine against the paper venue reproduces
the backtest's trades (``tests/integration/test_live_parity.py``). A portfolio strategy runs over
several symbols of one account in :class:`PortfolioEngine`. See ``docs/live.md``.

Names load their module on first use: the engine pulls in pandas and the strategy layer, which
``import tradepulse.live`` alone should not pay for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradepulse.model.lazy import lazy_attributes

_LAZY = {
    "Bar": "tradepulse.model.events",
    "BarClose": "tradepulse.model.events",
    "BarOpen": "tradepulse.model.events",
    "BookTicker": "tradepulse.model.events",
    "DepthDiff": "tradepulse.model.events",
    "DepthSnapshot": "tradepulse.model.events",
    "MarketEvent": "tradepulse.model.events",
    "Trade": "tradepulse.model.events",
    "OrderBook": "tradepulse.model.book",
    "BarWindow": "tradepulse.live.bars",
    "TimeBarBuilder": "tradepulse.live.bars",
    "parse_period": "tradepulse.live.bars",
    "EngineClock": "tradepulse.model.clock",
    "SimulatedClock": "tradepulse.model.clock",
    "WallClock": "tradepulse.model.clock",
    "BarReplayFeed": "tradepulse.adapters.paper.feeds",
    "RECORDINGS": "tradepulse.adapters.paper.feeds",
    "RecordingFeed": "tradepulse.adapters.paper.feeds",
    "fine_instrument": "tradepulse.adapters.paper.feeds",
    "open_feed": "tradepulse.adapters.paper.feeds",
    "EngineConfig": "tradepulse.live.engine",
    "LiveEngine": "tradepulse.live.engine",
    "ReplayReport": "tradepulse.live.report",
    "run_replay": "tradepulse.live.replay",
    "PortfolioEngine": "tradepulse.live.portfolio_engine",
    "PortfolioEngineConfig": "tradepulse.live.portfolio_engine",
    "PortfolioReplayReport": "tradepulse.live.portfolio_report",
    "run_portfolio_replay": "tradepulse.live.portfolio_replay",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from tradepulse.adapters.paper.feeds import RECORDINGS, BarReplayFeed, RecordingFeed, fine_instrument, open_feed
    from tradepulse.live.bars import BarWindow, TimeBarBuilder, parse_period
    from tradepulse.live.engine import EngineConfig, LiveEngine
    from tradepulse.live.portfolio_engine import PortfolioEngine, PortfolioEngineConfig
    from tradepulse.live.portfolio_replay import run_portfolio_replay
    from tradepulse.live.portfolio_report import PortfolioReplayReport
    from tradepulse.live.replay import run_replay
    from tradepulse.live.report import ReplayReport
    from tradepulse.model.book import OrderBook
    from tradepulse.model.clock import EngineClock, SimulatedClock, WallClock
    from tradepulse.model.events import Bar, BarClose, BarOpen, BookTicker, DepthDiff, DepthSnapshot, MarketEvent, Trade


__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
