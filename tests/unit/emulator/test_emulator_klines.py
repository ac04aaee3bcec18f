"""Candles from trades: alignment, gaps, aggregation to every interval, rolling statistics."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.emulator.klines import INTERVALS, KlineStore, bucket_start, interval_end

T0 = 1_723_161_600_000  # 2024-08-09T00:00:00Z, a Friday


def test_buckets_align_to_utc_minutes_hours_monday_weeks_and_calendar_months():
    assert bucket_start("1m", T0 + 61_234) == T0 + 60_000
    assert bucket_start("4h", T0 + 5 * 3_600_000) == T0 + 4 * 3_600_000
    assert bucket_start("1w", T0) == T0 - 4 * 86_400_000  # Monday 2024-08-05
    assert bucket_start("1M", T0 + 86_400_000) == 1_722_470_400_000  # 2024-08-01
    assert interval_end("1M", 1_722_470_400_000) == 1_725_148_800_000  # 2024-09-01


def test_minutes_without_trades_get_flat_empty_candles_at_the_previous_close():
    store = KlineStore("BTCUSDT")
    store.add_trade(T0 + 1_000, Decimal("100"), Decimal("1"), 1, False)
    store.add_trade(T0 + 2_000, Decimal("102"), Decimal("2"), 2, True)
    store.add_trade(T0 + 180_500, Decimal("101"), Decimal("1"), 3, True)
    rows = [bar.rest_row(close) for bar, close in store.candles("1m", now_ms=T0 + 181_000, limit=10)]
    assert [r[0] for r in rows] == [T0, T0 + 60_000, T0 + 120_000, T0 + 180_000]
    assert rows[0][1:6] == ["100.00000000", "102.00000000", "100.00000000", "102.00000000", "3.00000000"]
    assert rows[0][6] == T0 + 59_999 and rows[0][8] == 2
    assert rows[0][9] == "1.00000000"  # taker-buy volume: only the trade whose buyer took liquidity
    assert rows[1][1:6] == ["102.00000000"] * 4 + ["0.00000000"]
    assert rows[3][1] == "101.00000000"  # the first trade of a period opens it


def test_candles_never_include_periods_after_now_and_honour_start_end_and_limit():
    store = KlineStore("BTCUSDT")
    for minute in range(10):
        store.add_trade(T0 + minute * 60_000, Decimal(100 + minute), Decimal("1"), minute, False)
    now = T0 + 9 * 60_000 + 1
    assert [b.open_time for b, _ in store.candles("1m", now_ms=now, limit=3)] == [T0 + 420_000, T0 + 480_000,
                                                                                 T0 + 540_000]
    window = store.candles("1m", now_ms=now, start_ms=T0 + 60_000, end_ms=T0 + 180_000)
    assert [b.open_time for b, _ in window] == [T0 + 60_000, T0 + 120_000, T0 + 180_000]
    five = store.candles("5m", now_ms=now, limit=5)
    assert [(b.open_time, b.trades, b.open, b.close) for b, _ in five] == [
        (T0, 5, Decimal(100), Decimal(104)), (T0 + 300_000, 5, Decimal(105), Decimal(109))]


def test_rolling_window_and_average_price():
    store = KlineStore("BTCUSDT")
    store.add_trade(T0, Decimal("100"), Decimal("1"), 1, False)
    store.add_trade(T0 + 60_000, Decimal("110"), Decimal("3"), 2, False)
    window = store.rolling(T0 + 61_000)
    assert (window.open, window.high, window.low, window.close) == (100, 110, 100, 110)
    assert window.volume == 4 and window.first_id == 1 and window.last_id == 2
    assert store.average_price(T0 + 61_000) == Decimal("107.5")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3_600_000), st.integers(1, 10_000), st.integers(1, 1000)),
                min_size=1, max_size=60),
       st.sampled_from([name for name in INTERVALS if name not in ("1s",)]))
def test_every_interval_sums_exactly_the_trades_in_its_periods(raw_trades, interval):
    store = KlineStore("BTCUSDT")
    trades = sorted(raw_trades)
    for trade_id, (offset, price, qty) in enumerate(trades):
        store.add_trade(T0 + offset, Decimal(price) / 100, Decimal(qty) / 1000, trade_id, trade_id % 2 == 0)
    now = T0 + trades[-1][0]
    candles = store.candles(interval, now_ms=now, start_ms=T0 - 40 * 86_400_000, limit=1000)
    for bar, close_time in candles:
        inside = [t for t in trades if bar.open_time <= T0 + t[0] <= close_time]
        assert bar.volume == sum(Decimal(q) / 1000 for _, _, q in inside)
        assert bar.trades == len(inside)
        if inside:
            assert bar.high == max(Decimal(p) / 100 for _, p, _ in inside)
    assert sum(bar.trades for bar, _ in candles) == len(trades)
