"""The journal appends durable, gap-free, exactly round-tripping events: to a real SQLite file in WAL mode,
and (the same tests, through ``journal_at``) to a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradepulse.errors import ConfigError
from tradepulse.store import Journal, JournalError, NewEvent

AT = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def journal(journal_at):
    with Journal(journal_at("journal"), clock=lambda: AT) as opened:
        yield opened


def test_events_get_increasing_sequence_numbers_and_read_back_as_written(journal):
    first = journal.append("risk.decision", {"allowed": True}, correlation_id="tp-s-1")
    second = journal.append("risk.state_changed", {"to": "HALTED"})
    assert (first.seq, second.seq) == (1, 2)
    assert journal.events() == [first, second]
    assert (first.ts, first.kind, first.correlation_id, first.payload) == (AT, "risk.decision", "tp-s-1", {"allowed": True})


def test_decimals_are_stored_as_plain_strings_that_round_trip_exactly(journal):
    values = {
        "sum": Decimal("0.1") + Decimal("0.2"),
        "tiny": Decimal("1E-12"),
        "zeros": Decimal("43000.10"),
        "negative": Decimal("-5.5"),
    }
    event = journal.append("test.decimals", values)
    assert event.payload == {"sum": "0.3", "tiny": "0.000000000001", "zeros": "43000.10", "negative": "-5.5"}
    assert {name: Decimal(text) for name, text in journal.events()[0].payload.items()} == values


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # one journal, read by seq
@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_round_trips_exactly(journal_at, value):
    with Journal(journal_at("decimals"), durability="fast") as journal:
        appended = journal.append("test.value", {"value": value})
        assert Decimal(journal.events(after_seq=appended.seq - 1)[0].payload["value"]) == value


def test_times_are_stored_in_utc_and_naive_times_are_refused(journal):
    event = journal.append("test.time", {}, ts=datetime(2024, 3, 1, 14, tzinfo=timezone(timedelta(hours=2))))
    assert event.ts == datetime(2024, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(JournalError, match="timezone-aware"):
        journal.append("test.time", {}, ts=datetime(2024, 3, 1))


@pytest.mark.parametrize("kind", ["", "order", "Order.Submitted", "order submitted", "order.", ".x", "x..y"])
def test_malformed_kinds_are_refused(journal, kind):
    with pytest.raises(JournalError, match="kind"):
        journal.append(kind, {})


@pytest.mark.parametrize("payload", [{"x": float("nan")}, {"x": Decimal("NaN")}, {"x": object()}, ["not", "a", "mapping"]])
def test_payloads_json_cannot_hold_exactly_are_refused_and_nothing_is_written(journal, payload):
    with pytest.raises(JournalError):
        journal.append("test.bad", payload)
    assert journal.count() == 0


def test_append_many_is_all_or_nothing(journal):
    with pytest.raises(JournalError):
        journal.append_many([NewEvent("test.ok", {"n": 1}), NewEvent("test.bad", {"n": float("inf")})])
    assert journal.count() == 0
    appended = journal.append_many([NewEvent("test.ok", {"n": 1}), NewEvent("test.ok", {"n": 2})])
    assert [event.seq for event in appended] == [1, 2]


def test_default_is_wal_with_synchronous_full_and_fast_mode_is_synchronous_normal(tmp_path):
    def pragmas(journal):
        connection = sqlite3.connect(journal.path)  # journal_mode is persistent; synchronous is per connection
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        connection.close()
        return mode, journal._connection.execute("PRAGMA synchronous").fetchone()[0]

    with Journal(tmp_path / "full.sqlite") as full, Journal(tmp_path / "fast.sqlite", durability="fast") as fast:
        assert pragmas(full) == ("wal", 2)  # FULL
        assert pragmas(fast) == ("wal", 1)  # NORMAL
    with pytest.raises(ConfigError, match="durability"):
        Journal(tmp_path / "x.sqlite", durability="yolo")


def test_the_database_refuses_to_update_or_delete_events(journal):
    journal.append("test.x", {"n": 1})
    if journal.postgres:
        import psycopg

        from tradepulse.store.postgres import connect

        connection = connect(journal.path)
        for statement in ("UPDATE {}.events SET payload = '{{}}'", "DELETE FROM {}.events"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                connection.execute(statement.format(journal.path.schema))
        connection.close()
        return
    connection = sqlite3.connect(journal.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE events SET payload = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM events")
    connection.close()


def test_filters_and_paging(journal):
    for n in range(10):
        journal.append("order.test" if n % 2 else "risk.test", {"n": n, "symbol": "BTC/USDT" if n < 5 else "ETH/USDT"},
                       correlation_id=f"c{n % 3}", ts=AT + timedelta(seconds=n))
    assert [e.payload["n"] for e in journal.events(kind_prefix="risk.")] == [0, 2, 4, 6, 8]
    assert [e.payload["n"] for e in journal.events(kinds=["order.test"], symbol="ETH/USDT")] == [5, 7, 9]
    assert [e.payload["n"] for e in journal.events(correlation_id="c0")] == [0, 3, 6, 9]
    assert [e.payload["n"] for e in journal.events(since=AT + timedelta(seconds=3), until=AT + timedelta(seconds=5))] == [3, 4]
    assert [e.payload["n"] for e in journal.events(limit=3, offset=2, newest_first=True)] == [7, 6, 5]
    assert [e.payload["n"] for e in journal.events(after_seq=8)] == [8, 9]
    assert journal.events(kinds=[]) == []


def test_iter_events_pages_through_more_than_one_batch(journal):
    journal.append_many([NewEvent("test.n", {"n": n}) for n in range(2500)])
    assert [event.seq for event in journal.iter_events()] == list(range(1, 2501))


def test_a_reader_in_another_connection_sees_committed_events_while_the_writer_keeps_writing(journal):
    journal.append("test.n", {"n": 0})
    with Journal(journal.path, read_only=True) as reader:
        assert reader.count() == 1
        writer = threading.Thread(target=lambda: [journal.append("test.n", {"n": n}) for n in range(1, 50)])
        writer.start()
        seen = [reader.count() for _ in range(20)]
        writer.join()
        assert seen == sorted(seen) and reader.count() == 50
        with pytest.raises(JournalError, match="read-only"):
            reader.append("test.n", {})


def test_read_only_open_of_a_missing_journal_is_a_config_error(journal_at):
    with pytest.raises(ConfigError, match="does not exist"):
        Journal(journal_at("missing"), read_only=True)


def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path):
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="cannot be opened"):
        Journal(path)


def test_select_refuses_statements_that_write(journal):
    with pytest.raises(JournalError, match="SELECT"):
        journal.select("DELETE FROM events")


def test_integrity_check_of_a_fresh_journal_is_ok(journal):
    journal.append("test.n", {"n": 1})
    assert journal.integrity_check() == "ok"


def test_a_failed_write_to_postgresql_is_a_journal_error_and_records_nothing(postgres_server):
    from tradepulse.store.postgres import PgLocation, connect

    location = PgLocation.parse(postgres_server.url("failed_write"))
    with Journal(location) as journal:
        journal.append("test.n", {"n": 1})
        blocker = connect(location, autocommit=False)
        blocker.execute(f"LOCK TABLE {location.schema}.events IN ACCESS EXCLUSIVE MODE")  # another writer holds the lock
        journal._connection._connection.execute("SET lock_timeout = '200ms'")
        with pytest.raises(JournalError, match="nothing was recorded"):
            journal.append("test.n", {"n": 2})
        blocker.rollback()
        blocker.close()
        assert journal.count() == 1
        assert journal.append("test.n", {"n": 3}).seq == 2
        assert journal.integrity_check() == "ok"


def test_a_password_in_the_url_is_refused_and_a_wrong_one_is_one_line_without_it(postgres_server, monkeypatch):
    with pytest.raises(ConfigError, match="holds a password"):
        Journal(postgres_server.url("x").replace("tradepulse@", "tradepulse:hunter2@"))
    monkeypatch.setenv("TRADEPULSE_STORE_PASSWORD", "not-the-password-123")
    with pytest.raises(ConfigError, match="cannot connect to the journal database") as error:
        Journal(postgres_server.url("x"))
    assert "not-the-password-123" not in str(error.value) and "\n" not in str(error.value)


def test_a_failed_write_is_a_journal_error_and_records_nothing(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        journal.append("test.n", {"n": 1})
        blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        journal._connection.execute("PRAGMA busy_timeout = 0")
        with pytest.raises(JournalError, match="nothing was recorded"):
            journal.append("test.n", {"n": 2})
        blocker.execute("ROLLBACK")
        blocker.close()
        assert journal.count() == 1
        assert journal.append("test.n", {"n": 3}).seq == 2
