"""Strategies: one class with typed parameters and one causal ``signals(bars)`` method, two runners.

The backtest evaluates ``signals`` over the whole frame; the live engine evaluates it on a rolling
window of ``warmup_bars`` bars each time a bar closes and acts on the last row.

Examples
--------
>>> from tradepulse.strategy import load_strategy
>>> strategy = load_strategy("sma_cross")(fast=10, slow=30)
>>> strategy.warmup_bars
30
"""

from tradepulse.model.lazy import lazy_attributes
from tradepulse.strategy.base import BoolParam, ChoiceParam, FloatParam, GridCache, IntParam, Param, ParamSpec, Strategy
from tradepulse.strategy.loader import list_strategies, load_strategy
from tradepulse.strategy.portfolio import EqualShare, PortfolioStrategy, as_portfolio

# The built-in strategies import the indicators and numba (a quarter of a second): loaded on first
# use, so a process that runs a strategy of its own (a live replay, the service) starts without them.
_BUILTIN_MODULES = {
    "BUILTIN_STRATEGIES": "tradepulse.strategy.builtin", "Composite": "tradepulse.strategy.builtin",
    "MeanReversion": "tradepulse.strategy.builtin", "SmaCross": "tradepulse.strategy.builtin",
    "Momentum": "tradepulse.strategy.portfolio_builtin", "Pairs": "tradepulse.strategy.portfolio_builtin",
    "Synchrony": "tradepulse.strategy.portfolio_builtin",
}


__getattr__ = lazy_attributes(__name__, _BUILTIN_MODULES)

__all__ = [
    "BUILTIN_STRATEGIES",
    "BoolParam",
    "ChoiceParam",
    "Composite",
    "EqualShare",
    "PortfolioStrategy",
    "as_portfolio",
    "FloatParam",
    "GridCache",
    "IntParam",
    "MeanReversion",
    "Momentum",
    "Pairs",
    "Param",
    "ParamSpec",
    "SmaCross",
    "Strategy",
    "Synchrony",
    "list_strategies",
    "load_strategy",
]
