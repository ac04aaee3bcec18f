import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.errors import ConfigError
from tradepulse.indicators import reference, ricci_curvature
from tradepulse.indicators import nb

# Pinned once from the linprog reference, window 64, 8 levels, idleness 0.5.
GOLDEN_HOURLY = {
    "2019-10-04T12:00:00Z": 0.1354351758134653,
    "2019-10-12T20:00:00Z": 0.42068965517241386,
    "2019-10-24T14:00:00Z": 0.2777777777777778,
}
GOLDEN_FIVE_MINUTE = {
    "2023-01-20T01:25:00Z": 0.18771043771043774,
    "2023-02-09T21:15:00Z": 0.6070175438596491,
}


def test_closed_form_curvature_equals_linprog_reference_on_hourly_btc(hourly_bars):
    close = hourly_bars["close"].iloc[-140:]  # 77 windows x 7 transport LPs keeps this under a second
    fast = ricci_curvature(close)
    slow = reference.ricci_curvature(close, w1_solver="linprog")
    assert fast.isna().equals(slow.isna())
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("levels, idleness", [(5, 0.0), (12, 0.25), (8, 0.9)])
def test_closed_form_curvature_equals_linprog_for_other_levels_and_idleness(five_minute_bars, levels, idleness):
    close = five_minute_bars["close"].iloc[2000:2060]
    fast = ricci_curvature(close, window=40, levels=levels, idleness=idleness)
    slow = reference.ricci_curvature(close, window=40, levels=levels, idleness=idleness)
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-9, equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(
    weights=st.lists(st.integers(1, 40), min_size=1, max_size=9),
    idleness=st.sampled_from([0.0, 0.2, 0.5, 0.8]),
    data=st.data(),
)
def test_edge_curvature_closed_form_equals_transport_lp_for_any_path_weights(weights, idleness, data):
    levels = len(weights) + 1
    edge = data.draw(st.integers(0, levels - 2))
    weight_array = np.asarray(weights, dtype=float)
    adjacency = np.zeros((levels, levels))
    for i, w in enumerate(weights):
        adjacency[i, i + 1] = adjacency[i + 1, i] = w
    distance = np.abs(np.subtract.outer(np.arange(levels), np.arange(levels))).astype(float)

    def measure(node):
        mass = (1 - idleness) * adjacency[node] / adjacency[node].sum()
        mass[node] += idleness
        return mass

    expected = 1.0 - reference._wasserstein_linprog(measure(edge), measure(edge + 1), distance)
    assert nb.path_edge_curvature_nb(weight_array, edge, levels, idleness) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_HOURLY.items()))
def test_ricci_matches_pinned_values_on_hourly_btc(hourly_bars, timestamp, expected):
    assert ricci_curvature(hourly_bars["close"])[pd.Timestamp(timestamp)] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("timestamp, expected", sorted(GOLDEN_FIVE_MINUTE.items()))
def test_ricci_matches_pinned_values_on_five_minute_btc(five_minute_bars, timestamp, expected):
    value = ricci_curvature(five_minute_bars["close"])[pd.Timestamp(timestamp)]
    assert value == pytest.approx(expected, abs=1e-12)


def test_ricci_of_a_steady_trend_is_one_over_levels_minus_one():
    # Every edge of the level path is crossed once: interior edges are flat, the two ends 1/2.
    close = np.linspace(100.0, 200.0, 64)
    assert ricci_curvature(close, window=64, levels=8).iloc[-1] == pytest.approx(1 / 7, abs=1e-12)


def test_ricci_is_high_when_price_keeps_crossing_one_level():
    # A single excursion to each extreme, then 40 bars flipping across the middle edge.
    close = np.r_[np.linspace(100, 108, 9), np.linspace(107, 100, 8), np.tile([103.9, 104.1], 20)][:64]
    pinned = ricci_curvature(close, window=len(close), levels=8).iloc[-1]
    assert pinned > 0.6


def test_ricci_is_unchanged_by_reversing_time_within_the_window(hourly_bars):
    window = hourly_bars["close"].to_numpy()[200:264]
    forward = ricci_curvature(window, window=64).iloc[-1]
    backward = ricci_curvature(window[::-1].copy(), window=64).iloc[-1]
    assert forward == backward


def test_ricci_stays_within_minus_one_and_one_on_real_data(five_minute_bars):
    values = ricci_curvature(five_minute_bars["close"], window=32, levels=10).dropna()
    assert values.between(-1.0, 1.0).all()


def test_ricci_of_a_flat_window_is_nan():
    close = np.r_[np.full(30, 7.0), 7.0 + np.arange(1, 11)]
    values = ricci_curvature(close, window=16).to_numpy()
    assert np.isnan(values[:30]).all() and np.isfinite(values[-1])


def test_ricci_rejects_idleness_of_one_or_more():
    with pytest.raises(ConfigError, match="idleness"):
        ricci_curvature(np.linspace(1, 2, 100), idleness=1.0)
