"""Parameter sweeps: every combination of a grid in vectorised, memory-bounded chunks.

For each chunk of combinations the strategy builds a ``(bars, combinations)`` target matrix
(:meth:`Strategy.signals_grid`), and one ``vectorbt.Portfolio.from_orders`` call simulates all of
its columns; only the per-combination statistics are kept. The chunk size comes from a memory
budget: roughly :data:`BYTES_PER_CELL` bytes per (bar, combination) cell are alive while a chunk
runs, so ``chunk = budget / (bars * BYTES_PER_CELL)``.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradepulse.backtest.dask_backend import check_dask_options, windows_on_dask
from tradepulse.backtest.engine import DEFAULT_INIT_CASH, _clean_targets, bar_period, check_bars, periods_per_year, simulate_fills
from tradepulse.backtest.portfolio import CostsBySymbol
from tradepulse.backtest.portfolio_sweep import run_portfolio_sweep
from tradepulse.backtest.result import fill_stats
from tradepulse.backtest.search import (
    BYTES_PER_BAR,
    BYTES_PER_CELL,
    CACHE_SHARE,
    DEFAULT_MAX_COMBINATIONS,
    DEFAULT_MEMORY_BUDGET,
    RANKING_METRICS,
    SweepResult,
    check_metric,
    chunk_size,
    chunks,
    expand_grid,
    grid_signals,
    parse_grid,
    rank,
    stats_table,
    with_progress,
)
from tradepulse.data.universe import Universe
from tradepulse.errors import ConfigError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import GridCache, Strategy
from tradepulse.strategy.loader import load_strategy

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "BYTES_PER_BAR",
    "BYTES_PER_CELL",
    "CACHE_SHARE",
    "DEFAULT_MAX_COMBINATIONS",
    "DEFAULT_MEMORY_BUDGET",
    "RANKING_METRICS",
    "SweepResult",
    "check_metric",
    "chunk_size",
    "combo_stats",
    "evaluate_combos",
    "expand_grid",
    "grid_signals",
    "parse_grid",
    "rank",
    "run_sweep",
    "signal_history",
    "single_costs",
]

def run_sweep(
    bars: pd.DataFrame | Universe,
    strategy: type[Strategy] | str,
    grid: Mapping[str, Sequence[Any]],
    *,
    fixed_params: Mapping[str, Any] | None = None,
    costs: CostsBySymbol | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
    metric: str = "sharpe",
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
    progress: bool | None = None,
    dask: str | Client | None = None,
    dask_workers: int | None = None,
    dask_worker_memory: int | str | None = None,
) -> SweepResult:
    """Backtest every combination of ``grid`` and rank them by ``metric``.

    Parameters
    ----------
    bars
        One symbol's bar frame, or a :class:`~tradepulse.data.universe.Universe`: then every
        combination is a portfolio backtest with one shared cash account
        (:func:`~tradepulse.backtest.portfolio_sweep.run_portfolio_sweep`).
    grid
        Values per parameter, e.g. ``{"fast": range(5, 55, 5), "slow": [100, 200]}``.
    costs
        Fees and slippage; for a universe also ``{symbol: Costs}``.
    fixed_params
        Parameters held constant across the sweep (e.g. ``{"allow_short": True}``).
    metric
        A statistic from :data:`~tradepulse.backtest.result.STAT_NAMES`; higher ranks first.
    memory_budget_bytes
        Memory the sweep may use at once; it decides the chunk size.
    max_combinations
        Grids larger than this are refused before any work starts.
    progress
        A progress bar on stderr when True; with ``dask`` in a notebook, distributed's progress
        widget unless False.
    dask
        Run on a Dask cluster (:mod:`tradepulse.backtest.dask_backend`): ``"local"`` starts one
        (``dask_workers`` processes, each limited to ``dask_worker_memory``, default 4 GiB),
        ``"tcp://HOST:PORT"`` uses a running scheduler, a ``distributed.Client`` is used as it is.
        The result is identical to the single-process run.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> result = run_sweep(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross", {"fast": [5, 10], "slow": [30, 60]})
    >>> len(result.table)
    4
    """
    if isinstance(bars, Universe):
        return run_portfolio_sweep(
            bars,
            strategy,
            grid,
            fixed_params=fixed_params,
            costs=costs,
            init_cash=init_cash,
            metric=metric,
            memory_budget_bytes=memory_budget_bytes,
            max_combinations=max_combinations,
            progress=progress,
            dask=dask,
            dask_workers=dask_workers,
            dask_worker_memory=dask_worker_memory,
        )
    check_dask_options(dask, dask_workers, dask_worker_memory)
    cls = load_strategy(strategy)
    check_metric(metric)
    bars = check_bars(bars)
    costs = single_costs(costs)
    combos, skipped = expand_grid(cls, grid, fixed_params, max_combinations)
    if memory_budget_bytes <= 0:
        raise ConfigError(f"memory budget must be positive, got {memory_budget_bytes!r}")
    if dask is None:
        stats = evaluate_combos(
            bars,
            cls,
            combos,
            start=0,
            end=len(bars),
            costs=costs,
            init_cash=init_cash,
            memory_budget_bytes=memory_budget_bytes,
            progress=progress,
        )
    else:
        (stats,) = windows_on_dask(
            dask, combo_stats, bars, cls, combos, [(0, len(bars))], history=signal_history(cls, combos), costs=costs,
            init_cash=init_cash, memory_budget_bytes=memory_budget_bytes, progress=progress, workers=dask_workers,
            worker_memory=dask_worker_memory,
        )
    return SweepResult(
        strategy=cls,
        table=rank(stats, metric),
        metric=metric,
        skipped=skipped,
        costs=costs,
        init_cash=init_cash,
        start=bars.index[0],
        end=bars.index[-1],
        bars=len(bars),
        param_names=list(cls._param_defs),
    )


def evaluate_combos(
    bars: pd.DataFrame,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    *,
    start: int,
    end: int,
    costs: Costs,
    init_cash: float,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    progress: bool = False,
) -> pd.DataFrame:
    """Return one row of parameters and statistics per combination, evaluated on bars ``[start, end)``.

    Signals see up to ``warmup_bars`` bars before ``start`` (history a live account would have had);
    the account starts flat with ``init_cash`` at the close of the bar before ``start``.
    """
    columns = combo_stats(
        bars, cls, combos, start=start, end=end, costs=costs, init_cash=init_cash,
        memory_budget_bytes=memory_budget_bytes, progress=progress,
    )
    return stats_table(combos, columns)


def signal_history(cls: type[Strategy], combos: Sequence[Mapping[str, Any]]) -> int:
    """Bars of history before a window that the signals of ``combos`` see: the largest ``warmup_bars``."""
    return max(cls(**combo).warmup_bars for combo in combos)


def combo_stats(
    bars: pd.DataFrame,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    *,
    start: int,
    end: int,
    costs: Costs,
    init_cash: float,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    progress: bool = False,
    history: int | None = None,
) -> dict[str, np.ndarray]:
    """Return :data:`RANKING_METRICS` per combination on bars ``[start, end)``, one array each, in ``combos`` order.

    ``history`` (default: :func:`signal_history` of ``combos``) is how many bars before ``start``
    the signals see; a part of a larger grid passes the whole grid's so that it computes exactly
    what the whole would (the Dask tasks of :mod:`tradepulse.backtest.dask_backend` do).
    """
    if memory_budget_bytes <= 0:
        raise ConfigError(f"memory budget must be positive, got {memory_budget_bytes!r}")
    if history is None:
        history = signal_history(cls, combos)
    first_signal_row = max(0, start - history)
    sim_start = start - 1 if start > 0 else 0
    window = bars.iloc[first_signal_row:end]
    sim_bars = bars.iloc[sim_start:end]
    sim_close = sim_bars["close"].to_numpy(dtype=np.float64)
    bars_per_year = periods_per_year(bar_period(bars))
    cache = GridCache(max_bytes=int(memory_budget_bytes * CACHE_SHARE))
    per_chunk = chunk_size(len(window), memory_budget_bytes - cache.max_bytes)
    columns: dict[str, list[np.ndarray]] = {}
    for chunk in with_progress(chunks(combos, per_chunk), len(combos), progress):
        targets = grid_signals(cls, window, chunk, cache)[sim_start - first_signal_row :]
        targets = _clean_targets(targets, cls.name)
        fills = simulate_fills(sim_bars, targets, costs=costs, init_cash=init_cash)
        del targets
        stats = fill_stats(
            fills.orders,
            fills.positions,
            fills.n_rows,
            fills.n_columns,
            sim_close,
            init_cash,
            bars_per_year,
            skip_first=start > 0,
        )
        del fills
        # vectorbt objects hold reference cycles; collect the young generations so one chunk's
        # arrays are gone before the next chunk allocates (a cheap, bounded collection).
        gc.collect(1)
        for name in RANKING_METRICS:
            columns.setdefault(name, []).append(stats[name])
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def single_costs(costs: CostsBySymbol | None) -> Costs:
    """Return the costs of a one-symbol run (the default when ``None``); per-symbol costs need a universe."""
    if costs is None:
        return Costs()
    if not isinstance(costs, Costs):
        raise ConfigError("costs per symbol need a universe; one symbol's bars take one Costs")
    return costs
