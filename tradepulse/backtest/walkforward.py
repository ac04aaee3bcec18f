"""Walk-forward optimisation: pick parameters on a training window, trade them on the next test window.

Windows are counted in bars. Fold ``k`` trains on ``[k*test, k*test + train)`` (or on
``[0, k*test + train)`` when anchored) and tests on the ``test`` bars right after it; only full
folds are run. Each test window starts flat with the previous window's ending equity, signals see
the bars before it (as a live account would), and a position still open at a window's end is
marked at its last close (counted as a closed trade there). The test windows' returns, chained,
make the out-of-sample equity curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradepulse.backtest.dask_backend import check_dask_options, training_tables
from tradepulse.backtest.engine import DEFAULT_INIT_CASH, bar_period, check_bars, check_targets, periods_per_year, simulate_fills
from tradepulse.backtest.portfolio import CostsBySymbol
from tradepulse.backtest.portfolio_walkforward import run_portfolio_walkforward
from tradepulse.backtest.result import STAT_NAMES, equity_curves, equity_stats, trade_stats
from tradepulse.backtest.search import (
    DEFAULT_MAX_COMBINATIONS,
    DEFAULT_MEMORY_BUDGET,
    WalkForwardResult,
    check_metric,
    expand_grid,
    fold_bounds,
    oos_stats,
    plain,
    rank,
    stitch,
    to_stitched_rows,
)
from tradepulse.backtest.sweep import combo_stats, evaluate_combos, signal_history, single_costs
from tradepulse.data.universe import Universe
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import Strategy
from tradepulse.strategy.loader import load_strategy

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["WalkForwardResult", "fold_bounds", "run_walkforward"]


def run_walkforward(
    bars: pd.DataFrame | Universe,
    strategy: type[Strategy] | str,
    grid: Mapping[str, Sequence[Any]],
    *,
    train_bars: int,
    test_bars: int,
    metric: str = "sharpe",
    anchored: bool = False,
    fixed_params: Mapping[str, Any] | None = None,
    costs: CostsBySymbol | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
    progress: bool | None = None,
    dask: str | Client | None = None,
    dask_workers: int | None = None,
    dask_worker_memory: int | str | None = None,
) -> WalkForwardResult:
    """Run walk-forward optimisation of ``strategy`` over ``grid``.

    ``bars`` may be a :class:`~tradepulse.data.universe.Universe`: then every run is a portfolio
    with one shared cash account (:func:`~tradepulse.backtest.portfolio_walkforward.run_portfolio_walkforward`)
    and ``costs`` may be ``{symbol: Costs}``. ``dask`` evaluates every fold's training window on a
    Dask cluster at once, as :func:`~tradepulse.backtest.sweep.run_sweep` describes, with an
    identical result.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> wf = run_walkforward(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross",
    ...                      {"fast": [5, 10], "slow": [30, 60]}, train_bars=300, test_bars=100)
    >>> len(wf.folds)
    2
    """
    if isinstance(bars, Universe):
        return run_portfolio_walkforward(
            bars,
            strategy,
            grid,
            train_bars=train_bars,
            test_bars=test_bars,
            metric=metric,
            anchored=anchored,
            fixed_params=fixed_params,
            costs=costs,
            init_cash=init_cash,
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
    bounds = fold_bounds(len(bars), int(train_bars), int(test_bars), anchored)
    bars_per_year = periods_per_year(bar_period(bars))
    index = bars.index
    rows: list[dict[str, Any]] = []
    fold_values: list[np.ndarray] = []
    fold_positions: list[np.ndarray] = []
    fees_paid = 0.0
    first_test_row = bounds[0][2]
    in_samples = training_tables(
        evaluate_combos, combo_stats, signal_history,
        bars, cls, combos, [(train_start, train_end) for train_start, train_end, _, _ in bounds], costs=costs, init_cash=init_cash,
        memory_budget_bytes=memory_budget_bytes, progress=progress, dask=dask, dask_workers=dask_workers,
        dask_worker_memory=dask_worker_memory,
    )
    for number, ((train_start, train_end, test_start, test_end), table) in enumerate(zip(bounds, in_samples, strict=True)):
        in_sample = rank(table, metric)
        best = cls(**{name: plain(in_sample.iloc[0][name]) for name in cls._param_defs})
        value, positions, fees = _run_test_window(bars, best, test_start, test_end, costs, init_cash)
        out_of_sample = equity_stats(value, init_cash, bars_per_year)
        out_of_sample.update(trade_stats(positions, 1, len(value), end_row=len(value) + 1))
        fold_values.append(value)
        fold_positions.append(to_stitched_rows(positions, len(value), test_start - first_test_row))
        fees_paid += fees
        rows.append(
            {
                "fold": number,
                "train_start": index[train_start],
                "train_end": index[train_end - 1],
                "test_start": index[test_start],
                "test_end": index[test_end - 1],
                **best.params,
                f"in_sample_{metric}": plain(in_sample.iloc[0][metric]),
                **{name: float(out_of_sample[name][0]) for name in STAT_NAMES},
            }
        )
    folds = pd.DataFrame(rows)
    folds["trades"] = folds["trades"].astype(np.int64)
    equity = stitch(fold_values, init_cash, index[first_test_row : bounds[-1][3]])
    stats = oos_stats(equity, np.concatenate(fold_positions), init_cash, bars_per_year, fees_paid)
    return WalkForwardResult(
        strategy=cls,
        metric=metric,
        folds=folds,
        equity=equity,
        stats=stats,
        train_bars=int(train_bars),
        test_bars=int(test_bars),
        anchored=anchored,
        costs=costs,
        init_cash=init_cash,
        skipped=skipped,
        param_names=list(cls._param_defs),
    )


def _run_test_window(
    bars: pd.DataFrame, strategy: Strategy, test_start: int, test_end: int, costs: Costs, init_cash: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Simulate ``strategy`` on ``[test_start, test_end)``, starting flat at the previous bar's close."""
    history_start = max(0, test_start - 1 - strategy.warmup_bars)
    window = bars.iloc[history_start:test_end]
    targets = check_targets(strategy.signals(window), window, strategy.name)
    anchor = test_start - 1 - history_start
    test_bars = bars.iloc[test_start - 1 : test_end]
    fills = simulate_fills(test_bars, targets[anchor:, None], costs=costs, init_cash=init_cash)
    value = equity_curves(fills.orders, fills.n_rows, 1, test_bars["close"].to_numpy(), init_cash).ravel()[1:]
    return value, fills.positions, float(fills.orders["fees"].sum())
