"""Bars from a Parquet file a batch at a time, for a replay that walks them once, in order.

:func:`~tradepulse.data.load_bars` reads a whole file into one frame (a million bars take a few
hundred MB while the file is converted). :func:`open_bar_stream` gives the same bars (the same
timestamps, the same float64 values, in the same order, within the same ``start``/``end`` bounds)
a batch at a time. It reads the file twice: the time column first, to check that timestamps are
unique and increasing, count the bars and find their spacing, then every column batch by batch.
Each batch goes through :func:`~tradepulse.data.to_bar_frame`, as the whole table does in
``load_bars``, so the conversion is the same code.

Only what converts batch by batch exactly as it does whole is streamed: a Parquet file whose time
column (or pandas index) is an Arrow timestamp without nulls and whose OHLCV columns are integers
or floats. Anything else (CSV, times stored as text or epoch numbers, whose parsing looks at the
whole column, other column types, duplicated or unordered timestamps, no bars) gets ``None``: the
caller loads the frame with ``load_bars``, which also raises the usual errors for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tradepulse.data.readers import _PARQUET_SUFFIXES, _as_utc, load_bars, resolve_source
from tradepulse.data.schema import _COLUMN_ALIASES, _TIME_ALIASES, BAR_COLUMNS, _find_column, _normalise, to_bar_frame
from tradepulse.errors import DataError

__all__ = ["BarStream", "open_bar_stream"]

#: Rows read per batch while checking the time column (8 bytes each).
_CHECK_ROWS = 65_536
#: Rows read and converted per batch while replaying (48 bytes each).
_READ_ROWS = 65_536
#: Bytes read from the file at a time per column: without it (and with pre-buffering, pyarrow's
#: default) the reader holds whole column chunks, and one row group can be the whole file.
_READ_BUFFER = 1 << 16


@dataclass(frozen=True)
class _Layout:
    """Which Parquet columns hold the bar's time and its open, high, low, close and volume."""

    time: str
    values: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys((self.time, *self.values)))


@dataclass(frozen=True)
class BarStream:
    """The bars of one Parquet file within ``[start, end]``, read a batch at a time.

    ``count`` bars, most commonly ``step`` apart (what :func:`~tradepulse.data.infer_timeframe` says of them; ``None`` for one bar).
    """

    source: str
    path: Path
    layout: _Layout
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    count: int
    step: pd.Timedelta | None

    def __len__(self) -> int:
        return self.count

    def frames(self, rows: int = 10_000) -> Iterator[pd.DataFrame]:
        """Yield the bars as canonical frames (as :func:`~tradepulse.data.load_bars` returns them) of at most ``rows`` bars."""
        lower = self.start.value if self.start is not None else None
        upper = self.end.value if self.end is not None else None
        columns = self.layout.columns
        parquet = pq.ParquetFile(self.path, buffer_size=_READ_BUFFER, pre_buffer=False)
        try:
            # Read and convert larger batches (the conversion costs per call), handing out ``rows`` at a time.
            for batch in parquet.iter_batches(batch_size=max(rows, _READ_ROWS), columns=columns, use_threads=False):
                raw = pd.DataFrame({"timestamp": batch.column(self.layout.time).to_pandas()}
                                   | {canonical: batch.column(field).to_pandas() for canonical, field in zip(BAR_COLUMNS, self.layout.values, strict=True)})
                bars = to_bar_frame(raw, self.source)
                stamps = bars.index.asi8
                if len(stamps) == 0:
                    continue
                if (lower is not None and stamps[0] < lower) or (upper is not None and stamps[-1] > upper):
                    keep = np.ones(len(stamps), dtype=bool)
                    if lower is not None:
                        keep &= stamps >= lower
                    if upper is not None:
                        keep &= stamps <= upper
                    bars = bars.loc[keep]
                for first in range(0, len(bars), rows):
                    yield bars.iloc[first:first + rows]
                if upper is not None and stamps[-1] > upper:
                    break
        finally:
            parquet.close()

    def frame(self) -> pd.DataFrame:
        """All the bars in one frame (what ``load_bars`` returns: this reads the whole file)."""
        return load_bars(self.source, start=self.start, end=self.end)


