"""The engine: fill convention, costs, hand-computed results, and agreement with vectorbt."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tradepulse.backtest import Costs, FixedSlippage, RangeSlippage, backtest_targets, order_sizes, run_backtest, simulate
from tradepulse.backtest.engine import simulate_fills
from tradepulse.backtest.result import equity_curves
from tradepulse.errors import ConfigError, DataError, StrategyError
from tradepulse.strategy import MeanReversion, SmaCross


def five_bars(**overrides) -> pd.DataFrame:
    index = pd.date_range("2024-03-01", periods=5, freq="1h", tz="UTC")
    data = {
        "open": [100.0, 102.0, 104.0, 101.0, 98.0],
        "high": [102.0, 104.0, 105.0, 102.0, 99.0],
        "low": [99.0, 101.0, 101.0, 98.0, 96.0],
        "close": [101.0, 103.0, 102.0, 99.0, 97.0],
        "volume": [50.0, 40.0, 30.0, 20.0, 10.0],
    }
    data.update(overrides)
    return pd.DataFrame(data, index=index)


def targets(values) -> pd.Series:
    return pd.Series(values, index=five_bars().index, dtype=float)


def test_orders_carry_the_previous_close_target_and_only_when_it_changes():
    sizes = order_sizes(np.array([1.0, 1.0, 0.0, 0.0, -0.5, -0.5]))
    np.testing.assert_array_equal(sizes, [np.nan, 1.0, np.nan, 0.0, np.nan, -0.5])


def test_a_flat_first_target_places_no_order_and_the_last_target_never_fills():
    sizes = order_sizes(np.array([0.0, 0.0, 0.0, 1.0]))
    assert np.isnan(sizes).all()


def test_long_round_trip_fills_at_next_open_with_fees_and_slippage_by_hand():
    result = backtest_targets(
        five_bars(), targets([1, 1, 0, 0, 0]), costs=Costs(fees_bps=10, slippage=FixedSlippage(5)), init_cash=10_000
    )
    buy_price = 102.0 * 1.0005  # bar 1 open, paying 5 bps slippage
    quantity = 10_000 / (buy_price * 1.001)  # all cash, fee included
    sell_price = 101.0 * 0.9995  # bar 3 open
    final = quantity * sell_price * 0.999
    fills = result.fills
    assert fills["time"].tolist() == [five_bars().index[1], five_bars().index[3]]
    assert fills["side"].tolist() == ["buy", "sell"]
    np.testing.assert_allclose(fills["price"], [buy_price, sell_price])
    np.testing.assert_allclose(fills["quantity"], [quantity, quantity])
    np.testing.assert_allclose(fills["fee"], [quantity * buy_price * 0.001, quantity * sell_price * 0.001])
    np.testing.assert_allclose(result.equity, [10_000, quantity * 103, quantity * 102, final, final], atol=1e-9)
    stats = result.stats
    assert stats["total_return"] == pytest.approx(final / 10_000 - 1)
    assert stats["trades"] == 1 and stats["win_rate"] == 0.0 and stats["profit_factor"] == 0.0
    assert stats["exposure"] == pytest.approx(2 / 5)
    assert stats["fees_paid"] == pytest.approx(fills["fee"].sum())
    trade = result.trades.iloc[0]
    assert (trade["side"], trade["status"]) == ("long", "closed")
    assert trade["pnl"] == pytest.approx(final - 10_000)


def test_reversal_from_short_to_long_by_hand():
    result = backtest_targets(five_bars(), targets([-1, -1, 1, 0, 0]), costs=Costs(fees_bps=0), init_cash=10_000)
    short_quantity = 10_000 / 102.0
    value_at_reversal = 20_000 - short_quantity * 101.0  # valued at bar 3's open
    long_quantity = value_at_reversal / 101.0
    np.testing.assert_allclose(
        result.equity,
        [10_000, 20_000 - short_quantity * 103, 20_000 - short_quantity * 102, long_quantity * 99, long_quantity * 98],
    )
    assert result.fills["side"].tolist() == ["sell", "buy", "sell"]
    np.testing.assert_allclose(result.fills["quantity"], [short_quantity, short_quantity + long_quantity, long_quantity])
    trades = result.trades
    assert trades["side"].tolist() == ["short", "long"]
    np.testing.assert_allclose(trades["pnl"], [short_quantity * (102 - 101), long_quantity * (98 - 101)])
    assert result.stats["win_rate"] == 0.5
    assert result.stats["profit_factor"] == pytest.approx(short_quantity / (long_quantity * 3))


def test_partial_exposure_targets_a_fraction_of_equity():
    result = backtest_targets(five_bars(), targets([0.5, 0.5, 0.5, 0.5, 0.5]), costs=Costs(fees_bps=0))
    np.testing.assert_allclose(result.fills["quantity"], [5_000 / 102.0])
    assert result.equity.iloc[-1] == pytest.approx(5_000 + 5_000 / 102.0 * 97)


def test_nan_targets_mean_flat():
    result = backtest_targets(five_bars(), targets([np.nan, 1, np.nan, np.nan, 0]), costs=Costs(fees_bps=0))
    assert result.fills["time"].tolist() == [five_bars().index[2], five_bars().index[3]]


def test_range_slippage_uses_the_signal_bars_range_and_participation():
    model = RangeSlippage(base_bps=1.0, impact=1.0, max_bps=100.0)
    bars = five_bars()
    result = backtest_targets(bars, targets([1, 0, 0, 0, 0]), costs=Costs(fees_bps=0, slippage=model))
    signal_bar = bars.iloc[0]
    range_bps = 1e4 * (signal_bar["high"] - signal_bar["low"]) / signal_bar["close"]
    participation = min(1.0, 10_000 / (signal_bar["close"] * signal_bar["volume"]))
    expected_bps = min(100.0, 1.0 + range_bps * math.sqrt(participation))
    assert result.fills["price"].iloc[0] == pytest.approx(102.0 * (1 + expected_bps / 1e4))
    sell_signal = bars.iloc[1]
    sell_bps = min(
        100.0,
        1.0 + 1e4 * (sell_signal["high"] - sell_signal["low"]) / sell_signal["close"]
        * math.sqrt(min(1.0, 10_000 / (sell_signal["close"] * sell_signal["volume"]))),
    )
    assert result.fills["price"].iloc[1] == pytest.approx(104.0 * (1 - sell_bps / 1e4))


def test_range_slippage_is_capped_when_a_bar_has_no_volume():
    bars = five_bars(volume=[0.0] * 5)
    fractions = RangeSlippage(base_bps=1, impact=10, max_bps=50).fractions(bars, 10_000)
    np.testing.assert_allclose(fractions[1:], 50 / 1e4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Costs(fees_bps=-1), "fees must be between 0 and 1000 bps"),
        (lambda: Costs(fees_bps=float("nan")), "fees must be between"),
        (lambda: FixedSlippage(bps=5000), "slippage must be between 0 and 1000 bps"),
        (lambda: RangeSlippage(base_bps=10, max_bps=5), "below its base"),
        (lambda: RangeSlippage(impact=-1), "impact must be a non-negative"),
    ],
)
def test_invalid_costs_are_refused(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_stats_agree_with_vectorbts_own(hourly_bars):
    result = run_backtest(
        hourly_bars, SmaCross(fast=8, slow=24, allow_short=True), costs=Costs(fees_bps=10, slippage=FixedSlippage(2))
    )
    portfolio = result.portfolio
    stats = result.stats
    assert stats["sharpe"] == pytest.approx(portfolio.sharpe_ratio())
    assert stats["sortino"] == pytest.approx(portfolio.sortino_ratio())
    assert stats["max_drawdown"] == pytest.approx(portfolio.max_drawdown())
    assert stats["cagr"] == pytest.approx(portfolio.annualized_return())
    assert stats["calmar"] == pytest.approx(portfolio.calmar_ratio())
    assert stats["total_return"] == pytest.approx(portfolio.total_return())
    vbt_stats = portfolio.stats()
    assert stats["win_rate"] == pytest.approx(vbt_stats["Win Rate [%]"] / 100)
    assert stats["profit_factor"] == pytest.approx(vbt_stats["Profit Factor"])
    assert stats["trades"] == vbt_stats["Total Trades"] == len(result.trades)
    np.testing.assert_allclose(result.equity, portfolio.value())


def test_annualisation_follows_the_bar_interval(hourly_bars, five_minute_bars):
    hourly = run_backtest(hourly_bars, SmaCross(fast=5, slow=20))
    five_minute = run_backtest(five_minute_bars, SmaCross(fast=5, slow=20))
    assert hourly.bars_per_year == pytest.approx(365 * 24)
    assert five_minute.bars_per_year == pytest.approx(365 * 24 * 12)
    assert hourly.stats["timeframe"] == "1h" and five_minute.stats["timeframe"] == "5m"


def test_event_time_simulation_reproduces_the_bar_by_bar_one(five_minute_bars):
    bars = five_minute_bars.iloc[:4000]
    combos = [{"fast": f, "slow": s, "allow_short": short} for f, s, short in [(5, 20, True), (10, 50, False), (3, 200, True)]]
    target_matrix = SmaCross.signals_grid(bars, combos)
    target_matrix[:, 1] *= 0.5  # fractional targets too
    costs = Costs(fees_bps=7, slippage=RangeSlippage())
    reference = simulate(bars, target_matrix, costs=costs, timestamps=False)
    packed = simulate_fills(bars, target_matrix, costs=costs)
    expected_orders = reference.orders.values
    for field in ("col", "idx", "size", "price", "fees", "side"):
        np.testing.assert_allclose(packed.orders[field], expected_orders[field], rtol=1e-12, err_msg=field)
    expected_positions = reference.positions.values
    for field in ("col", "entry_idx", "exit_idx", "status", "direction", "pnl", "entry_price", "exit_price"):
        np.testing.assert_allclose(packed.positions[field], expected_positions[field], rtol=1e-10, err_msg=field)
    value = equity_curves(packed.orders, len(bars), 3, bars["close"].to_numpy(), 10_000.0)
    np.testing.assert_allclose(value, reference.value().to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (five_bars().drop(columns=["volume"]), "lack column"),
        (five_bars().iloc[:1], "at least 2 bars"),
        (five_bars().iloc[[0, 2, 1, 3, 4]], "strictly increasing"),
        (five_bars(open=[100.0, np.nan, 1, 1, 1]), "positive and finite"),
        (five_bars().reset_index(drop=True), "DatetimeIndex"),
    ],
)
def test_unusable_bars_raise_a_data_error(frame, message):
    with pytest.raises(DataError, match=message):
        backtest_targets(frame, pd.Series(0.0, index=frame.index))


def test_targets_outside_minus_one_one_are_refused():
    with pytest.raises(StrategyError, match=r"within \[-1, 1\], got 2.0"):
        backtest_targets(five_bars(), targets([0, 2, 0, 0, 0]))


def test_targets_not_aligned_with_the_bars_are_refused():
    with pytest.raises(StrategyError, match="one value per bar"):
        backtest_targets(five_bars(), targets([0, 1, 0, 0, 0]).iloc[:4])


def test_run_backtest_accepts_a_name_and_parameters(hourly_bars):
    result = run_backtest(hourly_bars, "sma_cross", {"fast": 5, "slow": 20})
    assert result.strategy == SmaCross(fast=5, slow=20)


def test_initial_cash_must_be_positive():
    with pytest.raises(ConfigError, match="initial cash must be a positive number"):
        backtest_targets(five_bars(), targets([0, 1, 0, 0, 0]), init_cash=0)


@pytest.mark.parametrize(
    "strategy",
    [SmaCross(fast=6, slow=24, allow_short=True), MeanReversion(window=24, entry_z=1.5, exit_z=0.25, max_hold_bars=36)],
    ids=repr,
)
def test_replaying_bars_one_at_a_time_on_a_warmup_window_reproduces_the_backtest_fills(strategy, hourly_bars):
    """What the live engine will do: at each close, evaluate the last warmup_bars bars, act on the last row."""
    window = strategy.warmup_bars
    live_targets = pd.Series(
        [strategy.latest_target(hourly_bars.iloc[max(0, t - window + 1) : t + 1]) for t in range(len(hourly_bars))],
        index=hourly_bars.index,
    )
    costs = Costs(fees_bps=10, slippage=FixedSlippage(1))
    replayed = backtest_targets(hourly_bars, live_targets, costs=costs).fills
    backtest = run_backtest(hourly_bars, strategy, costs=costs).fills
    assert len(backtest) > 10
    pd.testing.assert_frame_equal(replayed, backtest)


def test_the_bar_period_of_a_frame_indexed_in_microseconds_is_its_real_spacing():
    from tradepulse.backtest import bar_period

    index = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    frame = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index)
    assert bar_period(frame) == pd.Timedelta(hours=1)
