"""Portfolio backtests: one shared cash account over a universe, on real data and on a hand-computed frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from portfolio_test_strategies import Rotation

from tradepulse.backtest import Costs, RangeSlippage, backtest_weights, run_backtest, run_portfolio_backtest
from tradepulse.backtest.portfolio import member_costs, simulate_portfolio
from tradepulse.data import load_bars
from tradepulse.data.universe import load_universe, make_universe
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.strategy import EqualShare, SmaCross

HOURLY = "sample:binance:BTC/USDT:1h"
BINANCE_4H = "universe:binance-usdt-4h"


@pytest.fixture(scope="module")
def universe():
    return load_universe([BINANCE_4H])


def hand_universe():
    """Two members over five hourly bars, small enough to follow every fill by hand."""
    index = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC").as_unit("ns")

    def frame(opens, closes):
        opens, closes = np.array(opens, dtype=float), np.array(closes, dtype=float)
        return pd.DataFrame(
            {"open": opens, "high": np.maximum(opens, closes) + 1, "low": np.minimum(opens, closes) - 1, "close": closes, "volume": 1000.0},
            index=index,
        )

    members = {"A": frame([100, 100, 110, 120, 125], [100, 105, 115, 118, 130]), "B": frame([50, 50, 40, 45, 50], [50, 48, 42, 46, 52])}
    weights = pd.DataFrame({"A": [0.5, 0.5, 0.8, 0.8, 0.8], "B": [0.4, 0.4, 0.0, 0.0, 0.0]}, index=index)
    return make_universe(members), weights


# -- one member is the single-symbol backtest -------------------------------------------------------


@pytest.mark.parametrize(
    "costs",
    [Costs(fees_bps=10), Costs(fees_bps=7.5, slippage=RangeSlippage(base_bps=1, impact=1))],
    ids=["fixed", "range-slippage"],
)
def test_a_one_member_universe_reproduces_the_single_symbol_backtest(costs):
    bars = load_bars(HOURLY)
    strategy = SmaCross(fast=10, slow=30, allow_short=True)
    single = run_backtest(bars, strategy, costs=costs)
    portfolio = run_portfolio_backtest(load_universe([HOURLY]), strategy, costs=costs)

    for name, value in single.stats.items():
        if isinstance(value, float):
            assert portfolio.stats[name] == pytest.approx(value, nan_ok=True), name
        else:
            assert portfolio.stats[name] == value, name
    assert portfolio.stats["symbols"] == 1
    pd.testing.assert_frame_equal(portfolio.trades.drop(columns="symbol"), single.trades)
    pd.testing.assert_frame_equal(portfolio.fills.drop(columns="symbol"), single.fills)
    np.testing.assert_allclose(portfolio.equity.to_numpy(), single.equity.to_numpy())
    assert set(portfolio.fills["symbol"]) == {"BTC/USDT"}


def test_equal_share_gives_each_member_its_own_signal_on_a_share_of_equity(universe):
    result = run_portfolio_backtest(universe, "sma_cross", {"fast": 10, "slow": 30})
    assert isinstance(result.strategy, EqualShare) and result.strategy.name == "sma_cross"
    for symbol in universe.symbols:
        own = SmaCross(fast=10, slow=30).signals(universe.member(symbol)).to_numpy()
        np.testing.assert_allclose(result.weights[symbol].to_numpy(), own / len(universe.symbols))


# -- accounting ---------------------------------------------------------------------------------------


def test_contributions_sum_to_the_accounts_profit_and_loss_at_every_bar(universe):
    result = run_portfolio_backtest(universe, Rotation(lookback=6), costs=Costs(fees_bps=10, slippage=RangeSlippage()))
    pnl = result.equity - result.init_cash
    np.testing.assert_allclose(result.contributions.sum(axis=1).to_numpy(), pnl.to_numpy(), atol=1e-6)
    assert result.per_symbol["contribution"].sum() == pytest.approx(result.stats["final_equity"] - result.init_cash)
    assert result.per_symbol["fees_paid"].sum() == pytest.approx(result.stats["fees_paid"])
    assert result.per_symbol["trades"].sum() == result.stats["trades"] == len(result.trades)


def test_fills_happen_at_the_next_open_and_only_for_members_whose_weight_changed(universe):
    result = run_portfolio_backtest(universe, Rotation(lookback=6), costs=Costs(fees_bps=10))
    weights = result.weights.to_numpy()
    previous = np.vstack([np.zeros((1, weights.shape[1])), weights[:-1]])
    changed_at = np.argwhere(weights[:-1] != previous[:-1])  # (signal bar, member); the last bar's never fills
    expected = {(universe.bars.index[row + 1], universe.symbols[column]) for row, column in changed_at}
    filled = set(zip(result.fills["time"], result.fills["symbol"], strict=True))
    assert filled == expected and len(result.fills) == len(expected)
    opens = universe.field("open")
    for fill in result.fills.itertuples():
        assert fill.price == opens.at[fill.time, fill.symbol]  # no slippage: exactly the open
        assert fill.target == result.weights.shift(1).at[fill.time, fill.symbol]


def test_a_rebalancing_bar_sells_before_it_buys(universe):
    result = run_portfolio_backtest(universe, Rotation(lookback=6), costs=Costs(fees_bps=10))
    fills = result.fills
    switches = 0
    for _, on_bar in fills.groupby("time", sort=False):
        sides = list(on_bar["side"])
        assert sides == sorted(sides, key=lambda side: side != "sell"), on_bar
        switches += {"buy", "sell"} <= set(sides)
    assert switches > 5  # the rotation switches member many times over 499 bars
    assert (result.portfolio.cash().to_numpy() >= -1e-9).all()  # the sells paid for the buys


def test_fees_given_per_symbol_change_only_that_members_fee_rate(universe):
    base = run_portfolio_backtest(universe, Rotation(lookback=6), costs=Costs(fees_bps=10))
    costs = {"SOL/USDT": Costs(fees_bps=40)}
    mixed = run_portfolio_backtest(universe, Rotation(lookback=6), costs=costs)
    assert mixed.costs["SOL/USDT"].fees_bps == 40 and mixed.costs["BTC/USDT"].fees_bps == 10
    for result, sol_rate in ((base, 0.001), (mixed, 0.004)):
        rate = result.fills["fee"] / (result.fills["quantity"] * result.fills["price"])
        is_sol = result.fills["symbol"] == "SOL/USDT"
        np.testing.assert_allclose(rate[is_sol], sol_rate)
        np.testing.assert_allclose(rate[~is_sol], 0.001)
    # The same orders are placed; only their sizes follow the account's value.
    pd.testing.assert_frame_equal(base.fills[["time", "symbol", "side"]], mixed.fills[["time", "symbol", "side"]])
    assert mixed.per_symbol.at["SOL/USDT", "fees_paid"] > 3.5 * base.per_symbol.at["SOL/USDT", "fees_paid"]
    assert mixed.to_dict(include_trades=False)["fees_bps"] == {"BTC/USDT": 10.0, "ETH/USDT": 10.0, "SOL/USDT": 40.0, "BNB/USDT": 10.0}


def test_costs_for_a_symbol_outside_the_universe_are_refused():
    with pytest.raises(ConfigError, match="costs name 'XRP/USDT', which is not in the universe"):
        member_costs(("BTC/USDT", "ETH/USDT"), {"XRP/USDT": Costs()})


def test_gross_exposure_over_the_limit_is_a_strategy_error(universe):
    with pytest.raises(StrategyError, match=r"rotation: gross exposure 1\.5 at .* exceeds the strategy's limit 1 \(\d+ bar"):
        run_portfolio_backtest(universe, Rotation(lookback=6, weight_pct=150))
    weights = pd.DataFrame(0.3, index=universe.bars.index, columns=list(universe.symbols))
    with pytest.raises(StrategyError, match="weights: gross exposure 1.2 at 2023-12-30T08:00:00"):
        backtest_weights(universe, weights)


def test_weights_naming_other_symbols_are_a_strategy_error(universe):
    weights = pd.DataFrame(0.1, index=universe.bars.index, columns=["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"])
    with pytest.raises(StrategyError, match="lack BNB/USDT"):
        backtest_weights(universe, weights)


def test_bad_initial_cash_is_a_config_error(universe):
    weights = np.zeros((len(universe), len(universe.symbols)))
    for cash in (0, -5.0, float("nan"), True):
        with pytest.raises(ConfigError, match="initial cash must be a positive number"):
            backtest_weights(universe, weights, init_cash=cash)
    assert backtest_weights(universe, weights, init_cash=np.int64(5_000)).stats["final_equity"] == 5_000


# -- by hand --------------------------------------------------------------------------------------------


def test_a_two_symbol_portfolio_matches_a_hand_computation():
    """A 10 bps, B 20 bps, no slippage, 10,000 cash; weights decided at each close fill at the next open.

    Bar 1 open (A 100, B 50), account 10,000: B to 40% = 80 units (4,000 + 8 fee), A to 50% =
    50 units (5,000 + 5 fee); cash 987. Bar 3 open (A 120, B 45), account 987 + 6,000 + 3,600 =
    10,587: B to 0% sells 80 (3,600 - 7.2 fee, cash 4,579.8) *before* A to 80% = 70.58 units buys
    20.58 (2,469.6 + 2.4696 fee); cash 2,107.7304. Bar 4: A's weight is unchanged, so no order.
    """
    universe, weights = hand_universe()
    result = backtest_weights(universe, weights, costs={"A": Costs(fees_bps=10), "B": Costs(fees_bps=20)}, init_cash=10_000)

    fills = result.fills
    assert list(zip(fills["symbol"], fills["side"], strict=True)) == [("B", "buy"), ("A", "buy"), ("B", "sell"), ("A", "buy")]
    np.testing.assert_allclose(fills["quantity"], [80, 50, 80, 20.58])
    np.testing.assert_allclose(fills["price"], [50, 100, 45, 120])
    np.testing.assert_allclose(fills["fee"], [8, 5, 7.2, 2.4696])
    assert list(fills["time"]) == [universe.bars.index[1]] * 2 + [universe.bars.index[3]] * 2

    np.testing.assert_allclose(result.positions["A"], [0, 50, 50, 70.58, 70.58])
    np.testing.assert_allclose(result.positions["B"], [0, 80, 80, 0, 0])
    np.testing.assert_allclose(result.portfolio.cash().to_numpy().ravel(), [10_000, 987, 987, 2_107.7304, 2_107.7304])
    # equity = cash + positions at each close
    np.testing.assert_allclose(result.equity, [10_000, 10_077, 10_097, 10_436.1704, 11_283.1304])
    np.testing.assert_allclose(result.contributions.iloc[-1], [70.58 * 130 - 5_005 - 2_472.0696, -4_008 + 3_592.8])
    np.testing.assert_allclose(result.per_symbol["fees_paid"], [7.4696, 15.2])
    assert result.stats["final_equity"] == pytest.approx(11_283.1304)
    assert result.stats["timeframe"] == "1h" and result.stats["trades"] == 2
    assert result.per_symbol.at["B", "win_rate"] == 0.0 and np.isnan(result.per_symbol.at["A", "win_rate"])


def test_a_clock_in_microseconds_reads_the_same_bar_interval():
    universe, weights = hand_universe()
    micro = make_universe({s: universe.member(s).set_axis(universe.bars.index.as_unit("us")) for s in universe.symbols})
    ns = backtest_weights(universe, weights)
    us = backtest_weights(micro, weights.set_axis(micro.bars.index))
    assert us.bar_period == ns.bar_period == pd.Timedelta(hours=1)
    assert us.stats["sharpe"] == pytest.approx(ns.stats["sharpe"])


def test_groups_side_by_side_are_independent_accounts(universe):
    first = Rotation(lookback=6).signals(universe.bars).to_numpy()
    second = Rotation(lookback=20, weight_pct=50).signals(universe.bars).to_numpy()
    costs = member_costs(universe.symbols, Costs(fees_bps=10))
    both = simulate_portfolio(universe, np.hstack([first, second]), costs=costs, groups=2, timestamps=False)
    for group, weights in enumerate((first, second)):
        alone = backtest_weights(universe, weights, costs=costs)
        np.testing.assert_allclose(np.asarray(both.value())[:, group], alone.equity.to_numpy())


def test_results_summarise_as_text_and_json(universe):
    result = run_portfolio_backtest(universe, Rotation(lookback=6))
    payload = result.to_dict()
    assert payload["symbols"] == list(universe.symbols)
    assert set(payload["per_symbol"]) == set(universe.symbols)
    assert payload["trades"] == len(payload["trade_list"]) and isinstance(payload["trades"], int)
    assert {fill["symbol"] for fill in payload["fills"]} <= set(universe.symbols)
    assert "contribution" in result.summary() and "BNB/USDT" in result.summary()