def open_bar_stream(source: str | Path, start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None) -> BarStream | None:
    """Check ``source`` and return a :class:`BarStream` of its bars, or ``None`` if it is not a Parquet file that streams exactly.

    ``None`` means: read it with :func:`~tradepulse.data.load_bars`. A missing file raises
    :class:`~tradepulse.errors.DataError` here as it does there.
    """
    where = str(source)
    path = resolve_source(source)
    if not path.name.lower().endswith(_PARQUET_SUFFIXES):
        return None
    try:
        lower = _as_utc(start, "start") if start is not None else None
        upper = _as_utc(end, "end") if end is not None else None
    except DataError:
        return None  # load_bars reports it, after checking the file as it always has
    if any(bound is not None and pd.isna(bound) for bound in (lower, upper)):
        return None  # an empty bound (NaT) selects no bars there
    try:
        parquet = pq.ParquetFile(path, buffer_size=_READ_BUFFER, pre_buffer=False)
    except (OSError, pa.ArrowException):
        return None
    try:
        layout = _layout(parquet.schema_arrow)
        if layout is None:
            return None
        checked = _check_times(parquet, layout.time, lower.value if lower is not None else None, upper.value if upper is not None else None)
    except (OSError, pa.ArrowException):
        return None
    finally:
        parquet.close()
    if checked is None:
        return None
    count, step = checked
    return BarStream(where, path, layout, lower, upper, count, step)


def _layout(schema: pa.Schema) -> _Layout | None:
    """Where the time and OHLCV are, found as :func:`~tradepulse.data.to_bar_frame` finds them in the frame pandas would read."""
    names = schema.names
    if len(set(names)) != len(names):
        return None
    index_fields: list[str] = []
    column_names: list[str] = list(names)
    index_name: object = None
    metadata = (schema.metadata or {}).get(b"pandas")
    if metadata is not None:
        try:
            pandas_meta = json.loads(metadata)
            index_fields = [entry for entry in pandas_meta.get("index_columns", []) if isinstance(entry, str)]
            described = {entry.get("field_name"): entry.get("name") for entry in pandas_meta.get("columns", [])}
        except (ValueError, AttributeError, TypeError):
            return None
        if len(index_fields) > 1 or any(field not in names for field in index_fields):
            return None
        # The frame's column labels are the names pandas recorded (they match the fields when they are strings).
        column_names = [name for name in names if name not in index_fields]
        if any(described.get(name, name) != name for name in column_names):
            return None
        if index_fields:
            index_name = described.get(index_fields[0])
    if not column_names:
        return None
    columns = {_normalise(name): name for name in column_names}
    time = _find_column(columns, _TIME_ALIASES)
    if time is None and index_fields:
        index_type = schema.field(index_fields[0]).type
        if pa.types.is_timestamp(index_type) or _normalise(index_name) in _TIME_ALIASES:
            time = index_fields[0]
    if time is None or not pa.types.is_timestamp(schema.field(time).type):
        return None
    values = []
    for canonical in BAR_COLUMNS:
        field = _find_column(columns, _COLUMN_ALIASES[canonical])
        if field is None:
            return None
        kind = schema.field(field).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        values.append(field)
    return _Layout(time, tuple(values))


def _check_times(parquet: pq.ParquetFile, field: str, lower: int | None, upper: int | None) -> tuple[int, pd.Timedelta | None] | None:
    """Count the bars in bounds and find their most common spacing; ``None`` unless every timestamp is set and increasing."""
    count, previous = 0, None
    last_in_bounds: int | None = None
    spacings: dict[int, int] = {}
    for batch in parquet.iter_batches(batch_size=_CHECK_ROWS, columns=[field], use_threads=False):
        times = batch.column(0)
        if times.null_count:
            return None
        stamps = times.cast(pa.timestamp("ns", tz=times.type.tz)).cast(pa.int64()).to_numpy()
        if len(stamps) == 0:
            continue
        if (previous is not None and stamps[0] <= previous) or (len(stamps) > 1 and not (np.diff(stamps) > 0).all()):
            return None
        previous = int(stamps[-1])
        keep = np.ones(len(stamps), dtype=bool)
        if lower is not None:
            keep &= stamps >= lower
        if upper is not None:
            keep &= stamps <= upper
        kept = stamps[keep]
        if len(kept) == 0:
            continue
        count += len(kept)
        joined = kept if last_in_bounds is None else np.concatenate(([last_in_bounds], kept))
        steps, counts = np.unique(np.diff(joined), return_counts=True)
        for spacing, seen in zip(steps.tolist(), counts.tolist(), strict=True):
            spacings[spacing] = spacings.get(spacing, 0) + seen
        last_in_bounds = int(kept[-1])
    if count == 0:
        return None
    # The most common spacing, the shortest of equally common ones (np.unique sorts, argmax takes the first).
    step = min(spacings.items(), key=lambda item: (-item[1], item[0]))[0] if spacings else None
    return count, pd.Timedelta(step, unit="ns") if step is not None else None
