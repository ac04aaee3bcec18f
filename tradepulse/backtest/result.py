"""Backtest results: statistics (vectorised over sweep columns), equity, trades, fills, reports.

Statistics (``r`` are per-bar simple returns of equity, the first one against the initial cash;
``P`` is bars per year, 365 days divided by the bar interval):

- ``total_return`` = final equity / initial cash - 1
- ``cagr`` = (final / initial) ** (P / bars) - 1
- ``sharpe`` = mean(r) / std(r, ddof=1) * sqrt(P)   (risk-free rate 0)
- ``sortino`` = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(P)
- ``max_drawdown`` = min(equity / running peak of equity - 1)   (a negative fraction)
- ``calmar`` = cagr / |max_drawdown|
- ``trades`` = positions opened (flat to long/short, or a reversal), including one still open
- ``win_rate`` = share of closed trades with positive P&L (after fees)
- ``profit_factor`` = gross profit / gross loss of closed trades
- ``exposure`` = share of bars that close with a position

These match vectorbt's own ``sharpe_ratio``, ``sortino_ratio``, ``max_drawdown``,
``annualized_return`` and ``calmar_ratio`` (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numba import njit

from tradepulse.backtest.report import equity_figure, price_figure, write_html_report
from tradepulse.data import format_timeframe

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import vectorbt as vbt

    from tradepulse.model.costs import Costs
    from tradepulse.strategy.base import Strategy

__all__ = ["BacktestResult", "STAT_NAMES", "YEAR", "equity_curves", "equity_drawdown", "equity_returns", "equity_stats", "fill_stats", "periods_per_year", "trade_stats"]

YEAR = pd.Timedelta(days=365)


def periods_per_year(period: pd.Timedelta) -> float:
    """Return how many bars of ``period`` make a year (365 days); the annualisation factor."""
    return YEAR / period


STAT_NAMES = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "exposure",
    "trades",
)
# vectorbt's record enums: position direction 0 = long, 1 = short; status 0 = open, 1 = closed;
# order side 0 = buy, 1 = sell.
_SHORT, _CLOSED, _SELL = 1, 1, 1


@njit(cache=True)
def _equity_from_fills_nb(
    n_rows: int,
    n_columns: int,
    close: np.ndarray,
    init_cash: float,
    column: np.ndarray,
    row: np.ndarray,
    size: np.ndarray,
    price: np.ndarray,
    fees: np.ndarray,
    side: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write account value at each close per column into ``out[column, row]``, replaying fills.

    Fills must be sorted by column, then row. ``out`` is allocated by the caller so the memory
    shows up in Python's accounting (tracemalloc) like every other array of a sweep.
    """
    k = 0
    n_fills = column.shape[0]
    for c in range(n_columns):
        cash = init_cash
        position = 0.0
        for i in range(n_rows):
            while k < n_fills and column[k] == c and row[k] == i:
                if side[k] == 0:
                    cash -= size[k] * price[k] + fees[k]
                    position += size[k]
                else:
                    cash += size[k] * price[k] - fees[k]
                    position -= size[k]
                k += 1
            out[c, i] = cash + position * close[i] if position != 0.0 else cash


def equity_curves(orders: np.ndarray, n_rows: int, n_columns: int, close: np.ndarray, init_cash: float) -> np.ndarray:
    """Return account value at each close, shape ``(bars, columns)``, by replaying fills.

    ``orders`` are vectorbt order records whose ``idx`` is the bar row. The result equals
    ``portfolio.value()`` (tested) but takes one pass into a column-major array, without
    vectorbt's intermediate cash-flow, cash, asset and asset-value matrices.
    """
    order = np.lexsort((orders["idx"], orders["col"]))
    if not np.array_equal(order, np.arange(len(order))):
        orders = orders[order]
    value = np.empty((n_columns, n_rows))
    _equity_from_fills_nb(
        n_rows,
        n_columns,
        np.ascontiguousarray(close, dtype=np.float64),
        float(init_cash),
        np.ascontiguousarray(orders["col"]),
        np.ascontiguousarray(orders["idx"]),
        np.ascontiguousarray(orders["size"]),
        np.ascontiguousarray(orders["price"]),
        np.ascontiguousarray(orders["fees"]),
        np.ascontiguousarray(orders["side"]),
        value,
    )
    return value.T


