"""Data-quality report for a bar frame: gaps, disorder, bad values, stale runs and outliers.

Errors make data unusable as it is (duplicates, disorder, NaNs, non-positive prices, OHLC that
contradict themselves); warnings are worth a look but can be genuine (gaps, stale runs, outlier
returns, suspected unadjusted splits). Gaps are counted against a trading calendar: an exchange's
sessions (from ``exchange_calendars``, see :mod:`tradepulse.data.calendars`) when one is given or
the bars are stock-like dailies, else the calendar inferred from the data itself, so a weekday-only
source does not report weekends as gaps and an exchange-hours intraday source does not report nights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.data.calendars import AUTO, FROM_DATA, calendar_grid, choose_calendar, resolve_calendar_name
from tradepulse.data.schema import BAR_COLUMNS

# Lists of individual problems are cut to this many examples; counts always cover everything.
MAX_EXAMPLES = 50
_DAY = pd.Timedelta(days=1)
#: The calendar note when the expected bars come from the data itself rather than an exchange.
INFERRED = "inferred from the data"


def _split_factors() -> tuple[tuple[str, float], ...]:
    """Split ratios as the factor an unadjusted price jumps by on the ex-date (a 2-for-1 split halves it)."""
    factors = [("3-for-2", 2 / 3), ("2-for-3", 3 / 2)]
    for shares in (2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 50):
        factors += [(f"{shares}-for-1", 1 / shares), (f"1-for-{shares}", float(shares))]
    return tuple(factors)


#: Ratios checked for suspected unadjusted splits; 5-for-4 (a 20% move) is left out, ordinary crashes reach it.
SPLIT_FACTORS: tuple[tuple[str, float], ...] = _split_factors()
#: How far (in log terms, about 4%) an overnight move may sit from a split ratio and still be suspected.
SPLIT_TOLERANCE = 0.04
# Bars either side whose median close must sit at the old and the new price level: a bad print reverts, a split holds.
_SPLIT_LEVEL_BARS = 5


@dataclass(frozen=True)
class Gap:
    """A run of missing bars: ``start`` is the first missing bar's time, ``end`` the last one's."""

    start: pd.Timestamp
    end: pd.Timestamp
    missing_bars: int


@dataclass
class QualityReport:
    """Everything :func:`validate_bars` found, with :meth:`to_dict` for ``--json``."""

    source: str
    rows: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    timeframe: pd.Timedelta | None
    calendar: str
    calendar_note: str = ""
    gaps: list[Gap] = field(default_factory=list)
    off_grid_bars: int = 0
    duplicated_timestamps: list[dict[str, Any]] = field(default_factory=list)
    out_of_order: list[dict[str, Any]] = field(default_factory=list)
    nan_counts: dict[str, int] = field(default_factory=dict)
    non_positive_prices: list[dict[str, Any]] = field(default_factory=list)
    negative_volume: list[dict[str, Any]] = field(default_factory=list)
    ohlc_inconsistent: list[dict[str, Any]] = field(default_factory=list)
    stale_runs: list[dict[str, Any]] = field(default_factory=list)
    outlier_returns: list[dict[str, Any]] = field(default_factory=list)
    suspected_splits: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        found = []
        for key, label in (
            ("duplicated_timestamps", "duplicated timestamp(s)"),
            ("out_of_order", "out-of-order timestamp(s)"),
            ("nan_values", "NaN value(s)"),
            ("non_positive_prices", "non-positive price(s)"),
            ("negative_volume", "negative volume(s)"),
            ("ohlc_inconsistent", "bar(s) with inconsistent OHLC"),
        ):
            if self.counts.get(key, 0):
                found.append(f"{self.counts[key]} {label}")
        if self.rows == 0:
            found.append("no rows")
        return found

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.gaps:
            missing = sum(g.missing_bars for g in self.gaps)
            found.append(f"{len(self.gaps)} gap(s), {missing} missing bar(s)")
        if self.off_grid_bars:
            grid = f"the {format_timeframe(self.timeframe)} grid of the {self.calendar} calendar"
            found.append(f"{self.off_grid_bars} bar(s) off {grid}")
        if self.counts.get("stale_runs", 0):
            found.append(f"{self.counts['stale_runs']} stale run(s) of unchanged close")
        if self.counts.get("outlier_returns", 0):
            found.append(f"{self.counts['outlier_returns']} outlier return(s)")
        if self.counts.get("suspected_splits", 0):
            found.append(f"{self.counts['suspected_splits']} suspected unadjusted split(s)")
        return found

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "rows": self.rows,
            "start": self.start,
            "end": self.end,
            "timeframe": format_timeframe(self.timeframe),
            "calendar": self.calendar,
            "calendar_note": self.calendar_note,
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": dict(self.counts),
            "gaps": [{"start": g.start, "end": g.end, "missing_bars": g.missing_bars} for g in self.gaps],
            "off_grid_bars": self.off_grid_bars,
            "duplicated_timestamps": self.duplicated_timestamps,
            "out_of_order": self.out_of_order,
            "nan_counts": self.nan_counts,
            "non_positive_prices": self.non_positive_prices,
            "negative_volume": self.negative_volume,
            "ohlc_inconsistent": self.ohlc_inconsistent,
            "stale_runs": self.stale_runs,
            "outlier_returns": self.outlier_returns,
            "suspected_splits": self.suspected_splits,
        }


def format_timeframe(timeframe: pd.Timedelta | None) -> str | None:
    """Spell a bar interval the way exchanges do: ``1m``, ``5m``, ``1h``, ``1d``, ``1w``."""
    if timeframe is None:
        return None
    seconds = int(timeframe.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{timeframe.total_seconds()}s"


def infer_timeframe(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The most common positive spacing between consecutive distinct timestamps."""
    # In nanoseconds whatever unit the index stores (pandas 3 builds date_range in microseconds).
    unique = np.unique(index.as_unit("ns").asi8)
    if len(unique) < 2:
        return None
    steps = np.diff(unique)
    values, counts = np.unique(steps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def _expected_grid(index: pd.DatetimeIndex, timeframe: pd.Timedelta) -> tuple[pd.DatetimeIndex, str]:
    """The bar times a source with this data's own calendar should have between its first and last bar."""
    first, last = index[0], index[-1]
    span_days = (last - first) / _DAY
    weekdays = set(index.day_of_week)
    # Only infer closed weekdays once at least two full weeks were seen; otherwise absence is not evidence.
    closed_days = set(range(7)) - weekdays if span_days >= 14 else set()
    if timeframe >= _DAY:
        grid = pd.date_range(first, last, freq=timeframe)
        calendar = "24x7"
        if closed_days:
            grid = grid[~grid.day_of_week.isin(list(closed_days))]
            calendar = "weekdays" if closed_days == {5, 6} else "days:" + ",".join(
                str(d) for d in sorted(set(range(7)) - closed_days)
            )
        return grid, calendar
    slots_per_day = int(_DAY / timeframe)
    time_of_day = (index.as_unit("ns").asi8 - index.normalize().as_unit("ns").asi8) // timeframe.value
    seen_slots = len(np.unique(time_of_day))
    if seen_slots >= 0.9 * slots_per_day or span_days < 1:
        grid = pd.date_range(first, last, freq=timeframe)
        calendar = "24x7"
        if closed_days:
            grid = grid[~grid.day_of_week.isin(list(closed_days))]
            calendar = "24h, closed days " + ",".join(str(d) for d in sorted(closed_days))
        return grid, calendar
    # Exchange hours: each trading day is expected to run continuously from its first to its last bar;
    # nights and closed days are not gaps, a hole inside a session is.
    days = index.normalize()
    pieces = []
    for day in pd.unique(days):
        in_day = index[days == day]
        pieces.append(pd.date_range(in_day[0], in_day[-1], freq=timeframe))
    return pieces[0].append(pieces[1:]) if len(pieces) > 1 else pieces[0], "sessions"


def _find_gaps(present: pd.DatetimeIndex, timeframe: pd.Timedelta, calendar: str | None) -> tuple[list[Gap], int, str, str]:
    requested = (calendar or AUTO).strip()
    if requested.lower() == AUTO:
        exchange, note = choose_calendar(present, timeframe)
        if exchange is None:
            note = f"{INFERRED}: {note}" if note else INFERRED
    elif requested.lower() == FROM_DATA:
        exchange, note = None, f"{INFERRED}, as asked"
    else:
        exchange, note = requested, "as asked"
    if exchange is not None:
        laid_out = calendar_grid(exchange, present, timeframe)
        grid, observed, name = laid_out.expected, laid_out.present, laid_out.name
        note = f"{laid_out.note}; {note}"
    else:
        grid, name = _expected_grid(present, timeframe)
        observed = present
    missing_mask = ~grid.isin(observed)
    # Two bars dated on one session (daily bars stamped in local time) cannot both be that session's bar.
    off_grid = int((~observed.isin(grid)).sum()) + int(observed.duplicated().sum())
    positions = np.flatnonzero(missing_mask)
    gaps: list[Gap] = []
    if len(positions):
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        for run in np.split(positions, breaks):
            gaps.append(Gap(start=grid[run[0]], end=grid[run[-1]], missing_bars=int(len(run))))
    return gaps, off_grid, name, note


def _examples(frame_index: pd.DatetimeIndex, mask: np.ndarray, **columns: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for position in np.flatnonzero(mask)[:MAX_EXAMPLES]:
        row: dict[str, Any] = {"timestamp": frame_index[position]}
        for name, values in columns.items():
            row[name] = values[position]
        rows.append(row)
    return rows


def _stale_runs(close: np.ndarray, index: pd.DatetimeIndex, min_bars: int) -> list[dict[str, Any]]:
    if len(close) < min_bars:
        return []
    changed = np.concatenate([[True], close[1:] != close[:-1]])
    run_ids = np.cumsum(changed)
    run_starts = np.flatnonzero(changed)
    run_lengths = np.bincount(run_ids)[1:]
    runs = []
    for start, length in zip(run_starts, run_lengths):
        if length >= min_bars:
            runs.append(
                {"start": index[start], "end": index[start + length - 1], "bars": int(length), "close": close[start]}
            )
    return runs


def _log_prices(prices: np.ndarray) -> np.ndarray:
    valid = np.isfinite(prices) & (prices > 0)
    return np.where(valid, np.log(np.where(valid, prices, 1.0)), np.nan)


def _robust_scale(returns: np.ndarray) -> tuple[float, float] | None:
    """Median and MAD of the finite returns, or None when there are too few to judge what is ordinary."""
    finite = returns[np.isfinite(returns)]
    if len(finite) < 9:
        return None
    median = float(np.median(finite))
    return median, float(np.median(np.abs(finite - median)))


def _outliers(
    close: np.ndarray, index: pd.DatetimeIndex, threshold: float, exclude: np.ndarray
) -> tuple[int, list[dict[str, Any]]]:
    returns = np.diff(_log_prices(close))
    scale = _robust_scale(returns)
    if scale is None or scale[1] == 0:
        return 0, []
    median, mad = scale
    # 0.6745 makes the MAD-based score comparable to a standard z-score under normality.
    z_scores = np.full(len(close), np.nan)
    z_scores[1:] = 0.6745 * (returns - median) / mad
    # A suspected split is reported as such, not a second time as an outlier return.
    mask = (np.abs(np.nan_to_num(z_scores)) > threshold) & ~exclude
    simple = np.full(len(close), np.nan)
    simple[1:] = np.expm1(returns)
    return int(mask.sum()), _examples(index, mask, ret=simple, robust_z=z_scores)


def _suspected_splits(
    open_: np.ndarray, close: np.ndarray, index: pd.DatetimeIndex, threshold: float
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Bar-to-bar jumps (open against the previous close) that look like a split nobody adjusted for.

    A jump is suspected when it sits within :data:`SPLIT_TOLERANCE` of a split ratio, is extraordinary
    for the series (robust z-score of close-to-close returns above ``threshold``), the previous close
    sat at the old price level and the new level held: a bad print spikes and reverts, a split stays.
    """
    flagged = np.zeros(len(close), dtype=bool)
    log_close = _log_prices(close)
    scale = _robust_scale(np.diff(log_close))
    if scale is None:
        return flagged, []
    median, mad = scale
    log_factors = np.log([factor for _, factor in SPLIT_FACTORS])
    jumps = _log_prices(open_)[1:] - log_close[:-1]
    finite = np.isfinite(jumps)
    jumps = np.where(finite, jumps, 0.0)
    nearest_factor = np.argmin(np.abs(jumps[:, None] - log_factors[None, :]), axis=1)
    near_ratio = finite & (np.abs(jumps - log_factors[nearest_factor]) <= SPLIT_TOLERANCE)
    # A zero MAD (a flat series) makes any move extraordinary.
    extraordinary = np.abs(0.6745 * (jumps - median) / mad) > threshold if mad > 0 else np.ones(len(jumps), dtype=bool)
    examples: list[dict[str, Any]] = []
    # Only the few jumps near a ratio and out of the ordinary reach the per-bar level checks.
    for position in np.flatnonzero(near_ratio & extraordinary) + 1:
        jump = jumps[position - 1]
        nearest = int(nearest_factor[position - 1])
        half_way = abs(log_factors[nearest]) / 2
        old_level = np.nanmedian(log_close[max(0, position - _SPLIT_LEVEL_BARS) : position])
        new_level = np.nanmedian(log_close[position : position + _SPLIT_LEVEL_BARS])
        if abs(old_level - log_close[position - 1]) >= half_way:
            continue
        if abs(new_level - (log_close[position - 1] + log_factors[nearest])) >= half_way:
            continue
        flagged[position] = True
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                {
                    "timestamp": index[position],
                    "ratio": SPLIT_FACTORS[nearest][0],
                    "factor": SPLIT_FACTORS[nearest][1],
                    "previous_close": close[position - 1],
                    "open": open_[position],
                    "move": float(np.expm1(jump)),
                }
            )
    return flagged, examples


def validate_bars(
    bars: pd.DataFrame,
    source: str = "<frame>",
    stale_bars: int = 24,
    outlier_z: float = 12.0,
    *,
    calendar: str | None = None,
) -> QualityReport:
    """Check a canonical bar frame and report every problem found.

    Parameters
    ----------
    bars
        Frame in the canonical shape (see :func:`tradepulse.data.to_bar_frame`); duplicates and
        disorder are allowed here, since finding them is the point.
    source
        Name of the data source, echoed in the report.
    stale_bars
        A run of at least this many bars with an unchanged close is reported as stale.
    outlier_z
        Returns whose robust z-score (median/MAD of log returns) exceeds this are reported; a jump
        to a split ratio must exceed it too to be a suspected unadjusted split.
    calendar
        ``None`` or ``"auto"`` (an exchange's sessions for stock-like daily bars, else inferred from the
        data), ``"data"`` (always inferred from the data) or an exchange such as ``"XNYS"``; see
        :mod:`tradepulse.data.calendars`.

    Returns
    -------
    QualityReport
        ``ok`` is false when errors were found; gaps, stale runs, outliers and suspected splits are warnings.

    Raises
    ------
    ConfigError
        ``calendar`` names no known exchange, or an exchange calendar cannot apply to these bars' timeframe.
    DataError
        The exchange's calendar does not cover the bars' dates.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> report = validate_bars(load_bars("sample:yahoo:XLK:1d"))
    >>> report.calendar, report.gaps
    ('XNYS', [])
    """
    if calendar is not None and calendar.strip().lower() not in (AUTO, FROM_DATA):
        calendar = resolve_calendar_name(calendar)  # a misspelt exchange fails even when there are too few bars to use it
    index = pd.DatetimeIndex(bars.index)
    report = QualityReport(
        source=source,
        rows=len(bars),
        start=index.min() if len(index) else None,
        end=index.max() if len(index) else None,
        timeframe=None,
        calendar="unknown",
    )
    counts = report.counts
    if len(bars) == 0:
        return report

    duplicated = index.duplicated(keep=False)
    duplicate_groups = pd.Series(index[duplicated]).value_counts(sort=False)
    counts["duplicated_timestamps"] = int(index.duplicated().sum())
    for stamp, occurrences in list(duplicate_groups.sort_index().items())[:MAX_EXAMPLES]:
        rows = bars[index == stamp]
        report.duplicated_timestamps.append(
            {"timestamp": stamp, "occurrences": int(occurrences), "identical": bool((rows.nunique() <= 1).all())}
        )
    backwards = np.flatnonzero(np.diff(index.asi8) < 0) + 1
    counts["out_of_order"] = int(len(backwards))
    report.out_of_order = [
        {"row": int(p), "timestamp": index[p], "previous": index[p - 1]} for p in backwards[:MAX_EXAMPLES]
    ]

    values = {column: bars[column].to_numpy(dtype="float64") for column in BAR_COLUMNS}
    report.nan_counts = {column: int(np.isnan(v).sum()) for column, v in values.items() if np.isnan(v).any()}
    counts["nan_values"] = sum(report.nan_counts.values())

    prices = np.column_stack([values[c] for c in ("open", "high", "low", "close")])
    non_positive = (prices <= 0).any(axis=1)
    counts["non_positive_prices"] = int(non_positive.sum())
    report.non_positive_prices = _examples(
        index, non_positive, open=values["open"], high=values["high"], low=values["low"], close=values["close"]
    )
    negative_volume = values["volume"] < 0
    counts["negative_volume"] = int(negative_volume.sum())
    report.negative_volume = _examples(index, negative_volume, volume=values["volume"])
    counts["zero_volume"] = int((values["volume"] == 0).sum())

    with np.errstate(invalid="ignore"):
        high_below = values["high"] < np.fmax(values["open"], values["close"])
        low_above = values["low"] > np.fmin(values["open"], values["close"])
        inverted = values["high"] < values["low"]
    inconsistent = high_below | low_above | inverted
    counts["ohlc_inconsistent"] = int(inconsistent.sum())
    problems = np.where(inverted, "high < low", np.where(high_below, "high < max(open, close)", "low > min(open, close)"))
    report.ohlc_inconsistent = _examples(
        index, inconsistent, problem=problems, open=values["open"], high=values["high"], low=values["low"], close=values["close"]
    )

    ordered = bars[~index.duplicated()].sort_index()
    present = pd.DatetimeIndex(ordered.index)
    report.timeframe = infer_timeframe(present)
    if report.timeframe is not None:
        report.gaps, report.off_grid_bars, report.calendar, report.calendar_note = _find_gaps(
            present, report.timeframe, calendar
        )
    counts["gaps"] = len(report.gaps)
    counts["missing_bars"] = sum(g.missing_bars for g in report.gaps)

    close = ordered["close"].to_numpy(dtype="float64")
    report.stale_runs = _stale_runs(close, present, stale_bars)
    counts["stale_runs"] = len(report.stale_runs)
    report.stale_runs = report.stale_runs[:MAX_EXAMPLES]
    splits, report.suspected_splits = _suspected_splits(ordered["open"].to_numpy(dtype="float64"), close, present, outlier_z)
    counts["suspected_splits"] = int(splits.sum())
    counts["outlier_returns"], report.outlier_returns = _outliers(close, present, outlier_z, exclude=splits)
    return report
