"""Built-in strategies: their rules, causality, the rolling-window (live) contract and grid evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradepulse.indicators import market_phase, sma, zscore
from tradepulse.strategy import Composite, MeanReversion, SmaCross, Strategy
from tradepulse.strategy.builtin import _band_position

CONFIGURED = [
    SmaCross(fast=5, slow=20),
    SmaCross(fast=8, slow=21, allow_short=True),
    MeanReversion(window=20, entry_z=1.5, exit_z=0.25, max_hold_bars=30),
    MeanReversion(window=30, entry_z=2.0, exit_z=0.0, max_hold_bars=60, allow_short=False),
    Composite(window=32, trend_window=20, min_confidence=0.1),
    Composite(window=64, allow_short=False),
]


def _frame(close: list[float]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="1h", tz="UTC")
    values = np.asarray(close, dtype=float)
    return pd.DataFrame(
        {"open": values, "high": values + 1, "low": values - 1, "close": values, "volume": 1.0}, index=index
    )


@pytest.fixture(scope="module")
def bars(five_minute_bars) -> pd.DataFrame:
    return five_minute_bars.iloc[:3000]


def test_sma_cross_goes_long_above_and_flat_below_on_a_hand_made_series():
    signals = SmaCross(fast=2, slow=3).signals(_frame([1, 2, 3, 2, 1, 2, 3]))
    # sma2 = [-, 1.5, 2.5, 2.5, 1.5, 1.5, 2.5]; sma3 = [-, -, 2, 2.33, 2, 1.67, 2]
    assert signals.tolist() == [0, 0, 1, 1, 0, 0, 1]


def test_sma_cross_with_shorting_goes_short_below():
    signals = SmaCross(fast=2, slow=3, allow_short=True).signals(_frame([1, 2, 3, 2, 1, 2, 3]))
    assert signals.tolist() == [0, 0, 1, 1, -1, -1, 1]


def test_sma_cross_matches_the_classic_moving_averages(bars):
    strategy = SmaCross(fast=7, slow=30, allow_short=True)
    fast, slow = sma(bars["close"], 7), sma(bars["close"], 30)
    expected = np.where(fast > slow, 1.0, np.where(fast < slow, -1.0, 0.0))
    np.testing.assert_array_equal(strategy.signals(bars).to_numpy(), expected)


def test_mean_reversion_band_holds_until_the_exit_band_or_the_time_stop():
    zscore_path = np.array([np.nan, 0.0, -2.5, -1.0, -0.3, -2.2, -2.1, -1.0, -1.0, -1.0])
    held = _band_position(zscore_path, entry_z=2.0, exit_z=0.5, max_hold_bars=3)
    # enter at 2, exit at 4 (back inside 0.5), re-enter at 5 and 6, time stop 3 bars after the last trigger
    assert held.tolist() == [False, False, True, True, False, True, True, True, True, False]


def test_mean_reversion_enters_beyond_entry_band_and_exits_inside_exit_band_or_on_time(bars):
    strategy = MeanReversion(window=20, entry_z=1.5, exit_z=0.25, max_hold_bars=30)
    target = strategy.signals(bars).to_numpy()
    z = zscore(bars["close"], 20).to_numpy()
    previous = np.concatenate([[0.0], target[:-1]])
    long_entries = np.flatnonzero((target == 1) & (previous != 1))
    short_entries = np.flatnonzero((target == -1) & (previous != -1))
    assert len(long_entries) > 3 and len(short_entries) > 3
    assert (z[long_entries] < -1.5).all() and (z[short_entries] > 1.5).all()
    for exit_row in np.flatnonzero((previous == 1) & (target != 1)):
        last_trigger = max(i for i in range(exit_row) if z[i] < -1.5)
        assert z[exit_row] >= -0.25 or exit_row - last_trigger >= 30


def test_composite_takes_the_trend_only_in_confident_emergent_phases(bars):
    strategy = Composite(window=32, trend_window=20, min_confidence=0.1, proto_exposure=0.5)
    target = strategy.signals(bars).to_numpy()
    phases = market_phase(bars, window=32)
    phase = phases["phase"].astype(object).to_numpy()
    confidence = phases["confidence"].to_numpy()
    trend = np.sign(bars["close"].to_numpy() - sma(bars["close"], 20).to_numpy())
    active = target != 0
    assert active.sum() > 20
    assert set(phase[active]) <= {"strong_emergent", "proto_emergent"}
    assert (confidence[active] >= 0.1).all()
    np.testing.assert_array_equal(np.sign(target[active]), trend[active])
    np.testing.assert_array_equal(np.abs(target[active]), np.where(phase[active] == "strong_emergent", 1.0, 0.5))
    assert (target[phase == "chaotic"] == 0).all()


def test_composite_without_shorting_never_goes_short(bars):
    assert (Composite(window=32, min_confidence=0.0, allow_short=False).signals(bars) >= 0).all()


@pytest.mark.parametrize("strategy", CONFIGURED, ids=repr)
def test_targets_are_one_per_bar_within_minus_one_and_one(strategy, bars):
    target = strategy.signals(bars)
    assert target.index.equals(bars.index)
    assert target.between(-1, 1).all()


@pytest.mark.parametrize("strategy", CONFIGURED, ids=repr)
def test_last_row_of_a_warmup_window_equals_the_full_history_signal(strategy, bars):
    """The live engine evaluates ``warmup_bars`` bars and acts on the last row: it must agree."""
    full = strategy.signals(bars).to_numpy()
    window = strategy.warmup_bars
    for t in range(window - 1, len(bars), 37):
        assert strategy.latest_target(bars.iloc[t - window + 1 : t + 1]) == full[t], f"bar {t}"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=100, max_value=2800),
    shock=st.floats(min_value=0.5, max_value=2.0),
    which=st.sampled_from(range(len(CONFIGURED))),
)
def test_changing_future_bars_never_changes_past_signals(bars, cut, shock, which):
    strategy = CONFIGURED[which]
    altered = bars.copy()
    altered.iloc[cut:, :4] *= shock
    before = strategy.signals(bars).to_numpy()[:cut]
    after = strategy.signals(altered).to_numpy()[:cut]
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    ("cls", "combos"),
    [
        (SmaCross, [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 20, "allow_short": True}, {"fast": 5, "slow": 50}]),
        (MeanReversion, [{"window": 20}, {"window": 20, "entry_z": 1.5, "allow_short": False}, {"window": 40, "max_hold_bars": 10}]),
        (Composite, [{"window": 32}, {"window": 32, "trend_window": 10, "min_confidence": 0.0}, {"window": 48}]),
    ],
)
def test_signals_grid_agrees_with_signals_column_by_column(cls, combos, bars):
    grid = cls.signals_grid(bars, combos)
    assert grid.shape == (len(bars), len(combos))
    for column, combo in enumerate(combos):
        np.testing.assert_array_equal(grid[:, column], cls(**combo).signals(bars).to_numpy())


def test_default_signals_grid_evaluates_each_combination():
    class Threshold(Strategy):
        from tradepulse.strategy import FloatParam

        level = FloatParam(2.0, min=0.0, max=10.0)

        def signals(self, bars):
            return (bars["close"] > self.level).astype(float)

    frame = _frame([1, 2, 3, 4])
    grid = Threshold.signals_grid(frame, [{"level": 1.5}, {"level": 3.5}])
    assert grid.tolist() == [[0, 0], [1, 0], [1, 0], [1, 1]]


def test_latest_target_treats_nan_as_flat():
    class Undecided(Strategy):
        def signals(self, bars):
            return pd.Series(np.nan, index=bars.index)

    assert Undecided().latest_target(_frame([1, 2])) == 0.0


@pytest.mark.parametrize(
    "strategy",
    [SmaCross(fast=5, slow=20), SmaCross(fast=8, slow=21, allow_short=True), SmaCross(fast=2, slow=3, allow_short=True),
     MeanReversion(window=20, entry_z=1.5, exit_z=0.25, max_hold_bars=30),
     MeanReversion(window=30, entry_z=2.0, exit_z=0.0, max_hold_bars=60, allow_short=False), MeanReversion(window=5, max_hold_bars=3)],
    ids=repr,
)
def test_the_incremental_form_gives_the_simple_forms_targets_bit_for_bit(strategy, bars):
    steps = strategy.incremental()
    stepped = [steps.update(*row) for row in bars[["open", "high", "low", "close", "volume"]].itertuples(index=False)]
    np.testing.assert_array_equal(np.asarray(stepped), strategy.signals(bars).to_numpy())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(closes=st.lists(st.floats(min_value=1.0, max_value=2.0, allow_nan=False), min_size=1, max_size=80),
       fast=st.integers(2, 6), gap=st.integers(1, 6), allow_short=st.booleans())
def test_the_incremental_form_equals_the_simple_form_on_any_prices_including_ties(closes, fast, gap, allow_short):
    # Prices on a coarse grid make exact ties between the averages common: the forms must agree there too.
    closes = [round(value, 1) for value in closes]
    strategy = SmaCross(fast=fast, slow=fast + gap, allow_short=allow_short)
    frame = _frame(closes)
    steps = strategy.incremental()
    stepped = [steps.update(c, c + 1, c - 1, c, 1.0) for c in closes]
    assert stepped == strategy.signals(frame).tolist()


def test_strategies_without_a_per_bar_form_say_so():
    assert Composite().incremental() is None


@settings(max_examples=40, deadline=None)
@given(closes=st.lists(st.floats(min_value=1.0, max_value=2.0, allow_nan=False), min_size=1, max_size=80),
       window=st.integers(3, 8), hold=st.integers(1, 10), allow_short=st.booleans())
def test_mean_reversions_incremental_form_equals_the_simple_form_on_any_prices(closes, window, hold, allow_short):
    # Flat stretches (a zero std, NaN z-scores) and ties on a coarse grid included.
    closes = [round(value, 1) for value in closes]
    strategy = MeanReversion(window=window, entry_z=1.0, exit_z=0.2, max_hold_bars=hold, allow_short=allow_short)
    steps = strategy.incremental()
    assert [steps.update(c, c, c, c, 1.0) for c in closes] == strategy.signals(_frame(closes)).tolist()
