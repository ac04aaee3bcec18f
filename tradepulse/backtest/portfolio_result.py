"""Portfolio backtest results: the shared account's statistics and each member's part in them.

Portfolio statistics are today's single-symbol statistics (see :mod:`tradepulse.backtest.result`)
computed on the shared account's equity, plus ``turnover``. Trade statistics count every member's
positions; ``exposure`` is the share of bars that close holding any member.

Per-symbol statistics (:attr:`PortfolioBacktestResult.per_symbol`):

- ``contribution``: the member's P&L in the quote currency (its position marked at the close plus
  every cash flow its orders caused, fees included); the members' contributions sum to the account's
  P&L. ``contribution_pct`` is that over the initial cash.
- ``turnover``: traded notional in the member divided by the account's mean equity.
- ``exposure``, ``trades``, ``win_rate``, ``profit_factor``, ``fees_paid``: as for one symbol, on
  the member's own positions; ``mean_abs_weight``: its mean |target weight|.
- ``total_return``, ``sharpe``, ``max_drawdown``: of the member's *sleeve*, an equal share of the
  initial cash plus the member's running contribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradepulse.backtest.portfolio_report import contributions_figure, equity_figure, weights_heatmap, write_portfolio_html_report
from tradepulse.backtest.result import STAT_NAMES, equity_drawdown, equity_returns, equity_stats, format_stats, periods_per_year, trade_stats
from tradepulse.data import format_timeframe

if TYPE_CHECKING:
    from pathlib import Path

    import plotly.graph_objects as go
    import vectorbt as vbt

    from tradepulse.data.universe import Universe
    from tradepulse.model.costs import Costs
    from tradepulse.strategy.portfolio import PortfolioStrategy

__all__ = ["PER_SYMBOL_STATS", "PortfolioBacktestResult"]

PER_SYMBOL_STATS = (
    "contribution",
    "contribution_pct",
    "turnover",
    "exposure",
    "trades",
    "win_rate",
    "profit_factor",
    "fees_paid",
    "mean_abs_weight",
    "total_return",
    "sharpe",
    "max_drawdown",
)
_SHORT, _CLOSED, _SELL = 1, 1, 1


class PortfolioBacktestResult:
    """One portfolio backtest: account statistics, per-symbol statistics, equity, trades and fills.

    Attributes
    ----------
    universe, weights
        The members' bars and the target weights per bar and symbol (decided at the close).
    portfolio
        The underlying grouped :class:`vectorbt.Portfolio` (one group, cash shared).
    """

    def __init__(
        self,
        *,
        universe: Universe,
        weights: pd.DataFrame,
        portfolio: vbt.Portfolio,
        strategy: PortfolioStrategy | None,
        costs: Mapping[str, Costs],
        init_cash: float,
        bar_period: pd.Timedelta,
    ) -> None:
        self.universe = universe
        self.weights = weights
        self.portfolio = portfolio
        self.strategy = strategy
        self.costs = dict(costs)
        self.init_cash = float(init_cash)
        self.bar_period = bar_period
        self.bars_per_year = periods_per_year(bar_period)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.universe.symbols

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.universe.bars.index

    # -- series --------------------------------------------------------------------------------

    @cached_property
    def equity(self) -> pd.Series:
        """The shared account's value at each close."""
        return pd.Series(np.asarray(self.portfolio.value()).ravel(), index=self.index, name="equity")

    returns = property(lambda self: equity_returns(self.equity, self.init_cash), doc="Per-bar simple returns of the account's equity.")
    drawdown = property(lambda self: equity_drawdown(self.equity), doc="The account's equity over its running peak, minus one.")

    @cached_property
    def contributions(self) -> pd.DataFrame:
        """Each member's running P&L (``bars x symbols``): position marked at the close plus its cash flows."""
        asset_value = np.asarray(self.portfolio.asset_value(group_by=False))
        cash_flow = np.asarray(self.portfolio.cash_flow(group_by=False))
        return pd.DataFrame(asset_value + np.cumsum(cash_flow, axis=0), index=self.index, columns=list(self.symbols))

    @cached_property
    def positions(self) -> pd.DataFrame:
        """Quantity held in each member at each close (negative short)."""
        return pd.DataFrame(np.asarray(self.portfolio.assets()), index=self.index, columns=list(self.symbols))

    @cached_property
    def exposures(self) -> pd.DataFrame:
        """Each member's position value over the account's equity at each close (signed)."""
        value = np.asarray(self.portfolio.asset_value(group_by=False))
        return pd.DataFrame(value / self.equity.to_numpy()[:, None], index=self.index, columns=list(self.symbols))

    # -- statistics ----------------------------------------------------------------------------

    def _orders(self) -> np.ndarray:
        return self.portfolio.orders.values

    def _positions(self) -> np.ndarray:
        return self.portfolio.positions.values

    @cached_property
    def stats(self) -> dict[str, Any]:
        """Account statistics by name (today's names plus ``turnover``, ``symbols``)."""
        n_bars = len(self.index)
        equity = self.equity.to_numpy()
        account = equity_stats(equity, self.init_cash, self.bars_per_year)
        positions = self._positions().copy()
        positions["col"] = 0
        trades = trade_stats(positions, 1, n_bars)
        stats: dict[str, Any] = {name: float(account[name][0]) for name in STAT_NAMES if name in account}
        stats.update({name: float(trades[name][0]) for name in ("win_rate", "profit_factor", "trades")})
        held = np.abs(self.positions.to_numpy()).sum(axis=1) > 0
        stats["exposure"] = float(held.mean())
        stats = {name: stats[name] for name in STAT_NAMES}
        stats["trades"] = int(stats["trades"])
        orders = self._orders()
        stats.update(
            start=self.index[0],
            end=self.index[-1],
            bars=n_bars,
            timeframe=format_timeframe(self.bar_period) or str(self.bar_period),
            symbols=len(self.symbols),
            init_cash=self.init_cash,
            final_equity=float(equity[-1]),
            fees_paid=float(orders["fees"].sum()),
            turnover=float(np.abs(orders["size"] * orders["price"]).sum() / equity.mean()),
        )
        return stats

    @cached_property
    def per_symbol(self) -> pd.DataFrame:
        """Statistics per member (rows = symbols; see the module docstring for definitions)."""
        n_symbols = len(self.symbols)
        n_bars = len(self.index)
        orders = self._orders()
        trades = trade_stats(self._positions(), n_symbols, n_bars)
        contribution = self.contributions.to_numpy()
        sleeve_cash = self.init_cash / n_symbols
        sleeves = equity_stats(sleeve_cash + contribution, sleeve_cash, self.bars_per_year)
        notional = np.bincount(orders["col"], weights=np.abs(orders["size"] * orders["price"]), minlength=n_symbols)
        fees = np.bincount(orders["col"], weights=orders["fees"], minlength=n_symbols)
        frame = pd.DataFrame(
            {
                "contribution": contribution[-1],
                "contribution_pct": contribution[-1] / self.init_cash,
                "turnover": notional / self.equity.mean(),
                "exposure": trades["exposure"],
                "trades": trades["trades"].astype(int),
                "win_rate": trades["win_rate"],
                "profit_factor": trades["profit_factor"],
                "fees_paid": fees,
                "mean_abs_weight": np.abs(self.weights.to_numpy()).mean(axis=0),
                "total_return": sleeves["total_return"],
                "sharpe": sleeves["sharpe"],
                "max_drawdown": sleeves["max_drawdown"],
            },
            index=pd.Index(list(self.symbols), name="symbol"),
        )
        return frame

    # -- records -------------------------------------------------------------------------------

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Round trips per member, with a ``symbol`` column; the last of a member may be open."""
        records = self._positions()
        closed = records["status"] == _CLOSED
        exit_time = pd.Series(self.index[records["exit_idx"]], dtype=self.index.dtype).where(closed)
        return pd.DataFrame(
            {
                "symbol": np.asarray(self.symbols, dtype=object)[records["col"]],
                "entry_time": self.index[records["entry_idx"]],
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
        ).sort_values(["entry_time", "symbol"], kind="stable", ignore_index=True)

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every order filled, in execution order (sells before buys on a bar): time, symbol, side, quantity, price, fee."""
        records = self._orders()
        weights = self.weights.to_numpy()
        return pd.DataFrame(
            {
                "time": self.index[records["idx"]],
                "symbol": np.asarray(self.symbols, dtype=object)[records["col"]],
                "side": np.where(records["side"] == _SELL, "sell", "buy"),
                "quantity": records["size"],
                "price": records["price"],
                "fee": records["fees"],
                "target": weights[records["idx"] - 1, records["col"]],
            }
        )

    # -- presentation --------------------------------------------------------------------------

    def to_dict(self, include_trades: bool = True) -> dict[str, Any]:
        """Return a JSON-ready summary: strategy, params, costs, account stats, per-symbol stats."""
        payload: dict[str, Any] = {
            "strategy": self.strategy.name if self.strategy else None,
            "params": self.strategy.params if self.strategy else {},
            "fees_bps": {s: c.fees_bps for s, c in self.costs.items()},
            "slippage": {s: c.slippage.to_dict() for s, c in self.costs.items()},
            "fill_convention": "weights at bar close, rebalanced at next bar open, one shared cash account",
            "alignment": self.universe.alignment.to_dict(),
            **self.stats,
            # After the stats: their ``symbols`` is the member count; the payload names the members.
            "symbols": list(self.symbols),
            "per_symbol": {
                symbol: {k: _plain(v) for k, v in row.items()} for symbol, row in self.per_symbol.to_dict("index").items()
            },
        }
        if include_trades:
            payload["trade_list"] = _records(self.trades)
            payload["fills"] = _records(self.fills)
        return payload

    def summary(self) -> str:
        """Return the account stats and the per-symbol table as text."""
        per_symbol = self.per_symbol[["contribution", "turnover", "exposure", "trades", "win_rate"]]
        return format_stats(self.stats) + "\n\n" + per_symbol.to_string(float_format=lambda v: f"{v:,.4f}")

    def __repr__(self) -> str:
        name = repr(self.strategy) if self.strategy else "weights"
        stats = self.stats
        return (
            f"<PortfolioBacktestResult {name} over {len(self.symbols)} symbols {stats['start']} -> {stats['end']}: "
            f"total_return={stats['total_return']:.2%} sharpe={stats['sharpe']:.2f} trades={stats['trades']}>"
        )

    def equity_figure(self) -> go.Figure:
        """Plotly figure: the shared account's equity above its drawdown."""
        return equity_figure(self)

    def weights_figure(self) -> go.Figure:
        """Plotly figure: target weights as a symbols x time heatmap."""
        return weights_heatmap(self)

    def contributions_figure(self) -> go.Figure:
        """Plotly figure: each member's running contribution to P&L, and its final contribution."""
        return contributions_figure(self)

    def to_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write a self-contained HTML report (plotly.js inlined: it opens offline) and return its path."""
        return write_portfolio_html_report(self, path, title=title)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for row in frame.itertuples(index=False):
        record = {}
        for key, value in zip(frame.columns, row, strict=True):
            if isinstance(value, pd.Timestamp):
                value = None if pd.isna(value) else value
            elif value is pd.NaT:
                value = None
            record[key] = _plain(value)
        rows.append(record)
    return rows
