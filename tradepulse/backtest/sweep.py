"""Parameter sweeps: every combination of a grid in vectorised, memory-bounded chunks.

For each chunk of combinations the strategy builds a ``(bars, combinations)`` target matrix
(:meth:`Strategy.signals_grid`), and one ``vectorbt.Portfolio.from_orders`` call simulates all of
its columns; only the per-combination statistics are kept. The chunk size comes from a memory
budget: roughly :data:`BYTES_PER_CELL` bytes per (bar, combination) cell are alive while a chunk
runs, so ``chunk = budget / (bars * BYTES_PER_CELL)``.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.backtest.engine import DEFAULT_INIT_CASH, _clean_targets, bar_period, check_bars, periods_per_year, simulate_fills
from tradepulse.backtest.result import STAT_NAMES, fill_stats
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import GridCache, Strategy
from tradepulse.strategy.loader import load_strategy

__all__ = [
    "BYTES_PER_CELL",
    "DEFAULT_MAX_COMBINATIONS",
    "DEFAULT_MEMORY_BUDGET",
    "SweepResult",
    "chunk_size",
    "expand_grid",
    "parse_grid",
    "run_sweep",
]

DEFAULT_MAX_COMBINATIONS = 100_000
DEFAULT_MEMORY_BUDGET = 2 * 1024**3
#: Bytes alive per (bar, combination) cell while a chunk runs: the target matrix, the strategy's
#: temporaries, order sizes, vectorbt's broadcast close and call sequence, cash/asset/value arrays
#: and the statistics' scratch arrays. Measured at 40-50 bytes with tracemalloc; 96 leaves room
#: for what tracemalloc cannot see (numba-allocated scratch inside vectorbt).
BYTES_PER_CELL = 96
#: Bytes per bar used however many combinations a chunk holds (bar slices, closes, slippage).
BYTES_PER_BAR = 64
#: Share of the budget the strategy may keep in its cross-chunk cache (moving averages and such).
CACHE_SHARE = 0.25
RANKING_METRICS = (*STAT_NAMES, "final_equity")


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


def chunk_size(n_bars: int, memory_budget_bytes: int) -> int:
    """Return how many combinations to simulate at once within ``memory_budget_bytes`` (at least 1)."""
    available = memory_budget_bytes - n_bars * BYTES_PER_BAR
    return max(1, int(available // max(1, n_bars * BYTES_PER_CELL)))


@dataclass
class SweepResult:
    """All combinations' statistics, ranked by ``metric`` (best first; NaN last)."""

    strategy: type[Strategy]
    table: pd.DataFrame
    metric: str
    skipped: int
    costs: Costs
    init_cash: float
    start: pd.Timestamp
    end: pd.Timestamp
    bars: int
    param_names: list[str] = field(default_factory=list)

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of the best combination."""
        row = self.table.iloc[0]
        return {name: _plain(row[name]) for name in self.param_names}

    def best_strategy(self) -> Strategy:
        """Return a strategy instance configured with the best parameters."""
        return self.strategy(**self.best_params)

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.table.head(n)

    def to_dict(self, top: int | None = 10) -> dict[str, Any]:
        """Return a JSON-ready summary with the ``top`` combinations (all when ``None``)."""
        rows = self.table if top is None else self.table.head(top)
        return {
            "strategy": self.strategy.name,
            "metric": self.metric,
            "combinations": len(self.table),
            "skipped": self.skipped,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "init_cash": self.init_cash,
            **self.costs.to_dict(),
            "best_params": self.best_params,
            "results": [
                {
                    "params": {name: _plain(row[name]) for name in self.param_names},
                    **{stat: _plain(row[stat]) for stat in RANKING_METRICS},
                }
                for _, row in rows.iterrows()
            ],
        }


def run_sweep(
    bars: pd.DataFrame,
    strategy: type[Strategy] | str,
    grid: Mapping[str, Sequence[Any]],
    *,
    fixed_params: Mapping[str, Any] | None = None,
    costs: Costs | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
    metric: str = "sharpe",
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
    progress: bool = False,
) -> SweepResult:
    """Backtest every combination of ``grid`` and rank them by ``metric``.

    Parameters
    ----------
    grid
        Values per parameter, e.g. ``{"fast": range(5, 55, 5), "slow": [100, 200]}``.
    fixed_params
        Parameters held constant across the sweep (e.g. ``{"allow_short": True}``).
    metric
        A statistic from :data:`~tradepulse.backtest.result.STAT_NAMES`; higher ranks first.
    memory_budget_bytes
        Memory the sweep may use at once; it decides the chunk size.
    max_combinations
        Grids larger than this are refused before any work starts.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> result = run_sweep(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross", {"fast": [5, 10], "slow": [30, 60]})
    >>> len(result.table)
    4
    """
    cls = load_strategy(strategy)
    check_metric(metric)
    bars = check_bars(bars)
    combos, skipped = expand_grid(cls, grid, fixed_params, max_combinations)
    costs = costs or Costs()
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


def check_metric(metric: str) -> None:
    if metric not in RANKING_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(RANKING_METRICS)}")


def rank(stats: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Sort best first by ``metric`` (stable, so ties keep grid order); NaN ranks last."""
    ranked = stats.sort_values(metric, ascending=False, na_position="last", kind="stable")
    return ranked.reset_index(drop=True)


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
    if memory_budget_bytes <= 0:
        raise ConfigError(f"memory budget must be positive, got {memory_budget_bytes!r}")
    history = max(cls(**combo).warmup_bars for combo in combos)
    first_signal_row = max(0, start - history)
    sim_start = start - 1 if start > 0 else 0
    window = bars.iloc[first_signal_row:end]
    sim_bars = bars.iloc[sim_start:end]
    sim_close = sim_bars["close"].to_numpy(dtype=np.float64)
    bars_per_year = periods_per_year(bar_period(bars))
    cache = GridCache(max_bytes=int(memory_budget_bytes * CACHE_SHARE))
    per_chunk = chunk_size(len(window), memory_budget_bytes - cache.max_bytes)
    columns: dict[str, list[np.ndarray]] = {}
    for chunk in _progress(_chunks(combos, per_chunk), len(combos), progress):
        targets = _grid_signals(cls, window, chunk, cache)[sim_start - first_signal_row :]
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
    table = pd.DataFrame(list(combos))
    for name, parts in columns.items():
        table[name] = np.concatenate(parts)
    table["trades"] = table["trades"].astype(np.int64)
    return table


def _grid_signals(cls: type[Strategy], bars: pd.DataFrame, combos: Sequence[Mapping[str, Any]], cache: GridCache) -> np.ndarray:
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


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def _progress(chunks: Iterator[Sequence[Any]], total: int, enabled: bool) -> Iterator[Sequence[Any]]:
    if not enabled:
        yield from chunks
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="combo", desc="sweep", leave=False) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
