"""The write-ahead log is checkpointed when nothing waits on the journal, not inside the commit before a venue call."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradepulse.execution import OMS
from tradepulse.store import Journal
from tradepulse.store.journal import CHECKPOINT_PAGES, JournalError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "execution"))
from execution_helpers import INSTRUMENTS, market_buy  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PAYLOAD = {"symbol": "BTC/USDT", "text": "x" * 4000}  # about two pages of log per commit


def database_bytes(path: Path) -> int:
    """The main database file's size: pages reach it only through a checkpoint."""
    return path.stat().st_size


def grow(journal: Journal, commits: int) -> None:
    for _ in range(commits):
        journal.append("test.padding", PAYLOAD)


def test_sqlite_checkpoints_only_when_the_journal_asks(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=lambda: T0) as journal:
        assert journal._connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # the writer connection's own setting
        start = database_bytes(path)
        grow(journal, CHECKPOINT_PAGES // 10)
        assert journal.maintain() is False  # not grown enough: nothing to do yet
        grow(journal, CHECKPOINT_PAGES // 3)
        assert database_bytes(path) == start  # SQLite did not checkpoint by itself
        assert journal.maintain() is True
        assert database_bytes(path) > start + CHECKPOINT_PAGES * 1024  # the log's pages are in the database now
        assert journal.maintain() is False


def test_no_checkpoint_inside_an_open_transaction(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=lambda: T0) as journal:
        grow(journal, CHECKPOINT_PAGES // 2)
        with journal.deferred_commits():
            journal.append("test.padding", PAYLOAD)
            assert journal.maintain() is False  # a replay between two commits
        assert journal.maintain() is True


def test_a_writer_that_never_asks_still_keeps_the_log_bounded(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=lambda: T0) as journal:
        start = database_bytes(path)
        grow(journal, 2 * CHECKPOINT_PAGES)  # several times the mark, without one maintain()
        assert database_bytes(path) > start
        with sqlite3.connect(path) as reader:
            busy, log_frames, moved = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log_frames < 8 * CHECKPOINT_PAGES


def test_the_oms_checkpoints_after_the_venue_call_not_before_it(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, durability="fast", clock=lambda: T0) as journal:
        oms = OMS(journal, INSTRUMENTS, clock=lambda: T0)
        grow(journal, CHECKPOINT_PAGES // 2)  # the next checkpoint is due
        before = database_bytes(path)
        seen_by_venue = []

        async def send(order):
            seen_by_venue.append(database_bytes(path))  # the order is committed; no checkpoint ran in that commit
            return {"id": "1", "status": "open"}

        submission = asyncio.run(oms.try_submit(market_buy("0.01"), send))
        assert submission.answer is not None
        assert seen_by_venue == [before]
        assert database_bytes(path) > before  # ... it ran once the venue had answered
        assert journal.maintain() is False


def test_rows_rolled_back_do_not_count_toward_the_next_checkpoint(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=lambda: T0) as journal:
        pages = journal._connection.execute("PRAGMA page_count").fetchone()[0]
        journal._connection.execute(f"PRAGMA max_page_count = {pages + 700}")  # a disk that fills up: SQLite's own SQLITE_FULL
        with pytest.raises(JournalError, match="could not be written"), journal.deferred_commits():
            grow(journal, CHECKPOINT_PAGES)  # past 700 pages (more than the mark): the write fails, all of it rolls back
        journal._connection.execute("PRAGMA max_page_count = 1073741823")
        assert journal.events() == []  # nothing was recorded
        journal.append("test.small", {"symbol": "BTC/USDT"})
        assert journal.maintain() is False  # the log holds one small commit, not the rows that were rolled back
