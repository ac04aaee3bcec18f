"""A journal written by an older schema opens with the current code, migrated in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tradepulse.errors import ConfigError
from tradepulse.store import CURRENT_SCHEMA_VERSION, MIGRATIONS, Journal
from tradepulse.store.migrations import migrate, schema_version


def create_version_1(path: Path) -> None:
    """Build a database exactly as version 1 of the schema did, with a few events in it."""
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, target=1)
    rows = [
        ("2024-03-01T00:00:00.000000Z", "order.submitted", "tp-s-1", json.dumps({"symbol": "BTC/USDT", "quantity": "0.1"})),
        ("2024-03-01T00:00:01.000000Z", "risk.decision", None, json.dumps({"allowed": False})),
        ("2024-03-01T00:00:02.000000Z", "portfolio.marked", None, json.dumps({"symbol": 5})),
    ]
    connection.executemany("INSERT INTO events (ts, kind, correlation_id, payload) VALUES (?, ?, ?, ?)", rows)
    connection.close()


def test_current_version_is_the_last_migration():
    assert CURRENT_SCHEMA_VERSION == MIGRATIONS[-1].version == len(MIGRATIONS)
    assert [migration.version for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_version_1_journal_opens_with_the_current_code_and_keeps_its_events(tmp_path):
    path = tmp_path / "v1.sqlite"
    create_version_1(path)
    with Journal(path) as journal:
        assert journal.schema_version() == CURRENT_SCHEMA_VERSION
        events = journal.events()
        assert [(e.seq, e.kind, e.correlation_id) for e in events] == [
            (1, "order.submitted", "tp-s-1"), (2, "risk.decision", None), (3, "portfolio.marked", None)]
        assert events[0].payload == {"symbol": "BTC/USDT", "quantity": "0.1"}
        # Version 2 backfilled the symbol column from text symbols only.
        assert [event.seq for event in journal.events(symbol="BTC/USDT")] == [1]
        assert journal.select("SELECT COUNT(*) FROM events WHERE symbol IS NULL") == [(2,)]
        appended = journal.append("order.accepted", {"symbol": "BTC/USDT"}, correlation_id="tp-s-1")
        assert appended.seq == 4
        versions = journal.select("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(version,) for version in range(1, CURRENT_SCHEMA_VERSION + 1)]


def test_migrating_twice_changes_nothing(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    connection = sqlite3.connect(path, isolation_level=None)
    assert migrate(connection) == CURRENT_SCHEMA_VERSION
    assert schema_version(connection) == CURRENT_SCHEMA_VERSION
    connection.close()


def test_a_journal_from_a_newer_tradepulse_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    Journal(path).close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("INSERT INTO schema_version VALUES (99, '2030-01-01', 'from the future')")
    connection.close()
    with pytest.raises(ConfigError, match="newer"):
        Journal(path)


def test_read_only_open_of_an_old_journal_asks_for_a_writable_open_first(tmp_path):
    path = tmp_path / "v1.sqlite"
    create_version_1(path)
    with pytest.raises(ConfigError, match="open it once for writing"):
        Journal(path, read_only=True)


def test_version_3_indexes_orders_already_journaled_and_keeps_the_index_as_events_arrive(tmp_path):
    import sqlite3

    from tradepulse.store import queries
    from tradepulse.store.migrations import migrate

    path = tmp_path / "journal.sqlite"
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, target=2)
    rows = [("2024-01-01T00:00:00.000000Z", "order.submitted", "tp-a-1", '{"order":{"client_order_id":"tp-a-1","status":"submitted"}}'),
            ("2024-01-01T00:00:01.000000Z", "order.submitted", "tp-a-2", '{"order":{"client_order_id":"tp-a-2","status":"submitted"}}'),
            ("2024-01-01T00:00:02.000000Z", "order.filled", "tp-a-1", '{"order":{"client_order_id":"tp-a-1","status":"filled"}}'),
            ("2024-01-01T00:00:03.000000Z", "fill.duplicate", "tp-a-1", '{}')]
    connection.executemany("INSERT INTO events (ts, kind, correlation_id, payload) VALUES (?, ?, ?, ?)", rows)
    connection.close()
    with Journal(path) as journal:  # opening for writing migrates to the current version
        listed = queries.orders(journal)
        assert [(o["client_order_id"], o["status"], o["last_seq"]) for o in listed] == [("tp-a-2", "submitted", 2), ("tp-a-1", "filled", 3)]
        journal.append("order.canceled", {"order": {"client_order_id": "tp-a-2", "status": "canceled"}}, correlation_id="tp-a-2")
        assert [(o["client_order_id"], o["status"]) for o in queries.orders(journal, status="canceled")] == [("tp-a-2", "canceled")]
        assert queries.orders(journal)[0]["journaled_at"] == "2024-01-01T00:00:01.000000Z"
