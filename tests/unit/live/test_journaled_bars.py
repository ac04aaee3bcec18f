"""A restart reads the newest bars back from segments (market.bars) and from old one-per-event bars alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradepulse.live.bars import journaled_bars
from tradepulse.model.events import Bar
from tradepulse.model.kinds import BAR_FIELDS
from tradepulse.store import Journal

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def bar(symbol: str, n: int) -> Bar:
    return Bar(symbol, T0 + n * MINUTE, T0 + (n + 1) * MINUTE, 100.0 + n, 101.0 + n, 99.0 + n, 100.5 + n, float(n))


def write(journal: Journal, *, legacy: int, total: int, per_segment: int) -> None:
    """``legacy`` one-event bars of BTC, then segments of ``per_segment`` bars; ETH's bars interleave throughout."""
    for n in range(legacy):
        for symbol in ("BTC/USDT", "ETH/USDT"):
            b = bar(symbol, n)
            journal.append("market.bar", {"symbol": symbol, "start": b.start, "end": b.end, "open": b.open, "high": b.high,
                                          "low": b.low, "close": b.close, "volume": b.volume}, ts=b.end)
    with journal.deferred_commits(max_events=100_000):
        for n in range(legacy, total):
            for symbol in ("BTC/USDT", "ETH/USDT"):
                b = bar(symbol, n)
                journal.append_row("market.bars", BAR_FIELDS, (b.start, b.end, b.open, b.high, b.low, b.close, b.volume),
                                   symbol=symbol, ts=b.end)
            if (n - legacy) % per_segment == per_segment - 1:
                journal.sync()


@pytest.mark.parametrize("limit", [None, 1, 3, 4, 50, 130, 400, 1000])
def test_the_newest_bars_come_back_oldest_first_across_segments_and_old_events(tmp_path, limit):
    # 150 segments of 3 bars per symbol: more events than one page of the newest-first read.
    with Journal(tmp_path / "journal.sqlite", durability="fast") as journal:
        write(journal, legacy=20, total=470, per_segment=3)
        bars = journaled_bars(journal, "BTC/USDT", limit)
    expected = [bar("BTC/USDT", n) for n in range(470)]
    assert bars == (expected if limit is None else expected[-limit:])


def test_no_bars_and_a_zero_limit(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as journal:
        assert journaled_bars(journal, "BTC/USDT") == []
        write(journal, legacy=0, total=5, per_segment=2)
        assert journaled_bars(journal, "BTC/USDT", 0) == []
        assert journaled_bars(journal, "SOL/USDT") == []
