"""Readers: turn a data source (an embedded sample or a file) into the canonical bar frame."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pandas as pd

from tradepulse.data.cache import CACHE_PREFIX, resolve_cache_source
from tradepulse.data.samples import SAMPLE_PREFIX, get_sample
from tradepulse.data.schema import check_ordered, to_bar_frame
from tradepulse.errors import DataError

_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def resolve_source(source: str | Path) -> Path:
    """Return the file behind ``source``: ``sample:<name>``, ``cache:<exchange>:<symbol>:<timeframe>`` or a path."""
    text = str(source)
    if text.startswith(SAMPLE_PREFIX):
        return get_sample(text).path
    if text.startswith(CACHE_PREFIX):
        return resolve_cache_source(text)
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(f"{text}: no such file (use a path, or sample:<name>; `tradepulse data list` shows samples)")
    if path.is_dir():
        raise DataError(f"{text}: is a directory, expected a CSV, CSV.gz or Parquet file")
    return path


def _read_table(path: Path, where: str) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith(_PARQUET_SUFFIXES):
            return pd.read_parquet(path)
        if name.endswith(_CSV_SUFFIXES) or name.endswith(".gz"):
            return pd.read_csv(path, compression="infer", sep=None, engine="python") if _sniff_needed(path) else pd.read_csv(path, compression="infer")
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, gzip.BadGzipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{where}: cannot be read as a table ({str(exc).splitlines()[0]})") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet; report them as data errors
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{where}: cannot be read as Parquet ({str(exc).splitlines()[0]})") from None
        raise
    raise DataError(f"{where}: unsupported file type; expected .csv, .csv.gz or .parquet")


def _sniff_needed(path: Path) -> bool:
    """True when the first line has no comma, i.e. the file uses another delimiter (; or tab)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except (OSError, EOFError, zlib.error):
        return False
    return "," not in first and any(sep in first for sep in (";", "\t", "|"))


def read_bars_unchecked(source: str | Path) -> pd.DataFrame:
    """Read ``source`` into the canonical columns, keeping duplicates and disorder for validation."""
    path = resolve_source(source)
    return to_bar_frame(_read_table(path, str(source)), str(source))


def load_bars(
    source: str | Path,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Load bars from an embedded sample or a file into the canonical frame.

    Parameters
    ----------
    source
        ``sample:<name>`` (see :func:`tradepulse.data.list_samples`) or a path to a CSV, CSV.gz or
        Parquet file with a time column and OHLCV columns in any common spelling.
    start, end
        Optional inclusive bounds (anything :class:`pandas.Timestamp` parses; naive means UTC).

    Returns
    -------
    pandas.DataFrame
        UTC ``DatetimeIndex`` named ``timestamp``; float64 ``open, high, low, close, volume``.

    Raises
    ------
    DataError
        The source is missing, unreadable, lacks columns, holds non-numeric values, has duplicated
        or out-of-order timestamps, or is empty (after the bounds are applied).

    Examples
    --------
    >>> bars = load_bars("sample:binance:BTC/USDT:1h")
    >>> list(bars.columns)
    ['open', 'high', 'low', 'close', 'volume']
    """
    where = str(source)
    bars = read_bars_unchecked(source)
    check_ordered(bars, where)
    if start is not None:
        bars = bars.loc[bars.index >= _as_utc(start, "start")]
    if end is not None:
        bars = bars.loc[bars.index <= _as_utc(end, "end")]
    if bars.empty:
        raise DataError(f"{where}: no bars" + (" in the requested range" if start is not None or end is not None else ""))
    bars.attrs["source"] = where
    return bars


def _as_utc(value: str | pd.Timestamp, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"{name}: {value!r} is not a date or time") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
