"""The local order book follows Binance's snapshot + diff sequencing rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from tradepulse.model.book import OrderBook
from tradepulse.model.events import DepthDiff, DepthSnapshot

AT = datetime(2024, 8, 9, tzinfo=UTC)


def snapshot(last_update_id: int) -> DepthSnapshot:
    return DepthSnapshot("BTC/USDT", AT, last_update_id, ((D("100"), D("1")), (D("99"), D("2"))), ((D("101"), D("1")), (D("102"), D("3"))))


def diff(first: int, last: int, bids=(), asks=()) -> DepthDiff:
    return DepthDiff("BTC/USDT", AT, first, last, tuple(bids), tuple(asks))


def test_diffs_received_before_the_snapshot_are_buffered_and_only_the_newer_ones_applied():
    book = OrderBook("BTC/USDT")
    assert not book.apply_diff(diff(1, 5, bids=[(D("100"), D("9"))]))  # older than the snapshot: dropped later
    assert not book.apply_diff(diff(6, 12, asks=[(D("101"), D("0"))]))  # straddles lastUpdateId 10: the bridge
    book.apply_snapshot(snapshot(10))
    assert book.synced and book.last_update_id == 12
    assert book.best_bid() == (D("100"), D("1")) and book.best_ask() == (D("102"), D("3"))


def test_a_quantity_of_zero_removes_the_level_and_levels_come_best_first():
    book = OrderBook("BTC/USDT")
    book.apply_snapshot(snapshot(10))
    assert book.apply_diff(diff(11, 11, bids=[(D("100"), D("0")), (D("99.5"), D("4"))], asks=[(D("100.5"), D("1"))]))
    assert list(book.levels("bids")) == [(D("99.5"), D("4")), (D("99"), D("2"))]
    assert list(book.levels("asks"))[0] == (D("100.5"), D("1")) and book.depth("asks") == D("5")


def test_a_hole_in_the_update_ids_marks_the_book_out_of_sync_until_a_new_snapshot():
    book = OrderBook("BTC/USDT")
    book.apply_snapshot(snapshot(10))
    assert book.apply_diff(diff(11, 12))
    assert not book.apply_diff(diff(14, 15, bids=[(D("100"), D("7"))]))  # 13 is missing
    assert not book.synced and book.gaps == 1
    assert not book.apply_diff(diff(16, 17))
    book.apply_snapshot(snapshot(15))
    assert book.synced and book.last_update_id == 17
    assert book.best_bid() == (D("100"), D("1"))  # the diff before the new snapshot is not reapplied


def test_a_first_diff_that_does_not_reach_the_snapshot_is_a_gap():
    book = OrderBook("BTC/USDT")
    book.apply_snapshot(snapshot(10))
    assert not book.apply_diff(diff(12, 13))
    assert not book.synced
