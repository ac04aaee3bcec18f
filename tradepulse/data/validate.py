"""Data-quality report for a bar frame: gaps, disorder, bad values, stale runs and outliers.

Errors make data unusable as it is (duplicates, disorder, NaNs, non-positive prices, OHLC that
contradict themselves); warnings are worth a look but can be genuine (gaps, stale runs, outlier
returns). The trading calendar is inferred from the data itself, so a weekday-only source does not
report weekends as gaps and an exchange-hours intraday source does not report nights as gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.data.schema import BAR_COLUMNS

# Lists of individual problems are cut to this many examples; counts always cover everything.
MAX_EXAMPLES = 50
_DAY = pd.Timedelta(days=1)


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
            found.append(f"{self.off_grid_bars} bar(s) off the {format_timeframe(self.timeframe)} grid")
        if self.counts.get("stale_runs", 0):
            found.append(f"{self.counts['stale_runs']} stale run(s) of unchanged close")
        if self.counts.get("outlier_returns", 0):
            found.append(f"{self.counts['outlier_returns']} outlier return(s)")
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
    unique = np.unique(index.asi8)
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
    time_of_day = (index.asi8 - index.normalize().asi8) // timeframe.value
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


def _find_gaps(present: pd.DatetimeIndex, timeframe: pd.Timedelta) -> tuple[list[Gap], int, str]:
    grid, calendar = _expected_grid(present, timeframe)
    missing_mask = ~grid.isin(present)
    off_grid = int((~present.isin(grid)).sum())
    positions = np.flatnonzero(missing_mask)
    gaps: list[Gap] = []
    if len(positions):
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        for run in np.split(positions, breaks):
            gaps.append(Gap(start=grid[run[0]], end=grid[run[-1]], missing_bars=int(len(run))))
    return gaps, off_grid, calendar


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


def _outliers(close: np.ndarray, index: pd.DatetimeIndex, threshold: float) -> tuple[int, list[dict[str, Any]]]:
    valid = np.isfinite(close) & (close > 0)
    if valid.sum() < 10:
        return 0, []
    log_close = np.where(valid, np.log(np.where(valid, close, 1.0)), np.nan)
    returns = np.diff(log_close)
    finite = np.isfinite(returns)
    median = np.median(returns[finite])
    mad = np.median(np.abs(returns[finite] - median))
    if mad == 0:
        return 0, []
    # 0.6745 makes the MAD-based score comparable to a standard z-score under normality.
    z_scores = np.full(len(close), np.nan)
    z_scores[1:] = 0.6745 * (returns - median) / mad
    mask = np.abs(np.nan_to_num(z_scores)) > threshold
    simple = np.full(len(close), np.nan)
    simple[1:] = np.expm1(returns)
    return int(mask.sum()), _examples(index, mask, ret=simple, robust_z=z_scores)


def validate_bars(
    bars: pd.DataFrame,
    source: str = "<frame>",
    stale_bars: int = 24,
    outlier_z: float = 12.0,
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
        Returns whose robust z-score (median/MAD of log returns) exceeds this are reported.

    Returns
    -------
    QualityReport
        ``ok`` is false when errors were found; gaps, stale runs and outliers are warnings.
    """
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
        report.gaps, report.off_grid_bars, report.calendar = _find_gaps(present, report.timeframe)
    counts["gaps"] = len(report.gaps)
    counts["missing_bars"] = sum(g.missing_bars for g in report.gaps)

    close = ordered["close"].to_numpy(dtype="float64")
    report.stale_runs = _stale_runs(close, present, stale_bars)
    counts["stale_runs"] = len(report.stale_runs)
    report.stale_runs = report.stale_runs[:MAX_EXAMPLES]
    counts["outlier_returns"], report.outlier_returns = _outliers(close, present, outlier_z)
    return report
