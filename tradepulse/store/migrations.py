"""The journal's schema, as numbered migrations from version 1 to :data:`CURRENT_SCHEMA_VERSION`.

A migration is a list of SQL statements applied in one transaction together with its row in
``schema_version``, so a crash mid-migration leaves the previous version intact. Migrations are
append-only: a released one is never edited (a database created by it exists somewhere); changes
go into a new one, with a test that opens a database of the older version.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from tradepulse.errors import ConfigError


@dataclass(frozen=True)
class Migration:
    """One schema step: the version it produces, what it does, and its statements."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events table and schema_version",
        (
            """CREATE TABLE events (
                seq            INTEGER PRIMARY KEY AUTOINCREMENT,
                ts             TEXT NOT NULL,
                kind           TEXT NOT NULL,
                correlation_id TEXT,
                payload        TEXT NOT NULL
            )""",
            """CREATE TABLE schema_version (
                version     INTEGER PRIMARY KEY,
                applied_at  TEXT NOT NULL,
                description TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "symbol column (backfilled from payloads), query indexes, append-only triggers",
        (
            # Dashboards filter by symbol on every page; a column beats json_extract on each row.
            "ALTER TABLE events ADD COLUMN symbol TEXT",
            "UPDATE events SET symbol = json_extract(payload, '$.symbol') "
            "WHERE json_valid(payload) AND json_type(payload, '$.symbol') = 'text'",
            "CREATE INDEX events_by_kind ON events (kind, seq)",
            "CREATE INDEX events_by_correlation ON events (correlation_id, seq)",
            "CREATE INDEX events_by_ts ON events (ts)",
            "CREATE INDEX events_by_symbol ON events (symbol, seq)",
            # The journal is the record of what happened; nothing may rewrite it, not even by mistake.
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events cannot be updated'); END",
            "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
            "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events cannot be deleted'); END",
        ),
    ),
    Migration(
        3,
        "order_index: each order's first and last event, kept by a trigger (listing orders without scanning the journal)",
        (
            # A derived index, not a record: rebuilt from the events here, kept in step by the trigger
            # inside each append's transaction. The events themselves stay append-only.
            """CREATE TABLE order_index (
                client_order_id TEXT PRIMARY KEY,
                first_seq       INTEGER NOT NULL,
                first_ts        TEXT NOT NULL,
                last_seq        INTEGER NOT NULL
            )""",
            "CREATE INDEX order_index_by_first ON order_index (first_seq)",
            """INSERT INTO order_index (client_order_id, first_seq, first_ts, last_seq)
               SELECT span.correlation_id, span.first_seq, first.ts, span.last_seq
               FROM (SELECT correlation_id, MIN(seq) AS first_seq, MAX(seq) AS last_seq FROM events
                     WHERE kind >= 'order.' AND kind < 'order/' AND correlation_id IS NOT NULL
                     GROUP BY correlation_id) AS span
               JOIN events AS first ON first.seq = span.first_seq""",
            """CREATE TRIGGER events_order_index AFTER INSERT ON events
               WHEN NEW.kind >= 'order.' AND NEW.kind < 'order/' AND NEW.correlation_id IS NOT NULL
               BEGIN
                   INSERT INTO order_index (client_order_id, first_seq, first_ts, last_seq)
                   VALUES (NEW.correlation_id, NEW.seq, NEW.ts, NEW.seq)
                   ON CONFLICT (client_order_id) DO UPDATE SET last_seq = excluded.last_seq;
               END""",
        ),
    ),
)

CURRENT_SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(connection: sqlite3.Connection) -> int:
    """Return the database's schema version (0 for an empty database)."""
    exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(connection: sqlite3.Connection, target: int = CURRENT_SCHEMA_VERSION) -> int:
    """Bring the database up to ``target`` and return the version it had before.

    The connection must be in autocommit mode (``isolation_level=None``); each migration runs in
    its own ``BEGIN IMMEDIATE`` transaction, so two processes opening the same new file do not
    both migrate it.
    """
    if target > CURRENT_SCHEMA_VERSION:
        raise ConfigError(f"journal schema version {target} does not exist (this TradePulse knows 1 to {CURRENT_SCHEMA_VERSION})")
    before = schema_version(connection)
    if before > CURRENT_SCHEMA_VERSION:
        raise ConfigError(
            f"the journal has schema version {before}, newer than this TradePulse understands ({CURRENT_SCHEMA_VERSION}); "
            "upgrade TradePulse to open it"
        )
    for migration in MIGRATIONS:
        if migration.version > target:
            break
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if schema_version(connection) >= migration.version:
                connection.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                (migration.version, datetime.now(UTC).isoformat(), migration.description),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return before
