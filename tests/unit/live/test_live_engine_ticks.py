"""The engine on the recorded Binance ticks: time bars, fills from the real book, latency, determinism."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tradepulse.model.costs import Costs
from tradepulse.adapters.paper import LatencyModel
from tradepulse.model.book import OrderBook
from tradepulse.model.events import DepthDiff, DepthSnapshot
from tradepulse.adapters.paper.feeds import get_recording
from tradepulse.live.replay import run_replay
from tradepulse.store import Journal

TEN_SECONDS = timedelta(seconds=10)


class ListFeed:
    """Already parsed recorded events, replayed like a RecordingFeed (parsing once keeps tests fast)."""

    kind = "ticks"

    def __init__(self, events) -> None:
        self._events = events
        self.instrument = get_recording("binance:BTC/USDT").instrument
        self.symbol = self.instrument.symbol

    def events(self):
        return iter(self._events)

    async def __aiter__(self):
        for event in self._events:
            yield event


def replay(events, **options):
    return run_replay(ListFeed(events), "sma_cross", params={"fast": 3, "slow": 8}, bar_period=TEN_SECONDS, costs=Costs(fees_bps=10), **options)


@pytest.fixture(scope="module")
def first_six_minutes(btc_recording_events):
    return [event for event in btc_recording_events if event.at.hour == 23]


def _book_sides_around(events, moment):
    """The book's first levels (asks, bids) just before and just after the events stamped ``moment``."""
    book, states = OrderBook("BTC/USDT"), []
    for event in events:
        if event.at >= moment and not states:
            states.append(_top(book))
        if event.at > moment:
            break
        if isinstance(event, DepthSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, DepthDiff):
            book.apply_diff(event)
    return [*states, _top(book)]


def _top(book, depth=10):
    return {side: list(book.levels(side))[:depth] for side in ("asks", "bids")}


def test_a_tick_replay_cuts_ten_second_bars_and_market_orders_walk_the_recorded_book(btc_recording_events):
    report = replay(btc_recording_events)
    assert report.bars == 65 and report.orders == {"FILLED": len({f.client_order_id for f in report.fills})}
    by_order: dict[str, list] = {}
    for fill in report.fills:
        by_order.setdefault(fill.client_order_id, []).append(fill)
    assert any(len(fills) > 1 for fills in by_order.values())  # at least one order needed several levels
    for fills in by_order.values():
        side = "asks" if fills[0].side == "buy" else "bids"
        walked = [(fill.price, fill.quantity) for fill in fills]

        def matches(levels):
            whole, last = walked[:-1], walked[-1]
            return levels[: len(whole)] == whole and levels[len(whole)][0] == last[0] and last[1] <= levels[len(whole)][1]

        assert any(matches(state[side]) for state in _book_sides_around(btc_recording_events, fills[0].time)), walked


def test_with_latency_every_fill_lands_at_least_that_long_after_its_order_in_simulated_time(first_six_minutes, tmp_path):
    path = tmp_path / "journal.sqlite"
    report = replay(first_six_minutes, latency=LatencyModel(fixed_ms=200), journal_path=path)
    with Journal(path, read_only=True) as journal:
        sent = {e.correlation_id: e.payload["at"] for e in journal.iter_events(kinds=["order.submitted"])}
        filled = [(e.correlation_id, e.payload["fill"]["filled_at"]) for e in journal.iter_events(kinds=["order.filled"])]
    from datetime import datetime

    assert filled and len(filled) == len(report.fills)
    for client_order_id, filled_at in filled:
        assert datetime.fromisoformat(filled_at) - datetime.fromisoformat(sent[client_order_id]) >= timedelta(milliseconds=200)


def test_replaying_the_same_ticks_twice_gives_the_same_fills(first_six_minutes):
    first, second = replay(first_six_minutes), replay(first_six_minutes)
    assert first.fills and first.fills == second.fills
    assert first.final_equity == second.final_equity
