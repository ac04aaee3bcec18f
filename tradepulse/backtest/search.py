"""What parameter sweeps and walk-forward runs share, for one symbol and for universes alike.

Grids (parsing, expansion, the combination limit), ranking, chunk iteration with a progress bar,
fold layout, stitching test windows, and the two result types. The evaluation itself lives in
:mod:`tradepulse.backtest.sweep` (one symbol) and :mod:`tradepulse.backtest.portfolio_sweep`
(a universe, one shared cash account per combination).
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.backtest.result import STAT_NAMES, equity_stats, trade_stats
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import GridCache, Strategy
from tradepulse.strategy.loader import load_strategy

__all__ = [
    "BYTES_PER_BAR",
    "BYTES_PER_CELL",
    "CACHE_SHARE",
    "DEFAULT_MAX_COMBINATIONS",
    "DEFAULT_MEMORY_BUDGET",
    "RANKING_METRICS",
    "SweepResult",
    "WalkForwardResult",
    "check_metric",
    "chunk_size",
    "chunks",
    "costs_payload",
    "expand_grid",
    "fold_bounds",
    "grid_signals",
    "oos_stats",
    "parse_grid",
    "plain",
    "with_progress",
    "rank",
    "stats_table",
    "stitch",
    "to_stitched_rows",
]

DEFAULT_MAX_COMBINATIONS = 100_000
DEFAULT_MEMORY_BUDGET = 2 * 1024**3
#: Share of the budget the strategy may keep in its cross-chunk cache (moving averages and such).
CACHE_SHARE = 0.25
RANKING_METRICS = (*STAT_NAMES, "final_equity")
#: Bytes alive per (bar, combination) cell while a chunk runs: the target matrix, the strategy's
#: temporaries, order sizes, vectorbt's broadcast close and call sequence, cash/asset/value arrays
#: and the statistics' scratch arrays. Measured at 40-50 bytes with tracemalloc; 96 leaves room
#: for what tracemalloc cannot see (numba-allocated scratch inside vectorbt).
BYTES_PER_CELL = 96
#: Bytes per bar used however many combinations a chunk holds (bar slices, closes, slippage).
BYTES_PER_BAR = 64
_CLOSED = 1


def chunk_size(n_bars: int, memory_budget_bytes: int) -> int:
    """Return how many combinations to simulate at once within ``memory_budget_bytes`` (at least 1).

    ``n_bars`` counts cells per combination: bars for one symbol, bars x members for a universe.
    """
    available = memory_budget_bytes - n_bars * BYTES_PER_BAR
    return max(1, int(available // max(1, n_bars * BYTES_PER_CELL)))


def parse_grid(strategy: type[Strategy] | str, raw: Mapping[str, str]) -> dict[str, list[Any]]:
    """Parse command-line grid axes: ``{"fast": "5:50:5", "slow": "100,200"}`` to lists of values."""
    return load_strategy(strategy).parse_grid(raw)


def expand_grid(
    strategy: type[Strategy] | str,
    grid: Mapping[str, Sequence[Any]],
    fixed_params: Mapping[str, Any] | None = None,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
) -> tuple[list[dict[str, Any]], int]:
    """Return every valid full parameter set of ``grid`` and how many combinations were skipped.

    A combination that breaks a cross-parameter rule (``fast >= slow``) is skipped; a value that
    is out of range or of the wrong type is an error, as is a grid over ``max_combinations``.
    """
    cls = load_strategy(strategy)
    fixed = dict(fixed_params or {})
    axes: dict[str, list[Any]] = {}
    for name, values in grid.items():
        param = cls.param(name)
        if name in fixed:
            raise ConfigError(f"parameter {name!r} is both fixed (-p) and swept (-g); give it once")
        values = list(values) if not isinstance(values, str) else [values]
        if not values:
            raise ConfigError(f"grid axis {name!r} has no values")
        try:
            axes[name] = list(dict.fromkeys(param.coerce(v) for v in values))
        except StrategyError as exc:
            raise StrategyError(f"{cls.name}: {exc}") from None
    if not axes:
        raise ConfigError("the grid is empty; give at least one axis such as -g fast=5,10,20")
    total = math.prod(len(v) for v in axes.values())
    if total > max_combinations:
        raise ConfigError(
            f"the grid has {total:,} combinations, more than the limit of {max_combinations:,}; "
            "use fewer values or coarser steps (or raise max_combinations)"
        )
    combos: list[dict[str, Any]] = []
    skipped = 0
    last_reason = ""
    names = list(axes)
    for values in itertools.product(*axes.values()):
        try:
            combos.append(cls(**fixed, **dict(zip(names, values, strict=True))).params)
        except StrategyError as exc:
            skipped += 1
            last_reason = str(exc)
    if not combos:
        raise StrategyError(f"no combination in the grid is valid ({last_reason})")
    return combos, skipped


def check_metric(metric: str) -> None:
    if metric not in RANKING_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(RANKING_METRICS)}")


def rank(stats: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Sort best first by ``metric`` (stable, so ties keep grid order); NaN ranks last."""
    ranked = stats.sort_values(metric, ascending=False, na_position="last", kind="stable")
    return ranked.reset_index(drop=True)


def stats_table(combos: Sequence[Mapping[str, Any]], columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Return the unranked table: one row per combination, its parameters then its statistics (``trades`` as integers)."""
    table = pd.DataFrame(list(combos))
    for name, values in columns.items():
        table[name] = values
    table["trades"] = table["trades"].astype(np.int64)
    return table


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Yield consecutive slices of ``items`` of at most ``size`` elements."""
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def with_progress(parts: Iterator[Sequence[Any]], total: int, enabled: bool) -> Iterator[Sequence[Any]]:
    """Yield ``parts`` unchanged, with a tqdm bar counting their items when ``enabled``."""
    if not enabled:
        yield from parts
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="combo", desc="sweep", leave=False) as bar:
        for part in parts:
            yield part
            bar.update(len(part))


