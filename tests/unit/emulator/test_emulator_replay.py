"""Replaying the real recordings: sequencing that ccxt can sync to, seamless loops, no future leaks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradepulse.emulator.book import OrderBook
from tradepulse.emulator.clock import VenueClock
from tradepulse.emulator.market import MarketData
from tradepulse.emulator.replay import KIND_DEPTH, KIND_TRADE, Replayer, load_timeline
from tradepulse.emulator.symbols import SYMBOLS


class Collector:
    """A stream publisher that keeps what it is given, for the streams it was asked to follow."""

    def __init__(self, *streams: str) -> None:
        self.streams = set(streams)
        self.messages: list[tuple[str, Any]] = []

    def wants(self, stream: str) -> bool:
        return stream in self.streams

    def publish(self, stream: str, payload: Any) -> None:
        self.messages.append((stream, payload))

    def active_streams(self, prefix: str) -> list[str]:
        return [s for s in self.streams if s.startswith(prefix)]

    def of(self, stream: str) -> list[Any]:
        return [payload for name, payload in self.messages if name == stream]


@pytest.fixture(scope="module")
def btc_timeline():
    return load_timeline(("BTCUSDT",))


def _replay(timeline, *streams: str, start_offset_ms: int = 0):
    collector = Collector(*streams)
    data = MarketData(timeline, {"BTCUSDT": SYMBOLS["BTCUSDT"]}, collector)
    replayer = Replayer(timeline, VenueClock(), data, start_offset_ms)
    return collector, data.by_symbol["BTCUSDT"], replayer


def test_the_recording_starts_from_its_snapshot_and_the_first_diff_straddles_it(btc_timeline):
    recording = btc_timeline.recordings[0]
    first_depth = next(p for _, _, kind, p in btc_timeline.events if kind == KIND_DEPTH)
    assert first_depth[1] <= recording.snapshot_update_id + 1 <= first_depth[2]
    dues = [event[0] for event in btc_timeline.events]
    assert dues == sorted(dues)
    # Events are due no earlier than their exchange time, so E never lies in the venue's future.
    assert all(p[0] <= due for due, _, kind, p in btc_timeline.events if kind in (KIND_DEPTH, KIND_TRADE))


def test_a_full_loop_keeps_ids_gapless_time_increasing_and_the_book_reproducible(btc_timeline):
    collector, market, replayer = _replay(btc_timeline, "btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker")
    initial = market.depth_snapshot(5000)
    start = replayer.next_due_ms()
    replayer.advance_to(start + btc_timeline.loop_ms + 30_000)
    assert replayer.loop == 1

    diffs = collector.of("btcusdt@depth@100ms")
    assert diffs[0]["U"] <= initial["lastUpdateId"] + 1 <= diffs[0]["u"]
    assert all(later["U"] == earlier["u"] + 1 for earlier, later in zip(diffs, diffs[1:]))
    assert all(later["E"] >= earlier["E"] for earlier, later in zip(diffs, diffs[1:]))
    recording = btc_timeline.recordings[0]
    bridges = [d for d in diffs if d["U"] == recording.last_update_id + 1]
    assert len(bridges) == 1  # exactly one synthetic diff takes the book back to the snapshot
    assert bridges[0]["u"] == recording.first_update_id + recording.update_id_step - 1

    book_tickers = [p["u"] for p in collector.of("btcusdt@bookTicker")]
    assert all(later > earlier for earlier, later in zip(book_tickers, book_tickers[1:]))

    trades = collector.of("btcusdt@trade")
    assert all(later["t"] == earlier["t"] + 1 for earlier, later in zip(trades, trades[1:]))
    assert all(later["T"] >= earlier["T"] and later["E"] >= earlier["E"] for earlier, later in zip(trades, trades[1:]))

    # A client that applies every diff to the snapshot it started from holds the venue's book.
    replica = OrderBook("BTCUSDT")
    replica.load_snapshot(initial["lastUpdateId"], initial["bids"], initial["asks"])
    for diff in diffs:
        if diff["u"] > replica.last_update_id:
            replica.apply_diff(diff["u"], diff["b"], diff["a"])
    assert replica.top(5000) == market.book.top(5000)
    assert replica.last_update_id == market.book.last_update_id


def test_a_rest_snapshot_is_always_followed_by_the_diff_that_continues_it(btc_timeline):
    collector, market, replayer = _replay(btc_timeline, "btcusdt@depth@100ms")
    moment = replayer.next_due_ms()
    for _ in range(20):
        moment += 7_777
        replayer.advance_to(moment)
        snapshot = market.depth_snapshot(1000)
        assert snapshot["bids"][0][0] < snapshot["asks"][0][0]
        before = len(collector.messages)
        while len(collector.messages) == before:
            moment += 100
            replayer.advance_to(moment)
        assert collector.messages[before][1]["U"] == snapshot["lastUpdateId"] + 1


def test_candles_and_trades_never_come_from_the_future(btc_timeline):
    _, market, replayer = _replay(btc_timeline, start_offset_ms=120_000)
    now = replayer.clock.market_ms()
    replayer.advance_to(now)
    candles = market.klines.candles("1m", now_ms=now, limit=1000)
    assert candles and candles[-1][0].open_time <= now
    assert market.recent_trades[-1][3] <= now
    replayed = btc_timeline.events[:replayer.position]
    assert sum(bar.volume for bar, _ in candles) == sum(p[7] for _, _, kind, p in replayed if kind == KIND_TRADE)


def test_kline_stream_closes_each_minute_with_every_trade_of_it(btc_timeline):
    collector, _, replayer = _replay(btc_timeline, "btcusdt@kline_1m", "btcusdt@trade", "btcusdt@ticker",
                                     "btcusdt@miniTicker")
    start = replayer.next_due_ms()
    replayer.advance_to(start + 150_000)
    klines = [p["k"] for p in collector.of("btcusdt@kline_1m")]
    closed = [k for k in klines if k["x"]]
    assert closed and all(k["T"] - k["t"] == 59_999 for k in closed)
    trades = collector.of("btcusdt@trade")
    for bar in closed[1:]:  # the first one may have opened before the replay started
        volume = sum(Decimal(t["q"]) for t in trades if bar["t"] <= t["T"] <= bar["T"])
        assert Decimal(bar["v"]) == volume and bar["n"] == sum(1 for t in trades if bar["t"] <= t["T"] <= bar["T"])
    tickers = collector.of("btcusdt@ticker")
    assert 140 <= len(tickers) <= 151 and len(collector.of("btcusdt@miniTicker")) == len(tickers)
    assert all(float(t["b"]) < float(t["a"]) for t in tickers)


def test_pausing_holds_the_replay_and_resuming_shifts_time_instead_of_bursting(btc_timeline):
    collector, market, replayer = _replay(btc_timeline, "btcusdt@trade")
    start = replayer.next_due_ms()
    replayer.advance_to(start + 5_000)
    replayer.pause()
    paused_position = replayer.position
    replayer.advance_to(start + 60_000)
    assert replayer.position == paused_position
    shift_before = replayer.base_shift_ms
    replayer.resume()
    assert replayer.base_shift_ms >= shift_before
    assert replayer.next_due_ms() >= replayer.clock.market_ms() - 1000


def test_each_loop_places_every_id_of_both_symbols_above_the_previous_loops():
    for recording in load_timeline(("BTCUSDT", "ETHUSDT")).recordings:
        step = recording.update_id_step
        # ETH's last bookTicker id is above its last depth id: the step must clear both streams.
        assert recording.first_book_ticker_id + step > recording.last_book_ticker_id
        assert recording.first_update_id + step > recording.last_update_id + 1
        assert recording.first_trade_id + recording.trade_id_step == recording.last_trade_id + 1
