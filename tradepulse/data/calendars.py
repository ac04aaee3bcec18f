"""Exchange trading calendars for data validation, from the ``exchange_calendars`` library.

Holidays are rules plus one-off decisions (Hurricane Sandy in 2012, the national day of mourning on
2025-01-09), and early closes differ by exchange and year; a maintained library keeps them right,
so a daily stock series is checked against the exchange's real sessions instead of "every weekday".

How a calendar is chosen (``calendar=`` in :func:`tradepulse.data.validate_bars`, ``--calendar``):

- an exchange name or alias (``XNYS``, ``NYSE``, ``XLON`` ...; see
  ``exchange_calendars.get_calendar_names()``): expected bars are that exchange's sessions (daily
  bars) or the timeframe's slots within its trading hours (intraday bars);
- ``"data"``: the calendar inferred from the data alone (24x7, weekdays, or sessions from each
  day's first to last bar), the behaviour before exchange calendars;
- ``"auto"`` (the default): daily bars over at least two weeks with no Saturday or Sunday bar, and
  weekdays without a bar, are stock-like; the first of :data:`AUTO_CANDIDATES` whose sessions
  explain those weekdays is used: every bar falls on one of its sessions and it leaves fewer
  weekdays unexplained than "every weekday" does (fewest missing sessions wins). Anything else
  (crypto with weekend bars, intraday, weekly bars, a weekday source with no closed weekday to
  explain, an exchange not in the list) keeps the calendar inferred from the data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError, DataError

if TYPE_CHECKING:
    import exchange_calendars as xcals


def _xcals() -> ModuleType:
    # Imported on first use: it costs a tenth of a second, and most bars (crypto) never need a calendar.
    import exchange_calendars

    return exchange_calendars

__all__ = [
    "AUTO",
    "AUTO_CANDIDATES",
    "FROM_DATA",
    "CalendarGrid",
    "calendar_grid",
    "choose_calendar",
    "resolve_calendar_name",
]

AUTO = "auto"
FROM_DATA = "data"
#: Exchanges tried, in order, for stock-like daily bars. Ties go to the earlier one; the list is kept
#: short because each candidate costs a calendar build (about 0.1 s) when the data does not fit the first.
AUTO_CANDIDATES: tuple[str, ...] = ("XNYS", "XTSE", "XLON", "XETR", "XPAR", "XSWX", "XTKS", "XHKG", "XASX")
_DAY = pd.Timedelta(days=1)
_DAY_NS = _DAY.value
# Absence of weekend bars is evidence only once a couple of weekends were spanned.
_MIN_SPAN = pd.Timedelta(days=14)


@dataclass(frozen=True)
class CalendarGrid:
    """The bars an exchange calendar expects, in the same labelling as the data's own timestamps.

    ``expected`` holds the expected bar times; ``present`` the data's bars in that labelling (daily bars
    stamped at another time of day than midnight UTC become their session's date at 00:00 UTC).
    """

    name: str
    expected: pd.DatetimeIndex
    present: pd.DatetimeIndex
    note: str


def resolve_calendar_name(name: str) -> str:
    """Return the canonical exchange_calendars name for ``name`` (an MIC such as XNYS or an alias such as NYSE)."""
    cleaned = name.strip()
    known = set(_xcals().get_calendar_names(include_aliases=True))
    for candidate in (cleaned, cleaned.upper()):
        if candidate in known:
            return _xcals().resolve_alias(candidate)
    raise ConfigError(
        f"unknown trading calendar {name!r}; use '{AUTO}', '{FROM_DATA}' or an exchange such as XNYS, XLON, XTKS "
        "(exchange_calendars.get_calendar_names() lists them all)"
    )


@lru_cache(maxsize=64)
def _calendar(name: str, first: pd.Timestamp, last: pd.Timestamp) -> xcals.ExchangeCalendar:
    # Bounded to the data's range so old data works (the library's default covers about 20 years back).
    with warnings.catch_warnings():
        # exchange_calendars 4.13 builds its sessions with pandas APIs pandas 3.1 deprecates; not ours to act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _xcals().get_calendar(name, start=first, end=last)


def _exchange_calendar(name: str, first: pd.Timestamp, last: pd.Timestamp) -> xcals.ExchangeCalendar:
    try:
        return _calendar(name, first, last)
    except (_xcals().errors.CalendarError, ValueError) as exc:
        raise DataError(f"the {name} calendar cannot cover {first.date()} .. {last.date()} ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _midnight_stamped(index: pd.DatetimeIndex) -> bool:
    return bool((index.as_unit("ns").asi8 % _DAY_NS == 0).all())


def _session_labels(index: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Naive session dates for daily bars.

    A bar stamped at 00:00 UTC names its trading date (the common convention of daily sources); a bar
    stamped at any other time (the open at 14:30 UTC, the close at 21:00 UTC, midnight New York) belongs
    to the date it has in the exchange's own time zone.
    """
    if _midnight_stamped(index):
        return index.tz_convert(None).normalize()
    return index.tz_convert(tz).tz_localize(None).normalize()


