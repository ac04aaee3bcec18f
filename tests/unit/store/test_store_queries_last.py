"""``pnl_series(last=N)`` reads only the newest marks and equals the tail of the whole series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepulse.store import Journal, queries


def test_the_last_marks_equal_the_tail_of_the_whole_series(journal_at):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with Journal(journal_at("journal"), durability="fast") as journal:
        for minute in range(50):
            totals = {"USDT": {"quote": "USDT", "realized_pnl": str(minute), "unrealized_pnl": "0", "fees_quote": "1",
                               "net_pnl": str(minute - 1)}}
            journal.append("portfolio.marked", {"prices": {"BTC/USDT": "100"}, "totals": totals},
                           ts=start + timedelta(minutes=minute))
        whole = queries.pnl_series(journal, initial_equity=Decimal(1000))
        newest = queries.pnl_series(journal, initial_equity=Decimal(1000), last=7)
    assert len(whole) == 50 and len(newest) == 7
    assert newest.equals(whole.tail(7))
    assert list(newest["net_pnl"]) == [Decimal(value) for value in range(42, 49)]
