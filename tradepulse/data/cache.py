"""The local OHLCV cache: one Parquet file per exchange, symbol and timeframe, with what it covers.

``tradepulse data download`` fills it (:mod:`tradepulse.adapters.ccxt.download`); every reader uses it like
any other bar file, by path or by address::

    load_bars("cache:binance:BTC/USDT:1m")
    load_bars("~/.cache/tradepulse/ohlcv/binance/BTC-USDT/1m.parquet")

Layout: ``<cache dir>/ohlcv/<exchange>/<symbol>/<timeframe>.parquet``, the symbol with ``/`` as
``-`` and ``:`` as ``_`` (``BTC/USDT`` -> ``BTC-USDT``, ``BTC/USDT:USDT`` -> ``BTC-USDT_USDT``). The
cache directory is ``$TRADEPULSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/tradepulse``, else
``~/.cache/tradepulse``.

Each file holds the canonical columns (``timestamp`` as UTC open time, float ``open, high, low,
close, volume``), sorted and unique, and in its Parquet metadata the **coverage**: the time ranges
``[start, end)`` (ms since the epoch) already asked of the exchange. Coverage, not the bars, decides
what a later download still needs: a range where the exchange had no bars (a listing gap, an
outage) is covered all the same and is not fetched again. Files are replaced atomically (written
aside, then renamed), so an interrupted download never leaves a half-written cache.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tradepulse.data.schema import BAR_COLUMNS, to_bar_frame
from tradepulse.errors import DataError

__all__ = [
    "CACHE_PREFIX",
    "OhlcvCache",
    "cache_address",
    "cache_path",
    "default_cache_dir",
    "merge_intervals",
    "missing_intervals",
    "parse_cache_address",
    "resolve_cache_source",
]

CACHE_PREFIX = "cache:"
CACHE_DIR_ENV = "TRADEPULSE_CACHE_DIR"
_METADATA_KEY = b"tradepulse.ohlcv_cache"
_FORMAT_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

Interval = tuple[int, int]


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$TRADEPULSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/tradepulse``, else ``~/.cache/tradepulse``."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_ENV):
        return Path(env[CACHE_DIR_ENV]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "tradepulse"
    return Path("~/.cache/tradepulse").expanduser()


def _safe(part: str, what: str) -> str:
    cleaned = _UNSAFE.sub("_", part.replace("/", "-").replace(":", "_"))
    if not cleaned or cleaned in (".", ".."):
        raise DataError(f"{what} {part!r} cannot name a cache file")
    return cleaned


def cache_path(exchange: str, symbol: str, timeframe: str, cache_dir: str | Path | None = None) -> Path:
    """Where the cache of ``exchange``/``symbol``/``timeframe`` lives.

    Examples
    --------
    >>> cache_path("binance", "BTC/USDT", "1m", "/tmp/c").as_posix()
    '/tmp/c/ohlcv/binance/BTC-USDT/1m.parquet'
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "ohlcv" / _safe(exchange, "exchange") / _safe(symbol, "symbol") / f"{_safe(timeframe, 'timeframe')}.parquet"


def cache_address(exchange: str, symbol: str, timeframe: str) -> str:
    """The ``cache:`` address readers accept: ``cache:binance:BTC/USDT:1m``."""
    return f"{CACHE_PREFIX}{exchange}:{symbol}:{timeframe}"


def parse_cache_address(address: str) -> tuple[str, str, str]:
    """Split ``cache:<exchange>:<symbol>:<timeframe>`` (the symbol may itself contain ``:``).

    Examples
    --------
    >>> parse_cache_address("cache:binance:BTC/USDT:USDT:5m")
    ('binance', 'BTC/USDT:USDT', '5m')
    """
    body = address[len(CACHE_PREFIX):] if address.startswith(CACHE_PREFIX) else address
    exchange, _, rest = body.partition(":")
    symbol, _, timeframe = rest.rpartition(":")
    if not exchange or not symbol or not timeframe:
        raise DataError(f"{address!r} is not a cache address; expected cache:<exchange>:<symbol>:<timeframe>, e.g. cache:binance:BTC/USDT:1m")
    return exchange, symbol, timeframe


