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

from tradepulse.strategy.base import BoolParam, ChoiceParam, FloatParam, GridCache, IntParam, Param, ParamSpec, Strategy
from tradepulse.strategy.builtin import BUILTIN_STRATEGIES, Composite, MeanReversion, SmaCross
from tradepulse.strategy.loader import list_strategies, load_strategy
from tradepulse.strategy.portfolio import EqualShare, PortfolioStrategy, as_portfolio
from tradepulse.strategy.portfolio_builtin import Momentum, Pairs, Synchrony

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
