import math

import numpy as np
import pandas as pd
import pytest

from tradepulse.errors import ConfigError
from tradepulse.indicators import entropy_change, reference, shannon_entropy
from tradepulse.indicators import nb

# Pinned once from the reference (numpy.histogram + scipy.stats.entropy), window 64, 10 bins.
GOLDEN_HOURLY = {  # timestamp: (normalised H, H in nats, delta H over 8 bars)
    "2019-10-04T12:00:00Z": (0.7823198593870182, 1.8013580461777463, 0.004387031188428425),
    "2019-10-12T20:00:00Z": (0.5390104467528991, 1.2411174196612864, -0.02921900376322084),
    "2019-10-24T14:00:00Z": (0.4376201823259162, 1.007657708216991, 0.026594926298648347),
}


@pytest.mark.parametrize("bins", [5, 10, 16])
def test_numba_entropy_equals_numpy_histogram_reference_on_five_minute_btc(five_minute_bars, bins):
    close = five_minute_bars["close"].iloc[:3000]
    fast = shannon_entropy(close, window=64, bins=bins)
    slow = reference.shannon_entropy(close, window=64, bins=bins)
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-12, equal_nan=True)


def test_numba_entropy_change_equals_reference_on_hourly_btc(hourly_bars):
    fast = entropy_change(hourly_bars["close"], window=48, lag=4)
    slow = reference.entropy_change(hourly_bars["close"], window=48, lag=4)
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_HOURLY.items()))
def test_entropy_matches_pinned_values_on_hourly_btc(hourly_bars, timestamp, expected):
    close = hourly_bars["close"]
    when = pd.Timestamp(timestamp)
    normalised, nats, change = expected
    assert shannon_entropy(close)[when] == pytest.approx(normalised, abs=1e-12)
    assert shannon_entropy(close, normalize=False)[when] == pytest.approx(nats, abs=1e-12)
    assert entropy_change(close)[when] == pytest.approx(change, abs=1e-12)


def test_histogram_binning_agrees_with_numpy_on_edge_values():
    values = np.r_[np.linspace(-1.0, 1.0, 41), 0.1 * np.arange(-10, 11)]
    low, high = values.min(), values.max()
    for bins in (3, 7, 10):
        counts = np.zeros(bins, dtype=int)
        for value in values:
            counts[nb.histogram_bin_nb(value, low, high, bins)] += 1
        np.testing.assert_array_equal(counts, np.histogram(values, bins=bins)[0])


def test_entropy_is_maximal_for_returns_spread_evenly_over_the_bins():
    # Returns cycle through 8 evenly spaced values; with 8 bins each bin holds the same count.
    returns = np.tile(np.linspace(-0.02, 0.02, 8), 4)
    close = 100 * np.exp(np.cumsum(np.r_[0.0, returns]))
    assert shannon_entropy(close, window=33, bins=8).iloc[-1] == pytest.approx(1.0, abs=1e-12)
    assert shannon_entropy(close, window=33, bins=8, normalize=False).iloc[-1] == pytest.approx(math.log(8))


def test_entropy_of_constant_returns_is_zero():
    close = 100 * 1.01 ** np.arange(50)
    values = shannon_entropy(close, window=20).dropna()
    np.testing.assert_allclose(values.to_numpy(), 0.0, atol=0.0)


def test_entropy_falls_when_one_outlier_stretches_the_range():
    rng = np.random.default_rng(3)
    returns = rng.normal(0, 0.01, 63)
    calm = 100 * np.exp(np.cumsum(np.r_[0.0, returns]))
    returns[30] = 0.2  # one crash-sized bar squeezes all others into a couple of bins
    shocked = 100 * np.exp(np.cumsum(np.r_[0.0, returns]))
    assert shannon_entropy(shocked).iloc[-1] < shannon_entropy(calm).iloc[-1] - 0.3


def test_normalised_entropy_stays_within_zero_and_one_on_real_data(five_minute_bars):
    values = shannon_entropy(five_minute_bars["close"], window=32, bins=12).dropna()
    assert values.between(0.0, 1.0).all()


def test_entropy_change_is_entropy_minus_entropy_lag_bars_earlier(hourly_bars):
    close = hourly_bars["close"]
    entropy = shannon_entropy(close, window=32)
    change = entropy_change(close, window=32, lag=5)
    pd.testing.assert_series_equal(change, (entropy - entropy.shift(5)).rename("delta_entropy"))
    assert change.isna().sum() == 31 + 5


def test_entropy_rejects_too_few_bins():
    with pytest.raises(ConfigError, match="bins"):
        shannon_entropy(np.linspace(1, 2, 100), bins=1)
    with pytest.raises(ConfigError, match="lag"):
        entropy_change(np.linspace(1, 2, 100), lag=0)