def _daily_grid(name: str, index: pd.DatetimeIndex) -> CalendarGrid:
    calendar = _exchange_calendar(name, *_bounds(index))
    tz = str(calendar.tz)
    labels = _session_labels(index, tz)
    # Clamped because a bar dated on a closure at either end lies outside the calendar's first/last session.
    sessions = calendar.sessions_in_range(max(labels[0], calendar.first_session), min(labels[-1], calendar.last_session))
    note = "exchange sessions" if _midnight_stamped(index) else f"exchange sessions, bars dated in {tz}"
    return CalendarGrid(name, sessions.tz_localize("UTC"), labels.tz_localize("UTC"), note)


def _intraday_grid(name: str, index: pd.DatetimeIndex, timeframe: pd.Timedelta) -> CalendarGrid:
    first, last = _bounds(index)
    calendar = _exchange_calendar(name, first, last)
    try:
        # force=True cuts a session's last bar at the close (an hourly NYSE bar at 15:30 UTC-5 ends at 16:00),
        # which is how venues stamp it; the left edges are the bar open times the data carries.
        intervals = calendar.trading_index(
            max(first, calendar.first_session), min(last, calendar.last_session), timeframe, intervals=True, force=True
        )
    except (_xcals().errors.CalendarError, ValueError) as exc:
        raise DataError(f"the {name} calendar cannot lay out {_spell(timeframe)} bars: {_first_line(exc)}") from None
    expected = pd.DatetimeIndex(intervals.left)
    expected = expected[(expected >= index[0]) & (expected <= index[-1])]
    return CalendarGrid(name, expected, index, f"exchange trading hours, {_spell(timeframe)} bars")


def _bounds(index: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The data's first and last UTC dates, widened by a day so local dates either side are covered."""
    return index[0].tz_convert(None).normalize() - _DAY, index[-1].tz_convert(None).normalize() + _DAY


def _spell(timeframe: pd.Timedelta) -> str:
    seconds = int(timeframe.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def calendar_grid(name: str, index: pd.DatetimeIndex, timeframe: pd.Timedelta) -> CalendarGrid:
    """Return the bars exchange ``name`` expects between the first and last bar of ``index``.

    ``index`` is sorted, unique and UTC. Daily bars are compared by session date; intraday bars by
    their open times within the exchange's trading hours (early closes included).
    """
    canonical = resolve_calendar_name(name)
    if timeframe == _DAY:
        return _daily_grid(canonical, index)
    if timeframe < _DAY and _DAY.value % timeframe.value == 0:
        return _intraday_grid(canonical, index, timeframe)
    raise ConfigError(
        f"the {canonical} calendar applies to daily or intraday bars that divide a day; these bars are "
        f"{timeframe} apart (use --calendar {FROM_DATA})"
    )


def choose_calendar(index: pd.DatetimeIndex, timeframe: pd.Timedelta) -> tuple[str | None, str]:
    """Pick an exchange calendar for stock-like daily bars, or None to keep the data's own calendar.

    Returns the exchange's name (or None) and why, for the report (empty when the bars are not daily or span
    less than two weeks, where inferring from the data is the plain default).
    """
    if timeframe != _DAY or len(index) < 2 or index[-1] - index[0] < _MIN_SPAN:
        return None, ""  # intraday, multi-day or too short: nothing worth saying beyond the inferred calendar
    if np.isin(index.day_of_week, (5, 6)).any():
        return None, "bars on weekends"
    if _midnight_stamped(index):
        dates = index.tz_convert(None).normalize()
        if pd.bdate_range(dates[0], dates[-1]).isin(dates).all():
            # Checked once here: with dates as labels the answer is the same for every candidate.
            return None, "no weekday without a bar: nothing for an exchange calendar to explain"
    best: tuple[int, str] | None = None
    reason = "no exchange calendar tried explains the weekdays without a bar"
    for name in AUTO_CANDIDATES:
        try:
            grid = _daily_grid(name, index)
        except DataError:
            continue  # the candidate's rules do not reach back (or forward) to this data's dates
        labels = grid.present
        weekdays = pd.date_range(labels[0], labels[-1], freq="B")
        closed_weekdays = int((~weekdays.isin(labels)).sum())
        if closed_weekdays == 0:
            reason = "no weekday without a bar: nothing for an exchange calendar to explain"
            continue
        if (~labels.isin(grid.expected)).any():
            continue  # a bar on a day this exchange was closed: not its calendar
        missing = int((~grid.expected.isin(labels)).sum())
        if missing >= closed_weekdays:
            continue  # no holiday of this exchange explains any of the weekdays without a bar
        if best is None or missing < best[0]:
            best = (missing, name)
        if missing == 0:
            break
    if best is None:
        return None, reason
    return best[1], f"chosen automatically: daily bars, none on weekends, and the weekdays without one are {best[1]} closures"