def plain(value: Any) -> Any:
    """Return a NumPy scalar as the Python value it holds (anything else unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def costs_payload(costs: Costs | Mapping[str, Costs]) -> dict[str, Any]:
    """JSON-ready costs: ``fees_bps`` and ``slippage``, each per symbol when costs differ by member."""
    if isinstance(costs, Costs):
        return costs.to_dict()
    return {
        "fees_bps": {symbol: cost.fees_bps for symbol, cost in costs.items()},
        "slippage": {symbol: cost.slippage.to_dict() for symbol, cost in costs.items()},
    }


@dataclass
class SweepResult:
    """All combinations' statistics, ranked by ``metric`` (best first; NaN last).

    ``symbols`` names the universe's members for a portfolio sweep (empty for one symbol); its
    ``costs`` are then per member.
    """

    strategy: type[Strategy]
    table: pd.DataFrame
    metric: str
    skipped: int
    costs: Costs | Mapping[str, Costs]
    init_cash: float
    start: pd.Timestamp
    end: pd.Timestamp
    bars: int
    param_names: list[str] = field(default_factory=list)
    symbols: tuple[str, ...] = ()

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of the best combination."""
        row = self.table.iloc[0]
        return {name: plain(row[name]) for name in self.param_names}

    def best_strategy(self) -> Strategy:
        """Return a strategy instance configured with the best parameters."""
        return self.strategy(**self.best_params)

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.table.head(n)

    @property
    def stat_names(self) -> list[str]:
        """The statistics columns of :attr:`table` (everything but the parameters)."""
        return [column for column in self.table.columns if column not in self.param_names]

    def to_dict(self, top: int | None = 10) -> dict[str, Any]:
        """Return a JSON-ready summary with the ``top`` combinations (all when ``None``)."""
        rows = self.table if top is None else self.table.head(top)
        stats = self.stat_names
        universe = {"symbols": list(self.symbols)} if self.symbols else {}
        return {
            "strategy": self.strategy.name,
            "metric": self.metric,
            **universe,
            "combinations": len(self.table),
            "skipped": self.skipped,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "init_cash": self.init_cash,
            **costs_payload(self.costs),
            "best_params": self.best_params,
            "results": [
                {
                    "params": {name: plain(row[name]) for name in self.param_names},
                    **{stat: plain(row[stat]) for stat in stats},
                }
                for _, row in rows.iterrows()
            ],
        }


@dataclass
class WalkForwardResult:
    """Per-fold table, stitched out-of-sample equity and its statistics (``symbols`` for a universe)."""

    strategy: type[Strategy]
    metric: str
    folds: pd.DataFrame
    equity: pd.Series
    stats: dict[str, Any]
    train_bars: int
    test_bars: int
    anchored: bool
    costs: Costs | Mapping[str, Costs]
    init_cash: float
    skipped: int
    param_names: list[str] = field(default_factory=list)
    symbols: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: settings, out-of-sample stats and one entry per fold."""
        folds = []
        for _, row in self.folds.iterrows():
            entry = {key: plain(row[key]) for key in self.folds.columns if key not in self.param_names}
            entry["params"] = {name: plain(row[name]) for name in self.param_names}
            folds.append(entry)
        universe = {"symbols": list(self.symbols)} if self.symbols else {}
        return {
            "strategy": self.strategy.name,
            "metric": self.metric,
            **universe,
            "train_bars": self.train_bars,
            "test_bars": self.test_bars,
            "anchored": self.anchored,
            "init_cash": self.init_cash,
            **costs_payload(self.costs),
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


def to_stitched_rows(positions: np.ndarray, n_bars: int, offset: int) -> np.ndarray:
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


def stitch(fold_values: list[np.ndarray], init_cash: float, index: pd.DatetimeIndex) -> pd.Series:
    """Chain the test windows' returns (each window's first against the initial cash) into one equity curve."""
    returns = [np.diff(np.concatenate([[init_cash], value])) / np.concatenate([[init_cash], value[:-1]]) for value in fold_values]
    equity = init_cash * np.cumprod(1.0 + np.concatenate(returns))
    return pd.Series(equity, index=index, name="oos_equity")


def oos_stats(
    equity: pd.Series,
    positions: np.ndarray,
    init_cash: float,
    bars_per_year: float,
    fees_paid: float,
    held: np.ndarray | None = None,
) -> dict[str, Any]:
    """Statistics of the stitched out-of-sample equity.

    ``held`` (one flag per bar: any position at the close) gives the exposure of a portfolio, whose
    members' positions overlap in time; without it exposure comes from the position records.
    """
    raw = equity_stats(equity.to_numpy(), init_cash, bars_per_year)
    raw.update(trade_stats(positions, 1, len(equity)))
    if held is not None:
        raw["exposure"] = np.array([held.mean()])
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


def grid_signals(cls: type[Strategy], bars: pd.DataFrame, combos: Sequence[Mapping[str, Any]], cache: GridCache) -> np.ndarray:
    """Return ``cls.signals_grid`` of ``combos`` on ``bars`` as a ``(bars, combinations)`` array, shape checked."""
    # User strategies may override signals_grid without the optional cache argument.
    if "cache" in inspect.signature(cls.signals_grid).parameters:
        targets = cls.signals_grid(bars, combos, cache=cache)
    else:
        targets = cls.signals_grid(bars, combos)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != (len(bars), len(combos)):
        raise StrategyError(
            f"{cls.name}: signals_grid must return shape {(len(bars), len(combos))}, got {targets.shape}"
        )
    return targets
