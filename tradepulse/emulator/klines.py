"""Candles built from the replayed trades: 1s and 1m base bars, every Binance interval on request.

Only trades the replay has already published count, so a kline never shows the future. Minutes
(or seconds) without a trade get an empty bar at the previous close, as Binance does.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from tradepulse.emulator.decimals import ZERO, fmt8

__all__ = ["Bar", "BarSeries", "INTERVALS", "KlineStore", "bucket_start", "interval_end"]

_MIN = 60_000
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR
#: Binance's spot kline intervals and their lengths (``1M`` is a calendar month, see bucket_start).
INTERVALS: dict[str, int] = {
    "1s": 1000, "1m": _MIN, "3m": 3 * _MIN, "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN,
    "1h": _HOUR, "2h": 2 * _HOUR, "4h": 4 * _HOUR, "6h": 6 * _HOUR, "8h": 8 * _HOUR, "12h": 12 * _HOUR,
    "1d": _DAY, "3d": 3 * _DAY, "1w": 7 * _DAY, "1M": 31 * _DAY,
}
_MONDAY_OFFSET = 4 * _DAY  # 1970-01-01 was a Thursday; Binance weeks start on Monday


def bucket_start(interval: str, time_ms: int) -> int:
    """Return the open time of the ``interval`` candle containing ``time_ms`` (UTC-aligned)."""
    if interval == "1M":
        moment = datetime.fromtimestamp(time_ms / 1000, tz=timezone.utc)
        return calendar.timegm((moment.year, moment.month, 1, 0, 0, 0)) * 1000
    if interval == "1w":
        return (time_ms - _MONDAY_OFFSET) // INTERVALS["1w"] * INTERVALS["1w"] + _MONDAY_OFFSET
    length = INTERVALS[interval]
    return time_ms - time_ms % length


def interval_end(interval: str, open_time: int) -> int:
    """Return the open time of the candle after the one opening at ``open_time``."""
    if interval == "1M":
        moment = datetime.fromtimestamp(open_time / 1000, tz=timezone.utc)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
    return open_time + INTERVALS[interval]


@dataclass
class Bar:
    """One candle; amounts are exact decimals."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    taker_buy_volume: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO
    trades: int = 0
    first_id: int = -1
    last_id: int = -1

    def add(self, price: Decimal, qty: Decimal, trade_id: int, buyer_is_maker: bool) -> None:
        if self.trades == 0 and self.volume == 0:
            self.open = self.high = self.low = price
            self.first_id = trade_id
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        quote = price * qty
        self.volume += qty
        self.quote_volume += quote
        if not buyer_is_maker:  # the buyer took liquidity: taker-buy volume
            self.taker_buy_volume += qty
            self.taker_buy_quote += quote
        self.trades += 1
        self.last_id = trade_id

    def merged(self, later: Bar) -> Bar:
        """Return this bar extended by ``later`` (for aggregating into a longer interval).

        Empty bars (no trade, flat at the previous close) shape the result only if every part is empty.
        """
        if later.trades == 0:
            prices = (self.open, self.high, self.low, self.close)
        elif self.trades == 0:
            prices = (later.open, later.high, later.low, later.close)
        else:
            prices = (self.open, max(self.high, later.high), min(self.low, later.low), later.close)
        return Bar(
            open_time=self.open_time, open=prices[0], high=prices[1], low=prices[2], close=prices[3], volume=self.volume + later.volume, quote_volume=self.quote_volume + later.quote_volume,
            taker_buy_volume=self.taker_buy_volume + later.taker_buy_volume,
            taker_buy_quote=self.taker_buy_quote + later.taker_buy_quote, trades=self.trades + later.trades,
            first_id=self.first_id if self.first_id >= 0 else later.first_id,
            last_id=later.last_id if later.last_id >= 0 else self.last_id,
        )

    def rest_row(self, close_time: int) -> list:
        """Return the ``GET /api/v3/klines`` row of this bar."""
        return [self.open_time, fmt8(self.open), fmt8(self.high), fmt8(self.low), fmt8(self.close), fmt8(self.volume),
                close_time, fmt8(self.quote_volume), self.trades, fmt8(self.taker_buy_volume),
                fmt8(self.taker_buy_quote), "0"]

    def stream_payload(self, symbol: str, interval: str, close_time: int, closed: bool) -> dict:
        """Return the ``k`` object of a ``kline`` stream event."""
        return {"t": self.open_time, "T": close_time, "s": symbol, "i": interval, "f": self.first_id,
                "L": self.last_id, "o": fmt8(self.open), "c": fmt8(self.close), "h": fmt8(self.high),
                "l": fmt8(self.low), "v": fmt8(self.volume), "n": self.trades, "x": closed,
                "q": fmt8(self.quote_volume), "V": fmt8(self.taker_buy_volume), "Q": fmt8(self.taker_buy_quote),
                "B": "0"}


def _empty_bar(open_time: int, close: Decimal) -> Bar:
    return Bar(open_time=open_time, open=close, high=close, low=close, close=close)


