"""IndicatorPanel: price with phase shading above R, ΔH, κ and Hurst."""

from __future__ import annotations

import numpy as np
import pytest

from tradepulse.indicators import compute_indicators
from tradepulse.widgets import IndicatorPanel


@pytest.fixture
def panel():
    widget = IndicatorPanel(debounce_s=0.05)
    yield widget
    widget.close()


def trace(figure, name):
    matches = [t for t in figure.data if t.name == name]
    assert matches, f"no trace named {name!r}; traces: {[t.name for t in figure.data]}"
    return matches[0]


def test_panel_draws_price_phases_and_the_four_indicators(panel, hourly_bars):
    expected = compute_indicators(hourly_bars, window=64)
    for name, column in (("R", "kuramoto_r"), ("ΔH", "delta_entropy"), ("κ", "ricci"), ("Hurst", "hurst")):
        np.testing.assert_allclose(np.asarray(trace(panel.figure, name).y, dtype=float), expected[column].to_numpy())
    np.testing.assert_allclose(np.asarray(trace(panel.figure, "close").y), hourly_bars["close"].to_numpy())
    assert trace(panel.figure, "market phase").type == "heatmap"


def test_latest_reading_matches_the_indicators_of_the_last_bar(panel, hourly_bars):
    expected = compute_indicators(hourly_bars, window=64).iloc[-1]
    latest = panel.latest
    assert latest["phase"] == expected["phase"]
    assert latest["kuramoto_r"] == pytest.approx(expected["kuramoto_r"])
    assert latest["close"] == pytest.approx(hourly_bars["close"].iloc[-1])
    assert 'data-stat="phase"' in panel.readings_view.value
    assert 'data-stat="strong_emergent"' in panel.phase_share_view.value


def test_changing_the_window_recomputes_every_indicator(panel, hourly_bars):
    before = np.asarray(trace(panel.figure, "R").y, dtype=float)
    panel.window.value = 128
    panel.wait()
    expected = compute_indicators(hourly_bars, window=128)
    after = np.asarray(trace(panel.figure, "R").y, dtype=float)
    np.testing.assert_allclose(after, expected["kuramoto_r"].to_numpy())
    assert np.isnan(after[:127]).all() and not np.isnan(before[63:127]).all()
    assert panel.status.state == "idle"


def test_another_dataset_can_be_chosen(panel):
    panel.set_source("sample:binance:BTC/USDT-PERP:5m").wait()
    assert panel.error is None
    assert len(panel.indicators) == 10_999


def test_a_missing_file_is_reported_in_the_panel(panel, tmp_path):
    panel.set_source(str(tmp_path / "nope.parquet")).wait()
    assert "no such file" in panel.error
    assert panel.status.state == "error"
