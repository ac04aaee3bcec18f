"""Portfolio backtests: target weights over a universe, one shared cash account, on vectorbt.

Fill convention
---------------
The same as for one symbol, per member: the weights a strategy returns for bar ``t`` are decided
at ``t``'s close; a member whose weight changed is rebalanced to it at bar ``t+1``'s open
(vectorbt ``size_type='targetpercent'`` of the whole account's value, ``price=open``). Members
whose weight did not change are left alone. All members draw on one cash account
(``cash_sharing=True``); on a bar with several orders, sells go before buys (``call_seq='auto'``)
so the cash they free pays for the buys. Fees and slippage may differ per member.

Examples
--------
>>> from tradepulse.data.universe import load_universe
>>> from tradepulse.backtest.portfolio import run_portfolio_backtest
>>> result = run_portfolio_backtest(load_universe(["universe:binance-usdt-4h"]), "momentum", {"lookback": 30, "top": 2})
>>> sorted(result.per_symbol.index)
['BNB/USDT', 'BTC/USDT', 'ETH/USDT', 'SOL/USDT']
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
import vectorbt as vbt

from tradepulse.backtest.engine import DEFAULT_INIT_CASH, bar_period, check_bars, order_sizes
from tradepulse.backtest.portfolio_result import PortfolioBacktestResult
from tradepulse.data.universe import Universe
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.model.costs import Costs
from tradepulse.strategy.base import Strategy
from tradepulse.strategy.loader import load_strategy
from tradepulse.strategy.portfolio import PortfolioStrategy, as_portfolio, check_weights

__all__ = [
    "CostsBySymbol",
    "backtest_weights",
    "member_costs",
    "run_portfolio_backtest",
    "simulate_portfolio",
    "universe_bar_period",
]

CostsBySymbol = Costs | Mapping[str, Costs]


def run_portfolio_backtest(
    universe: Universe,
    strategy: Strategy | str,
    params: dict[str, object] | None = None,
    *,
    costs: CostsBySymbol | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
) -> PortfolioBacktestResult:
    """Backtest a portfolio strategy (or a single-symbol one, each member on an equal share) over ``universe``.

    Parameters
    ----------
    universe
        Members on one clock (:func:`tradepulse.data.universe.load_universe`).
    strategy
        A strategy instance or a name/path :func:`~tradepulse.strategy.load_strategy` accepts.
    costs
        One :class:`Costs` for every member, or ``{symbol: Costs}`` (members not named get 10 bps).
    init_cash
        Starting equity of the shared account, in the quote currency.
    """
    if not isinstance(strategy, Strategy):
        strategy = load_strategy(strategy)(**(params or {}))
    elif params:
        strategy = strategy.with_params(**params)
    portfolio_strategy = as_portfolio(strategy)
    portfolio_strategy.check_universe(universe.symbols)
    weights = portfolio_strategy.signals(universe.bars)
    return backtest_weights(
        universe,
        weights,
        costs=costs,
        init_cash=init_cash,
        strategy=portfolio_strategy,
        max_gross_exposure=portfolio_strategy.max_gross_exposure,
    )


def backtest_weights(
    universe: Universe,
    weights: pd.DataFrame | np.ndarray,
    *,
    costs: CostsBySymbol | None = None,
    init_cash: float = DEFAULT_INIT_CASH,
    strategy: PortfolioStrategy | None = None,
    max_gross_exposure: float = 1.0,
) -> PortfolioBacktestResult:
    """Backtest ready-made weights (``bars x symbols``), e.g. weights recorded by the live engine."""
    for symbol in universe.symbols:
        check_bars(universe.member(symbol))
    values = check_weights(weights, universe.bars, universe.symbols, strategy.name if strategy else "weights", max_gross_exposure)
    by_symbol = member_costs(universe.symbols, costs)
    portfolio = simulate_portfolio(universe, values, costs=by_symbol, init_cash=init_cash)
    return PortfolioBacktestResult(
        universe=universe,
        weights=pd.DataFrame(values, index=universe.bars.index, columns=list(universe.symbols)),
        portfolio=portfolio,
        strategy=strategy,
        costs=by_symbol,
        init_cash=init_cash,
        bar_period=universe_bar_period(universe),
    )


def member_costs(symbols: tuple[str, ...] | list[str], costs: CostsBySymbol | None) -> dict[str, Costs]:
    """Return ``{symbol: Costs}`` for every member; unknown symbols in a mapping are a ConfigError."""
    if costs is None or isinstance(costs, Costs):
        return {symbol: costs or Costs() for symbol in symbols}
    unknown = sorted(set(costs) - set(symbols))
    if unknown:
        raise ConfigError(f"costs name {unknown[0]!r}, which is not in the universe ({', '.join(symbols)})")
    return {symbol: costs.get(symbol, Costs()) for symbol in symbols}


def universe_bar_period(universe: Universe) -> pd.Timedelta:
    """Return the universe's bar interval (the most common spacing of its clock).

    The index is read in nanoseconds whatever its stored unit: a clock kept in microseconds (pandas'
    default for ``date_range``) would otherwise read as a thousand times shorter.
    """
    index = universe.bars.index
    if isinstance(index, pd.DatetimeIndex) and index.unit != "ns":
        index = index.as_unit("ns")
    return bar_period(pd.DataFrame(index=index))


def simulate_portfolio(
    universe: Universe,
    weights: np.ndarray,
    *,
    costs: Mapping[str, Costs],
    init_cash: float = DEFAULT_INIT_CASH,
    groups: int = 1,
    timestamps: bool = True,
) -> vbt.Portfolio:
    """Run vectorbt on weights with one shared cash account per group of members.

    ``weights`` is ``(bars, symbols)`` for one portfolio, or ``(bars, symbols * groups)`` for
    ``groups`` independent portfolios side by side (a sweep), each group's columns in symbol order.
    ``timestamps=False`` indexes the portfolio by bar number (see
    :func:`tradepulse.backtest.engine.simulate`: a tz-aware index costs a sweep dearly).
    """
    check_cash(init_cash)
    symbols = list(universe.symbols)
    n_symbols = len(symbols)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape != (len(universe), n_symbols * groups):
        raise StrategyError(f"weights must have shape ({len(universe)}, {n_symbols * groups}), got {weights.shape}")
    sizes = order_sizes(weights)
    order_count = int(np.count_nonzero(~np.isnan(sizes)))
    open_prices = np.tile(universe.field("open").to_numpy(dtype=np.float64), groups)
    close_prices = np.tile(universe.field("close").to_numpy(dtype=np.float64), groups)
    fees = np.tile([costs[s].fee_fraction for s in symbols], groups)
    slippage = np.tile(slippage_matrix(universe, costs, init_cash / n_symbols), groups)
    group_by = np.repeat(np.arange(groups), n_symbols)
    index = universe.bars.index if timestamps else pd.RangeIndex(len(universe))
    return vbt.Portfolio.from_orders(
        close=pd.DataFrame(close_prices, index=index),
        size=sizes,
        size_type="targetpercent",
        direction="both",
        price=open_prices,
        fees=fees[None, :],
        slippage=slippage,
        init_cash=float(init_cash),
        cash_sharing=True,
        group_by=group_by,
        call_seq="auto",
        freq=universe_bar_period(universe),
        # One record per placed order is the most there can be (see engine.simulate).
        max_orders=max(order_count, 1),
    )


def check_cash(init_cash: float) -> None:
    """Raise ConfigError unless ``init_cash`` is a positive, finite number (NumPy scalars included)."""
    if isinstance(init_cash, bool) or not isinstance(init_cash, numbers.Real) or not (np.isfinite(init_cash) and init_cash > 0):
        raise ConfigError(f"initial cash must be a positive number, got {init_cash!r}")


def slippage_matrix(universe: Universe, costs: Mapping[str, Costs], notional: float) -> np.ndarray:
    """Per-member slippage fractions: ``(1, symbols)`` when every member's is fixed, else ``(bars, symbols)``.

    ``notional`` is the order size the range model assumes (an equal share of the initial cash).
    """
    fractions = [costs[symbol].slippage_fractions(universe.member(symbol), notional) for symbol in universe.symbols]
    if all(np.ndim(fraction) == 0 for fraction in fractions):
        return np.asarray(fractions, dtype=np.float64)[None, :]
    return np.column_stack(
        [np.broadcast_to(np.asarray(fraction, dtype=np.float64), (len(universe),)) for fraction in fractions]
    )
