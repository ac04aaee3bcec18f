"""docs/execution.md documents every event kind, schema version and query the code has."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradepulse.store import MIGRATIONS, OmsEventKind, queries

DOCS = (Path(__file__).resolve().parents[3] / "docs" / "execution.md").read_text(encoding="utf-8")
QUERIES = ["orders", "fills", "positions_over_time", "pnl_series", "risk_events", "events", "execution_quality"]


@pytest.mark.parametrize("kind", list(OmsEventKind))
def test_every_event_kind_the_oms_writes_is_documented(kind):
    assert f"`{kind}`" in DOCS


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda migration: f"v{migration.version}")
def test_every_schema_version_is_documented(migration):
    assert f"| {migration.version} |" in DOCS


@pytest.mark.parametrize("name", QUERIES)
def test_every_query_is_public_and_documented(name):
    assert callable(getattr(queries, name)) and f"`{name}(source" in DOCS
