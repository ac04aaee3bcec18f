"""Grouped commits: events wait in one transaction until a sync, then become durable and heard together."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradepulse.errors import ConfigError
from tradepulse.store import Journal

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_deferred_events_are_invisible_to_readers_and_unheard_until_sync(journal_at):
    path = journal_at("journal")
    heard = []
    with Journal(path, clock=lambda: T0) as journal:
        journal.add_listener(lambda event: heard.append(event.seq))
        with journal.deferred_commits():
            first = journal.append("market.bar", {"symbol": "BTC/USDT"})
            # The writer reads its own open transaction; another connection does not see it yet.
            assert journal.count("market.bar") == 1 and first.seq == 1
            with Journal(path, read_only=True) as reader:
                assert reader.count() == 0
            assert heard == []
            journal.sync()
            with Journal(path, read_only=True) as reader:
                assert reader.count() == 1
            assert heard == [1]
            journal.append("market.bar", {"symbol": "BTC/USDT"})
        # Leaving the block commits what waits and goes back to one commit per append.
        assert heard == [1, 2]
        journal.append("market.bar", {"symbol": "BTC/USDT"})
        with Journal(path, read_only=True) as reader:
            assert reader.count() == 3
        assert heard == [1, 2, 3]


def test_a_deferred_group_commits_by_itself_once_it_holds_max_events(journal_at):
    path = journal_at("journal")
    with Journal(path, clock=lambda: T0) as journal, journal.deferred_commits(max_events=3):
        for _ in range(5):
            journal.append("market.bar", {"symbol": "BTC/USDT"})
        with Journal(path, read_only=True) as reader:
            assert reader.count() == 3  # the third append committed the group; two wait


def test_closing_the_journal_commits_what_waits(journal_at):
    path = journal_at("journal")
    journal = Journal(path, clock=lambda: T0)
    context = journal.deferred_commits()
    context.__enter__()
    journal.append("market.bar", {"symbol": "BTC/USDT"})
    journal.close()
    with Journal(path, read_only=True) as reader:
        assert reader.count() == 1


def test_max_events_must_be_positive(journal_at):
    with Journal(journal_at("journal")) as journal, pytest.raises(ConfigError), journal.deferred_commits(max_events=0):
        pass


def test_deferred_events_are_numbered_in_order_and_read_back_whole(tmp_path):
    # Over a thousand events in one deferred group: numbers follow the journal's last one, and the
    # writer's reads see every event appended so far.
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=lambda: T0, durability="fast") as journal:
        journal.append("engine.started", {"n": 0})
        with journal.deferred_commits(max_events=100_000):
            appended = [journal.append("market.bar", {"symbol": "BTC/USDT", "n": n}) for n in range(1, 1201)]
            assert [event.seq for event in appended] == list(range(2, 1202))
            assert journal.count("market.bar") == 1200
            assert journal.events(newest_first=True, limit=1)[0].payload == {"symbol": "BTC/USDT", "n": 1200}
        with Journal(path, read_only=True) as reader:
            events = reader.events()
    assert [event.seq for event in events] == list(range(1, 1202))
    assert [event.payload["n"] for event in events] == list(range(1201))
