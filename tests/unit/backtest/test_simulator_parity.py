"""The vectorbt-free simulator gives vectorbt's own order, trade and position records, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tradepulse.backtest.engine import order_sizes, simulate
from tradepulse.backtest.simulator import exit_trades, positions_from_trades, simulate_orders
from tradepulse.data import load_bars
from tradepulse.model.costs import Costs, FixedSlippage, RangeSlippage
from tradepulse.strategy import load_strategy

BARS = load_bars("sample:binance:BTC/USDT:1h")


def _ours(bars: pd.DataFrame, targets: np.ndarray, costs: Costs, init_cash: float):
    sizes = order_sizes(targets)
    orders = simulate_orders(bars["open"].to_numpy(), sizes, fees=costs.fee_fraction,
                             slippage=costs.slippage_fractions(bars, init_cash), init_cash=init_cash)
    trades = exit_trades(orders, float(bars["close"].iloc[-1]), len(bars) - 1)
    return orders, trades, positions_from_trades(trades)


def _assert_same(bars: pd.DataFrame, targets: np.ndarray, costs: Costs, init_cash: float = 10_000.0) -> int:
    portfolio = simulate(bars, targets, costs=costs, init_cash=init_cash)
    orders, trades, positions = _ours(bars, targets, costs, init_cash)
    for ours, theirs in ((orders, portfolio.orders.values), (trades, portfolio.exit_trades.values),
                         (positions, portfolio.positions.values)):
        assert ours.dtype.names == theirs.dtype.names
        assert len(ours) == len(theirs)
        for name in ours.dtype.names:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    return len(orders)


COSTS = {
    "10 bps fees": Costs(fees_bps=10),
    "no costs": Costs(fees_bps=0),
    "fees and fixed slippage": Costs(fees_bps=25, slippage=FixedSlippage(5)),
    "fees and slippage by bar range and volume": Costs(fees_bps=7.5, slippage=RangeSlippage(base_bps=1, impact=1.5, max_bps=50)),
}


@pytest.mark.parametrize("name, params", [("sma_cross", {}), ("sma_cross", {"allow_short": True}), ("mean_reversion", {}),
                                          ("composite", {})])
@pytest.mark.parametrize("costs", COSTS.values(), ids=COSTS.keys())
def test_built_in_strategies_on_the_real_sample(name, params, costs):
    strategy = load_strategy(name)(**params)
    targets = np.nan_to_num(strategy.signals(BARS).to_numpy(dtype=np.float64))
    assert _assert_same(BARS, targets, costs) > 0


@settings(max_examples=80, deadline=None)
@given(
    targets=arrays(np.float64, 120, elements=st.sampled_from([-1.0, -0.5, -0.25, 0.0, 0.1, 0.5, 0.99, 1.0])),
    fees_bps=st.sampled_from([0.0, 1.0, 10.0, 50.0, 200.0]),
    slippage_bps=st.sampled_from([0.0, 3.0, 80.0]),
    init_cash=st.sampled_from([1.0, 100.0, 10_000.0, 1e7]),
)
def test_any_targets_fees_slippage_and_cash(targets, fees_bps, slippage_bps, init_cash):
    bars = BARS.iloc[300:420]
    _assert_same(bars, targets, Costs(fees_bps=fees_bps, slippage=FixedSlippage(slippage_bps)), init_cash)


def test_a_position_still_open_at_the_end_is_valued_at_the_last_close():
    bars = BARS.iloc[:50]
    targets = np.zeros(len(bars))
    targets[10:] = 1.0
    orders, trades, positions = _ours(bars, targets, Costs(fees_bps=10), 10_000.0)
    assert len(orders) == 1 and trades["status"][-1] == 0 and trades["exit_price"][-1] == bars["close"].iloc[-1]
    _assert_same(bars, targets, Costs(fees_bps=10))


def test_an_order_below_vectorbts_minimum_size_is_not_made():
    """vectorbt rejects fills under its default ``min_size`` (1e-8 units), found by the property above.

    With 1.0 of cash and 50 bps fees, moving the target from 0.99 to 1.0 leaves about 3e-9 BTC
    to buy with the cash that is left: vectorbt makes no order there, so neither may we.
    """
    bars = BARS.iloc[300:420]
    targets = np.full(len(bars), 0.99)
    targets[0], targets[2] = -1.0, 1.0
    costs = Costs(fees_bps=50, slippage=FixedSlippage(0))
    orders, _, _ = _ours(bars, targets, costs, 1.0)
    assert 3 not in orders["idx"].tolist()
    assert _assert_same(bars, targets, costs, init_cash=1.0) == 3


def test_a_sell_below_vectorbts_minimum_size_is_not_made():
    # A flat price of 100 and no fees keep the account worth exactly 1.0: half of it long is 0.005
    # units, and the next target sells 2e-9 of them, under the minimum.
    bars = BARS.iloc[:10].copy()
    bars[["open", "high", "low", "close"]] = 100.0
    targets = np.full(len(bars), 0.5)
    targets[1:] = 0.5 - 2e-9 * 100.0
    costs = Costs(fees_bps=0)
    orders, _, _ = _ours(bars, targets, costs, 1.0)
    assert orders["idx"].tolist() == [1]
    assert _assert_same(bars, targets, costs, init_cash=1.0) == 1
    # Twenty times that sells (the property test covers the rest of the path).
    targets[1:] = 0.5 - 4e-8 * 100.0
    assert _ours(bars, targets, costs, 1.0)[0]["idx"].tolist() == [1, 2]
    assert _assert_same(bars, targets, costs, init_cash=1.0) == 2
