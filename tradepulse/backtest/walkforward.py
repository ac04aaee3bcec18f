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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.backtest.engine import DEFAULT_INIT_CASH, bar_period, check_bars, check_targets, periods_per_year, simulate_fills
from tradepulse.backtest.result import STAT_NAMES, equity_curves, equity_stats, trade_stats
from tradepulse.backtest.sweep import (
    DEFAULT_MAX_COMBINATIONS,
    DEFAULT_MEMORY_BUDGET,
    _plain,
    check_metric,
    evaluate_combos,
    expand_grid,
    rank,
)
from tradepulse.errors import ConfigError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import Strategy
from tradepulse.strategy.loader import load_strategy

__all__ = ["WalkForwardResult", "fold_bounds", "run_walkforward"]

_CLOSED = 1


@dataclass
class WalkForwardResult:
    """Per-fold table, stitched out-of-sample equity and its statistics."""

    strategy: type[Strategy]
    metric: str
    folds: pd.DataFrame
    equity: pd.Series
    stats: dict[str, Any]
    train_bars: int
    test_bars: int
    anchored: bool
    costs: Costs
    init_cash: float
    skipped: int
    param_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: settings, out-of-sample stats and one entry per fold."""
        folds = []
        for _, row in self.folds.iterrows():
            entry = {key: _plain(row[key]) for key in self.folds.columns if key not in self.param_names}
            entry["params"] = {name: _plain(row[name]) for name in self.param_names}
            folds.append(entry)
        return {
            "strategy": self.strategy.name,
            "metric": self.metric,
            "train_bars": self.train_bars,
            "test_bars": self.test_bars,
            "anchored": self.anchored,
            "init_cash": self.init_cash,
            **self.costs.to_dict(),
            "skipped": self.skipped,
            "out_of_sample": self.stats,
            "folds": folds,
        }


def fold_bounds(n_bars: int, train_bars: int, test_bars: int, anchored: bool = False) -> list[tuple[int, int, int, int]]:
    """Return ``(train_start, train_end, test_start, test_end)`` row bounds (ends exclusive) per fold."""
    if train_bars < 2:
        raise ConfigError(f"--train must be at least 2 bars, got {train_bars}")
    if test_bars < 1:
        raise ConfigError(f"--test must be at least 1 bar, got {test_bars}")
    if train_bars + test_bars > n_bars:
        raise ConfigError(
            f"train ({train_bars}) + test ({test_bars}) bars exceed the {n_bars} bars of data; "
            "use shorter windows or more data"
        )
    folds: list[tuple[int, int, int, int]] = []
    while True:
        offset = len(folds) * test_bars
        train_end = offset + train_bars
        test_end = train_end + test_bars
        if test_end > n_bars:
            return folds
        folds.append((0 if anchored else offset, train_end, train_end, test_end))


def run_walkforward(
    bars: pd.DataFrame,
    strategy: type[Strategy] | str,
    grid: Mapping[str, Sequence[Any]],
    *,
    train_bars: int,
    test_bars: int,
    metric: str = "sharpe",
    anchored: bool = False,
    fixed_params: Mapping[str, Any] | None = None,
    costs: Costs | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
    progress: bool = False,
) -> WalkForwardResult:
    """Run walk-forward optimisation of ``strategy`` over ``grid``.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> wf = run_walkforward(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross",
    ...                      {"fast": [5, 10], "slow": [30, 60]}, train_bars=300, test_bars=100)
    >>> len(wf.folds)
    2
    """
    cls = load_strategy(strategy)
    check_metric(metric)
    bars = check_bars(bars)
    costs = costs or Costs()
    combos, skipped = expand_grid(cls, grid, fixed_params, max_combinations)
    bounds = fold_bounds(len(bars), int(train_bars), int(test_bars), anchored)
    bars_per_year = periods_per_year(bar_period(bars))
    index = bars.index
    rows: list[dict[str, Any]] = []
    fold_values: list[np.ndarray] = []
    fold_positions: list[np.ndarray] = []
    fees_paid = 0.0
    first_test_row = bounds[0][2]
    for number, (train_start, train_end, test_start, test_end) in enumerate(bounds):
        in_sample = rank(
            evaluate_combos(
                bars,
                cls,
                combos,
                start=train_start,
                end=train_end,
                costs=costs,
                init_cash=init_cash,
                memory_budget_bytes=memory_budget_bytes,
                progress=progress,
            ),
            metric,
        )
        best = cls(**{name: _plain(in_sample.iloc[0][name]) for name in cls._param_defs})
        value, positions, fees = _run_test_window(bars, best, test_start, test_end, costs, init_cash)
        out_of_sample = equity_stats(value, init_cash, bars_per_year)
        out_of_sample.update(trade_stats(positions, 1, len(value), end_row=len(value) + 1))
        fold_values.append(value)
        fold_positions.append(_to_stitched_rows(positions, len(value), test_start - first_test_row))
        fees_paid += fees
        rows.append(
            {
                "fold": number,
                "train_start": index[train_start],
                "train_end": index[train_end - 1],
                "test_start": index[test_start],
                "test_end": index[test_end - 1],
                **best.params,
                f"in_sample_{metric}": _plain(in_sample.iloc[0][metric]),
                **{name: float(out_of_sample[name][0]) for name in STAT_NAMES},
            }
        )
    folds = pd.DataFrame(rows)
    folds["trades"] = folds["trades"].astype(np.int64)
    equity = _stitch(fold_values, init_cash, index[first_test_row : bounds[-1][3]])
    stats = _oos_stats(equity, np.concatenate(fold_positions), init_cash, bars_per_year, fees_paid)
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


def _to_stitched_rows(positions: np.ndarray, n_bars: int, offset: int) -> np.ndarray:
    """Move a fold's position records onto the stitched out-of-sample rows, closing open ones at its end."""
    records = positions.copy()
    still_open = records["status"] != _CLOSED
    records["exit_idx"] = np.where(still_open, n_bars + 1, records["exit_idx"])
    records["status"] = _CLOSED
    # Simulation row r of a fold is stitched row r - 1 + offset (row 0 is the anchor bar).
    records["entry_idx"] += offset - 1
    records["exit_idx"] += offset - 1
    records["col"] = 0
    return records


def _stitch(fold_values: list[np.ndarray], init_cash: float, index: pd.DatetimeIndex) -> pd.Series:
    returns = [np.diff(np.concatenate([[init_cash], value])) / np.concatenate([[init_cash], value[:-1]]) for value in fold_values]
    equity = init_cash * np.cumprod(1.0 + np.concatenate(returns))
    return pd.Series(equity, index=index, name="oos_equity")


def _oos_stats(
    equity: pd.Series, positions: np.ndarray, init_cash: float, bars_per_year: float, fees_paid: float
) -> dict[str, Any]:
    raw = equity_stats(equity.to_numpy(), init_cash, bars_per_year)
    raw.update(trade_stats(positions, 1, len(equity)))
    stats: dict[str, Any] = {name: float(raw[name][0]) for name in STAT_NAMES}
    stats["trades"] = int(stats["trades"])
    stats.update(
        start=equity.index[0],
        end=equity.index[-1],
        bars=len(equity),
        final_equity=float(equity.iloc[-1]),
        fees_paid=fees_paid,
    )
    return stats
