"""The backtest engine: strategy targets to vectorbt orders, with one explicit fill convention.

Fill convention
---------------
The target a strategy returns for bar ``t`` is decided at ``t``'s close and filled at bar
``t+1``'s open (vectorbt ``size_type='targetpercent'``, ``price=open``). An order is placed only
when the target changes; between changes the position is left alone (it is not rebalanced as its
share of equity drifts). The first bar never trades, and a target on the last bar never fills.
Fees and slippage come from :class:`~tradepulse.model.costs.Costs`.

The live engine follows the same rule: evaluate on the closed bar, fill at the next available
price, trade only when the target changes. That is what makes replaying history through it
reproduce these fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tradepulse.backtest.result import YEAR, BacktestResult, periods_per_year
from tradepulse.backtest.simulator import exit_trades, positions_from_trades, simulate_orders
from tradepulse.errors import ConfigError, DataError, StrategyError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import Strategy
from tradepulse.strategy.loader import load_strategy

if TYPE_CHECKING:
    import vectorbt as vbt

__all__ = [
    "DEFAULT_INIT_CASH",
    "YEAR",
    "run_backtest",
    "backtest_targets",
    "check_bars",
    "check_targets",
    "order_sizes",
    "bar_period",
    "periods_per_year",
    "simulate",
    "simulate_fills",
    "GridFills",
]

DEFAULT_INIT_CASH = 10_000.0
#: Crypto trades every day; the year used for annualisation is 365 calendar days (vectorbt's default).
REQUIRED_COLUMNS = ("open", "high", "low", "close", "volume")


def run_backtest(
    bars: pd.DataFrame,
    strategy: Strategy | str,
    params: dict[str, object] | None = None,
    *,
    costs: Costs | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
) -> BacktestResult:
    """Backtest ``strategy`` on ``bars``: targets at each close, filled at the next bar's open.

    Parameters
    ----------
    bars
        Bar frame with a sorted ``DatetimeIndex`` and ``open, high, low, close, volume`` columns.
    strategy
        A strategy instance, or anything :func:`~tradepulse.strategy.load_strategy` accepts
        (then ``params`` configures it).
    costs
        Fees and slippage; defaults to 10 bps fees and no slippage.
    init_cash
        Starting equity in quote currency.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> result = run_backtest(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross", {"fast": 10, "slow": 30})
    >>> sorted(result.stats)[:3]
    ['bars', 'cagr', 'calmar']
    """
    if not isinstance(strategy, Strategy):
        strategy = load_strategy(strategy)(**(params or {}))
    elif params:
        strategy = strategy.with_params(**params)
    bars = check_bars(bars)
    targets = check_targets(strategy.signals(bars), bars, strategy.name)
    return backtest_targets(bars, pd.Series(targets, index=bars.index), costs=costs, init_cash=init_cash, strategy=strategy)


def backtest_targets(
    bars: pd.DataFrame,
    targets: pd.Series,
    *,
    costs: Costs | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
    strategy: Strategy | None = None,
) -> BacktestResult:
    """Backtest a ready-made target series (e.g. targets recorded by the live engine)."""
    bars = check_bars(bars)
    costs = costs or Costs()
    values = check_targets(targets, bars, strategy.name if strategy else "targets")
    _check_cash(init_cash)
    # One account's fills replayed without vectorbt (its import alone took seconds); the records
    # are vectorbt's, bit for bit (tests), and ``result.portfolio`` still builds its Portfolio.
    orders = simulate_orders(bars["open"].to_numpy(dtype=np.float64), order_sizes(values), fees=costs.fee_fraction,
                             slippage=costs.slippage_fractions(bars, init_cash), init_cash=float(init_cash))
    trades = exit_trades(orders, float(bars["close"].iloc[-1]), len(bars) - 1)
    return BacktestResult(
        bars=bars,
        targets=pd.Series(values, index=bars.index, name="target"),
        orders=orders,
        positions=positions_from_trades(trades),
        # vectorbt's own Portfolio of the same run, built (and vectorbt imported) only if asked for.
        portfolio_factory=lambda: simulate(bars, values, costs=costs, init_cash=init_cash),
        strategy=strategy,
        costs=costs,
        init_cash=init_cash,
        bar_period=bar_period(bars),
    )


def check_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Return ``bars`` if a backtest can run on it, else raise DataError saying what is wrong."""
    if not isinstance(bars, pd.DataFrame):
        raise DataError(f"bars must be a pandas DataFrame, got {type(bars).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}; need {', '.join(REQUIRED_COLUMNS)}")
    if len(bars) < 2:
        raise DataError(f"a backtest needs at least 2 bars, got {len(bars)}")
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError("bars need a DatetimeIndex (load them with tradepulse.data.load_bars)")
    if not bars.index.is_monotonic_increasing or bars.index.has_duplicates:
        raise DataError("bar timestamps must be strictly increasing")
    prices = bars[["open", "close"]].to_numpy(dtype=np.float64)
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise DataError("open and close must be positive and finite on every bar")
    return bars


def check_targets(targets: pd.Series | np.ndarray, bars: pd.DataFrame, source: str) -> np.ndarray:
    """Return targets as a float array aligned to ``bars``: NaN becomes 0 (flat), range is [-1, 1]."""
    if isinstance(targets, pd.DataFrame):
        raise StrategyError(f"{source}: signals must return a Series, got a DataFrame")
    if isinstance(targets, pd.Series):
        if len(targets) != len(bars) or not targets.index.equals(bars.index):
            raise StrategyError(f"{source}: signals must return one value per bar, indexed like the bars")
        targets = targets.to_numpy()
    try:
        values = np.asarray(targets, dtype=np.float64)
    except (TypeError, ValueError):
        raise StrategyError(f"{source}: signals must be numbers (target exposure in [-1, 1])") from None
    if values.shape != (len(bars),):
        raise StrategyError(f"{source}: signals must return {len(bars)} values, got shape {values.shape}")
    return _clean_targets(values, source)


def _clean_targets(values: np.ndarray, source: str) -> np.ndarray:
    values = np.where(np.isnan(values), 0.0, values)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if low < -1.0 or high > 1.0:
        bad = low if low < -1.0 else high
        raise StrategyError(f"{source}: target exposure must be within [-1, 1], got {bad}")
    return values


def order_sizes(targets: np.ndarray) -> np.ndarray:
    """Turn targets (rows = bars, decided at each close) into vectorbt ``targetpercent`` order sizes.

    The order at bar ``t`` carries the target decided at ``t-1`` and exists only if that target
    differs from the one before it (the account starts flat); every other cell is NaN (no order).
    """
    sizes = np.full(targets.shape, np.nan)
    if len(targets) < 2:
        return sizes
    first = targets[0]
    sizes[1] = np.where(first != 0.0, first, np.nan)
    changed = targets[1:-1] != targets[:-2]
    np.copyto(sizes[2:], targets[1:-1], where=changed)
    return sizes


def bar_period(bars: pd.DataFrame) -> pd.Timedelta:
    """Return the bar interval: the most common spacing between timestamps."""
    # In nanoseconds whatever unit the index stores (pandas 3 builds date_range in microseconds).
    steps = np.diff(bars.index.as_unit("ns").asi8)
    steps = steps[steps > 0]
    if steps.size == 0:
        raise DataError("cannot infer the bar interval from fewer than 2 distinct timestamps")
    values, counts = np.unique(steps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def simulate(
    bars: pd.DataFrame,
    targets: np.ndarray,
    *,
    costs: Costs,
    init_cash: float = DEFAULT_INIT_CASH,
    timestamps: bool = True,
) -> vbt.Portfolio:
    """Run vectorbt on targets: a 1-D array (one account) or a ``(bars, columns)`` matrix.

    All columns share the bars' open (fill price) and close (valuation), fees and slippage; each
    column is an independent account starting with ``init_cash``. A 1-D input gives a 1-D
    portfolio, so vectorbt's own methods (``portfolio.stats()``) work on it directly.
    ``timestamps=False`` indexes the portfolio by bar number instead: vectorbt's shape checks turn
    a tz-aware index into an array of Timestamp objects on every call, which dominates a sweep.
    """
    import vectorbt as vbt  # here: importing it takes seconds, and a single backtest does without

    _check_cash(init_cash)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim not in (1, 2) or targets.shape[0] != len(bars):
        raise StrategyError(f"targets must have one row per bar ({len(bars)}), got shape {targets.shape}")
    sizes = order_sizes(targets)
    order_count = int(np.count_nonzero(~np.isnan(sizes)))
    period = bar_period(bars)
    slippage = costs.slippage_fractions(bars, init_cash)
    open_prices = bars["open"].to_numpy(dtype=np.float64)
    close_prices = bars["close"].to_numpy(dtype=np.float64)
    index = bars.index if timestamps else pd.RangeIndex(len(bars))
    if targets.ndim == 1:
        close = pd.Series(close_prices, index=index, name="close")
    else:
        # Per-bar arrays become (bars, 1) columns so vectorbt broadcasts them across combinations.
        open_prices = open_prices[:, None]
        if isinstance(slippage, np.ndarray):
            slippage = slippage[:, None]
        close = pd.DataFrame(np.broadcast_to(close_prices[:, None], targets.shape), index=index)
    return vbt.Portfolio.from_orders(
        close=close,
        size=sizes,
        size_type="targetpercent",
        direction="both",
        price=open_prices,
        fees=costs.fee_fraction,
        slippage=slippage,
        init_cash=float(init_cash),
        freq=period,
        # One record per placed order is the most there can be; the default (bars x columns)
        # would allocate gigabytes of empty records in a large sweep.
        max_orders=max(order_count, 1),
    )


@dataclass
class GridFills:
    """Fills and positions of a multi-column simulation, as vectorbt records indexed by bar row."""

    orders: np.ndarray
    positions: np.ndarray
    n_rows: int
    n_columns: int


def simulate_fills(
    bars: pd.DataFrame, targets: np.ndarray, *, costs: Costs, init_cash: float = DEFAULT_INIT_CASH
) -> GridFills:
    """Return the fills :func:`simulate` would produce for each target column, computed in event time.

    Between two of its orders nothing in a column's account changes except the mark-to-market
    value, and a ``targetpercent`` order's fill depends only on the account and the fill bar's
    open (vectorbt values the position at the order price). So vectorbt is run on a packed
    ``(orders, columns)`` grid: row ``k`` of a column is that column's ``k``-th order, carrying its
    bar's open and slippage, plus one final row at the last bar where open positions are marked.
    The records are mapped back to bar rows. In a sweep this turns ``bars x combinations`` cells
    into ``orders x combinations`` (tested equal to the bar-by-bar simulation).
    """
    import vectorbt as vbt

    _check_cash(init_cash)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2 or targets.shape[0] != len(bars):
        raise StrategyError(f"target matrix must have one row per bar ({len(bars)}), got shape {targets.shape}")
    n_rows, n_columns = targets.shape
    sizes = order_sizes(targets)
    # nonzero over the transposed view lists orders column by column, in bar order within a column.
    order_column, order_row = np.nonzero(~np.isnan(sizes.T))
    per_column = np.bincount(order_column, minlength=n_columns)
    depth = int(per_column.max(initial=0)) + 1
    first_of_column = np.concatenate([[0], np.cumsum(per_column)[:-1]])
    rank = np.arange(len(order_column)) - first_of_column[order_column]
    row_map = np.full((depth, n_columns), n_rows - 1, dtype=np.int64)
    row_map[rank, order_column] = order_row
    packed_sizes = np.full((depth, n_columns), np.nan)
    packed_sizes[rank, order_column] = sizes[order_row, order_column]
    del sizes
    slippage = costs.slippage_fractions(bars, init_cash)
    if isinstance(slippage, np.ndarray):
        slippage = slippage[row_map]
    close = bars["close"].to_numpy(dtype=np.float64)
    portfolio = vbt.Portfolio.from_orders(
        close=pd.DataFrame(close[row_map]),
        size=packed_sizes,
        size_type="targetpercent",
        direction="both",
        price=bars["open"].to_numpy(dtype=np.float64)[row_map],
        fees=costs.fee_fraction,
        slippage=slippage,
        init_cash=float(init_cash),
        freq=bar_period(bars),
        max_orders=max(len(order_column), 1),
    )
    orders = portfolio.orders.values.copy()
    orders["idx"] = row_map[orders["idx"], orders["col"]]
    positions = portfolio.positions.values.copy()
    positions["entry_idx"] = row_map[positions["entry_idx"], positions["col"]]
    positions["exit_idx"] = row_map[positions["exit_idx"], positions["col"]]
    return GridFills(orders=orders, positions=positions, n_rows=n_rows, n_columns=n_columns)


def _check_cash(init_cash: float) -> None:
    if not (isinstance(init_cash, (int, float)) and math.isfinite(init_cash) and init_cash > 0):
        raise ConfigError(f"initial cash must be a positive number, got {init_cash!r}")
