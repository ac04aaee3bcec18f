"""Time bars built from trades, and the rolling window of bars a strategy is evaluated on.

A bar covers ``[start, start + period)`` with ``start`` aligned to the period since the Unix
epoch (a 1-minute bar starts on the minute), and its timestamp is its open time, like the bar
files. It closes when the first event at or after its end arrives (a trade in a later period, or
any other market event or clock tick): the engine never waits for a trade to learn that a quiet
minute is over. A period without trades becomes a flat bar at the previous close with zero volume,
as exchange klines do, so the strategy always sees evenly spaced bars.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from pandas.arrays import DatetimeArray

from tradepulse.errors import ConfigError
from tradepulse.model.events import Bar, Trade
from tradepulse.model.kinds import MarketKind
from tradepulse.store import Journal
from tradepulse.store.journal import segment_rows

__all__ = ["BarWindow", "TimeBarBuilder", "parse_period"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_COLUMNS = pd.Index(["open", "high", "low", "close", "volume"])
_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def parse_period(text: str) -> timedelta:
    """Parse a bar period such as ``"10s"``, ``"1m"``, ``"1h"`` (units ms, s, m, h, d).

    Examples
    --------
    >>> parse_period("5m")
    datetime.timedelta(seconds=300)
    """
    raw = str(text).strip().lower()
    for unit in ("ms", "s", "m", "h", "d"):
        if raw.endswith(unit):
            number = raw[: -len(unit)]
            if number.isdigit() and int(number) > 0:
                return int(number) * _UNITS[unit]
            break
    raise ConfigError(f"bar period {text!r} is not a positive whole number with a unit, e.g. 10s, 1m, 5m, 1h")


class TimeBarBuilder:
    """Aggregate the trades of one symbol into time bars.

    Parameters
    ----------
    symbol
        The symbol whose trades arrive.
    period
        Bar length (``timedelta``); bars start on multiples of it since the Unix epoch.
    """

    def __init__(self, symbol: str, period: timedelta) -> None:
        if period <= timedelta(0):
            raise ConfigError(f"bar period must be positive, got {period}")
        self.symbol = symbol
        self.period = period
        self._start: datetime | None = None
        self._open = self._high = self._low = self._close = 0.0
        self._volume = 0.0
        self._last_close: float | None = None
        self._next_start = _EPOCH  # start of the first period after the last bar emitted

    def _bar_start(self, at: datetime) -> datetime:
        return at - (at - _EPOCH) % self.period

    def on_trade(self, trade: Trade) -> list[Bar]:
        """Add ``trade``; return the bars it closed (empty periods included), oldest first."""
        closed = self.close_due(trade.at)
        price = float(trade.price)
        quantity = float(trade.quantity)
        if self._start is None:
            # A trade stamped inside a bar already emitted (a live feed's trade arriving after a
            # heartbeat closed its bar) goes into the next bar: an emitted bar is never reopened.
            self._start = self._bar_start(max(trade.at, self._next_start))
            self._open = self._high = self._low = price
            self._volume = 0.0
        self._high = max(self._high, price)
        self._low = min(self._low, price)
        self._close = price
        self._volume += quantity
        return closed

    def close_due(self, now: datetime) -> list[Bar]:
        """Close the open bar if ``now`` is at or past its end, plus a flat bar per empty period since."""
        closed: list[Bar] = []
        if self._start is not None and now >= self._start + self.period:
            closed.append(self._emit())
        if self._last_close is None or self._start is not None:
            return closed
        # Periods without trades since the last bar: flat bars, so the spacing stays even.
        while now >= self._next_start + self.period:
            closed.append(Bar(self.symbol, self._next_start, self._next_start + self.period, *([self._last_close] * 4), 0.0))
            self._next_start += self.period
        return closed

    def _emit(self) -> Bar:
        assert self._start is not None
        bar = Bar(self.symbol, self._start, self._start + self.period, self._open, self._high, self._low, self._close, self._volume)
        self._last_close = self._close
        self._next_start = bar.end
        self._start = None
        return bar


class BarWindow:
    """The last ``size`` bars as the frame a strategy expects (``DatetimeIndex`` of open times, OHLCV floats).

    Parameters
    ----------
    size
        Bars kept; the engine uses the strategy's ``warmup_bars`` (plus any margin), which is what
        makes the last row of ``signals`` equal its full-history value for a causal strategy.

    The bars' numbers live in preallocated arrays twice the window long, each bar written at its
    slot and again ``size`` slots later, so the window is always one contiguous slice: building
    the frame is a slice copy, not a conversion per bar. The arrays are filled at the first
    :meth:`frame` and kept up from then on.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ConfigError(f"the bar window needs at least 1 bar, got {size}")
        self.size = size
        self._bars: deque[Bar] = deque(maxlen=size)
        self._values = np.empty((2 * size, 5), dtype=np.float64)
        self._starts_ns = np.empty(2 * size, dtype=np.int64)
        # The arrays are written from the first frame() on: an engine whose strategy steps bar by
        # bar never asks for a frame, and would pay for them on every bar.
        self._framed = False
        self.count = 0

    def append(self, bar: Bar) -> None:
        """Add a closed bar (the oldest drops out once the window is full)."""
        if self._bars and bar.start <= self._bars[-1].start:
            raise ConfigError(f"bar at {bar.start.isoformat()} is not after the previous one at {self._bars[-1].start.isoformat()}")
        self._bars.append(bar)
        if self._framed:
            self._write(self.count, bar)
        self.count += 1

    def _write(self, index: int, bar: Bar) -> None:
        slot = index % self.size
        row = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        start_ns = (bar.start - _EPOCH) // timedelta(microseconds=1) * 1_000
        self._values[slot] = row
        self._values[slot + self.size] = row
        self._starts_ns[slot] = start_ns
        self._starts_ns[slot + self.size] = start_ns

    def __len__(self) -> int:
        return len(self._bars)

    @property
    def last(self) -> Bar | None:
        return self._bars[-1] if self._bars else None

    def _window(self) -> slice:
        if self.count <= self.size:
            return slice(0, self.count)
        first = self.count % self.size  # the oldest bar's slot; its mirror starts the contiguous run
        return slice(first, first + self.size)

    def frame(self) -> pd.DataFrame:
        """Return the window as a bar frame (the same shape ``tradepulse.data.load_bars`` returns)."""
        if not self._framed:
            self._framed = True
            for index, bar in enumerate(self._bars, start=self.count - len(self._bars)):
                self._write(index, bar)
        window = self._window()
        # Copies: the arrays are overwritten by the next bars, and a strategy may keep what it was given.
        values = self._values[window].copy()
        # The times are already UTC nanoseconds, sorted and unique: wrapping them skips the checks
        # and conversions of the public constructor, half the frame's cost (pandas is pinned).
        starts = DatetimeArray._simple_new(self._starts_ns[window].copy().view("M8[ns]"), dtype=_UTC_NS)
        index = pd.DatetimeIndex._simple_new(starts, name="timestamp")
        return pd.DataFrame(values, index=index, columns=_COLUMNS, copy=False)


def journaled_bars(journal: Journal, symbol: str, limit: int | None = None) -> list[Bar]:
    """The last ``limit`` bars of ``symbol`` the journal holds (every one when ``None``), oldest first.

    A restarted engine puts them back in its window (and through a strategy's per-bar form), so it
    decides on the first bar after the restart as it would have had it never stopped.
    """
    if limit is not None and limit <= 0:
        return []
    rows: list[dict] = []  # newest first
    # Newest events first until there are enough rows: a segment (market.bars) holds many bars, an
    # event of a journal written before segments (market.bar) one.
    before: int | None = None
    while limit is None or len(rows) < limit:
        events = journal.events(kinds=[MarketKind.BARS, MarketKind.BAR], symbol=symbol, newest_first=True, limit=64,
                                before_seq=before)
        for event in events:
            payloads = segment_rows(event.payload) if event.kind == MarketKind.BARS else [event.payload]
            rows.extend(reversed(payloads))
        if len(events) < 64:
            break
        before = events[-1].seq
    if limit is not None:
        rows = rows[:limit]
    return [Bar(symbol, datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"]), float(row["open"]),
                float(row["high"]), float(row["low"]), float(row["close"]), float(row["volume"])) for row in reversed(rows)]
