import math

import numpy as np
import pandas as pd
import pytest

from tradepulse.errors import ConfigError, DataError
from tradepulse.indicators import (
    INDICATOR_COLUMNS,
    MarketPhase,
    PhaseThresholds,
    classify_phase,
    compute_indicators,
    entropy_change,
    hurst_exponent,
    kuramoto_r,
    market_phase,
    ricci_curvature,
    shannon_entropy,
)

# Pinned once with the default thresholds and window 64 on the embedded samples.
GOLDEN_PHASES = {
    "hourly": {
        "2019-10-04T12:00:00Z": ("chaotic", 0.10972388150979673),
        "2019-10-12T20:00:00Z": ("post_emergent", 0.026986839451872413),
        "2019-10-24T14:00:00Z": ("transition", 0.32974631493241735),
    },
    "five_minute": {
        "2023-01-20T01:25:00Z": ("transition", 1.0),
        "2023-02-09T21:15:00Z": ("chaotic", 0.15853720352396516),
    },
}


def classify_one(r, dh, ricci, hurst, thresholds=None):
    phases, confidence = classify_phase([r], [dh], [ricci], [hurst], thresholds)
    return phases[0], confidence[0]


@pytest.mark.parametrize(
    "inputs, phase, confidence",
    [
        # Entropy jumps (+0.05 >= 0.02) with R above r_low: transition, far from every boundary.
        ((0.20, 0.05, 0.2, 0.60), MarketPhase.TRANSITION, 1.0),
        # Coherent, entropy falling, persistent, not pinned: strong emergence.
        ((0.30, -0.01, 0.1, 0.70), MarketPhase.STRONG_EMERGENT, 1.0),
        # Coherent but price pinned (kappa 0.5 >= 0.4): post-emergent; R is 0.2 scales above r_high.
        ((0.16, 0.00, 0.5, 0.60), MarketPhase.POST_EMERGENT, 0.2),
        # Partial coherence, entropy falling: proto-emergent; R is 0.4 scales above r_low.
        ((0.10, -0.03, 0.2, 0.50), MarketPhase.PROTO_EMERGENT, 0.4),
        # Incoherent; proto-emergent would need R +0.2 and dH -0.25 scales: confidence 0.25.
        ((0.07, -0.015, 0.2, 0.50), MarketPhase.CHAOTIC, 0.25),
    ],
)
def test_each_rule_picks_its_phase_with_the_documented_confidence(inputs, phase, confidence):
    got_phase, got_confidence = classify_one(*inputs)
    assert got_phase == phase.value
    assert got_confidence == pytest.approx(confidence)


def test_inputs_exactly_on_a_threshold_have_zero_confidence():
    phase, confidence = classify_one(0.15, 0.0, 0.1, 0.7)
    assert phase == "strong_emergent" and confidence == 0.0


def test_custom_thresholds_change_the_decision():
    # R = 0.3 is coherent by default but not under r_high = 0.5, and dH = -0.01 is no fall.
    assert classify_one(0.30, -0.01, 0.1, 0.70)[0] == "strong_emergent"
    assert classify_one(0.30, -0.01, 0.1, 0.70, PhaseThresholds(r_high=0.5))[0] == "chaotic"


def test_a_missing_input_gives_no_phase_and_no_confidence():
    phase, confidence = classify_one(np.nan, 0.0, 0.1, 0.7)
    assert phase is None and math.isnan(confidence)


def test_thresholds_reject_inconsistent_values():
    with pytest.raises(ConfigError, match="r_low"):
        PhaseThresholds(r_low=0.3, r_high=0.2)
    with pytest.raises(ConfigError, match="scale"):
        PhaseThresholds(r_scale=0.0)
    with pytest.raises(ConfigError, match="delta_entropy"):
        PhaseThresholds(delta_entropy=-0.1)


def test_compute_indicators_returns_the_documented_columns_on_the_bars_index(hourly_bars):
    frame = compute_indicators(hourly_bars)
    assert tuple(frame.columns) == INDICATOR_COLUMNS
    assert frame.index.equals(hourly_bars.index)
    assert isinstance(frame["phase"].dtype, pd.CategoricalDtype)
    assert list(frame["phase"].cat.categories) == [phase.value for phase in MarketPhase]
    warm_up = 64 - 1 + 8
    assert frame["phase"].iloc[:warm_up].isna().all()
    assert frame["phase"].iloc[warm_up:].notna().all()
    assert frame["phase_confidence"].iloc[warm_up:].between(0, 1).all()


def test_compute_indicators_columns_equal_the_individual_indicators(hourly_bars):
    close = hourly_bars["close"]
    frame = compute_indicators(hourly_bars, window=48, lag=4, levels=6)
    pd.testing.assert_series_equal(frame["kuramoto_r"], kuramoto_r(close, 48))
    pd.testing.assert_series_equal(frame["entropy"], shannon_entropy(close, 48))
    pd.testing.assert_series_equal(frame["delta_entropy"], entropy_change(close, 48, lag=4))
    pd.testing.assert_series_equal(frame["hurst"], hurst_exponent(close, 48))
    pd.testing.assert_series_equal(frame["ricci"], ricci_curvature(close, 48, levels=6))


def test_market_phase_reports_phase_confidence_and_its_inputs(hourly_bars):
    phases = market_phase(hourly_bars["close"], window=64)
    assert list(phases.columns) == ["phase", "confidence", "kuramoto_r", "delta_entropy", "ricci", "hurst"]
    full = compute_indicators(hourly_bars, window=64)
    assert phases["phase"].equals(full["phase"])


@pytest.mark.parametrize(
    "sample, timestamp",
    [(sample, ts) for sample, pins in sorted(GOLDEN_PHASES.items()) for ts in sorted(pins)],
)
def test_market_phase_matches_pinned_readings_on_real_btc(hourly_bars, five_minute_bars, sample, timestamp):
    bars = hourly_bars if sample == "hourly" else five_minute_bars
    expected_phase, expected_confidence = GOLDEN_PHASES[sample][timestamp]
    row = market_phase(bars).loc[pd.Timestamp(timestamp)]
    assert row["phase"] == expected_phase
    assert row["confidence"] == pytest.approx(expected_confidence, abs=1e-9)


def test_every_phase_occurs_on_the_five_minute_sample(five_minute_bars):
    shares = compute_indicators(five_minute_bars)["phase"].value_counts(normalize=True)
    assert set(shares.index) == {phase.value for phase in MarketPhase}
    assert (shares > 0.01).all()


def test_a_random_walk_is_mostly_chaotic(random_walk_close):
    shares = market_phase(random_walk_close.iloc[:5000])["phase"].value_counts(normalize=True)
    assert shares.idxmax() == "chaotic" and shares["chaotic"] > 0.5


def test_compute_indicators_needs_a_close_column():
    with pytest.raises(DataError, match="close"):
        compute_indicators(pd.DataFrame({"open": [1.0, 2.0]}))


def test_classify_phase_accepts_the_latest_scalar_readings():
    phases, confidence = classify_phase(0.2, 0.05, 0.2, 0.6)
    assert phases.tolist() == ["transition"] and confidence.tolist() == [1.0]
