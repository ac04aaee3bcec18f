"""`tradepulse store migrate`: a real replay's SQLite journal copied into a real PostgreSQL journal, exactly."""

from __future__ import annotations

from tradepulse.live.replay import run_replay
from tradepulse.store import Journal
from tradepulse.store.queries import execution_quality, orders, pnl_series


def test_a_replay_journal_moves_to_postgresql_event_for_event(tmp_path, postgres_server, cli):
    source = tmp_path / "btc-sma.sqlite"
    run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 5, "slow": 20}, journal_path=source)
    target = postgres_server.url("migrated.btc-sma")
    result = cli("store", "migrate", str(source), target, "--json")
    assert result.returncode == 0, result.stderr
    copied = result.json()
    with Journal(source, read_only=True) as original, Journal(target, read_only=True) as copy:
        assert copied["events"] == original.count() == copy.count() > 100
        assert [event.to_dict() for event in original.iter_events()] == [event.to_dict() for event in copy.iter_events()]
    # The queries a dashboard runs give the same answers on either side.
    assert execution_quality(source) == execution_quality(target)
    assert orders(source, limit=1000) == orders(target, limit=1000)
    assert pnl_series(source).equals(pnl_series(target))
    # Once there, a copy is refused rather than mixed in; bad input is one line.
    again = cli("store", "migrate", str(source), target)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already holds events" in again.stderr
    missing = cli("store", "migrate", str(tmp_path / "nothing.sqlite"), target)
    assert missing.returncode == 2 and "no such journal file" in missing.stderr
    unnamed = cli("store", "migrate", str(source), postgres_server.url())
    assert unnamed.returncode == 2 and "?journal=<name>" in unnamed.stderr