def resolve_cache_source(address: str, cache_dir: str | Path | None = None) -> Path:
    """The Parquet file behind a ``cache:`` address; :class:`DataError` if nothing was downloaded."""
    exchange, symbol, timeframe = parse_cache_address(address)
    path = cache_path(exchange, symbol, timeframe, cache_dir)
    if not path.exists():
        raise DataError(
            f"{address}: not in the cache ({path}); fetch it with "
            f"`tradepulse data download --exchange {exchange} --symbol {symbol} --timeframe {timeframe} --since <date>`"
        )
    return path


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching ``[start, end)`` ranges; empty ones are dropped.

    Examples
    --------
    >>> merge_intervals([(5, 9), (0, 3), (3, 4), (8, 12)])
    [(0, 4), (5, 12)]
    """
    merged: list[Interval] = []
    for start, end in sorted((int(s), int(e)) for s, e in intervals if int(e) > int(s)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def missing_intervals(requested: Interval, covered: Iterable[Interval]) -> list[Interval]:
    """The parts of ``requested`` that ``covered`` does not contain.

    Examples
    --------
    >>> missing_intervals((0, 10), [(2, 4), (6, 7)])
    [(0, 2), (4, 6), (7, 10)]
    """
    start, end = requested
    missing: list[Interval] = []
    cursor = start
    for low, high in merge_intervals(covered):
        if high <= cursor or low >= end:
            continue
        if low > cursor:
            missing.append((cursor, min(low, end)))
        cursor = max(cursor, high)
        if cursor >= end:
            break
    if cursor < end:
        missing.append((cursor, end))
    return missing


@dataclass
class OhlcvCache:
    """One cache file: read it, add bars and coverage, write it back atomically.

    Parameters
    ----------
    path
        The Parquet file (:func:`cache_path`).
    """

    path: Path

    def read(self) -> tuple[pd.DataFrame, list[Interval]]:
        """Return ``(bars, coverage)``; an empty frame and no coverage when the file does not exist."""
        if not self.path.exists():
            return _empty_frame(), []
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.path)
        except Exception as error:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise DataError(f"{self.path}: the cache file cannot be read ({str(error).splitlines()[0]}); delete it to start over") from None
        metadata = (table.schema.metadata or {}).get(_METADATA_KEY)
        coverage: list[Interval] = []
        if metadata:
            try:
                coverage = [(int(s), int(e)) for s, e in json.loads(metadata)["coverage"]]
            except (ValueError, KeyError, TypeError):
                raise DataError(f"{self.path}: the cache metadata is damaged; delete the file to start over") from None
        frame = to_bar_frame(table.to_pandas(), str(self.path))
        return frame, merge_intervals(coverage)

    def write(self, bars: pd.DataFrame, coverage: Iterable[Interval], *, exchange: str = "", symbol: str = "", timeframe: str = "") -> None:
        """Replace the file with ``bars`` (canonical frame, sorted, unique) and ``coverage``, atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not bars.index.is_monotonic_increasing or bars.index.has_duplicates:
            raise DataError(f"{self.path}: refusing to cache bars that are unsorted or duplicated")
        table_frame = pd.DataFrame(
            {"timestamp": pd.DatetimeIndex(bars.index).as_unit("ms"), **{c: bars[c].to_numpy(dtype="float64") for c in BAR_COLUMNS}}
        )
        table = pa.Table.from_pandas(table_frame, preserve_index=False)
        metadata = dict(table.schema.metadata or {})
        metadata[_METADATA_KEY] = json.dumps({
            "version": _FORMAT_VERSION, "exchange": exchange, "symbol": symbol, "timeframe": timeframe,
            "coverage": [list(interval) for interval in merge_intervals(coverage)],
        }).encode()
        table = table.replace_schema_metadata(metadata)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            pq.write_table(table, scratch)
            os.replace(scratch, self.path)
        finally:
            scratch.unlink(missing_ok=True)


def _empty_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="timestamp")
    return pd.DataFrame({column: pd.Series([], dtype="float64") for column in BAR_COLUMNS}, index=index)
