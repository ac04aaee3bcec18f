"""The queries read marks from segments (portfolio.marks) row by row, by each row's own time, and old one-per-event marks alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepulse.store import Journal, queries
from tradepulse.store.kinds import MARK_FIELDS

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MARKS = 40
SEGMENT = 7  # marks per segment event: a replay writes the marks between two orders as one


def at(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def mark_row(n: int) -> tuple:
    totals = {"USDT": {"quote": "USDT", "realized_pnl": "0", "unrealized_pnl": str(n), "fees_quote": "0", "net_pnl": str(n)}}
    position = {"symbol": "BTC/USDT", "quantity": "1", "mark_price": str(100 + n), "net_pnl": str(n)}
    return (at(n).isoformat(), {"BTC/USDT": str(100 + n)}, {"BTC/USDT": position}, totals)


def write_marks(journal: Journal, *, legacy: int = 0) -> None:
    """``legacy`` old one-event marks first (a journal written before segments), then segments of SEGMENT marks."""
    for n in range(legacy):
        time, prices, positions, totals = mark_row(n)
        journal.append("portfolio.marked", {"at": time, "prices": prices, "positions": positions, "totals": totals}, ts=at(n))
    with journal.deferred_commits():
        for n in range(legacy, MARKS):
            journal.append_row("portfolio.marks", MARK_FIELDS, mark_row(n), ts=at(n))
            if (n - legacy) % SEGMENT == SEGMENT - 1:
                journal.sync()  # an order's commit ends a segment


def test_every_mark_of_every_segment_is_a_point_at_its_own_time(journal_at):
    with Journal(journal_at(), durability="fast") as journal:
        write_marks(journal, legacy=5)
        assert journal.count("portfolio.marks") == 5  # 35 marks in segments of 7
        series = queries.pnl_series(journal, initial_equity=Decimal(1000))
        positions = queries.positions_over_time(journal, symbol="BTC/USDT")
    assert list(series.index) == [at(n) for n in range(MARKS)]
    assert list(series["net_pnl"]) == [Decimal(n) for n in range(MARKS)]
    assert list(series["equity"]) == [Decimal(1000 + n) for n in range(MARKS)]
    assert list(series["gross_exposure"]) == [Decimal(100 + n) for n in range(MARKS)]
    assert list(positions["mark_price"]) == [Decimal(100 + n) for n in range(MARKS)]
    assert list(positions["ts"]) == [at(n) for n in range(MARKS)] and set(positions["source"]) == {"mark"}


def test_since_and_until_cut_inside_a_segment(journal_at):
    with Journal(journal_at(), durability="fast") as journal:
        write_marks(journal)
        # 10..22: starts inside the second segment (7..13) and ends inside the fourth (21..27).
        series = queries.pnl_series(journal, since=at(10), until=at(23))
        early = queries.pnl_series(journal, until=at(3))
        positions = queries.positions_over_time(journal, since=at(30))
    assert list(series["net_pnl"]) == [Decimal(n) for n in range(10, 23)]
    assert list(early["net_pnl"]) == [Decimal(n) for n in range(3)]
    assert list(positions["mark_price"]) == [Decimal(100 + n) for n in range(30, MARKS)]


def test_the_last_marks_are_the_tail_of_the_whole_series_across_segments(journal_at):
    with Journal(journal_at(), durability="fast") as journal:
        write_marks(journal, legacy=3)
        whole = queries.pnl_series(journal)
        for last in (1, 5, 7, 9, 38, 100):
            assert queries.pnl_series(journal, last=last).equals(whole.tail(last)), last
        assert queries.pnl_series(journal, last=0).empty
