import numpy as np
import pandas as pd
import pytest
import scipy.signal

from tradepulse.errors import ConfigError, DataError
from tradepulse.indicators import cross_kuramoto_r, hilbert_phase, kuramoto_r, reference
from tradepulse.indicators import nb

# Pinned once from the SciPy reference (scipy.signal.detrend + scipy.signal.hilbert per window),
# window 64, on the embedded Binance BTC/USDT 1h sample and the BTC/USDT-PERP 5m sample.
GOLDEN_HOURLY_R = {
    "2019-10-04T12:00:00Z": 0.14451380592460314,
    "2019-10-12T20:00:00Z": 0.15134934197261746,
    "2019-10-24T14:00:00Z": 0.19819270396828442,
}
GOLDEN_FIVE_MINUTE_R = {
    "2023-01-20T01:25:00Z": 0.15502037730983667,
    "2023-02-09T21:15:00Z": 0.14207313982421754,
}


@pytest.mark.parametrize("size", [8, 9, 64, 65, 128])
def test_circular_hilbert_equals_scipy_hilbert_for_even_and_odd_sizes(size):
    x = np.random.default_rng(size).normal(size=size)
    out = np.empty(size)
    nb.circular_hilbert_nb(x, nb.hilbert_kernel_nb(size), out)
    np.testing.assert_allclose(out, scipy.signal.hilbert(x).imag, atol=1e-12)


@pytest.mark.parametrize("window", [32, 64])
def test_numba_kuramoto_r_equals_scipy_reference_on_hourly_btc(hourly_bars, window):
    fast = kuramoto_r(hourly_bars["close"], window=window)
    slow = reference.kuramoto_r(hourly_bars["close"], window=window)
    assert fast.isna().equals(slow.isna())
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-9, equal_nan=True)


def test_numba_kuramoto_r_equals_scipy_reference_across_many_recurrence_refreshes(five_minute_bars):
    close = five_minute_bars["close"].iloc[:2500]  # ~40 refreshes of the O(w) recurrence at w = 64
    np.testing.assert_allclose(
        kuramoto_r(close).to_numpy(), reference.kuramoto_r(close).to_numpy(), atol=1e-9, equal_nan=True
    )


def test_numba_hilbert_phase_equals_scipy_reference_on_five_minute_btc(five_minute_bars):
    close = five_minute_bars["close"].iloc[:1500]
    fast = hilbert_phase(close, window=48).to_numpy()
    slow = reference.hilbert_phase(close, window=48).to_numpy()
    # Compare on the circle so that +-pi wrap-around is not a difference.
    finite = ~np.isnan(slow)
    assert np.array_equal(finite, ~np.isnan(fast))
    np.testing.assert_allclose(np.angle(np.exp(1j * (fast[finite] - slow[finite]))), 0.0, atol=1e-9)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_HOURLY_R.items()))
def test_kuramoto_r_matches_pinned_values_on_hourly_btc(hourly_bars, timestamp, expected):
    assert kuramoto_r(hourly_bars["close"], window=64)[pd.Timestamp(timestamp)] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_FIVE_MINUTE_R.items()))
def test_kuramoto_r_matches_pinned_values_on_five_minute_btc(five_minute_bars, timestamp, expected):
    close = five_minute_bars["close"]
    end = close.index.get_loc(pd.Timestamp(timestamp))
    # A later window start exercises a different refresh phase of the recurrence.
    value = kuramoto_r(close.iloc[end - 200 : end + 1], window=64).iloc[-1]
    assert value == pytest.approx(expected, abs=1e-9)


def test_kuramoto_r_is_near_zero_when_the_window_holds_many_full_cycles():
    # Eight whole cycles per window: the phase sweeps the circle evenly, so the mean phasor vanishes.
    k = np.arange(64)
    many_cycles = 100.0 * np.exp(0.01 * np.sin(2 * np.pi * 8 * k / 64))
    assert kuramoto_r(many_cycles, window=64).iloc[-1] < 0.05


def test_kuramoto_r_is_unchanged_by_multiplying_prices_by_an_exponential_trend(hourly_bars):
    close = hourly_bars["close"]
    trended = close * np.exp(0.003 * np.arange(len(close)))
    np.testing.assert_allclose(
        kuramoto_r(trended).to_numpy(), kuramoto_r(close).to_numpy(), atol=1e-8, equal_nan=True
    )


def test_kuramoto_r_of_a_flat_window_is_nan_not_a_spurious_reading():
    close = np.concatenate([np.full(40, 100.0), 100.0 + np.sin(np.arange(40))])
    values = kuramoto_r(close, window=16).to_numpy()
    assert np.isnan(values[15:40]).all()
    assert np.isfinite(values[-1])


def test_cross_kuramoto_r_equals_reference_on_real_segments_with_a_late_listing(five_minute_bars):
    close = five_minute_bars["close"].to_numpy()
    frame = pd.DataFrame({"a": close[:600], "b": close[3000:3600], "c": close[6000:6600]})
    frame.loc[:199, "c"] = np.nan  # the third asset starts trading at bar 200
    fast = cross_kuramoto_r(frame, window=48)
    slow = reference.cross_kuramoto_r(frame, window=48)
    assert fast.isna().equals(slow.isna())
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-9, equal_nan=True)


def test_cross_kuramoto_r_is_one_when_every_asset_is_the_same_path_rescaled(hourly_bars):
    close = hourly_bars["close"]
    frame = pd.DataFrame({"spot": close, "double": 2 * close, "tenth": close / 10})
    values = cross_kuramoto_r(frame, window=64).dropna()
    assert len(values) == len(close) - 63
    np.testing.assert_allclose(values.to_numpy(), 1.0, atol=1e-9)


def test_cross_kuramoto_r_needs_min_assets_with_a_phase():
    close = 100 + np.sin(np.arange(100) / 3.0)
    frame = pd.DataFrame({"a": close, "b": np.r_[np.full(70, np.nan), close[70:]]})
    values = cross_kuramoto_r(frame, window=16, min_assets=2)
    assert values.iloc[:85].isna().all()  # b has its first full window at bar 85
    assert values.iloc[85:].notna().all()


def test_kuramoto_rejects_bad_input_with_a_clear_error():
    with pytest.raises(ConfigError, match="window"):
        kuramoto_r(np.linspace(1, 2, 100), window=4)
    with pytest.raises(DataError, match="> 0"):
        kuramoto_r(np.r_[np.ones(50), 0.0], window=16)
    with pytest.raises(DataError, match="NaN"):
        kuramoto_r(np.r_[np.ones(50), np.nan], window=16)
    with pytest.raises(DataError, match="DataFrame"):
        cross_kuramoto_r(np.ones((50, 2)), window=16)
