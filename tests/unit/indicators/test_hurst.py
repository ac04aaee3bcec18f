import numpy as np
import pandas as pd
import pytest

from tradepulse.errors import ConfigError
from tradepulse.indicators import hurst_exponent, reference
from indicator_strategies import geometric_path

# Pinned once from the reference (numpy.polyfit per window), window 64, lags 1..16.
GOLDEN_HOURLY = {
    "2019-10-04T12:00:00Z": 0.37520006847816606,
    "2019-10-12T20:00:00Z": 0.3724052231986908,
    "2019-10-24T14:00:00Z": 0.6127263963127856,
}
GOLDEN_FIVE_MINUTE = {
    "2023-01-20T01:25:00Z": 0.45296297675558245,
    "2023-02-09T21:15:00Z": 0.6786495652081374,
}


def ar1_returns(phi: float, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 0.01, size)
    returns = np.empty(size)
    returns[0] = noise[0]
    for t in range(1, size):
        returns[t] = phi * returns[t - 1] + noise[t]
    return returns


def test_hurst_of_a_seeded_random_walk_is_about_one_half(random_walk_close):
    values = hurst_exponent(random_walk_close, window=256).dropna()
    assert values.median() == pytest.approx(0.5, abs=0.03)
    assert values.mean() == pytest.approx(0.5, abs=0.03)


def test_hurst_of_trending_returns_is_above_one_half():
    close = pd.Series(geometric_path(ar1_returns(0.5, 10_000, seed=7)))
    assert hurst_exponent(close, window=256).median() > 0.6


def test_hurst_of_mean_reverting_returns_is_below_one_half():
    close = pd.Series(geometric_path(ar1_returns(-0.5, 10_000, seed=8)))
    assert hurst_exponent(close, window=256).median() < 0.4


def test_hurst_of_a_steady_exponential_trend_is_exactly_one():
    close = 100.0 * np.exp(0.002 * np.arange(100))
    np.testing.assert_allclose(hurst_exponent(close, window=32).dropna().to_numpy(), 1.0, atol=1e-9)


@pytest.mark.parametrize("window, max_lag", [(64, None), (100, 10), (33, 2)])
def test_numba_hurst_equals_polyfit_reference_on_five_minute_btc(five_minute_bars, window, max_lag):
    close = five_minute_bars["close"].iloc[:3000]
    fast = hurst_exponent(close, window=window, max_lag=max_lag)
    slow = reference.hurst_exponent(close, window=window, max_lag=max_lag)
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-10, equal_nan=True)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_HOURLY.items()))
def test_hurst_matches_pinned_values_on_hourly_btc(hourly_bars, timestamp, expected):
    assert hurst_exponent(hourly_bars["close"])[pd.Timestamp(timestamp)] == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_FIVE_MINUTE.items()))
def test_hurst_matches_pinned_values_on_five_minute_btc(five_minute_bars, timestamp, expected):
    assert hurst_exponent(five_minute_bars["close"])[pd.Timestamp(timestamp)] == pytest.approx(expected, abs=1e-10)


def test_hurst_of_a_flat_window_is_nan():
    close = np.r_[np.full(30, 50.0), 50.0 + np.arange(1, 11)]
    values = hurst_exponent(close, window=16).to_numpy()
    assert np.isnan(values[:30]).all()
    assert np.isfinite(values[-1])


def test_hurst_rejects_a_max_lag_that_leaves_no_increments():
    with pytest.raises(ConfigError, match="max_lag"):
        hurst_exponent(np.linspace(1, 2, 100), window=16, max_lag=16)
    with pytest.raises(ConfigError, match="max_lag"):
        hurst_exponent(np.linspace(1, 2, 100), window=16, max_lag=1)
