"""The event journal (SQLite in WAL mode by default) and the queries dashboards and the API read.

Write with :class:`Journal`; read current state through :class:`~tradepulse.execution.OMS`
(which replays the journal) or history through :mod:`tradepulse.store.queries`. See
``docs/execution.md`` for the journal format, schema versions and replay.
"""

from __future__ import annotations

from tradepulse.store.journal import Durability, Journal, JournalError, JournalEvent, NewEvent, canonical_payload, encode_payload
from tradepulse.store.kinds import KIND_PATTERN, RISK_KIND_PREFIX, OmsEventKind
from tradepulse.store.migrations import CURRENT_SCHEMA_VERSION, MIGRATIONS

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "KIND_PATTERN",
    "MIGRATIONS",
    "RISK_KIND_PREFIX",
    "Durability",
    "Journal",
    "JournalError",
    "JournalEvent",
    "NewEvent",
    "OmsEventKind",
    "canonical_payload",
    "encode_payload",
]
