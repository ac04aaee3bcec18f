"""The journal in PostgreSQL: the same tables and the same promise, for a journal several hosts share.

A journal location is a URL naming the database and, in its query string, the journal::

    postgresql://tradepulse@db.internal:5432/trading?journal=btc-sma

Each journal is a PostgreSQL *schema* of that name (``tp_btc_sma``) holding the SQLite journal's
tables (``events``, ``schema_version``, ``order_index``), so one database holds a service's
journals side by side. The password never goes in the URL (a URL with one is refused): it comes
from ``TRADEPULSE_STORE_PASSWORD`` or the file named by ``TRADEPULSE_STORE_PASSWORD_FILE``, or
from libpq's own ``PGPASSFILE``.

What :class:`PgConnection` keeps identical to the SQLite file:

* **Sequence numbers without holes.** ``seq`` is ``MAX(seq) + 1`` computed under an exclusive
  table lock taken at the start of each write transaction (readers are not blocked), never a
  sequence object, which would leave a hole at every rolled-back insert.
* **Durability.** ``durability="full"`` commits with ``synchronous_commit = on`` (the commit is on
  disk, and on a synchronous standby if the server has one, before :meth:`Journal.append` returns);
  ``"fast"`` with ``synchronous_commit = off`` (never corrupt; the last commits may be lost if the
  *server* crashes).
* **Append-only.** Triggers refuse ``UPDATE`` and ``DELETE`` on ``events``; ``order_index`` is kept
  by a trigger in the appending transaction, as in SQLite.

The journal's code and queries are written once, in SQLite's SQL; :func:`translate` rewrites the few
dialect differences (placeholders, ``json_extract``, SQLite's index hints) on the way in.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from tradepulse.errors import ConfigError

__all__ = ["PASSWORD_VARIABLE", "JournalLease", "PgConnection", "PgLocation", "archive_journal", "copy_journal",
           "is_postgres", "journal_exists", "translate"]

POSTGRES_SCHEMES = ("postgresql", "postgres")
PASSWORD_VARIABLE = "TRADEPULSE_STORE_PASSWORD"
_JOURNAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")
_JSON_EXTRACT = re.compile(r"json_extract\(([\w.]+),\s*'\$\.([\w.]+)'\)")
_INDEX_HINT = re.compile(r"\s+INDEXED BY \w+", re.IGNORECASE)
_INSERT_EVENT = re.compile(r"^\s*INSERT INTO events \(ts, kind, correlation_id, payload, symbol\) VALUES \(\?, \?, \?, \?, \?\)\s*$")
# A PostgreSQL session that ends (the process died, the host vanished) releases its advisory locks;
# pg_try_advisory_lock takes one only if nobody holds it.
_LOCK_TIMEOUT_SECONDS = 30

_SCHEMA_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS {schema}.schema_version (
        version     INTEGER PRIMARY KEY,
        applied_at  TEXT NOT NULL,
        description TEXT NOT NULL
    )""",
    # COLLATE "C": kinds and times compare byte by byte, as in SQLite (prefix ranges like
    # kind >= 'order.' AND kind < 'order/' depend on it).
    """CREATE TABLE IF NOT EXISTS {schema}.events (
        seq            BIGINT PRIMARY KEY,
        ts             TEXT COLLATE "C" NOT NULL,
        kind           TEXT COLLATE "C" NOT NULL,
        correlation_id TEXT COLLATE "C",
        payload        TEXT NOT NULL,
        symbol         TEXT COLLATE "C"
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_kind ON {schema}.events (kind, seq)",
    "CREATE INDEX IF NOT EXISTS events_by_correlation ON {schema}.events (correlation_id, seq)",
    "CREATE INDEX IF NOT EXISTS events_by_ts ON {schema}.events (ts)",
    "CREATE INDEX IF NOT EXISTS events_by_symbol ON {schema}.events (symbol, seq)",
    """CREATE OR REPLACE FUNCTION {schema}.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the journal is append-only: events cannot be %', lower(TG_OP) || 'd'; END $$""",
    "DROP TRIGGER IF EXISTS events_no_change ON {schema}.events",
    """CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON {schema}.events
       FOR EACH ROW EXECUTE FUNCTION {schema}.events_append_only()""",
    """CREATE TABLE IF NOT EXISTS {schema}.order_index (
        client_order_id TEXT COLLATE "C" PRIMARY KEY,
        first_seq       BIGINT NOT NULL,
        first_ts        TEXT COLLATE "C" NOT NULL,
        last_seq        BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS order_index_by_first ON {schema}.order_index (first_seq)",
    """CREATE OR REPLACE FUNCTION {schema}.events_order_index() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           IF NEW.kind >= 'order.' AND NEW.kind < 'order/' AND NEW.correlation_id IS NOT NULL THEN
               INSERT INTO {schema}.order_index (client_order_id, first_seq, first_ts, last_seq)
               VALUES (NEW.correlation_id, NEW.seq, NEW.ts, NEW.seq)
               ON CONFLICT (client_order_id) DO UPDATE SET last_seq = excluded.last_seq;
           END IF;
           RETURN NEW;
       END $$""",
    "DROP TRIGGER IF EXISTS events_order_index ON {schema}.events",
    """CREATE TRIGGER events_order_index AFTER INSERT ON {schema}.events
       FOR EACH ROW EXECUTE FUNCTION {schema}.events_order_index()""",
)


def is_postgres(location: Any) -> bool:
    """Whether ``location`` names a PostgreSQL journal (a ``postgresql://`` URL or a :class:`PgLocation`)."""
    if isinstance(location, PgLocation):
        return True
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


@dataclass(frozen=True)
class PgLocation:
    """A journal in PostgreSQL: the database URL (no password) and the journal's name."""

    url: str
    journal: str

    @classmethod
    def parse(cls, text: str, journal: str | None = None) -> PgLocation:
        """``postgresql://user@host:port/db?journal=name`` (``journal`` given here wins)."""
        parts = urlsplit(str(text))
        if parts.scheme not in POSTGRES_SCHEMES:
            raise ConfigError(f"not a PostgreSQL URL: {parts.scheme or text!r}")
        if parts.password:
            raise ConfigError(f"the store URL holds a password; give it in {PASSWORD_VARIABLE} (or {PASSWORD_VARIABLE}_FILE) "
                              "instead, so it stays out of configs and logs")
        query = parse_qs(parts.query)
        name = journal or (query.pop("journal", [None])[0])
        if not name or not _JOURNAL_NAME.match(name):
            raise ConfigError(f"a PostgreSQL journal needs a name of letters, digits, '.', '_' or '-' (got {name!r}); "
                              "add ?journal=<name> to the URL")
        rest = urlencode({key: values[-1] for key, values in query.items()})
        base = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        return cls(base, name)

    def with_journal(self, journal: str) -> PgLocation:
        return PgLocation(self.url, journal)

    @property
    def schema(self) -> str:
        return "tp_" + re.sub(r"[^a-z0-9_]", "_", self.journal.lower())

    @property
    def stem(self) -> str:
        """The journal's name (as a file journal's stem is its name)."""
        return self.journal

    def __str__(self) -> str:
        return f"{self.url}{'&' if '?' in self.url else '?'}journal={self.journal}"

    def __fspath__(self) -> str:  # pragma: no cover - a location is not a file; refuse loudly
        raise TypeError(f"{self} is a PostgreSQL journal, not a file")


def _password(environ: Mapping[str, str] | None = None) -> str | None:
    """``TRADEPULSE_STORE_PASSWORD``, else the content of the file ``TRADEPULSE_STORE_PASSWORD_FILE`` names."""
    env = os.environ if environ is None else environ
    value, file_name = env.get(PASSWORD_VARIABLE), env.get(f"{PASSWORD_VARIABLE}_FILE")
    if value and file_name:
        raise ConfigError(f"set {PASSWORD_VARIABLE} or {PASSWORD_VARIABLE}_FILE, not both")
    if file_name:
        try:
            value = open(file_name, encoding="utf-8").read().strip()  # noqa: SIM115 - read once, closed by GC
        except OSError as error:
            raise ConfigError(f"{PASSWORD_VARIABLE}_FILE: cannot read {file_name} ({error.strerror})") from None
        if not value:
            raise ConfigError(f"{PASSWORD_VARIABLE}_FILE: {file_name} is empty")
    return value or None


def connect(location: PgLocation, *, autocommit: bool = True) -> Any:
    """A psycopg connection to ``location``'s database (password from the environment)."""
    import psycopg

    password = _password()
    kwargs = {"password": password} if password else {}
    try:
        return psycopg.connect(location.url, autocommit=autocommit, connect_timeout=10, application_name="tradepulse",
                               **kwargs)
    except psycopg.OperationalError as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if password:
            text = text.replace(password, "***")
        raise ConfigError(f"cannot connect to the journal database {location.url}: {text}") from None


def translate(sql: str, schema: str) -> str:
    """SQLite's SQL as PostgreSQL runs it on ``schema``'s tables (see the module docstring)."""
    text = _INDEX_HINT.sub("", sql)
    text = _JSON_EXTRACT.sub(lambda match: f"({match.group(1)}::jsonb #>> '{{{match.group(2).replace('.', ',')}}}')", text)
    text = text.replace("%", "%%").replace("?", "%s")
    return text


class _Cursor:
    def __init__(self, rows: list[tuple] | None, lastrowid: int | None = None) -> None:
        self._rows = rows or []
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return list(self._rows)


class PgConnection:
    """What :class:`~tradepulse.store.journal.Journal` needs of a connection, over PostgreSQL.

    It answers the handful of statements the journal sends (``BEGIN IMMEDIATE``, ``COMMIT``,
    ``ROLLBACK``, the event ``INSERT``, ``SELECT``\\ s) with their PostgreSQL equivalents.
    """

    def __init__(self, location: PgLocation, *, read_only: bool, durability: str) -> None:
        self.location = location
        self.read_only = read_only
        self._lock = threading.RLock()
        self._connection = connect(location)
        self._in_transaction = False
        schema = location.schema
        try:
            with self._connection.cursor() as cursor:
                if durability == "fast":
                    cursor.execute("SET synchronous_commit = off")
                cursor.execute(f"SET search_path = {schema}")
                cursor.execute(f"SET lock_timeout = '{_LOCK_TIMEOUT_SECONDS}s'")
                exists = cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema]).fetchone()
            if not exists and read_only:
                raise ConfigError(f"journal {location} does not exist")
            if not read_only:
                self._migrate()
        except BaseException:
            self._connection.close()
            raise

    # -- what Journal calls -------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> _Cursor:
        statement = sql.strip()
        upper = statement.upper()
        with self._lock:
            cursor = self._connection.cursor()
            if upper == "BEGIN IMMEDIATE":
                cursor.execute("BEGIN")
                self._in_transaction = True
                # One writer at a time, readers never blocked: seq = MAX + 1 is then safe.
                cursor.execute("LOCK TABLE events IN EXCLUSIVE MODE")
                return _Cursor(None)
            if upper in ("COMMIT", "ROLLBACK"):
                cursor.execute(upper)
                self._in_transaction = False
                return _Cursor(None)
            if _INSERT_EVENT.match(statement):
                row = cursor.execute(
                    "INSERT INTO events (seq, ts, kind, correlation_id, payload, symbol) "
                    "VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM events), %s, %s, %s, %s, %s) RETURNING seq",
                    list(parameters)).fetchone()
                return _Cursor(None, int(row[0]))
            if upper.startswith("PRAGMA INTEGRITY_CHECK"):
                return _Cursor([(self.integrity_check(),)])
            if not upper.startswith(("SELECT", "WITH")):
                raise ConfigError(f"a PostgreSQL journal does not run {statement.split()[0]} statements from the journal code")
            rows = cursor.execute(translate(statement, self.location.schema), parameters).fetchall()
            return _Cursor(rows)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._lock:
            row = self._connection.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'schema_version'",
                [self.location.schema]).fetchone()
            if not row:
                return 0
            return int(self._connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])

    def _migrate(self) -> None:
        from tradepulse.store.migrations import CURRENT_SCHEMA_VERSION, MIGRATIONS

        schema = self.location.schema
        with self._lock, self._connection.transaction():
            # Two services opening a new journal at once: the first creates it, the second waits here.
            self._connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"tradepulse-migrate:{schema}"])
            self._connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            version = self.schema_version()
            if version > CURRENT_SCHEMA_VERSION:
                raise ConfigError(f"journal {self.location} has schema version {version}, newer than this TradePulse "
                                  f"understands ({CURRENT_SCHEMA_VERSION}); upgrade TradePulse to open it")
            if version == CURRENT_SCHEMA_VERSION:
                return
            # The SQLite migrations' end state, created at once (a PostgreSQL journal starts at the current version).
            for statement in _SCHEMA_STATEMENTS:
                self._connection.execute(statement.format(schema=schema))
            for migration in MIGRATIONS:
                if migration.version > version:
                    self._connection.execute(
                        "INSERT INTO schema_version (version, applied_at, description) VALUES (%s, %s, %s)",
                        [migration.version, datetime.now(UTC).isoformat(), migration.description])

    def integrity_check(self) -> str:
        """``"ok"`` when the sequence has no holes and order_index agrees with the events."""
        with self._lock:
            count, top = self._connection.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events").fetchone()
            if count != top:
                return f"events: {count} rows but seq reaches {top}"
            missing = self._connection.execute(
                "SELECT COUNT(*) FROM (SELECT correlation_id FROM events WHERE kind >= 'order.' AND kind < 'order/' "
                "AND correlation_id IS NOT NULL GROUP BY correlation_id) AS o "
                "LEFT JOIN order_index AS i ON i.client_order_id = o.correlation_id WHERE i.client_order_id IS NULL"
            ).fetchone()[0]
            return "ok" if missing == 0 else f"order_index misses {missing} order(s)"


