"""Backtesting on vectorbt: one run, parameter sweeps and walk-forward optimisation.

Signals are decided at a bar's close and filled at the next bar's open; orders are placed only
when the target exposure changes. Over a universe (:mod:`tradepulse.data.universe`) a portfolio
strategy's weights share one cash account (``run_portfolio_backtest``), and ``run_sweep`` /
``run_walkforward`` take a universe as well as one symbol's bars. See ``docs/backtesting.md``.

vectorbt takes seconds to import, so the names below load their module on first use: importing
``tradepulse.backtest`` (or its cost models) stays cheap for commands that fail fast on bad input.

Examples
--------
>>> from tradepulse.data import load_bars
>>> from tradepulse.backtest import run_backtest, Costs
>>> bars = load_bars("sample:binance:BTC/USDT:1h")
>>> result = run_backtest(bars, "sma_cross", {"fast": 10, "slow": 30}, costs=Costs(fees_bps=10))
>>> result.stats["bars"]
583
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradepulse.model.costs import Costs, FixedSlippage, RangeSlippage
from tradepulse.model.lazy import lazy_attributes

_LAZY = {
    "DEFAULT_INIT_CASH": "engine",
    "backtest_targets": "engine",
    "bar_period": "engine",
    "check_bars": "engine",
    "order_sizes": "engine",
    "periods_per_year": "engine",
    "run_backtest": "engine",
    "simulate": "engine",
    "simulate_fills": "engine",
    "STAT_NAMES": "result",
    "BacktestResult": "result",
    "DEFAULT_MAX_COMBINATIONS": "sweep",
    "SweepResult": "sweep",
    "expand_grid": "sweep",
    "parse_grid": "sweep",
    "run_sweep": "sweep",
    "WalkForwardResult": "walkforward",
    "PortfolioBacktestResult": "portfolio_result",
    "backtest_weights": "portfolio",
    "run_portfolio_backtest": "portfolio",
    "simulate_portfolio": "portfolio",
    "run_portfolio_sweep": "portfolio_sweep",
    "run_portfolio_walkforward": "portfolio_walkforward",
    "run_walkforward": "walkforward",
}

__all__ = ["Costs", "FixedSlippage", "RangeSlippage", *_LAZY]

if TYPE_CHECKING:
    from tradepulse.backtest.engine import (
        DEFAULT_INIT_CASH,
        backtest_targets,
        bar_period,
        check_bars,
        order_sizes,
        periods_per_year,
        run_backtest,
        simulate,
        simulate_fills,
    )
    from tradepulse.backtest.portfolio import backtest_weights, run_portfolio_backtest, simulate_portfolio
    from tradepulse.backtest.portfolio_result import PortfolioBacktestResult
    from tradepulse.backtest.portfolio_sweep import run_portfolio_sweep
    from tradepulse.backtest.portfolio_walkforward import run_portfolio_walkforward
    from tradepulse.backtest.result import STAT_NAMES, BacktestResult
    from tradepulse.backtest.sweep import DEFAULT_MAX_COMBINATIONS, SweepResult, expand_grid, parse_grid, run_sweep
    from tradepulse.backtest.walkforward import WalkForwardResult, run_walkforward


__getattr__ = lazy_attributes(__name__, {name: f"tradepulse.backtest.{module}" for name, module in _LAZY.items()})


def __dir__() -> list[str]:
    return sorted(__all__)
