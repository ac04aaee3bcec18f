"""Parameter sweeps over a universe: every combination is a portfolio with its own shared cash account.

A chunk of ``k`` combinations becomes one ``(bars, symbols * k)`` weight matrix, each
combination's columns in the universe's symbol order, and one vectorbt run simulates the ``k``
portfolios side by side (:func:`~tradepulse.backtest.portfolio.simulate_portfolio` with
``groups=k``: cash shared within a group, sells before buys). Only each combination's statistics
are kept; they equal :func:`~tradepulse.backtest.portfolio.run_portfolio_backtest` of that
combination (tested).

Weights per combination come from the strategy's ``signals`` (a portfolio strategy may add a
vectorised ``signals_grid`` returning the whole ``(bars, combinations * symbols)`` matrix). A
single-symbol strategy runs on every member with an equal share of equity, as
:class:`~tradepulse.strategy.portfolio.EqualShare` does, through its own ``signals_grid`` per member.

Memory: a chunk keeps about :data:`PORTFOLIO_BYTES_PER_CELL` bytes alive per (bar, member,
combination) cell, so ``chunk = budget / (bars * members * PORTFOLIO_BYTES_PER_CELL)``.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numba import njit

from tradepulse.backtest.dask_backend import check_dask_options, windows_on_dask
from tradepulse.backtest.engine import DEFAULT_INIT_CASH, check_bars, periods_per_year
from tradepulse.backtest.portfolio import CostsBySymbol, member_costs, simulate_portfolio, universe_bar_period
from tradepulse.backtest.result import equity_stats, trade_stats
from tradepulse.backtest.search import (
    CACHE_SHARE,
    DEFAULT_MAX_COMBINATIONS,
    DEFAULT_MEMORY_BUDGET,
    RANKING_METRICS,
    SweepResult,
    check_metric,
    chunks,
    expand_grid,
    grid_signals,
    rank,
    stats_table,
    with_progress,
)
from tradepulse.data.universe import Universe
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import GridCache, Strategy
from tradepulse.strategy.loader import load_strategy
from tradepulse.strategy.portfolio import GROSS_TOLERANCE, PortfolioStrategy, as_portfolio, check_weights, member_bars

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "PORTFOLIO_BYTES_PER_CELL",
    "PORTFOLIO_BYTES_PER_MEMBER_BAR",
    "PORTFOLIO_STAT_NAMES",
    "check_universe_bars",
    "evaluate_portfolio_combos",
    "group_equity",
    "portfolio_chunk_size",
    "portfolio_fill_stats",
    "portfolio_combo_stats",
    "portfolio_grid",
    "portfolio_history",
    "run_portfolio_sweep",
    "weights_grid",
]

#: Bytes alive per (bar, member, combination) cell while a chunk runs: the weights, order sizes,
#: vectorbt's tiled open and close, its call sequence, slippage when it varies by bar, and the
#: strategy's temporaries. Measured at about 76 with tracemalloc (10 members x 5,707 bars, 50 to
#: 100 combinations); 128 leaves room for what tracemalloc cannot see (numba scratch in vectorbt).
PORTFOLIO_BYTES_PER_CELL = 128
#: Bytes per (bar, member) however many combinations a chunk holds (the window's bars, per-member frames).
PORTFOLIO_BYTES_PER_MEMBER_BAR = 160
#: What a portfolio sweep's table holds per combination: the ranking metrics plus fees and turnover.
PORTFOLIO_STAT_NAMES = (*RANKING_METRICS, "fees_paid", "turnover")
_BUY = 0


def portfolio_chunk_size(n_bars: int, n_symbols: int, memory_budget_bytes: int) -> int:
    """Return how many combinations to simulate at once: cells are bars x members x combinations."""
    cells = n_bars * n_symbols
    available = memory_budget_bytes - cells * PORTFOLIO_BYTES_PER_MEMBER_BAR
    return max(1, int(available // max(1, cells * PORTFOLIO_BYTES_PER_CELL)))


def check_universe_bars(universe: Universe) -> Universe:
    """Return ``universe`` if every member can be backtested (see :func:`~tradepulse.backtest.engine.check_bars`)."""
    if not isinstance(universe, Universe):
        raise ConfigError(f"expected a Universe (tradepulse.data.universe.load_universe), got {type(universe).__name__}")
    for symbol in universe.symbols:
        check_bars(universe.member(symbol))
    return universe


def portfolio_grid(
    cls: type[Strategy],
    universe: Universe,
    grid: Mapping[str, Sequence[Any]],
    fixed_params: Mapping[str, Any] | None = None,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
) -> tuple[list[dict[str, Any]], int]:
    """Return the grid's combinations valid over ``universe`` and how many were skipped.

    Besides the strategy's own rules, a combination the universe cannot hold (``momentum`` with
    ``top=3`` long and short over four members) is skipped and counted.
    """
    combos, skipped = expand_grid(cls, grid, fixed_params, max_combinations)
    valid = []
    reason = ""
    for combo in combos:
        try:
            as_portfolio(cls(**combo)).check_universe(universe.symbols)
        except StrategyError as exc:
            skipped += 1
            reason = str(exc)
            continue
        valid.append(combo)
    if not valid:
        raise StrategyError(f"no combination in the grid can run over this universe ({reason})")
    return valid, skipped


def run_portfolio_sweep(
    universe: Universe,
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
    """Backtest every combination of ``grid`` as a portfolio over ``universe`` and rank them by ``metric``.

    Arguments are those of :func:`~tradepulse.backtest.sweep.run_sweep`; ``costs`` may be
    ``{symbol: Costs}``. The table holds each combination's parameters and account statistics
    (:data:`PORTFOLIO_STAT_NAMES`). ``dask`` runs it on a Dask cluster with an identical result
    (:mod:`tradepulse.backtest.dask_backend`).

    Examples
    --------
    >>> from tradepulse.data.universe import load_universe
    >>> sweep = run_portfolio_sweep(load_universe(["universe:binance-usdt-4h"]), "sma_cross", {"fast": [5, 10], "slow": [30]})
    >>> sweep.symbols, len(sweep.table)
    (('BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'BNB/USDT'), 2)
    """
    check_dask_options(dask, dask_workers, dask_worker_memory)
    cls = load_strategy(strategy)
    check_metric(metric)
    check_universe_bars(universe)
    by_symbol = member_costs(universe.symbols, costs)
    combos, skipped = portfolio_grid(cls, universe, grid, fixed_params, max_combinations)
    if memory_budget_bytes <= 0:
        raise ConfigError(f"memory budget must be positive, got {memory_budget_bytes!r}")
    if dask is None:
        stats = evaluate_portfolio_combos(
            universe,
            cls,
            combos,
            start=0,
            end=len(universe),
            costs=by_symbol,
            init_cash=init_cash,
            memory_budget_bytes=memory_budget_bytes,
            progress=progress,
        )
    else:
        (stats,) = windows_on_dask(
            dask, portfolio_combo_stats, universe, cls, combos, [(0, len(universe))], history=portfolio_history(cls, combos),
            costs=by_symbol, init_cash=init_cash, memory_budget_bytes=memory_budget_bytes, progress=progress,
            workers=dask_workers, worker_memory=dask_worker_memory,
        )
    return SweepResult(
        strategy=cls,
        table=rank(stats, metric),
        metric=metric,
        skipped=skipped,
        costs=by_symbol,
        init_cash=init_cash,
        start=universe.bars.index[0],
        end=universe.bars.index[-1],
        bars=len(universe),
        param_names=list(cls._param_defs),
        symbols=universe.symbols,
    )


def evaluate_portfolio_combos(
    universe: Universe,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    *,
    start: int,
    end: int,
    costs: Mapping[str, Costs],
    init_cash: float,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    progress: bool = False,
) -> pd.DataFrame:
    """Return one row of parameters and account statistics per combination, on rows ``[start, end)``.

    As for one symbol (:func:`~tradepulse.backtest.sweep.evaluate_combos`): signals see up to
    ``warmup_bars`` bars before ``start``, and each account starts flat with ``init_cash`` at the
    close of the bar before ``start``.
    """
    columns = portfolio_combo_stats(
        universe, cls, combos, start=start, end=end, costs=costs, init_cash=init_cash,
        memory_budget_bytes=memory_budget_bytes, progress=progress,
    )
    return stats_table(combos, columns)


def portfolio_history(cls: type[Strategy], combos: Sequence[Mapping[str, Any]]) -> int:
    """Bars of history before a window that the weights of ``combos`` see: the largest ``warmup_bars``."""
    return max(as_portfolio(cls(**combo)).warmup_bars for combo in combos)


def portfolio_combo_stats(
    universe: Universe,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    *,
    start: int,
    end: int,
    costs: Mapping[str, Costs],
    init_cash: float,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    progress: bool = False,
    history: int | None = None,
) -> dict[str, np.ndarray]:
    """Return :data:`PORTFOLIO_STAT_NAMES` per combination on rows ``[start, end)``, in ``combos`` order.

    ``history`` (default: :func:`portfolio_history` of ``combos``) is as in
    :func:`~tradepulse.backtest.sweep.combo_stats`: a part of a grid passes the whole grid's.
    """
    if memory_budget_bytes <= 0:
        raise ConfigError(f"memory budget must be positive, got {memory_budget_bytes!r}")
    symbols = universe.symbols
    n_symbols = len(symbols)
    if history is None:
        history = portfolio_history(cls, combos)
    first_signal_row = max(0, start - history)
    sim_start = start - 1 if start > 0 else 0
    window = universe.slice(first_signal_row, end)
    sim_universe = universe.slice(sim_start, end)
    sim_close = sim_universe.field("close").to_numpy(dtype=np.float64)
    bars_per_year = periods_per_year(universe_bar_period(universe))
    cache_bytes = int(memory_budget_bytes * CACHE_SHARE)
    caches = {symbol: GridCache(max_bytes=cache_bytes // n_symbols) for symbol in symbols}
    per_chunk = portfolio_chunk_size(len(window), n_symbols, memory_budget_bytes - cache_bytes)
    columns: dict[str, list[np.ndarray]] = {}
    for chunk in with_progress(chunks(combos, per_chunk), len(combos), progress):
        weights = weights_grid(cls, window.bars, chunk, symbols, caches)[sim_start - first_signal_row :]
        portfolio = simulate_portfolio(
            sim_universe, weights, costs=costs, init_cash=init_cash, groups=len(chunk), timestamps=False
        )
        del weights
        stats = portfolio_fill_stats(
            portfolio.orders.values,
            portfolio.positions.values,
            sim_close,
            len(chunk),
            init_cash,
            bars_per_year,
            skip_first=start > 0,
        )
        del portfolio
        # vectorbt objects hold reference cycles: free one chunk's arrays before the next allocates.
        gc.collect(1)
        for name in PORTFOLIO_STAT_NAMES:
            columns.setdefault(name, []).append(stats[name])
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def weights_grid(
    cls: type[Strategy],
    bars: pd.DataFrame,
    combos: Sequence[Mapping[str, Any]],
    symbols: Sequence[str],
    caches: Mapping[str, GridCache],
) -> np.ndarray:
    """Return checked weights ``(bars, combinations * symbols)``, combination-major, symbols in universe order.

    NaN becomes 0 and each combination's gross exposure is held to its strategy's limit, as
    :func:`~tradepulse.strategy.portfolio.check_weights` does for one backtest.
    """
    n_symbols = len(symbols)
    if not issubclass(cls, PortfolioStrategy):
        # EqualShare: each member's own targets on 1/n of equity, vectorised per member.
        out = np.empty((len(bars), len(combos) * n_symbols))
        share = 1.0 / n_symbols
        for column, symbol in enumerate(symbols):
            out[:, column::n_symbols] = grid_signals(cls, member_bars(bars, symbol), combos, caches[symbol]) * share
        return _checked(out, cls, combos, bars.index, n_symbols)
    if _overrides_signals_grid(cls):
        out = np.asarray(cls.signals_grid(bars, combos), dtype=np.float64)
        expected = (len(bars), len(combos) * n_symbols)
        if out.shape != expected:
            raise StrategyError(f"{cls.name}: signals_grid must return shape {expected} (bars, combinations x symbols), got {out.shape}")
        return _checked(out, cls, combos, bars.index, n_symbols)
    out = np.empty((len(bars), len(combos) * n_symbols))
    for number, combo in enumerate(combos):
        strategy = cls(**combo)
        out[:, number * n_symbols : (number + 1) * n_symbols] = check_weights(
            strategy.signals(bars), bars, symbols, _source(cls, combo), strategy.max_gross_exposure
        )
    return out


def _overrides_signals_grid(cls: type[Strategy]) -> bool:
    return getattr(cls.signals_grid, "__func__", None) is not getattr(Strategy.signals_grid, "__func__", None)


def _source(cls: type[Strategy], combo: Mapping[str, Any]) -> str:
    return f"{cls.name} ({', '.join(f'{k}={v}' for k, v in combo.items())})"


def _checked(
    weights: np.ndarray, cls: type[Strategy], combos: Sequence[Mapping[str, Any]], index: pd.Index, n_symbols: int
) -> np.ndarray:
    weights[np.isnan(weights)] = 0.0
    if not np.isfinite(weights).all():
        raise StrategyError(f"{cls.name}: weights must be finite")
    gross = np.abs(weights).reshape(len(weights), len(combos), n_symbols).sum(axis=2)
    limits = np.array([as_portfolio(cls(**combo)).max_gross_exposure for combo in combos])
    over = gross > limits + GROSS_TOLERANCE
    if over.any():
        row, number = (int(v) for v in np.argwhere(over)[0])
        stamp = index[row]
        raise StrategyError(
            f"{_source(cls, combos[number])}: gross exposure {gross[row, number]:.4g} at {stamp.isoformat()} "
            f"exceeds the strategy's limit {limits[number]:g} ({int(over[:, number].sum())} bar(s) over)"
        )
    return weights


@njit(cache=True)
def _group_equity_nb(
    close: np.ndarray,
    n_groups: int,
    init_cash: float,
    column: np.ndarray,
    row: np.ndarray,
    size: np.ndarray,
    price: np.ndarray,
    fees: np.ndarray,
    side: np.ndarray,
    value_out: np.ndarray,
    held_out: np.ndarray,
) -> None:
    """Replay fills into each group's account value at every close, and whether it held any member.

    Fills must be sorted by group, then row. Cash is shared by the group's members; positions are
    marked at each close. ``value_out`` is ``(groups, rows)``, ``held_out`` the same shape.
    """
    n_rows, n_symbols = close.shape
    position = np.zeros(n_symbols)
    k = 0
    n_fills = column.shape[0]
    for g in range(n_groups):
        cash = init_cash
        position[:] = 0.0
        for i in range(n_rows):
            while k < n_fills and column[k] // n_symbols == g and row[k] == i:
                member = column[k] - g * n_symbols
                if side[k] == _BUY:
                    cash -= size[k] * price[k] + fees[k]
                    position[member] += size[k]
                else:
                    cash += size[k] * price[k] - fees[k]
                    position[member] -= size[k]
                k += 1
            value = cash
            held = False
            for member in range(n_symbols):
                if position[member] != 0.0:
                    value += position[member] * close[i, member]
                    held = True
            value_out[g, i] = value
            held_out[g, i] = held


def group_equity(
    orders: np.ndarray, close: np.ndarray, n_groups: int, init_cash: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return each group's account value and held flag at every close, both ``(bars, groups)``.

    ``orders`` are the vectorbt order records of a grouped run (columns group-major, members in
    ``close``'s column order); the value equals ``portfolio.value()`` of that run (tested).
    """
    n_symbols = close.shape[1]
    group = orders["col"] // n_symbols
    order = np.lexsort((orders["idx"], group))
    if not np.array_equal(order, np.arange(len(order))):
        orders = orders[order]
    value = np.empty((n_groups, close.shape[0]))
    held = np.empty((n_groups, close.shape[0]), dtype=np.bool_)
    _group_equity_nb(
        np.ascontiguousarray(close, dtype=np.float64),
        n_groups,
        float(init_cash),
        np.ascontiguousarray(orders["col"]),
        np.ascontiguousarray(orders["idx"]),
        np.ascontiguousarray(orders["size"]),
        np.ascontiguousarray(orders["price"]),
        np.ascontiguousarray(orders["fees"]),
        np.ascontiguousarray(orders["side"]),
        value,
        held,
    )
    return value.T, held.T


def portfolio_fill_stats(
    orders: np.ndarray,
    positions: np.ndarray,
    close: np.ndarray,
    n_groups: int,
    init_cash: float,
    bars_per_year: float,
    skip_first: bool = False,
) -> dict[str, np.ndarray]:
    """Return :data:`PORTFOLIO_STAT_NAMES` per group of a grouped portfolio run, from its records.

    The definitions are :class:`~tradepulse.backtest.portfolio_result.PortfolioBacktestResult`'s:
    trades count every member's positions, exposure is the share of bars closing with any member
    held, turnover is traded notional over mean equity. ``skip_first`` leaves out an anchor row
    at whose close the accounts start (walk-forward windows); nothing fills on it.
    """
    n_symbols = close.shape[1]
    value, held = group_equity(orders, close, n_groups, init_cash)
    if skip_first:
        value, held = value[1:], held[1:]
    n_bars = value.shape[0]
    stats = equity_stats(value, init_cash, bars_per_year)
    grouped = positions.copy()
    grouped["col"] //= n_symbols
    stats.update(trade_stats(grouped, n_groups, n_bars, end_row=n_bars + int(skip_first)))
    stats["exposure"] = held.mean(axis=0)
    group = orders["col"] // n_symbols
    stats["fees_paid"] = np.bincount(group, weights=orders["fees"], minlength=n_groups)
    notional = np.bincount(group, weights=np.abs(orders["size"] * orders["price"]), minlength=n_groups)
    stats["turnover"] = notional / value.mean(axis=0)
    return stats