def equity_stats(value: np.ndarray, init_cash: float, bars_per_year: float) -> dict[str, np.ndarray]:
    """Return the equity-based statistics for each column of ``value`` (rows = bars)."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 1:
        value = value[:, None]
    n_bars = value.shape[0]
    returns = np.empty_like(value)
    returns[0] = value[0] / init_cash - 1.0
    np.divide(value[1:], value[:-1], out=returns[1:])
    returns[1:] -= 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean = returns.mean(axis=0)
        std = returns.std(axis=0, ddof=1) if n_bars > 1 else np.full(value.shape[1], np.nan)
        np.minimum(returns, 0.0, out=returns)
        np.square(returns, out=returns)
        downside = np.sqrt(returns.mean(axis=0))
        del returns
        annual = np.sqrt(bars_per_year)
        sharpe = np.where(std > 0, mean / std * annual, np.nan)
        sortino = np.where(downside > 0, mean / downside * annual, np.where(mean > 0, np.inf, np.nan))
        final = value[-1]
        total_return = final / init_cash - 1.0
        growth = final / init_cash
        cagr = np.where(growth > 0, np.power(np.maximum(growth, 0.0), bars_per_year / n_bars) - 1.0, -1.0)
        peak = np.maximum.accumulate(value, axis=0)
        np.divide(value, peak, out=peak)
        max_drawdown = peak.min(axis=0) - 1.0
        del peak
        calmar = np.where(max_drawdown < 0, cagr / np.abs(max_drawdown), np.nan)
    return {
        "total_return": total_return,
        "cagr": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_drawdown,
        "calmar": calmar,
        "final_equity": final.copy(),
    }


def trade_stats(
    positions: np.ndarray, n_columns: int, n_bars: int, end_row: int | None = None
) -> dict[str, np.ndarray]:
    """Return trade statistics per column from vectorbt position records.

    ``n_bars`` is the number of bars evaluated; ``end_row`` the simulation's row count (where an
    open position's holding ends), which is ``n_bars`` unless an anchor row precedes them.
    """
    end_row = n_bars if end_row is None else end_row
    column = positions["col"]
    closed = positions["status"] == _CLOSED
    pnl = positions["pnl"]
    trades = np.bincount(column, minlength=n_columns).astype(np.float64)
    closed_count = np.bincount(column[closed], minlength=n_columns)
    wins = np.bincount(column[closed & (pnl > 0)], minlength=n_columns)
    gross_profit = np.bincount(column[closed & (pnl > 0)], weights=pnl[closed & (pnl > 0)], minlength=n_columns)
    gross_loss = -np.bincount(column[closed & (pnl < 0)], weights=pnl[closed & (pnl < 0)], minlength=n_columns)
    # A position entered at bar i's open is held at the close of bars i .. exit-1 (or to the end).
    held_until = np.where(closed, positions["exit_idx"], end_row)
    bars_held = np.bincount(column, weights=held_until - positions["entry_idx"], minlength=n_columns)
    with np.errstate(divide="ignore", invalid="ignore"):
        win_rate = np.where(closed_count > 0, wins / closed_count, np.nan)
        profit_factor = np.where(
            gross_loss > 0, gross_profit / gross_loss, np.where(gross_profit > 0, np.inf, np.nan)
        )
    return {
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "exposure": bars_held / n_bars,
        "trades": trades,
    }


def fill_stats(
    orders: np.ndarray,
    positions: np.ndarray,
    n_rows: int,
    n_columns: int,
    close: np.ndarray,
    init_cash: float,
    bars_per_year: float,
    skip_first: bool = False,
) -> dict[str, np.ndarray]:
    """Return every statistic in :data:`STAT_NAMES` (plus ``final_equity``, ``fees_paid``) per column.

    ``orders`` and ``positions`` are vectorbt records indexed by bar row. ``skip_first`` leaves out
    the first row: an anchor bar at whose close the account starts (used when a window is
    evaluated after earlier bars, as in walk-forward folds); nothing fills on it.
    """
    value = equity_curves(orders, n_rows, n_columns, close, init_cash)
    if skip_first:
        value = value[1:]
    n_bars = value.shape[0]
    stats = equity_stats(value, init_cash, bars_per_year)
    del value
    stats.update(trade_stats(positions, n_columns, n_bars, end_row=n_bars + int(skip_first)))
    stats["fees_paid"] = np.bincount(orders["col"], weights=orders["fees"], minlength=n_columns)
    return stats


def equity_returns(equity: pd.Series, init_cash: float) -> pd.Series:
    """Per-bar simple returns of equity (the first against the initial cash)."""
    previous = equity.shift(1).fillna(init_cash)
    return (equity / previous - 1.0).rename("returns")


def equity_drawdown(equity: pd.Series) -> pd.Series:
    """Equity relative to its running peak, minus one (0 at a new high, negative below it)."""
    return (equity / equity.cummax() - 1.0).rename("drawdown")


class BacktestResult:
    """One backtest: stats, equity curve, trades, fills, figures and an HTML report.

    Attributes
    ----------
    bars, targets
        The input bars and the target exposure per bar (decided at the close).
    orders, positions
        The fills and the round trips as vectorbt records (``idx`` is the bar row).
    portfolio
        The same run as a :class:`vectorbt.Portfolio`, for anything not exposed here; built (and
        vectorbt imported) on first use.
    strategy, costs, init_cash, bar_period
        What produced the result.
    """

    def __init__(
        self,
        *,
        bars: pd.DataFrame,
        targets: pd.Series,
        strategy: Strategy | None,
        costs: Costs,
        init_cash: float,
        bar_period: pd.Timedelta,
        orders: np.ndarray | None = None,
        positions: np.ndarray | None = None,
        portfolio: vbt.Portfolio | None = None,
        portfolio_factory: Callable[[], vbt.Portfolio] | None = None,
    ) -> None:
        self._portfolio_factory = portfolio_factory
        if portfolio is not None:
            self.__dict__["portfolio"] = portfolio
            orders, positions = portfolio.orders.values, portfolio.positions.values
        if orders is None or positions is None:
            raise TypeError("BacktestResult needs the order and position records, or a vectorbt portfolio")
        self.bars = bars
        self.targets = targets
        self.orders = orders
        self.positions = positions
        self.strategy = strategy
        self.costs = costs
        self.init_cash = float(init_cash)
        self.bar_period = bar_period
        self.bars_per_year = periods_per_year(bar_period)

    @cached_property
    def portfolio(self) -> vbt.Portfolio:
        """The run as a :class:`vectorbt.Portfolio` (``portfolio.stats()`` and the rest of vectorbt's API)."""
        if self._portfolio_factory is None:
            raise AttributeError("this result was built from records alone; it has no vectorbt portfolio")
        return self._portfolio_factory()

    @cached_property
    def equity(self) -> pd.Series:
        """Account value at each bar's close (cash plus the position marked at the close)."""
        value = equity_curves(self.orders, len(self.bars), 1, self.bars["close"].to_numpy(), self.init_cash)
        return pd.Series(value[:, 0], index=self.bars.index, name="equity")

    returns = property(lambda self: equity_returns(self.equity, self.init_cash), doc="Per-bar simple returns of equity.")
    drawdown = property(lambda self: equity_drawdown(self.equity), doc="Equity over its running peak, minus one.")

    @cached_property
    def stats(self) -> dict[str, Any]:
        """Statistics by name (see the module docstring for definitions), plus period and costs."""
        raw = fill_stats(
            self.orders,
            self.positions,
            len(self.bars),
            1,
            self.bars["close"].to_numpy(),
            self.init_cash,
            self.bars_per_year,
        )
        stats: dict[str, Any] = {name: float(raw[name][0]) for name in STAT_NAMES}
        stats["trades"] = int(stats["trades"])
        stats.update(
            start=self.bars.index[0],
            end=self.bars.index[-1],
            bars=len(self.bars),
            timeframe=_timeframe_text(self.bar_period),
            init_cash=self.init_cash,
            final_equity=float(raw["final_equity"][0]),
            fees_paid=float(raw["fees_paid"][0]),
        )
        return stats

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Round trips: one row per position from opening to flat (or reversal); the last may be open."""
        records = self.positions
        index = self.bars.index
        closed = records["status"] == _CLOSED
        exit_time = pd.Series(index[records["exit_idx"]], dtype=index.dtype).where(closed)
        return pd.DataFrame(
            {
                "entry_time": index[records["entry_idx"]],
                "exit_time": exit_time.to_numpy(),
                "side": np.where(records["direction"] == _SHORT, "short", "long"),
                "quantity": records["size"],
                "entry_price": records["entry_price"],
                "exit_price": records["exit_price"],
                "pnl": records["pnl"],
                "return": records["return"],
                "fees": records["entry_fees"] + records["exit_fees"],
                "status": np.where(closed, "closed", "open"),
            }
        )

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every order filled: time (the fill bar's open), side, quantity, price after slippage, fee."""
        records = self.orders
        return pd.DataFrame(
            {
                "time": self.bars.index[records["idx"]],
                "side": np.where(records["side"] == _SELL, "sell", "buy"),
                "quantity": records["size"],
                "price": records["price"],
                "fee": records["fees"],
                "target": self.targets.to_numpy()[records["idx"] - 1],
            }
        )

    # -- presentation ------------------------------------------------------------------------

    def equity_figure(self) -> go.Figure:
        """Plotly figure: equity curve above its drawdown."""

        return equity_figure(self)

    def price_figure(self) -> go.Figure:
        """Plotly figure: close price with buy and sell fills marked."""

        return price_figure(self)

    def to_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write a self-contained HTML report (plotly.js inlined: it opens offline) and return its path."""

        return write_html_report(self, Path(path), title=title)

    def to_dict(self, include_trades: bool = True) -> dict[str, Any]:
        """Return a JSON-ready summary: strategy, params, costs, stats and (optionally) trades and fills."""
        payload: dict[str, Any] = {
            "strategy": self.strategy.name if self.strategy else None,
            "params": self.strategy.params if self.strategy else {},
            "fees_bps": self.costs.fees_bps,
            "slippage": self.costs.slippage.to_dict(),
            "fill_convention": "signal at bar close, fill at next bar open",
            **self.stats,
        }
        if include_trades:
            payload["trade_list"] = _records(self.trades)
            payload["fills"] = _records(self.fills)
        return payload

    def summary(self) -> str:
        """Return the stats as an aligned two-column text table."""
        return format_stats(self.stats)

    def __repr__(self) -> str:
        name = repr(self.strategy) if self.strategy else "targets"
        stats = self.stats
        return (
            f"<BacktestResult {name} {stats['start']} -> {stats['end']}: "
            f"total_return={stats['total_return']:.2%} sharpe={stats['sharpe']:.2f} trades={stats['trades']}>"
        )


def format_stats(stats: dict[str, Any]) -> str:
    """Format a stats mapping as aligned ``name  value`` lines (percentages where they read better)."""
    percent = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure"}
    lines = []
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        if isinstance(value, float) and key in percent:
            text = f"{value:.2%}" if np.isfinite(value) else "n/a"
        elif isinstance(value, float):
            text = f"{value:,.4f}" if np.isfinite(value) else ("inf" if value == np.inf else "n/a")
        else:
            text = str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)


def _timeframe_text(period: pd.Timedelta) -> str:
    return format_timeframe(period) or str(period)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for row in frame.itertuples(index=False):
        record = {}
        for key, value in zip(frame.columns, row, strict=True):
            if isinstance(value, pd.Timestamp):
                value = None if pd.isna(value) else value.tz_convert("UTC") if value.tzinfo else value.tz_localize("UTC")
            elif value is pd.NaT:
                value = None
            record[key] = value
        rows.append(record)
    return rows