class BarSeries:
    """Contiguous base bars of one length (1 s or 1 m), oldest first, at most ``max_bars`` kept."""

    def __init__(self, length_ms: int, max_bars: int) -> None:
        self.length_ms = length_ms
        self.max_bars = max_bars
        self.bars: list[Bar] = []
        self.open_times: list[int] = []

    def _append(self, bar: Bar) -> None:
        self.bars.append(bar)
        self.open_times.append(bar.open_time)
        if len(self.bars) > self.max_bars + 1000:  # trim in chunks, not on every bar
            drop = len(self.bars) - self.max_bars
            del self.bars[:drop]
            del self.open_times[:drop]

    def roll_to(self, time_ms: int) -> None:
        """Make sure a (possibly empty) bar exists for every period up to the one holding ``time_ms``."""
        if not self.bars:
            return
        target = time_ms - time_ms % self.length_ms
        last = self.bars[-1]
        missing = (target - last.open_time) // self.length_ms
        if missing <= 0:
            return
        start = last.open_time + max(1, missing - self.max_bars) * self.length_ms
        for open_time in range(start, target + 1, self.length_ms):
            self._append(_empty_bar(open_time, last.close))

    def add_trade(self, time_ms: int, price: Decimal, qty: Decimal, trade_id: int, buyer_is_maker: bool) -> None:
        """Add one trade to the bar of its period (late trades join the newest bar)."""
        open_time = time_ms - time_ms % self.length_ms
        if not self.bars:
            self._append(_empty_bar(open_time, price))
        elif open_time < self.bars[-1].open_time:
            # A trade stamped just before a period the clock already opened belongs to its own bar.
            index = max(0, bisect_left(self.open_times, open_time))
            if self.open_times[index] == open_time:
                self.bars[index].add(price, qty, trade_id, buyer_is_maker)
                return
        else:
            self.roll_to(time_ms)
        self.bars[-1].add(price, qty, trade_id, buyer_is_maker)

    def since(self, start_ms: int) -> list[Bar]:
        """Return the bars opening at or after ``start_ms``."""
        return self.bars[bisect_left(self.open_times, start_ms):]


class KlineStore:
    """The candles of one symbol: 1 s bars for the last hour, 1 m bars for the last 30 days."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seconds = BarSeries(1000, 3600)
        self.minutes = BarSeries(_MIN, 30 * 24 * 60)

    def add_trade(self, time_ms: int, price: Decimal, qty: Decimal, trade_id: int, buyer_is_maker: bool) -> None:
        self.seconds.add_trade(time_ms, price, qty, trade_id, buyer_is_maker)
        self.minutes.add_trade(time_ms, price, qty, trade_id, buyer_is_maker)

    def roll_to(self, time_ms: int) -> None:
        self.seconds.roll_to(time_ms)
        self.minutes.roll_to(time_ms)

    def candles(self, interval: str, *, now_ms: int, start_ms: int | None = None, end_ms: int | None = None,
                limit: int = 500) -> list[tuple[Bar, int]]:
        """Return up to ``limit`` ``(bar, close_time)`` pairs of ``interval``, oldest first.

        Without ``start_ms`` the most recent candles (including the open one) are returned.
        """
        self.roll_to(now_ms)
        base = self.seconds if interval == "1s" else self.minutes
        if start_ms is None:
            lower = bucket_start(interval, now_ms if end_ms is None else min(end_ms, now_ms))
            for _ in range(limit - 1):
                lower = bucket_start(interval, lower - 1)
        else:
            lower = bucket_start(interval, start_ms)
        grouped: list[Bar] = []
        for bar in base.since(lower):
            if end_ms is not None and bar.open_time > end_ms:
                break
            key = bucket_start(interval, bar.open_time)
            if grouped and grouped[-1].open_time == key:
                grouped[-1] = grouped[-1].merged(bar)
            else:
                first = Bar(**bar.__dict__)
                first.open_time = key
                grouped.append(first)
        if start_ms is not None:
            grouped = [b for b in grouped if b.open_time >= start_ms][:limit]
        else:
            grouped = grouped[-limit:]
        return [(bar, interval_end(interval, bar.open_time) - 1) for bar in grouped]

    def current(self, interval: str, now_ms: int) -> tuple[Bar, int] | None:
        """Return the open candle of ``interval`` at ``now_ms`` with its close time, if any trade exists."""
        rows = self.candles(interval, now_ms=now_ms, end_ms=now_ms, limit=1)
        return rows[-1] if rows else None

    def rolling(self, now_ms: int, window_ms: int = _DAY) -> Bar | None:
        """Return one bar summarising the last ``window_ms`` (minute resolution), or None before any trade."""
        self.minutes.roll_to(now_ms)
        bars = self.minutes.since(now_ms - window_ms + 1 - (now_ms - window_ms + 1) % _MIN)
        if not bars:
            return None
        total = Bar(**bars[0].__dict__)
        for bar in bars[1:]:
            total = total.merged(bar)
        return total

    def average_price(self, now_ms: int, minutes: int = 5) -> Decimal | None:
        """Return the volume-weighted price of the last ``minutes`` minutes (Binance's ``avgPrice``)."""
        bars = self.minutes.since(now_ms - minutes * _MIN)
        volume = sum((b.volume for b in bars), ZERO)
        if volume > 0:
            return sum((b.quote_volume for b in bars), ZERO) / volume
        return self.minutes.bars[-1].close if self.minutes.bars else None
