"""Gaps against exchange calendars: holidays are not gaps, missing sessions are."""

import exchange_calendars as xcals
import pandas as pd
import pytest

from tradepulse.data import load_bars, validate_bars
from tradepulse.errors import ConfigError

XLK = "sample:yahoo:XLK:1d"


@pytest.fixture(scope="module")
def xlk() -> pd.DataFrame:
    return load_bars(XLK)


def _nyse_weekday_closures(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    sessions = xcals.get_calendar("XNYS", start=first.date(), end=last.date()).sessions
    weekdays = pd.bdate_range(first.date(), last.date())
    return weekdays[~weekdays.isin(sessions)].tz_localize("UTC")


def test_nyse_daily_etf_reports_no_holiday_gaps(xlk):
    report = validate_bars(xlk, source=XLK)
    assert report.calendar == "XNYS"
    assert report.gaps == []
    assert report.off_grid_bars == 0
    assert report.warnings == []


def test_without_the_exchange_calendar_every_nyse_holiday_was_a_gap(xlk):
    report = validate_bars(xlk, calendar="data")
    assert report.calendar == "weekdays"
    holidays = _nyse_weekday_closures(xlk.index[0], xlk.index[-1])
    assert len(holidays) == 73  # the regular holidays plus 2025-01-09, as the data's attribution says
    assert [g.start for g in report.gaps] == list(holidays)
    assert all(g.missing_bars == 1 for g in report.gaps)


def test_a_missing_session_is_still_a_gap(xlk):
    dropped = pd.Timestamp("2024-03-13T00:00Z")
    report = validate_bars(xlk.drop(dropped))
    assert report.calendar == "XNYS"
    assert [(g.start, g.end, g.missing_bars) for g in report.gaps] == [(dropped, dropped, 1)]


def test_sessions_missing_either_side_of_a_holiday_are_one_gap(xlk):
    # Thanksgiving 2023 (Thursday 11-23) is no session, so Wednesday and Friday are consecutive sessions.
    before, after = pd.Timestamp("2023-11-22T00:00Z"), pd.Timestamp("2023-11-24T00:00Z")
    report = validate_bars(xlk.drop([before, after]))
    assert [(g.start, g.end, g.missing_bars) for g in report.gaps] == [(before, after, 2)]


def test_exchange_named_by_alias_or_lower_case(xlk):
    for name in ("NYSE", "xnys", "XNYS"):
        report = validate_bars(xlk, calendar=name)
        assert report.calendar == "XNYS"
        assert report.gaps == []


def test_unknown_calendar_is_a_config_error(xlk):
    with pytest.raises(ConfigError, match="unknown trading calendar 'NOPE'"):
        validate_bars(xlk, calendar="NOPE")
    with pytest.raises(ConfigError):
        validate_bars(xlk.iloc[:1], calendar="NOPE")  # refused even when one bar gives no timeframe


def test_the_wrong_exchange_reports_its_own_holidays(xlk):
    report = validate_bars(xlk, calendar="XLON")
    assert report.calendar == "XLON"
    gap_days = {g.start for g in report.gaps}
    assert pd.Timestamp("2019-07-04T00:00Z") not in set(xlk.index)  # NYSE closed, London open: a gap
    assert pd.Timestamp("2019-07-04T00:00Z") in gap_days
    # 2019-05-06 was a UK bank holiday on which NYSE traded: the bar is off London's calendar.
    assert pd.Timestamp("2019-05-06T00:00Z") in set(xlk.index)
    assert report.off_grid_bars > 0


def test_daily_bars_stamped_at_the_close_are_dated_in_new_york(xlk):
    at_close = xlk.copy()
    at_close.index = at_close.index + pd.Timedelta(hours=21)
    report = validate_bars(at_close)
    assert report.calendar == "XNYS"
    assert report.gaps == []
    assert report.off_grid_bars == 0


def _daily(five_minute_bars) -> pd.DataFrame:
    return five_minute_bars.resample("1D").agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})


def test_crypto_daily_bars_with_weekends_stay_24x7(five_minute_bars):
    report = validate_bars(_daily(five_minute_bars))
    assert report.calendar == "24x7"
    assert report.gaps == []


def test_weekday_source_closed_on_a_day_no_exchange_closes_is_not_given_one(five_minute_bars):
    daily = _daily(five_minute_bars)
    weekdays = daily[daily.index.day_of_week < 5]
    wednesday = weekdays.index[weekdays.index.day_of_week == 2][1]
    report = validate_bars(weekdays.drop(wednesday))
    assert report.calendar == "weekdays"
    assert [(g.start, g.missing_bars) for g in report.gaps] == [(wednesday, 1)]


def _nyse_hours(five_minute_bars) -> pd.DataFrame:
    """The real 5m data cut to NYSE hours (14:30-21:00 UTC in January, EST) on NYSE sessions."""
    index = five_minute_bars.index
    minutes = index.hour * 60 + index.minute
    holidays = _nyse_weekday_closures(index[0], index[-1])
    keep = (minutes >= 14 * 60 + 30) & (minutes < 21 * 60) & (index.day_of_week < 5) & ~index.normalize().isin(holidays)
    cut = five_minute_bars[keep]
    return cut[cut.index < "2023-02-01"]


def test_intraday_bars_against_nyse_hours(five_minute_bars):
    session = _nyse_hours(five_minute_bars)
    report = validate_bars(session, calendar="XNYS")
    assert report.calendar == "XNYS"
    assert report.gaps == []
    assert report.off_grid_bars == 0

    hole = session.index[(session.index >= "2023-01-10T16:00Z") & (session.index < "2023-01-10T16:30Z")]
    holed = validate_bars(session.drop(hole), calendar="XNYS")
    assert [(g.start, g.end, g.missing_bars) for g in holed.gaps] == [
        (pd.Timestamp("2023-01-10T16:00Z"), pd.Timestamp("2023-01-10T16:25Z"), 6)
    ]


def test_intraday_bars_on_an_exchange_holiday_are_off_its_grid(five_minute_bars):
    session = _nyse_hours(five_minute_bars)
    index = five_minute_bars.index
    minutes = index.hour * 60 + index.minute
    mlk_day = five_minute_bars[(index.normalize() == "2023-01-16") & (minutes >= 14 * 60 + 30) & (minutes < 21 * 60)]
    report = validate_bars(pd.concat([session, mlk_day]).sort_index(), calendar="XNYS")
    assert report.off_grid_bars == len(mlk_day) == 78
    assert report.gaps == []


def test_weekly_bars_cannot_take_an_exchange_calendar(xlk):
    weekly = xlk.resample("7D").agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    with pytest.raises(ConfigError, match="daily or intraday"):
        validate_bars(weekly, calendar="XNYS")
    assert validate_bars(weekly).gaps == []  # left to the calendar inferred from the data
