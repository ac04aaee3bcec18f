import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.data import infer_timeframe, validate_bars


def test_embedded_samples_have_no_errors_and_no_gaps(hourly_bars, five_minute_bars):
    for bars in (hourly_bars, five_minute_bars):
        report = validate_bars(bars)
        assert report.ok, report.errors
        assert report.gaps == []
        assert report.calendar == "24x7"


def test_removed_bars_are_reported_as_one_exact_gap(hourly_bars):
    holed = hourly_bars.drop(hourly_bars.index[100:105])
    report = validate_bars(holed)
    assert [(g.start, g.end, g.missing_bars) for g in report.gaps] == [
        (hourly_bars.index[100], hourly_bars.index[104], 5)
    ]
    assert report.ok  # gaps are warnings
    assert any("gap" in w for w in report.warnings)


def test_gap_across_midnight_is_one_span(five_minute_bars):
    midnight = five_minute_bars.index.get_loc(pd.Timestamp("2023-01-05T00:00Z"))
    holed = five_minute_bars.drop(five_minute_bars.index[midnight - 3 : midnight + 4])
    report = validate_bars(holed)
    assert len(report.gaps) == 1
    assert report.gaps[0].start == pd.Timestamp("2023-01-04T23:45Z")
    assert report.gaps[0].end == pd.Timestamp("2023-01-05T00:15Z")
    assert report.gaps[0].missing_bars == 7


@settings(max_examples=30, deadline=None)
@given(start=st.integers(min_value=1, max_value=570), length=st.integers(min_value=1, max_value=10))
def test_any_contiguous_hole_is_found_exactly(hourly_bars, start, length):
    end = min(start + length, len(hourly_bars) - 1)
    holed = hourly_bars.drop(hourly_bars.index[start:end])
    gaps = validate_bars(holed).gaps
    assert len(gaps) == 1
    assert gaps[0].start == hourly_bars.index[start]
    assert gaps[0].end == hourly_bars.index[end - 1]
    assert gaps[0].missing_bars == end - start


def _weekday_daily(five_minute_bars) -> pd.DataFrame:
    """Daily bars built from the real 5m data, weekends removed, like an equities source."""
    daily = five_minute_bars.resample("1D").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    return daily[daily.index.day_of_week < 5]


def test_weekday_daily_source_does_not_report_weekends(five_minute_bars):
    daily = _weekday_daily(five_minute_bars)
    report = validate_bars(daily)
    assert report.calendar == "weekdays"
    assert report.gaps == []


def test_missing_weekday_in_daily_source_is_a_gap(five_minute_bars):
    daily = _weekday_daily(five_minute_bars)
    wednesday = daily.index[daily.index.day_of_week == 2][1]
    report = validate_bars(daily.drop(wednesday))
    assert [(g.start, g.missing_bars) for g in report.gaps] == [(wednesday, 1)]


def _exchange_hours(five_minute_bars) -> pd.DataFrame:
    """The real 5m data cut to a 14:30-20:55 UTC weekday session, like an equities intraday feed."""
    index = five_minute_bars.index
    minutes = index.hour * 60 + index.minute
    keep = (minutes >= 14 * 60 + 30) & (minutes <= 20 * 60 + 55) & (index.day_of_week < 5)
    return five_minute_bars[keep]


def test_nights_and_weekends_are_not_gaps_for_an_exchange_hours_source(five_minute_bars):
    report = validate_bars(_exchange_hours(five_minute_bars))
    assert report.calendar == "sessions"
    assert report.gaps == []


def test_hole_inside_a_session_is_a_gap(five_minute_bars):
    session = _exchange_hours(five_minute_bars)
    hole = session.index[(session.index >= "2023-01-10T16:00Z") & (session.index < "2023-01-10T16:30Z")]
    report = validate_bars(session.drop(hole))
    assert [(g.start, g.end, g.missing_bars) for g in report.gaps] == [
        (pd.Timestamp("2023-01-10T16:00Z"), pd.Timestamp("2023-01-10T16:25Z"), 6)
    ]


def test_duplicates_and_disorder_are_errors(hourly_bars):
    shuffled = pd.concat([hourly_bars.iloc[:10], hourly_bars.iloc[[5]], hourly_bars.iloc[12:20], hourly_bars.iloc[[10, 11]]])
    report = validate_bars(shuffled)
    assert not report.ok
    assert report.counts["duplicated_timestamps"] == 1
    assert report.duplicated_timestamps[0]["timestamp"] == hourly_bars.index[5]
    assert report.duplicated_timestamps[0]["identical"] is True
    assert report.counts["out_of_order"] == 2
    assert report.out_of_order[0]["timestamp"] == hourly_bars.index[5]


def test_nan_and_non_positive_prices_are_errors(hourly_bars):
    broken = hourly_bars.copy()
    broken.iloc[3, broken.columns.get_loc("close")] = np.nan
    broken.iloc[7, broken.columns.get_loc("low")] = 0.0
    broken.iloc[8, broken.columns.get_loc("volume")] = -1.0
    report = validate_bars(broken)
    assert report.nan_counts == {"close": 1}
    assert [r["timestamp"] for r in report.non_positive_prices] == [hourly_bars.index[7]]
    assert [r["timestamp"] for r in report.negative_volume] == [hourly_bars.index[8]]
    assert not report.ok


def test_inconsistent_ohlc_is_an_error_with_the_reason(hourly_bars):
    broken = hourly_bars.copy()
    row = broken.iloc[20]
    broken.iloc[20, broken.columns.get_loc("high")] = min(row.open, row.close) - 1
    report = validate_bars(broken)
    assert not report.ok
    assert report.ohlc_inconsistent[0]["timestamp"] == hourly_bars.index[20]
    assert report.ohlc_inconsistent[0]["problem"] in {"high < max(open, close)", "high < low"}


def test_stale_run_is_reported_with_its_span(hourly_bars):
    stale = hourly_bars.copy()
    stale.iloc[50:80, :4] = stale.iloc[50]["close"]
    report = validate_bars(stale, stale_bars=24)
    assert report.stale_runs[0]["start"] == hourly_bars.index[50]
    assert report.stale_runs[0]["end"] == hourly_bars.index[79]
    assert report.stale_runs[0]["bars"] == 30


def test_spike_is_an_outlier_return(hourly_bars):
    spiked = hourly_bars.copy()
    spiked.iloc[300, :4] = spiked.iloc[300, :4] * 1.5
    report = validate_bars(spiked)
    flagged = {r["timestamp"] for r in report.outlier_returns}
    assert hourly_bars.index[300] in flagged


def test_empty_frame_is_an_error(hourly_bars):
    report = validate_bars(hourly_bars.iloc[:0])
    assert not report.ok
    assert report.errors == ["no rows"]


def test_the_bar_interval_of_a_clock_stored_in_microseconds_is_read_in_real_time():
    # pandas 3 builds date_range indexes in microseconds; an hour must still read as an hour.
    index = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    assert str(index.dtype) == "datetime64[us, UTC]"
    assert infer_timeframe(index) == pd.Timedelta(hours=1)
