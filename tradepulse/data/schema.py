"""The canonical bar frame and how raw tables are turned into it.

Every part of TradePulse works on one shape: a ``DatetimeIndex`` in UTC named ``timestamp`` (the
bar's open time) and float64 columns ``open, high, low, close, volume``. Readers are tolerant of
how a file spells its columns and strict about what it contains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradepulse.errors import DataError

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

_TIME_ALIASES = ("timestamp", "date", "time", "datetime", "open_time", "ts")
_COLUMN_ALIASES = {
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "price"),
    "volume": ("volume", "vol", "v", "base_volume"),
}


def _normalise(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_")


def _find_column(columns: dict[str, str], aliases: tuple[str, ...]) -> str | None:
    for alias in aliases:
        if alias in columns:
            return columns[alias]
    return None


def _parse_timestamps(values: pd.Series | pd.Index, where: str) -> pd.DatetimeIndex:
    """Parse ISO strings or epoch numbers (s, ms, us or ns, told apart by magnitude) into UTC."""
    if isinstance(values, pd.DatetimeIndex) or pd.api.types.is_datetime64_any_dtype(values):
        index = pd.DatetimeIndex(values)
    elif pd.api.types.is_numeric_dtype(values):
        numbers = pd.Series(np.asarray(values, dtype="float64"))
        if numbers.isna().any():
            raise DataError(f"{where}: {int(numbers.isna().sum())} empty timestamp(s)")
        magnitude = float(numbers.abs().median()) if len(numbers) else 0.0
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        index = pd.DatetimeIndex(pd.to_datetime(numbers.astype("int64"), unit=unit, utc=True))
    else:
        try:
            index = pd.DatetimeIndex(pd.to_datetime(pd.Series(values), utc=True, format="ISO8601"))
        except (ValueError, TypeError):
            try:
                index = pd.DatetimeIndex(pd.to_datetime(pd.Series(values), utc=True, format="mixed"))
            except (ValueError, TypeError) as exc:
                raise DataError(f"{where}: timestamps could not be parsed ({exc})") from None
        if index.isna().any():
            raise DataError(f"{where}: {int(index.isna().sum())} empty or unparseable timestamp(s)")
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    # One resolution everywhere, so frames from CSV and Parquet compare and concatenate cleanly.
    return index.as_unit("ns").rename("timestamp")


def to_bar_frame(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    """Map a raw table onto the canonical bar columns without reordering or dropping rows.

    Parameters
    ----------
    raw
        A table with a time column (``timestamp``, ``date``, ``time``, ...) or a datetime index,
        and OHLCV columns in any common spelling (``Open``, ``CLOSE``, ``vol``, ...).
    where
        What the table came from, used in error messages.

    Returns
    -------
    pandas.DataFrame
        UTC ``DatetimeIndex`` named ``timestamp`` and float64 ``open, high, low, close, volume``.
        Duplicated or unsorted timestamps are kept as they are: :func:`tradepulse.data.validate_bars`
        reports them and :func:`tradepulse.data.load_bars` refuses them.
    """
    if raw.empty and len(raw.columns) == 0:
        raise DataError(f"{where}: no columns found (is the file empty?)")
    columns = {_normalise(c): c for c in raw.columns}
    time_column = _find_column(columns, _TIME_ALIASES)
    if time_column is not None:
        index = _parse_timestamps(raw[time_column], where)
    elif isinstance(raw.index, pd.DatetimeIndex) or _normalise(raw.index.name) in _TIME_ALIASES:
        index = _parse_timestamps(raw.index, where)
    else:
        raise DataError(
            f"{where}: no time column; expected one of {', '.join(_TIME_ALIASES)} (found: {', '.join(map(str, raw.columns))})"
        )
    found: dict[str, str] = {}
    missing = []
    for canonical, aliases in _COLUMN_ALIASES.items():
        column = _find_column(columns, aliases)
        if column is None:
            missing.append(canonical)
        else:
            found[canonical] = column
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, raw.columns))})"
        )
    data = {}
    for canonical, column in found.items():
        values = pd.to_numeric(raw[column], errors="coerce")
        bad = values.isna() & raw[column].notna()
        if bad.any():
            first = raw[column][bad].iloc[0]
            raise DataError(f"{where}: column {canonical} has {int(bad.sum())} non-numeric value(s), e.g. {first!r}")
        data[canonical] = values.to_numpy(dtype="float64")
    return pd.DataFrame(data, index=index, columns=list(BAR_COLUMNS))


def check_ordered(bars: pd.DataFrame, where: str) -> None:
    """Refuse frames whose timestamps are duplicated or out of order: every consumer assumes neither."""
    index = bars.index
    if index.has_duplicates:
        first = index[index.duplicated()][0]
        raise DataError(
            f"{where}: duplicated timestamp {first.isoformat()} ({int(index.duplicated().sum())} in all); "
            "run `tradepulse data validate` for the full report"
        )
    if not index.is_monotonic_increasing:
        position = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise DataError(
            f"{where}: timestamps out of order at row {position} ({index[position].isoformat()}); "
            "run `tradepulse data validate` for the full report"
        )
