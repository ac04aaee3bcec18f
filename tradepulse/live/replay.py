"""Offline replay: a data source through the live engine against the paper venue.

:func:`run_replay` wires a replay feed, a simulated clock, the paper venue (with the backtest's
cost model), the risk controls and a journal around :class:`~tradepulse.live.engine.LiveEngine`,
and returns the :class:`~tradepulse.live.report.ReplayReport`. ``tradepulse live replay`` is a
thin command-line wrapper around it; the parity test calls it directly.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradepulse.adapters.paper.feeds import BarReplayFeed, RecordingFeed, open_feed
from tradepulse.adapters.paper.venue import FeeSchedule, LatencyModel, PaperVenue
from tradepulse.errors import ConfigError
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.live.report import ReplayReport
from tradepulse.model.aio import run_sync
from tradepulse.model.clock import SimulatedClock
from tradepulse.model.costs import Costs
from tradepulse.model.events import MarketEvent
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.store import Journal
from tradepulse.strategy import Strategy, load_strategy

__all__ = ["REPLAY_RISK_LIMITS", "observed_feed", "run_journaled", "run_replay", "run_replay_async"]

#: Risk limits of a replay unless given: the gate's checks stay on, but the loss and drawdown
#: breakers are off, because a replay exists to reproduce the backtest (which has no breakers).
#: Pass ``risk_limits`` to replay with the limits a live service would use.
REPLAY_RISK_LIMITS = RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=None)


def run_replay(source: str | Path | BarReplayFeed | RecordingFeed, strategy: Strategy | str, **options: Any) -> ReplayReport:
    """Replay ``source`` through the engine against the paper venue; see :func:`run_replay_async`.

    Examples
    --------
    >>> report = run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 10, "slow": 30})  # doctest: +SKIP
    >>> report.to_dict()["trades"]  # doctest: +SKIP
    """
    return run_sync(run_replay_async(source, strategy, **options))


async def run_replay_async(
    source: str | Path | BarReplayFeed | RecordingFeed,
    strategy: Strategy | str,
    *,
    params: Mapping[str, Any] | None = None,
    costs: Costs | None = None,
    init_cash: float = 10_000.0,
    speed: float | None = None,
    journal_path: str | Path | None = None,
    durability: str = "fast",
    latency: LatencyModel | None = None,
    bar_period: timedelta | None = None,
    risk_limits: RiskLimits | None = None,
    allow_short: bool = True,
    start: str | None = None,
    end: str | None = None,
    symbol: str | None = None,
    on_event: Callable[[MarketEvent], None] | None = None,
) -> ReplayReport:
    """Replay a data source through the live engine and the paper venue.

    Parameters
    ----------
    source
        ``sample:<name>`` or a bar file (replayed as bars), ``recording:<name>`` or a
        ``.jsonl.gz`` tick recording (trades cut into ``bar_period`` bars), or a feed object
        (:class:`~tradepulse.adapters.paper.feeds.BarReplayFeed`, :class:`~tradepulse.adapters.paper.feeds.RecordingFeed`).
    strategy, params
        A strategy instance, or a name/path for :func:`~tradepulse.strategy.load_strategy` with
        its parameters.
    costs
        Fees (taker and maker alike) and the slippage model for fills priced from bars: the
        backtest's :class:`~tradepulse.backtest.Costs`, 10 bps fees and no slippage by default.
    init_cash
        Starting quote balance of the paper account, and the strategy's capital.
    speed
        ``None`` as fast as possible; ``X`` at X times real time.
    journal_path
        Where to journal; a temporary file (deleted afterwards) when omitted.
    durability
        ``"fast"`` (default; a replay is reproducible) or ``"full"``.
    latency
        The paper venue's latency model (none by default: parity with the backtest needs fills
        at the next price, not later).
    bar_period
        Bar length for tick recordings (default one minute).
    risk_limits
        Default :data:`REPLAY_RISK_LIMITS`.
    allow_short
        The paper account may go short (a margin account), as the backtest may.
    on_event
        Called with each event before the engine handles it (progress bars).
    """
    if not isinstance(strategy, Strategy):
        strategy = load_strategy(strategy)(**dict(params or {}))
    elif params:
        strategy = strategy.with_params(**params)
    costs = costs or Costs()
    if not init_cash > 0:
        raise ConfigError(f"initial cash must be positive, got {init_cash!r}")
    # Any object shaped like the replay feeds works (``kind``, ``instrument``, ``events()``, async iteration).
    feed = source if hasattr(source, "events") else open_feed(source, symbol=symbol, start=start, end=end)
    ticks = feed.kind == "ticks"
    if ticks and bar_period is None:
        bar_period = timedelta(minutes=1)
    first_time = _first_event_time(feed)
    clock = SimulatedClock(first_time, speed=speed)
    instrument = feed.instrument
    capital = Decimal(repr(float(init_cash)))
    venue = PaperVenue(
        [instrument],
        clock=clock.now,
        balances={instrument.quote: capital},
        fees=FeeSchedule(maker_bps=Decimal(repr(costs.fees_bps)), taker_bps=Decimal(repr(costs.fees_bps))),
        slippage=costs.slippage,
        slippage_notional=float(init_cash),
        latency=latency,
        allow_short=allow_short,
    )
    risk = RiskControls(risk_limits or REPLAY_RISK_LIMITS, clock=clock.now, symbols=[instrument.symbol], currency=instrument.quote)
    # Ticks fill against the real book, which can be thinner than one order: keep 10 bps of cash
    # in reserve there. Bars fill like the backtest, which spends every unit of cash.
    config = EngineConfig(
        symbol=instrument.symbol, capital=capital, bar_period=bar_period if ticks else None, sizing_costs=costs,
        cash_reserve_fraction=Decimal("0.001") if ticks else Decimal(0),
    )
    return await run_journaled(
        lambda journal: LiveEngine(strategy, observed_feed(feed, on_event), venue, journal, risk=risk, clock=clock, config=config),
        clock=clock, journal_path=journal_path, durability=durability, strategy=strategy, costs=costs,
        fill_convention="signal at bar close, fill at the next available price (the next bar's open in a bar replay)",
    )


async def run_journaled(
    build: Callable[[Journal], Any], *, clock: SimulatedClock, journal_path: str | Path | None, durability: str,
    strategy: Strategy, costs: Costs, fill_convention: str,
) -> Any:
    """Run the engine ``build`` makes on a journal (``journal_path``, or a temporary file) and describe the run in its report."""
    with tempfile.TemporaryDirectory(prefix="tradepulse-replay-") as scratch:
        path = Path(journal_path) if journal_path is not None else Path(scratch) / "journal.sqlite"
        with Journal(path, durability=durability, clock=clock.now) as journal:  # type: ignore[arg-type]
            report = await build(journal).run()
    report.details.update(
        strategy=strategy.name,
        params=strategy.params,
        fees_bps=costs.fees_bps,
        slippage=costs.slippage.to_dict(),
        fill_convention=fill_convention,
        journal=str(journal_path) if journal_path is not None else None,
    )
    return report


def _first_event_time(feed: BarReplayFeed | RecordingFeed) -> datetime:
    for event in feed.events():
        return event.at
    raise ConfigError("the replay source has no events")


def observed_feed(feed: Any, on_event: Callable[[MarketEvent], None] | None) -> Any:
    """``feed`` with ``on_event`` called on each event before the engine sees it; ``feed`` itself without one.

    (A generator around the feed costs a step per event, a few per cent of a bar replay.)
    """
    return feed if on_event is None else _observing(feed, on_event)


async def _observing(feed: Any, on_event: Callable[[MarketEvent], None]) -> AsyncIterator[MarketEvent]:
    async for event in feed:
        on_event(event)
        yield event
