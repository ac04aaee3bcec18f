"""Offline replay of a universe through the portfolio engine against the paper venue.

:func:`run_portfolio_replay` is to :class:`~tradepulse.live.portfolio_engine.PortfolioEngine` what
:func:`~tradepulse.live.replay.run_replay` is to the single-symbol engine: a simulated clock, a paper
account holding the capital in the members' quote currency, the backtest's costs, risk controls and
a journal. ``tradepulse live replay SOURCE SOURCE ...`` calls it; the portfolio parity tests too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradepulse.adapters.paper.feeds import RecordingFeed
from tradepulse.adapters.paper.universe_feed import MergedFeed, UniverseReplayFeed
from tradepulse.adapters.paper.venue import FeeSchedule, PaperVenue
from tradepulse.data.universe import Universe, load_universe
from tradepulse.errors import ConfigError
from tradepulse.live.portfolio_engine import PortfolioEngine, PortfolioEngineConfig
from tradepulse.live.portfolio_report import PortfolioReplayReport
from tradepulse.live.replay import REPLAY_RISK_LIMITS, observed_feed, run_journaled
from tradepulse.model.aio import run_sync
from tradepulse.model.clock import SimulatedClock
from tradepulse.model.costs import Costs
from tradepulse.model.events import MarketEvent
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.sim.market import LatencyModel
from tradepulse.strategy import Strategy, load_strategy

__all__ = ["run_portfolio_replay", "run_portfolio_replay_async"]


def run_portfolio_replay(
    source: Universe | Sequence[str | Path] | MergedFeed, strategy: Strategy | str, **options: Any
) -> PortfolioReplayReport:
    """Replay a universe through the portfolio engine; see :func:`run_portfolio_replay_async`.

    Examples
    --------
    >>> report = run_portfolio_replay(["universe:binance-usdt-4h"], "momentum", params={"lookback": 30})  # doctest: +SKIP
    >>> report.to_dict()["symbols"]  # doctest: +SKIP
    ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'BNB/USDT']
    """
    return run_sync(run_portfolio_replay_async(source, strategy, **options))


async def run_portfolio_replay_async(
    source: Universe | Sequence[str | Path] | MergedFeed,
    strategy: Strategy | str,
    *,
    params: Mapping[str, Any] | None = None,
    costs: Costs | None = None,
    init_cash: float = 10_000.0,
    speed: float | None = None,
    journal_path: str | Path | None = None,
    durability: str = "fast",
    bar_period: timedelta | None = None,
    risk_limits: RiskLimits | None = None,
    allow_short: bool = True,
    symbols: Mapping[str, str] | None = None,
    align: str = "intersect",
    latency: LatencyModel | None = None,
    start: str | None = None,
    end: str | None = None,
    on_event: Callable[[MarketEvent], None] | None = None,
) -> PortfolioReplayReport:
    """Replay several members on one clock through the portfolio engine and the paper venue.

    Parameters
    ----------
    source
        A :class:`~tradepulse.data.universe.Universe`, sources :func:`~tradepulse.data.universe.load_universe`
        takes (files, samples, a folder, ``universe:<name>``) or tick recordings (``recording:...``,
        traded as ``bar_period`` bars), or a ready :class:`MergedFeed`.
    strategy, params
        A portfolio strategy (or a single-symbol one, run on each member at 1/n of equity).
    costs
        The backtest's :class:`~tradepulse.model.costs.Costs`, the same for every member.
    init_cash
        The shared account's starting quote balance.
    symbols, align, start, end
        Passed to :func:`~tradepulse.data.universe.load_universe` for bar sources.

    The other options are :func:`~tradepulse.live.replay.run_replay_async`'s.
    """
    if not isinstance(strategy, Strategy):
        strategy = load_strategy(strategy)(**dict(params or {}))
    elif params:
        strategy = strategy.with_params(**params)
    costs = costs or Costs()
    if not init_cash > 0:
        raise ConfigError(f"initial cash must be positive, got {init_cash!r}")
    feed = _open(source, symbols=symbols, align=align, start=start, end=end)
    ticks = feed.kind == "ticks"
    if ticks and bar_period is None:
        bar_period = timedelta(minutes=1)
    first = next(iter(feed.events()), None)
    if first is None:
        raise ConfigError("the replay sources have no events")
    clock = SimulatedClock(first.at, speed=speed)
    quotes = {instrument.quote for instrument in feed.instruments}
    if len(quotes) != 1:
        raise ConfigError(f"a portfolio trades out of one quote currency; the members are quoted in {', '.join(sorted(quotes))}")
    capital = Decimal(repr(float(init_cash)))
    members = len(feed.symbols)
    venue = PaperVenue(
        feed.instruments,
        clock=clock.now,
        balances={quotes.pop(): capital},
        fees=FeeSchedule(maker_bps=Decimal(repr(costs.fees_bps)), taker_bps=Decimal(repr(costs.fees_bps))),
        slippage=costs.slippage,
        # Slippage that grows with size is sized on one member's share, as the portfolio backtest does.
        slippage_notional=float(init_cash) / members,
        latency=latency,
        allow_short=allow_short,
    )
    if risk_limits is None:
        # Bars arrive only at bar boundaries, one member after another at the same instant: the
        # stale-data breaker (made for live streams) would call the members not yet delivered stale.
        risk_limits = replace(REPLAY_RISK_LIMITS, stale_after_seconds=None) if not ticks else REPLAY_RISK_LIMITS
    risk = RiskControls(risk_limits, clock=clock.now, symbols=list(feed.symbols), currency=feed.instrument.quote)
    config = PortfolioEngineConfig(
        symbols=feed.symbols, capital=capital, bar_period=bar_period if ticks else None, sizing_costs=costs,
        cash_reserve_fraction=Decimal("0.001") if ticks else Decimal(0),
    )
    return await run_journaled(
        lambda journal: PortfolioEngine(strategy, observed_feed(feed, on_event), venue, journal, risk=risk, clock=clock, config=config),
        clock=clock, journal_path=journal_path, durability=durability, strategy=strategy, costs=costs,
        fill_convention="weights at the period's close, sells then buys at every member's next available price",
    )


def _open(
    source: Universe | Sequence[str | Path] | MergedFeed, *, symbols: Mapping[str, str] | None, align: str, start: str | None, end: str | None
) -> MergedFeed:
    if isinstance(source, MergedFeed):
        return source
    if isinstance(source, Universe):
        return UniverseReplayFeed(source)
    sources = [str(s) for s in ([source] if isinstance(source, (str, Path)) else source)]
    recordings = [s for s in sources if s.startswith("recording:") or s.endswith((".jsonl", ".jsonl.gz"))]
    if recordings and len(recordings) != len(sources):
        raise ConfigError("cannot mix tick recordings and bar sources in one replay")
    if recordings:
        return MergedFeed([RecordingFeed.from_source(s) for s in sources])
    return UniverseReplayFeed(load_universe(sources, symbols=symbols, align=align, start=start, end=end))  # type: ignore[arg-type]