def journal_exists(location: PgLocation) -> bool:
    """Whether the journal's schema exists and holds at least one event."""
    connection = connect(location)
    try:
        found = connection.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'events'",
            [location.schema]).fetchone()
        if not found:
            return False
        return bool(connection.execute(f"SELECT EXISTS (SELECT 1 FROM {location.schema}.events)").fetchone()[0])
    finally:
        connection.close()


def archive_journal(location: PgLocation) -> PgLocation:
    """Rename the journal's schema aside (``<name>.<UTC stamp>``), as a file journal is renamed; return where it went."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = location.with_journal(f"{location.journal}.{stamp}")
    connection = connect(location)
    try:
        connection.execute(f"ALTER SCHEMA {location.schema} RENAME TO {target.schema}")
    finally:
        connection.close()
    return target


def copy_journal(events: Any, target: PgLocation) -> int:
    """Copy ``events`` (a source journal's, oldest first) into the new, empty journal ``target``, exactly:
    the same sequence numbers, times, kinds, correlation ids and payload text. Returns how many.

    One transaction: the target has every event or none. A target that holds events is refused.
    """
    import json as _json

    PgConnection(target, read_only=False, durability="full").close()  # creates the schema at the current version
    connection = connect(target)
    copied = 0
    try:
        with connection.transaction():
            connection.execute(f"LOCK TABLE {target.schema}.events IN EXCLUSIVE MODE")
            if connection.execute(f"SELECT EXISTS (SELECT 1 FROM {target.schema}.events)").fetchone()[0]:
                raise ConfigError(f"journal {target} already holds events; copy into a new journal")
            expected = 1
            with connection.cursor() as cursor:
                for event in events:
                    if event.seq != expected:
                        raise ConfigError(f"the source journal has a hole before seq {event.seq}; it is not a journal this tool copies")
                    symbol = _json.loads(event.payload_text).get("symbol")
                    cursor.execute(
                        f"INSERT INTO {target.schema}.events (seq, ts, kind, correlation_id, payload, symbol) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        [event.seq, event.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), event.kind,
                         event.correlation_id, event.payload_text, symbol if isinstance(symbol, str) else None])
                    expected += 1
                    copied += 1
    finally:
        connection.close()
    return copied


class JournalLease:
    """One active writer per account: a PostgreSQL advisory lock held for the life of a session.

    The service that holds it trades; another service started with the same store and name waits
    (a standby) and takes the lease the moment the holder's session ends, which PostgreSQL notices
    when the holding process dies (its connection closes, ``kill -9`` included) or its host stops
    answering (TCP keepalives, set here to notice within about 30 s).
    """

    def __init__(self, location: PgLocation, key: str) -> None:
        self.location = location
        self.key = f"tradepulse-lease:{key}"
        self._connection: Any = None

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; ``True`` when this process now holds it."""
        if self._connection is None:
            import psycopg

            password = _password()
            extra = {"password": password} if password else {}
            try:
                self._connection = psycopg.connect(self.location.url, autocommit=True, connect_timeout=10,
                                                   application_name="tradepulse-lease", keepalives=1, keepalives_idle=10,
                                                   keepalives_interval=5, keepalives_count=4, **extra)
            except psycopg.OperationalError as error:
                message = (str(error).strip().splitlines() or [type(error).__name__])[0]
                raise ConfigError(f"cannot reach the journal database {self.location.url} for the lease: {message}") from None
        held = self._connection.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [self.key]).fetchone()[0]
        return bool(held)

    def still_held(self) -> bool:
        """Whether the session holding the lease is alive (a lost connection is a lost lease)."""
        if self._connection is None:
            return False
        try:
            return bool(self._connection.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)"
            ).fetchone()[0])
        except Exception:  # noqa: BLE001 - any failure to ask means the lease can no longer be trusted
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
