import numpy as np
import pandas as pd
import pytest

import tradepulse.indicators as indicators
from tradepulse.errors import ConfigError, DataError
from tradepulse.indicators import atr, bollinger, ema, reference, rsi, sma, zscore


def test_sma_equals_pandas_rolling_mean_on_hourly_btc(hourly_bars):
    close = hourly_bars["close"]
    pd.testing.assert_series_equal(sma(close, 20), close.rolling(20).mean().rename("sma"), rtol=1e-12)


def test_ema_is_seeded_with_the_sma_then_follows_the_pandas_recursion(hourly_bars):
    close = hourly_bars["close"]
    window = 12
    seed = pd.Series([close.iloc[:window].mean()], index=close.index[window - 1 : window])
    seeded = pd.concat([seed, close.iloc[window:]])
    expected = seeded.ewm(span=window, adjust=False).mean().reindex(close.index)
    pd.testing.assert_series_equal(ema(close, window), expected.rename("ema"), rtol=1e-12)


def test_rsi_follows_wilder_smoothing_on_a_hand_computed_example():
    # Changes +1, -1, +1, +1. Seed at t=2: gain 0.5, loss 0.5 -> 50; then (0.75, 0.25) -> 75;
    # then (0.875, 0.125) -> 87.5.
    values = rsi([1.0, 2.0, 1.0, 2.0, 3.0], window=2).to_numpy()
    np.testing.assert_allclose(values, [np.nan, np.nan, 50.0, 75.0, 87.5], equal_nan=True)


def test_rsi_is_100_for_only_gains_and_50_for_no_movement():
    assert rsi(np.arange(1.0, 30.0), 14).dropna().eq(100.0).all()
    assert rsi(np.full(30, 5.0), 14).dropna().eq(50.0).all()


def test_atr_averages_true_ranges_that_include_gaps_from_the_previous_close():
    high = np.array([10.0, 11.0, 15.0, 12.0])
    low = np.array([9.0, 10.0, 14.0, 11.0])
    close = np.array([9.5, 10.5, 14.5, 11.5])
    # True ranges from bar 1: max(1, 1.5, 0.5)=1.5, max(1, 4.5, 3.5)=4.5, max(1, 2.5, 3.5)=3.5.
    values = atr(high, low, close, window=2).to_numpy()
    np.testing.assert_allclose(values, [np.nan, np.nan, 3.0, (3.0 + 3.5) / 2], equal_nan=True)


@pytest.mark.parametrize("name", ["sma", "ema", "rsi", "zscore"])
def test_numba_classic_indicators_equal_textbook_reference_on_five_minute_btc(five_minute_bars, name):
    close = five_minute_bars["close"].iloc[:4000]
    fast = getattr(indicators, name)(close, 21)
    slow = getattr(reference, name)(close, 21)
    pd.testing.assert_series_equal(fast, slow, rtol=1e-10, atol=1e-10)


def test_numba_atr_equals_textbook_reference_on_hourly_btc(hourly_bars):
    fast = atr(hourly_bars["high"], hourly_bars["low"], hourly_bars["close"], 14)
    slow = reference.atr(hourly_bars["high"], hourly_bars["low"], hourly_bars["close"], 14)
    pd.testing.assert_series_equal(fast, slow, rtol=1e-12)


def test_bollinger_bands_are_sma_plus_minus_k_population_std(hourly_bars):
    close = hourly_bars["close"]
    bands = bollinger(close, window=20, num_std=2.5)
    assert list(bands.columns) == ["lower", "middle", "upper"]
    std = close.rolling(20).std(ddof=0)
    np.testing.assert_allclose(bands["middle"], close.rolling(20).mean(), rtol=1e-12)
    np.testing.assert_allclose(bands["upper"] - bands["middle"], 2.5 * std, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(bands["middle"] - bands["lower"], 2.5 * std, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(bands, reference.bollinger(close, window=20, num_std=2.5), rtol=1e-10)


def test_zscore_equals_pandas_rolling_formula_with_population_std(hourly_bars):
    close = hourly_bars["close"]
    expected = (close - close.rolling(30).mean()) / close.rolling(30).std(ddof=0)
    np.testing.assert_allclose(zscore(close, 30), expected, rtol=1e-8, atol=1e-10)


def test_zscore_of_a_window_without_spread_is_nan():
    values = zscore(np.r_[np.full(10, 3.0), 4.0], window=5).to_numpy()
    assert np.isnan(values[:10]).all() and values[-1] == pytest.approx(2.0)


def test_classic_indicators_keep_the_index_and_accept_plain_lists(hourly_bars):
    close = hourly_bars["close"]
    assert sma(close, 5).index.equals(close.index)
    assert isinstance(ema([1.0, 2.0, 3.0], 2), pd.Series)


def test_classic_indicators_reject_bad_input_with_a_clear_error():
    with pytest.raises(ConfigError, match="window"):
        sma([1.0, 2.0], 0)
    with pytest.raises(ConfigError, match="num_std"):
        bollinger(np.arange(30.0), 5, num_std=-1)
    with pytest.raises(DataError, match="high must be >= low"):
        atr([1.0, 2.0], [2.0, 2.0], [1.5, 2.0], 1)
    with pytest.raises(DataError, match="equal length"):
        atr([2.0, 2.0], [1.0], [1.5, 2.0], 1)
    with pytest.raises(DataError, match="NaN"):
        rsi([1.0, np.nan, 2.0], 1)
