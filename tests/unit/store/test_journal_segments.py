"""Segment events: rows gathered between two writes of anything else become one event, in order, never held past a commit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradepulse.store import Journal
from tradepulse.store.journal import SEGMENT_ROWS, JournalError, segment_rows

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FIELDS = ("start", "close")


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def test_rows_are_written_as_one_event_before_the_next_other_event(journal_at):
    with Journal(journal_at(), clock=lambda: T0) as journal:
        journal.append_row("market.bars", FIELDS, (minute(0), 1.5), symbol="BTC/USDT", ts=minute(1))
        journal.append_row("portfolio.marks", ("at", "price"), (minute(1), Decimal("1.50")), ts=minute(1))
        journal.append_row("market.bars", FIELDS, (minute(1), 2.5), symbol="BTC/USDT", ts=minute(2))
        assert journal.count() == 0  # gathering; select() does not write for a journal that commits each append
        target = journal.append("strategy.target", {"symbol": "BTC/USDT", "target": 1.0})
        events = journal.events()
    # The bars' segment (begun first), the marks' segment, then the event that made them be written.
    assert [(event.seq, event.kind) for event in events] == [(1, "market.bars"), (2, "portfolio.marks"), (3, "strategy.target")]
    assert target.seq == 3  # append returns its own event, not the segments written before it
    bars, marks = events[0], events[1]
    assert bars.ts == minute(2) and marks.ts == minute(1)  # a segment's time is its newest row's
    assert segment_rows(bars.payload) == [
        {"symbol": "BTC/USDT", "start": minute(0).isoformat(), "close": 1.5},
        {"symbol": "BTC/USDT", "start": minute(1).isoformat(), "close": 2.5},
    ]
    assert segment_rows(marks.payload) == [{"at": minute(1).isoformat(), "price": "1.50"}]  # Decimals as exact text
    assert journal_symbol(journal_at(), bars.seq) == "BTC/USDT"  # indexed like any event's symbol


def journal_symbol(path, seq: int) -> str | None:
    with Journal(path, read_only=True) as reader:
        return reader.select("SELECT symbol FROM events WHERE seq = ?", [seq])[0][0]


def test_write_rows_writes_and_commits_at_once_unless_commits_are_deferred(journal_at):
    path = journal_at()
    with Journal(path, clock=lambda: T0) as journal:
        journal.append_row("market.bars", FIELDS, (minute(0), 0.5), symbol="BTC/USDT")
        written = journal.write_rows()
        assert [event.kind for event in written] == ["market.bars"] and written[0].seq == 1
        with Journal(path, read_only=True) as reader:
            assert reader.count("market.bars") == 1  # committed: a live journal has each bar at once
        assert journal.write_rows() == []  # nothing gathered
        with journal.deferred_commits():
            for n in range(1, 4):
                journal.append_row("market.bars", FIELDS, (minute(n), float(n)), symbol="BTC/USDT")
                assert journal.write_rows() == []  # a replay's rows wait for the next commit
            with Journal(path, read_only=True) as reader:
                assert reader.count() == 1
            # The writer's own reads see them, as they see its uncommitted events.
            assert journal.count("market.bars") == 2
            journal.append_row("market.bars", FIELDS, (minute(4), 4.0), symbol="BTC/USDT")
            journal.sync()  # an order's commit: nothing gathered is held back past it
            with Journal(path, read_only=True) as reader:
                rows = [row for event in reader.events(kinds=["market.bars"]) for row in segment_rows(event.payload)]
            assert [row["close"] for row in rows] == [0.5, 1.0, 2.0, 3.0, 4.0]
            journal.append_row("market.bars", FIELDS, (minute(5), 5.0), symbol="BTC/USDT")
        # Leaving the block commits what gathered.
        with Journal(path, read_only=True) as reader:
            assert reader.count("market.bars") == 4


def test_listeners_hear_a_segment_once_it_is_committed(journal_at):
    heard = []
    with Journal(journal_at(), clock=lambda: T0) as journal:
        journal.add_listener(lambda event: heard.append((event.kind, len(segment_rows(event.payload)))))
        with journal.deferred_commits():
            for n in range(3):
                journal.append_row("portfolio.marks", ("at",), (minute(n),))
            assert heard == []
            journal.sync()
        assert heard == [("portfolio.marks", 3)]


def test_close_writes_what_gathered(journal_at):
    path = journal_at()
    journal = Journal(path, clock=lambda: T0)
    journal.append_row("market.bars", FIELDS, (minute(0), 1.0), symbol="ETH/USDT")
    journal.close()
    with Journal(path, read_only=True) as reader:
        [event] = reader.events()
    assert segment_rows(event.payload) == [{"symbol": "ETH/USDT", "start": minute(0).isoformat(), "close": 1.0}]


def test_a_segment_holds_at_most_segment_rows_rows(journal_at):
    with Journal(journal_at(), clock=lambda: T0, durability="fast") as journal:
        with journal.deferred_commits(max_events=100_000):
            for n in range(2 * SEGMENT_ROWS + 5):
                journal.append_row("market.bars", FIELDS, (n, float(n)), symbol="BTC/USDT")
        sizes = [len(segment_rows(event.payload)) for event in journal.events()]
        closes = [row["close"] for event in journal.events() for row in segment_rows(event.payload)]
    assert sizes == [SEGMENT_ROWS, SEGMENT_ROWS, 5]
    assert closes == [float(n) for n in range(2 * SEGMENT_ROWS + 5)]


def test_symbols_and_kinds_gather_apart_and_are_written_in_the_order_they_began(journal_at):
    with Journal(journal_at(), clock=lambda: T0) as journal:
        journal.append_row("market.bars", FIELDS, (1, 1.0), symbol="ETH/USDT")
        journal.append_row("market.bars", FIELDS, (1, 2.0), symbol="BTC/USDT")
        journal.append_row("portfolio.marks", ("at",), (1,))
        journal.append_row("market.bars", FIELDS, (2, 3.0), symbol="ETH/USDT")
        journal.write_rows()
        events = journal.events()
    assert [(event.kind, event.payload.get("symbol"), len(segment_rows(event.payload))) for event in events] == [
        ("market.bars", "ETH/USDT", 2), ("market.bars", "BTC/USDT", 1), ("portfolio.marks", None, 1)]


@pytest.mark.parametrize(("values", "message"), [
    ((T0, math.nan), "cannot be journaled"),
    ((T0,), "1 values for 2 fields"),
    ((T0, object()), "cannot be journaled"),
])
def test_a_row_the_journal_cannot_hold_fails_where_it_is_given_and_loses_nothing(journal_at, values, message):
    with Journal(journal_at(), clock=lambda: T0) as journal:
        journal.append_row("market.bars", FIELDS, (minute(0), 1.0), symbol="BTC/USDT")
        with pytest.raises(JournalError, match=message):
            journal.append_row("market.bars", FIELDS, values, symbol="BTC/USDT")
        journal.write_rows()
        [event] = journal.events()
    assert [row["close"] for row in segment_rows(event.payload)] == [1.0]


def test_bad_kinds_and_times_are_refused(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as journal:
        with pytest.raises(JournalError, match="must look like"):
            journal.append_row("Bars", FIELDS, (1, 1.0))
        with pytest.raises(JournalError, match="timezone-aware"):
            journal.append_row("market.bars", FIELDS, (1, 1.0), ts=datetime(2024, 1, 1))  # noqa: DTZ001 - the point
    with Journal(tmp_path / "journal.sqlite", read_only=True) as reader:
        with pytest.raises(JournalError, match="read-only"):
            reader.append_row("market.bars", FIELDS, (1, 1.0))
