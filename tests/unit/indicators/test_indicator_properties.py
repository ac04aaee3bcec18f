"""Property tests that hold for every indicator: causality, warm-up, and invariances."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.indicators import (
    atr,
    bollinger,
    compute_indicators,
    cross_kuramoto_r,
    ema,
    entropy_change,
    hurst_exponent,
    kuramoto_r,
    ricci_curvature,
    rsi,
    shannon_entropy,
    sma,
    zscore,
)
from indicator_strategies import price_paths

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None)

# name -> (function of a close array and a window, warm-up NaN count for that window)
SIGNATURE = {
    "kuramoto_r": (lambda c, w: kuramoto_r(c, window=w), lambda w: w - 1),
    "entropy": (lambda c, w: shannon_entropy(c, window=w, bins=6), lambda w: w - 1),
    "delta_entropy": (lambda c, w: entropy_change(c, window=w, bins=6, lag=3), lambda w: w - 1 + 3),
    "hurst": (lambda c, w: hurst_exponent(c, window=w), lambda w: w - 1),
    "ricci": (lambda c, w: ricci_curvature(c, window=w, levels=5), lambda w: w - 1),
}
CLASSIC = {
    "sma": (lambda c, w: sma(c, window=w), lambda w: w - 1),
    "ema": (lambda c, w: ema(c, window=w), lambda w: w - 1),
    "rsi": (lambda c, w: rsi(c, window=w), lambda w: w),
    "atr": (lambda c, w: atr(c * 1.01, c * 0.99, c, window=w), lambda w: w),
    "bollinger_upper": (lambda c, w: bollinger(c, window=w)["upper"], lambda w: w - 1),
    "zscore": (lambda c, w: zscore(c, window=w), lambda w: w - 1),
}
EVERY = {**SIGNATURE, **CLASSIC}


@pytest.mark.parametrize("name", sorted(EVERY))
@PROPERTY_SETTINGS
@given(close=price_paths(), future=price_paths(), window=st.integers(8, 32), data=st.data())
def test_changing_bars_after_t_never_changes_values_up_to_t(name, close, future, window, data):
    function, _ = EVERY[name]
    cut = data.draw(st.integers(0, len(close) - 2), label="cut")
    altered = close.copy()
    tail = len(close) - cut - 1
    altered[cut + 1 :] = np.resize(future, tail) * data.draw(st.floats(0.5, 2.0), label="scale")
    before = function(close, window).to_numpy()[: cut + 1]
    after = function(altered, window).to_numpy()[: cut + 1]
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", sorted(EVERY))
@PROPERTY_SETTINGS
@given(close=price_paths(), window=st.integers(8, 32))
def test_output_has_input_shape_and_is_nan_exactly_during_warm_up(name, close, window):
    function, warm_up = EVERY[name]
    index = pd.date_range("2024-01-01", periods=len(close), freq="h", tz="UTC")
    values = function(pd.Series(close, index=index), window)
    assert values.index.equals(index)
    nan_count = warm_up(window)
    assert values.iloc[:nan_count].isna().all()
    assert values.iloc[nan_count:].notna().all()


@PROPERTY_SETTINGS
@given(close=price_paths(min_size=30, max_size=90), window=st.integers(8, 24))
def test_causality_holds_for_the_composite_phase(close, window):
    cut = len(close) // 2
    altered = close.copy()
    altered[cut + 1 :] = altered[cut + 1 :][::-1] * 1.3
    before = compute_indicators(close, window=window, lag=2).iloc[: cut + 1]
    after = compute_indicators(altered, window=window, lag=2).iloc[: cut + 1]
    pd.testing.assert_frame_equal(before, after)


@PROPERTY_SETTINGS
@given(close=price_paths(), window=st.integers(8, 32), scale=st.floats(1e-3, 1e4))
def test_kuramoto_r_and_hurst_are_unchanged_by_price_scaling(close, window, scale):
    np.testing.assert_allclose(
        kuramoto_r(close * scale, window).to_numpy(), kuramoto_r(close, window).to_numpy(), atol=1e-8, equal_nan=True
    )
    np.testing.assert_allclose(
        hurst_exponent(close * scale, window).to_numpy(),
        hurst_exponent(close, window).to_numpy(),
        atol=1e-9,
        equal_nan=True,
    )


@PROPERTY_SETTINGS
@given(close=price_paths(), window=st.integers(8, 32), power=st.integers(-20, 20))
def test_entropy_and_ricci_are_exactly_unchanged_by_power_of_two_price_scaling(close, window, power):
    # Binning is discontinuous, so only exactly representable scalings are compared bit for bit.
    scaled = close * 2.0**power
    np.testing.assert_array_equal(shannon_entropy(scaled, window).to_numpy(), shannon_entropy(close, window).to_numpy())
    np.testing.assert_array_equal(ricci_curvature(scaled, window).to_numpy(), ricci_curvature(close, window).to_numpy())


@PROPERTY_SETTINGS
@given(
    close=price_paths(),
    other=price_paths(),
    window=st.integers(8, 24),
    scales=st.tuples(st.floats(0.01, 100), st.floats(0.01, 100)),
)
def test_cross_kuramoto_r_is_unchanged_by_scaling_each_asset(close, other, window, scales):
    size = min(len(close), len(other))
    frame = pd.DataFrame({"a": close[:size], "b": other[:size]})
    scaled = frame * np.asarray(scales)
    expected = cross_kuramoto_r(frame, window).to_numpy()
    np.testing.assert_allclose(cross_kuramoto_r(scaled, window).to_numpy(), expected, atol=1e-8, equal_nan=True)


@PROPERTY_SETTINGS
@given(close=price_paths(), window=st.integers(8, 32))
def test_bounded_indicators_stay_in_their_ranges(close, window):
    assert kuramoto_r(close, window).dropna().between(0.0, 1.0 + 1e-12).all()
    assert shannon_entropy(close, window).dropna().between(0.0, 1.0 + 1e-12).all()
    assert ricci_curvature(close, window).dropna().between(-1.0, 1.0).all()
    assert rsi(close, window).dropna().between(0.0, 100.0).all()
    confidence = compute_indicators(close, window=window, lag=2)["phase_confidence"].dropna()
    assert confidence.between(0.0, 1.0).all()


WINDOW_ONLY = {
    "entropy": lambda c, w: shannon_entropy(c, window=w, bins=6),
    "hurst": lambda c, w: hurst_exponent(c, window=w),
    "ricci": lambda c, w: ricci_curvature(c, window=w, levels=5),
    "sma": lambda c, w: sma(c, window=w),
    "zscore": lambda c, w: zscore(c, window=w),
    "bollinger_upper": lambda c, w: bollinger(c, window=w)["upper"],
}


@pytest.mark.parametrize("name", sorted(WINDOW_ONLY))
@PROPERTY_SETTINGS
@given(close=price_paths(), window=st.integers(8, 32), data=st.data())
def test_value_at_t_is_bit_for_bit_the_same_from_the_window_alone(name, close, window, data):
    # The live engine evaluates a rolling window of bars; it must see exactly the backtest's value.
    t = data.draw(st.integers(window - 1, len(close) - 1), label="t")
    function = WINDOW_ONLY[name]
    assert function(close[t - window + 1 : t + 1], window).iloc[-1] == function(close, window).iloc[t]


@PROPERTY_SETTINGS
@given(close=price_paths(), window=st.integers(8, 32), data=st.data())
def test_kuramoto_r_from_the_window_alone_matches_full_history_to_rounding(close, window, data):
    # The O(w) recurrence is re-anchored every window bars, so history only moves the last bits.
    t = data.draw(st.integers(window - 1, len(close) - 1), label="t")
    alone = kuramoto_r(close[t - window + 1 : t + 1], window).iloc[-1]
    assert alone == pytest.approx(kuramoto_r(close, window).iloc[t], abs=1e-12)
