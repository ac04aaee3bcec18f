"""Replay feeds: bars as open/close events, recorded streams exactly as captured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tradepulse.errors import DataError
from tradepulse.model.events import BarClose, BarOpen, BookTicker, DepthDiff, DepthSnapshot, Trade
from tradepulse.adapters.paper.feeds import BarReplayFeed, RecordingFeed, fine_instrument, open_feed


def test_a_bar_replay_emits_each_open_at_the_bar_start_and_each_close_at_its_end():
    feed = open_feed("sample:binance:BTC/USDT:1h", end="2019-09-30 12:00")
    events = list(feed.events())
    assert isinstance(feed, BarReplayFeed) and len(events) == len(feed) == 2 * 5
    assert [type(e) for e in events[:4]] == [BarOpen, BarClose, BarOpen, BarClose]
    first_open, first_close, second_open = events[:3]
    assert first_open.price == first_close.bar.open == 7997.94
    assert first_close.at == first_open.at + timedelta(hours=1) == second_open.at
    assert feed.symbol == "BTC/USDT" and feed.instrument == fine_instrument("BTC/USDT")


def test_the_embedded_recording_replays_every_captured_event_in_time_order(btc_recording_events):
    counts: dict[type, int] = {}
    for event in btc_recording_events:
        counts[type(event)] = counts.get(type(event), 0) + 1
    # Counts from tradepulse/data/recordings/ATTRIBUTION.md (both files of the BTC recording).
    assert counts == {Trade: 9_757 + 10_147, BookTicker: 28_040 + 45_134, DepthDiff: 3_451 + 3_044, DepthSnapshot: 1}
    times = [event.at for event in btc_recording_events]
    assert times == sorted(times)
    diffs = [event for event in btc_recording_events if isinstance(event, DepthDiff)]
    assert all(b.first_update_id == a.last_update_id + 1 for a, b in zip(diffs, diffs[1:], strict=False))
    trade_ids = [int(event.trade_id) for event in btc_recording_events if isinstance(event, Trade)]
    assert trade_ids == list(range(3735683259, 3735703163))


def test_the_recording_uses_binance_spot_filters():
    feed = RecordingFeed.from_source("recording:binance:ETH/USDT")
    assert (feed.symbol, str(feed.instrument.tick_size), str(feed.instrument.lot_size)) == ("ETH/USDT", "0.01", "0.0001")


def test_unknown_sources_and_bar_ranges_on_tick_data_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="available: recording:binance:BTC/USDT"):
        open_feed("recording:binance:DOGE/USDT")
    with pytest.raises(DataError, match="a tick recording is replayed whole"):
        open_feed("recording:binance:BTC/USDT", start="2024-08-09")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"recv_ns": 1, "stream": "btcusdt@trade", "data": {"p": "1"}}\n')
    with pytest.raises(DataError, match="line 1"):
        list(RecordingFeed([broken], "BTC/USDT").events())


def test_any_bar_file_load_bars_reads_replays_like_the_sample_it_came_from(tmp_path):
    from tradepulse.data import load_bars

    path = tmp_path / "bars.csv.gz"
    load_bars("sample:binance:BTC/USDT:1h", end="2019-10-01").reset_index().to_csv(path, index=False)
    from_file = open_feed(path, symbol="BTC/USDT")
    from_sample = open_feed("sample:binance:BTC/USDT:1h", end="2019-10-01")
    assert list(from_file.events()) == list(from_sample.events())
    assert open_feed(path).symbol == "ASSET/QUOTE" and open_feed(path).instrument.quote == "QUOTE"
