"""The append-only event journal: one SQLite file in WAL mode.

Every event has a sequence number (``seq``: 1, 2, 3, ... without holes, because each append is
one transaction that either commits whole or not at all), a UTC timestamp, a ``kind``, an optional
correlation id (the client order id for order events) and a JSON payload. Decimals are written as
plain strings (``"0.30000"``), so ``Decimal(text)`` gives back exactly the value written.

Durability: ``durability="full"`` (the default) runs ``PRAGMA synchronous=FULL``: when
:meth:`Journal.append` returns, the event survives a process crash *and* a power cut.
``durability="fast"`` runs ``synchronous=NORMAL``: still safe against a killed process and never
corrupt, but the last few commits can be lost on power loss or an OS crash. Use it for backtests
replayed through the live engine and for tests, never for real money.

Readers (dashboards, the API) may open the same file at the same time, also from other processes:
WAL lets them read while the engine writes.

Checkpoints: SQLite copies the write-ahead log into the database file once it has grown (1,000
pages), and by default does it inside whichever commit crosses the mark, which with a commit
before every venue call put that copy (and for a durable journal, a sync of the database file)
into the tick-to-order latency of about one order in a hundred. The journal turns the automatic
checkpoint off and runs it from :meth:`Journal.maintain`, which the OMS calls right after a venue
call returns and the engine after a live bar, when nothing waits; a commit still checkpoints by
itself if the log has grown to four times the mark without a call (a writer that never calls).

Segments: what comes on every bar (the bar itself, the mark it causes) is journaled as *rows* of
a segment event (:meth:`Journal.append_row`, :func:`segment_rows`): one event holds the rows that
arrived between two writes of anything else, so a replay through the live engine writes one event
per run of bars between two orders instead of two per bar. Rows are written, in order and in the
same transaction, before the next event, at :meth:`Journal.sync` and on :meth:`Journal.write_rows`;
they are never held back past a commit, so they are exactly as durable as the events around them.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tradepulse.errors import ConfigError, TradePulseError
from tradepulse.store.kinds import KIND_PATTERN
from tradepulse.store.migrations import CURRENT_SCHEMA_VERSION, migrate, schema_version
from tradepulse.store.postgres import PgConnection, PgLocation, is_postgres

_log = logging.getLogger(__name__)

Durability = Literal["full", "fast"]
_SYNCHRONOUS = {"full": "FULL", "fast": "NORMAL"}
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_BATCH = 1000
# A segment event holds at most this many rows (a million-bar replay that never trades still
# writes events of a bounded size, and a reader's newest-N query reads few of them).
SEGMENT_ROWS = 1000
# About SQLite's own automatic checkpoint threshold (pages of the write-ahead log); see the module docstring.
CHECKPOINT_PAGES = 1000


class JournalError(TradePulseError):
    """The journal cannot be written or read as asked (bad payload, bad kind, inconsistent content)."""


@dataclass(frozen=True)
class JournalEvent:
    """One journaled event, as read back (``payload`` is decoded JSON: Decimals are strings).

    The payload is kept as the stored text and decoded on first use: a warm start replays every
    event but the OMS reads the payloads of its own kinds only, and a writer rarely reads back
    what it just appended.
    """

    seq: int
    ts: datetime
    kind: str
    correlation_id: str | None
    payload_text: str = field(repr=False)

    @cached_property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_text)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``ts`` as ISO-8601 text)."""
        return {
            "seq": self.seq,
            "ts": format_ts(self.ts),
            "kind": self.kind,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class NewEvent:
    """An event to append with :meth:`Journal.append_many`."""

    kind: str
    payload: Mapping[str, Any]
    correlation_id: str | None = None
    ts: datetime | None = None


def segment_rows(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a segment event's payload (:meth:`Journal.append_row`), oldest first, as dicts.

    Each row is ``dict(zip(fields, values))``, plus the segment's ``symbol`` when it has one: the
    same mapping the row's own event would have had as its payload.
    """
    fields = payload["fields"]
    symbol = payload.get("symbol")
    if symbol is None:
        return [dict(zip(fields, values, strict=True)) for values in payload["rows"]]
    return [{"symbol": symbol, **dict(zip(fields, values, strict=True))} for values in payload["rows"]]


@dataclass
class _Segment:
    """Rows of one kind (and symbol, and fields) waiting to be written as one segment event.

    Each row is encoded when it arrives, so a value the journal cannot hold fails where it was
    given, not at some later write; writing the segment joins the texts.
    """

    kind: str
    symbol: str | None
    fields: tuple[str, ...]
    texts: list[str]
    ts: datetime

    def row(self) -> tuple[str, str, str | None, str, str | None]:
        head = "{" + (f'"symbol":{encode_value(self.symbol)},' if self.symbol is not None else "")
        text = f'{head}"fields":{encode_value(list(self.fields))},"rows":[{",".join(self.texts)}]}}'
        return format_ts(self.ts), self.kind, None, text, self.symbol


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise JournalError(f"cannot journal the non-finite number {value}")
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot journal a value of type {type(value).__name__}: {value!r}")


# One encoder for every payload: ``json.dumps`` with options builds a new encoder (and its C
# scanner) on each call, which cost more than encoding a bar. ``markers=None`` skips the circular
# reference check; a circular payload ends in RecursionError, reported like any unencodable one.
_ENCODER = json.JSONEncoder(default=_json_default, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
_encode_chunks = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, False,  # type: ignore[attr-defined]
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """Encode a payload as the journal stores it: compact JSON, Decimals as plain strings, no NaN."""
    if type(payload) is not dict:
        if not isinstance(payload, Mapping):
            raise JournalError(f"a journal payload must be a mapping (got {type(payload).__name__})")
        payload = dict(payload)
    return _encoded(payload, "payload")


def encode_value(value: Any) -> str:
    """Encode any JSON-able value as :func:`encode_payload` encodes a payload's values."""
    return _encoded(value, "value")


def _encoded(value: Any, what: str) -> str:
    try:
        if _encode_chunks is not None:
            return "".join(_encode_chunks(value, 0))
        return _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as error:
        raise JournalError(f"{what} cannot be journaled: {error}") from None


def canonical_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``payload`` exactly as it will read back from the journal (an encode/decode round trip)."""
    return json.loads(encode_payload(payload))


_ZONEINFO_UTC = ZoneInfo("UTC")  # zoneinfo keeps one instance per key


def format_ts(ts: datetime) -> str:
    """Format a timestamp the way the journal stores it: UTC, microseconds, ``Z`` (sorts as text).

    The text is ``_TS_FORMAT``'s; ``isoformat`` writes it several times faster than ``strftime``.
    """
    tz = ts.tzinfo
    if tz is None:
        raise JournalError(f"journal timestamps must be timezone-aware (got naive {ts.isoformat()})")
    if tz is not UTC and tz is not _ZONEINFO_UTC:  # already UTC (pandas gives zoneinfo's): no conversion
        ts = ts.astimezone(UTC)
    return ts.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_ts(text: str) -> datetime:
    # fromisoformat reads the trailing Z (Python 3.11+) and is much faster than strptime.
    return datetime.fromisoformat(text)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Kinds already checked against KIND_PATTERN (a handful in practice; a regex per event added up).
_CHECKED_KINDS: set[str] = set()


class Journal:
    """The append-only event journal: one SQLite file, or one schema of a PostgreSQL database.

    Parameters
    ----------
    path
        The database file; created (with parent directories) and migrated to the current schema
        unless ``read_only``. Or a PostgreSQL journal, ``postgresql://user@host/db?journal=name``
        (a :class:`~tradepulse.store.postgres.PgLocation`; :mod:`tradepulse.store.postgres`).
    durability
        ``"full"`` (default, ``synchronous=FULL``) or ``"fast"`` (``synchronous=NORMAL``); see the
        module docstring.
    clock
        Returns the current time for events appended without ``ts``; tests pass a fixed clock.
    read_only
        Open for reading only (dashboards, queries); the file must exist at the current schema.

    Examples
    --------
    >>> journal = Journal("journal.sqlite")                    # doctest: +SKIP
    >>> journal.append("risk.decision", {"allowed": False, "reason": "max position"})  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path | PgLocation,
        *,
        durability: Durability = "full",
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ConfigError(f"journal durability must be 'full' or 'fast' (got {durability!r})")
        self.postgres = is_postgres(path)
        self.path: Any = (path if isinstance(path, PgLocation) else PgLocation.parse(str(path))) if self.postgres \
            else Path(path).expanduser()
        self.durability = durability
        self.read_only = read_only
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._listeners: list[Callable[[JournalEvent], None]] = []
        # Group commit (see deferred_commits): appended but not yet committed, and when to commit anyway.
        self._deferring = False
        self._defer_limit = 0
        self._uncommitted: list[JournalEvent] = []
        # Segment rows not yet written (see append_row), by (kind, symbol, fields), oldest first.
        self._segments: dict[tuple[str, str | None, tuple[str, ...]], _Segment] = {}
        # Write-ahead log growth since the last checkpoint, estimated in pages (see maintain).
        self._log_pages = 0
        self._transaction_bytes = 0
        self._connection = self._connect()

    def _connect(self) -> Any:
        if self.postgres:
            connection = PgConnection(self.path, read_only=self.read_only, durability=self.durability)
            version = connection.schema_version()
            if version != CURRENT_SCHEMA_VERSION:
                connection.close()
                raise ConfigError(f"journal {self.path} has schema version {version}, this TradePulse reads version "
                                  f"{CURRENT_SCHEMA_VERSION}; open it once for writing to migrate it")
            return connection
        if self.read_only:
            if not self.path.exists():
                raise ConfigError(f"journal {self.path} does not exist")
            uri = self.path.resolve().as_uri() + "?mode=ro"
            connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            connection.execute("PRAGMA busy_timeout = 30000")
            if not self.read_only:
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise ConfigError(f"journal {self.path}: SQLite refused WAL mode (got {mode}); is it on a network share?")
                connection.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[self.durability]}")
                connection.execute("PRAGMA wal_autocheckpoint = 0")  # maintain() checkpoints, off the order path
                migrate(connection)
            version = schema_version(connection)
            if version != CURRENT_SCHEMA_VERSION:
                raise ConfigError(
                    f"journal {self.path} has schema version {version}, this TradePulse reads version {CURRENT_SCHEMA_VERSION}; "
                    "open it once for writing to migrate it"
                )
        except sqlite3.DatabaseError as error:
            connection.close()
            raise ConfigError(f"journal {self.path} cannot be opened: {error}") from None
        except BaseException:
            connection.close()
            raise
        return connection

    # -- writing ---------------------------------------------------------------------------

    def append(
        self, kind: str, payload: Mapping[str, Any], *, correlation_id: str | None = None, ts: datetime | None = None
    ) -> JournalEvent:
        """Append one event durably and return it as it reads back.

        Parameters
        ----------
        kind
            Dotted lowercase name, ``<area>.<what>`` (``"order.submitted"``, ``"risk.decision"``).
        payload
            A JSON-able mapping; ``Decimal`` is written as an exact string, ``datetime`` as ISO-8601.
            A top-level ``"symbol"`` string is also indexed for queries.
        correlation_id
            Ties related events together (the client order id for everything about one order).
        ts
            Timezone-aware event time; the journal's clock when omitted.
        """
        return self.append_many([NewEvent(kind, payload, correlation_id, ts)])[0]

    def append_row(
        self, kind: str, fields: tuple[str, ...], values: Sequence[Any], *, symbol: str | None = None,
        ts: datetime | None = None,
    ) -> None:
        """Add one row to the segment event of ``kind`` (and ``symbol``) being gathered; see the module docstring.

        The row is written (with the rows gathered before it, as one event whose payload is
        ``{"symbol": ..., "fields": [...], "rows": [[...], ...]}``; read it with
        :func:`segment_rows`) before the next other event, at :meth:`sync`, at :meth:`write_rows`,
        or once :data:`SEGMENT_ROWS` rows wait. The event's ``ts`` is its newest row's.
        """
        if len(values) != len(fields):
            raise JournalError(f"a {kind} row has {len(values)} values for {len(fields)} fields")
        self.append_encoded_row(kind, fields, encode_value(values), symbol=symbol, ts=ts)

    def append_encoded_row(
        self, kind: str, fields: tuple[str, ...], text: str, *, symbol: str | None = None, ts: datetime | None = None,
    ) -> None:
        """:meth:`append_row` for a row its writer has already encoded: ``text`` is the JSON array of
        its ``len(fields)`` values, exactly as :func:`encode_value` would write them (the writer's
        tests hold that). For a writer that reuses what stays the same from row to row (a mark).
        """
        if self.read_only:
            raise JournalError(f"journal {self.path} is open read-only")
        at = ts or self._clock()
        if at.tzinfo is None:
            raise JournalError(f"journal timestamps must be timezone-aware (got naive {at.isoformat()})")
        with self._lock:
            key = (kind, symbol, fields)
            segment = self._segments.get(key)
            if segment is None:
                if not (isinstance(kind, str) and KIND_PATTERN.match(kind)):
                    raise JournalError(f"event kind {kind!r} must look like 'area.what' (lowercase, digits, underscores)")
                if symbol is not None and not isinstance(symbol, str):
                    raise JournalError(f"a segment's symbol must be a string (got {type(symbol).__name__})")
                self._segments[key] = _Segment(kind, symbol, fields, [text], at)
            else:
                segment.texts.append(text)
                segment.ts = at
                if len(segment.texts) >= SEGMENT_ROWS:
                    self.append_many(())

    def write_rows(self) -> list[JournalEvent]:
        """Write the gathered segment rows now, as events in one committed transaction; return those events.

        A writer calls it once what it gathered for one step is complete (the engine: a bar and
        its mark), so a live journal has them at once. Under :meth:`deferred_commits` (a replay)
        it does nothing and returns ``[]``: the rows wait for the next commit.
        """
        with self._lock:
            if not self._segments or self._deferring:
                return []
            written = [segment.row() for segment in self._segments.values()]
            self._segments = {}
            return self._insert(written)

    def append_many(self, events: Iterable[NewEvent]) -> list[JournalEvent]:
        """Append several events in one transaction: all of them are journaled, or none.

        Segment rows gathered by :meth:`append_row` are written first, in the same transaction.
        While commits are deferred (:meth:`deferred_commits`) the events join the open transaction
        and become durable at the next :meth:`sync`. Returns the events of ``events`` as they read back.
        """
        if self.read_only:
            raise JournalError(f"journal {self.path} is open read-only")
        with self._lock:
            rows = [self._row(event) for event in events]
            if self._segments:
                rows[:0] = [segment.row() for segment in self._segments.values()]
                skip, self._segments = len(self._segments), {}
            else:
                skip = 0
            return self._insert(rows)[skip:] if rows else []

    def _insert(self, rows: list[tuple[str, str, str | None, str, str | None]]) -> list[JournalEvent]:
        """Insert encoded rows in one transaction (the open one while deferring) and return them as events."""
        with self._lock:
            connection = self._connection
            try:
                if not connection.in_transaction:
                    connection.execute("BEGIN IMMEDIATE")
                appended = []
                for ts_text, kind, correlation_id, text, symbol in rows:
                    cursor = connection.execute(
                        "INSERT INTO events (ts, kind, correlation_id, payload, symbol) VALUES (?, ?, ?, ?, ?)",
                        (ts_text, kind, correlation_id, text, symbol),
                    )
                    appended.append(JournalEvent(cursor.lastrowid, parse_ts(ts_text), kind, correlation_id, text))
                    self._transaction_bytes += len(text) + 100  # the row's other columns and index entries
                if self._deferring and len(self._uncommitted) + len(appended) < self._defer_limit:
                    self._uncommitted += appended
                    return appended
                connection.execute("COMMIT")
                self._committed()
            except BaseException as error:
                lost = len(self._uncommitted)
                self._uncommitted, self._transaction_bytes = [], 0  # rolled back: none of it reaches the log
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(error, _database_errors()):
                    # Disk full, file locked too long, file removed: nothing was recorded, so nothing may act.
                    also = f" (nor the {lost} event(s) appended since the last commit)" if lost else ""
                    raise JournalError(f"journal {self.path} could not be written ({error}); nothing was recorded{also}") from error
                raise
            committed, self._uncommitted = self._uncommitted + appended, []
        self._notify(committed)
        return appended

    @contextlib.contextmanager
    def deferred_commits(self, max_events: int = 5000) -> Iterator[None]:
        """Group commits while the block runs: appended events wait in one open transaction until :meth:`sync`.

        For a writer whose events have nothing external between them (a replay's bars, marks and
        targets): they become durable together at the next :meth:`sync` (the OMS syncs before every
        venue call, so an order intent is still durable before the venue hears of it), once
        ``max_events`` wait, or when the block ends. Readers on other connections see them from then
        on; listeners hear of them then.
        """
        if max_events < 1:
            raise ConfigError(f"max_events must be at least 1, got {max_events}")
        with self._lock:
            self._deferring, self._defer_limit = True, max_events
        try:
            yield
        finally:
            with self._lock:
                self._deferring = False
            self.sync()

    def sync(self) -> None:
        """Commit the events waiting under :meth:`deferred_commits` (nothing to do otherwise).

        Segment rows still gathering are written first: they are never held back past a commit.
        """
        with self._lock:
            if self._segments:
                self.append_many(())
            try:
                waiting = self._connection.in_transaction
            except sqlite3.ProgrammingError:
                return  # closed already: close() committed what waited
            if not waiting:
                return
            try:
                self._connection.execute("COMMIT")
                self._committed()
            except _database_errors() as error:
                lost = len(self._uncommitted)
                self._uncommitted, self._transaction_bytes = [], 0
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise JournalError(f"journal {self.path} could not commit {lost} event(s) ({error}); they are not recorded") from error
            committed, self._uncommitted = self._uncommitted, []
        self._notify(committed)

    def maintain(self) -> bool:
        """Checkpoint the write-ahead log now if it has grown enough since the last time; ``True`` if it did.

        Call it when nothing waits on the journal (the OMS calls it right after a venue call
        returns): the copy then never sits between a commit and the venue call it guards. Does
        nothing inside an open transaction (a replay between two commits) or for PostgreSQL.
        """
        if self._log_pages < CHECKPOINT_PAGES or self.postgres or self.read_only:
            return False
        with self._lock:
            if self._connection.in_transaction:
                return False
            self._checkpoint()
            return True

    def _committed(self) -> None:
        # Each commit rewrites a few whole pages (the table's and the indexes' last leaves) plus the rows.
        self._log_pages += 4 + self._transaction_bytes // 2048
        self._transaction_bytes = 0
        if self._log_pages >= 4 * CHECKPOINT_PAGES and not self.postgres:
            self._checkpoint()  # nobody called maintain(): keep the log bounded anyway

    def _checkpoint(self) -> None:
        try:
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:  # a reader holding an old snapshot, a busy file: the next call retries
            _log.warning("journal %s: checkpoint failed (%s); retried later", self.path, error)
        self._log_pages = 0

    def _notify(self, events: list[JournalEvent]) -> None:
        for listener in list(self._listeners):
            for event in events:
                try:
                    listener(event)
                except Exception:  # noqa: BLE001 - an observer (metrics, a stream) must never undo a durable write
                    _log.exception("journal listener %r failed on event %s", listener, event.seq)

    def add_listener(self, listener: Callable[[JournalEvent], None]) -> None:
        """Call ``listener(event)`` after each event is durably appended (metrics, live streams).

        Listeners run in the writer's thread, after the commit; one that raises is logged and
        ignored, because the event is already durable and the writer must carry on.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[JournalEvent], None]) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _row(self, event: NewEvent) -> tuple[str, str, str | None, str, str | None]:
        if not (isinstance(event.kind, str) and event.kind in _CHECKED_KINDS):
            if not isinstance(event.kind, str) or not KIND_PATTERN.match(event.kind):
                raise JournalError(f"event kind {event.kind!r} must look like 'area.what' (lowercase, digits, underscores)")
            _CHECKED_KINDS.add(event.kind)
        if event.correlation_id is not None and not isinstance(event.correlation_id, str):
            raise JournalError(f"correlation id must be a string (got {type(event.correlation_id).__name__})")
        text = encode_payload(event.payload)
        symbol = event.payload.get("symbol")
        symbol = symbol if isinstance(symbol, str) else None
        return format_ts(event.ts or self._clock()), str(event.kind), event.correlation_id, text, symbol

    # -- reading ---------------------------------------------------------------------------

    def events(
        self,
        *,
        after_seq: int = 0,
        kinds: Sequence[str] | None = None,
        kind_prefix: str | None = None,
        correlation_id: str | None = None,
        symbol: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        before_seq: int | None = None,
    ) -> list[JournalEvent]:
        """Return events matching every given filter, by sequence (oldest first unless ``newest_first``).

        ``since`` is inclusive and ``until`` exclusive; ``after_seq`` returns events with a larger
        ``seq`` (resume reading where you left off), ``before_seq`` ones with a smaller one (page
        back from the newest).
        """
        clauses, parameters = ["seq > ?"], [after_seq]
        if before_seq is not None:
            clauses.append("seq < ?")
            parameters.append(before_seq)
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            parameters += kinds
        if kind_prefix is not None:
            # Range instead of LIKE: kinds are lowercase ASCII, and the range uses the kind index.
            clauses.append("kind >= ? AND kind < ?")
            parameters += [kind_prefix, kind_prefix + "\U0010ffff"]
        if correlation_id is not None:
            clauses.append("correlation_id = ?")
            parameters.append(correlation_id)
        if symbol is not None:
            clauses.append("symbol = ?")
            parameters.append(symbol)
        if since is not None:
            clauses.append("ts >= ?")
            parameters.append(format_ts(since))
        if until is not None:
            clauses.append("ts < ?")
            parameters.append(format_ts(until))
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT seq, ts, kind, correlation_id, payload FROM events WHERE {' AND '.join(clauses)} ORDER BY seq {order}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            no_limit = None if self.postgres else -1  # "no limit" in each dialect
            parameters += [no_limit if limit is None else int(limit), int(offset)]
        return [_event(row) for row in self.select(sql, parameters)]

    def iter_events(self, *, after_seq: int = 0, **filters: Any) -> Iterator[JournalEvent]:
        """Yield every matching event in sequence order, reading in batches (replay uses this)."""
        while True:
            batch = self.events(after_seq=after_seq, limit=_BATCH, **filters)
            yield from batch
            if len(batch) < _BATCH:
                return
            after_seq = batch[-1].seq

    def last_seq(self) -> int:
        """The highest sequence number written (0 for an empty journal)."""
        return int(self.select("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def count(self, kind: str | None = None) -> int:
        """Number of events, optionally of one kind."""
        if kind is None:
            return int(self.select("SELECT COUNT(*) FROM events")[0][0])
        return int(self.select("SELECT COUNT(*) FROM events WHERE kind = ?", [kind])[0][0])

    def schema_version(self) -> int:
        """The schema version of the open journal."""
        with self._lock:
            if self.postgres:
                return int(self._connection.schema_version())
            return schema_version(self._connection)

    def select(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
        """Run one read-only SQL query over the journal's tables (for :mod:`tradepulse.store.queries`)."""
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            raise JournalError("Journal.select runs SELECT queries only; append events with Journal.append")
        with self._lock:
            if self._segments and self._deferring:
                # The writer's own reads see what it gathered, as they see its uncommitted events.
                self.append_many(())
            return self._connection.execute(sql, parameters).fetchall()

    def integrity_check(self) -> str:
        """Run SQLite's integrity check; ``"ok"`` when the file is sound."""
        with self._lock:
            return str(self._connection.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        """Commit what waits (see :meth:`deferred_commits`), then close the connection (further calls fail)."""
        with self._lock:
            if not self.read_only:
                self.sync()
            self._connection.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, durability={self.durability!r}{', read_only=True' if self.read_only else ''})"


def _database_errors() -> tuple[type[BaseException], ...]:
    """What a failed write raises, in either dialect."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite needs nothing else
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def _event(row: tuple) -> JournalEvent:
    seq, ts, kind, correlation_id, payload = row
    return JournalEvent(int(seq), parse_ts(ts), kind, correlation_id, payload)
