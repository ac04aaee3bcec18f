"""Walk-forward optimisation over a universe: pick parameters on a training window, trade the portfolio on the next.

The folds, the choice and the stitching are those of one symbol
(:mod:`tradepulse.backtest.walkforward`): each training window sweeps the grid as portfolios
(:func:`~tradepulse.backtest.portfolio_sweep.evaluate_portfolio_combos`), and each test window
starts flat, with the previous window's ending equity as one shared cash account, its signals
seeing the bars before it. Positions still open at a window's end are marked at its last close.
Out-of-sample exposure is the share of test bars closing with any member held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradepulse.backtest.dask_backend import check_dask_options, training_tables
from tradepulse.backtest.engine import DEFAULT_INIT_CASH, periods_per_year
from tradepulse.backtest.portfolio import CostsBySymbol, member_costs, simulate_portfolio, universe_bar_period
from tradepulse.backtest.portfolio_sweep import (
    check_universe_bars,
    evaluate_portfolio_combos,
    group_equity,
    portfolio_combo_stats,
    portfolio_grid,
    portfolio_history,
)
from tradepulse.backtest.result import STAT_NAMES, equity_stats, trade_stats
from tradepulse.backtest.search import (
    DEFAULT_MAX_COMBINATIONS,
    DEFAULT_MEMORY_BUDGET,
    WalkForwardResult,
    check_metric,
    fold_bounds,
    oos_stats,
    plain,
    rank,
    stitch,
    to_stitched_rows,
)
from tradepulse.data.universe import Universe
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import Strategy
from tradepulse.strategy.loader import load_strategy
from tradepulse.strategy.portfolio import as_portfolio, check_weights

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["run_portfolio_walkforward"]


def run_portfolio_walkforward(
    universe: Universe,
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
    """Run walk-forward optimisation of ``strategy`` over ``grid``, each combination a portfolio over ``universe``.

    Examples
    --------
    >>> from tradepulse.data.universe import load_universe
    >>> wf = run_portfolio_walkforward(load_universe(["universe:binance-usdt-4h"]), "sma_cross",
    ...                                {"fast": [5, 10], "slow": [30]}, train_bars=200, test_bars=100)
    >>> len(wf.folds), wf.symbols
    (2, ('BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'BNB/USDT'))
    """
    check_dask_options(dask, dask_workers, dask_worker_memory)
    cls = load_strategy(strategy)
    check_metric(metric)
    check_universe_bars(universe)
    by_symbol = member_costs(universe.symbols, costs)
    combos, skipped = portfolio_grid(cls, universe, grid, fixed_params, max_combinations)
    bounds = fold_bounds(len(universe), int(train_bars), int(test_bars), anchored)
    bars_per_year = periods_per_year(universe_bar_period(universe))
    index = universe.bars.index
    rows: list[dict[str, Any]] = []
    fold_values: list[np.ndarray] = []
    fold_positions: list[np.ndarray] = []
    fold_held: list[np.ndarray] = []
    fees_paid = 0.0
    first_test_row = bounds[0][2]
    in_samples = training_tables(
        evaluate_portfolio_combos, portfolio_combo_stats, portfolio_history,
        universe, cls, combos, [(train_start, train_end) for train_start, train_end, _, _ in bounds], costs=by_symbol, init_cash=init_cash,
        memory_budget_bytes=memory_budget_bytes, progress=progress, dask=dask, dask_workers=dask_workers,
        dask_worker_memory=dask_worker_memory,
    )
    for number, ((train_start, train_end, test_start, test_end), table) in enumerate(zip(bounds, in_samples, strict=True)):
        in_sample = rank(table, metric)
        best = cls(**{name: plain(in_sample.iloc[0][name]) for name in cls._param_defs})
        value, held, positions, fees = _run_test_window(universe, best, test_start, test_end, by_symbol, init_cash)
        out_of_sample = equity_stats(value, init_cash, bars_per_year)
        out_of_sample.update(trade_stats(positions, 1, len(value), end_row=len(value) + 1))
        out_of_sample["exposure"] = np.array([held.mean()])
        fold_values.append(value)
        fold_held.append(held)
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
    stats = oos_stats(equity, np.concatenate(fold_positions), init_cash, bars_per_year, fees_paid, held=np.concatenate(fold_held))
    return WalkForwardResult(
        strategy=cls,
        metric=metric,
        folds=folds,
        equity=equity,
        stats=stats,
        train_bars=int(train_bars),
        test_bars=int(test_bars),
        anchored=anchored,
        costs=by_symbol,
        init_cash=init_cash,
        skipped=skipped,
        param_names=list(cls._param_defs),
        symbols=universe.symbols,
    )


def _run_test_window(
    universe: Universe, strategy: Strategy, test_start: int, test_end: int, costs: Mapping[str, Costs], init_cash: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Trade ``strategy`` on rows ``[test_start, test_end)``, starting flat at the previous bar's close.

    Returns the account value and held flag at each test bar's close, the position records (all
    members in column 0) and the fees paid.
    """
    portfolio_strategy = as_portfolio(strategy)
    history_start = max(0, test_start - 1 - portfolio_strategy.warmup_bars)
    window = universe.slice(history_start, test_end)
    weights = check_weights(
        portfolio_strategy.signals(window.bars),
        window.bars,
        universe.symbols,
        portfolio_strategy.name,
        portfolio_strategy.max_gross_exposure,
    )
    anchor = test_start - 1 - history_start
    test_universe = universe.slice(test_start - 1, test_end)
    portfolio = simulate_portfolio(test_universe, weights[anchor:], costs=costs, init_cash=init_cash, timestamps=False)
    orders = portfolio.orders.values
    value, held = group_equity(orders, test_universe.field("close").to_numpy(dtype=np.float64), 1, init_cash)
    positions = portfolio.positions.values.copy()
    positions["col"] = 0
    return value[1:, 0], held[1:, 0], positions, float(orders["fees"].sum())
