"""The engine journals every step, in the order that makes a crash safe, and restarts from the journal."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from live_helpers import bar_engine, kinds, rows

from tradepulse.adapters.paper.feeds import fine_instrument
from tradepulse.execution import OMS
from tradepulse.store import Journal
from tradepulse.store.journal import segment_rows


def test_each_order_is_gated_and_journaled_before_the_venue_fills_it(tmp_path):
    engine, venue, journal, _ = bar_engine(tmp_path / "journal.sqlite")
    report = asyncio.run(engine.run())
    events = list(journal.iter_events())
    decisions = {e.payload["decision_id"]: e.seq for e in events if e.kind == "risk.decision"}
    submitted = {e.correlation_id: e for e in events if e.kind == "order.submitted"}
    fills = [e for e in events if e.kind == "order.filled"]
    assert report.fills and len(fills) == len(report.fills) == len(asyncio.run(_trades(venue)))
    for fill in fills:
        order = submitted[fill.correlation_id]
        assert decisions[order.payload["risk_decision_id"]] < order.seq < fill.seq
    journal.close()


async def _trades(venue):
    await venue.connect()
    return await venue.my_trades("BTC/USDT")


def test_every_bar_is_journaled_with_a_mark_and_every_target_change_once(tmp_path):
    engine, _, journal, events = bar_engine(tmp_path / "journal.sqlite")
    report = asyncio.run(engine.run())
    recorded = kinds(journal)
    bars = len(events) // 2
    assert recorded[0] == "engine.started" and recorded[-1] == "engine.stopped"
    assert "market.bar" not in recorded and "portfolio.marked" not in recorded  # the one-event-per-bar kinds are read, not written
    assert rows(journal, "market.bars") == rows(journal, "portfolio.marks") == report.bars == bars
    targets = [e.payload for e in journal.iter_events(kinds=["strategy.target"])]
    assert all(t["target"] != t["previous"] for t in targets)
    assert len(targets) == recorded.count("order.submitted") == len(report.fills)  # one order per change here
    journal.close()


def test_a_replay_journals_the_bars_between_two_orders_as_one_segment_written_before_the_order(tmp_path):
    engine, _, journal, _ = bar_engine(tmp_path / "journal.sqlite")  # a replay: commits are deferred
    report = asyncio.run(engine.run())
    events = list(journal.iter_events())
    segments = [e for e in events if e.kind == "market.bars"]
    assert rows(journal, "market.bars") == report.bars and len(segments) < report.bars / 3
    # Every bar a target was decided on is in the journal before the target and before the order it causes.
    bar_seq = {row["end"]: e.seq for e in segments for row in segment_rows(e.payload)}
    orders = [e for e in events if e.kind == "order.submitted"]
    targets = [e for e in events if e.kind == "strategy.target"]
    assert len(targets) == len(orders) > 3
    for target, order in zip(targets, orders, strict=True):
        assert bar_seq[target.payload["bar_end"]] < target.seq < order.seq
    # ... and so is the bar's mark: the position revalued at that bar's close.
    mark_times = {row["at"] for e in events if e.kind == "portfolio.marks" for row in segment_rows(e.payload)}
    assert {target.payload["bar_end"] for target in targets} <= mark_times
    journal.close()


def test_the_oms_rebuilt_from_the_journal_holds_what_the_engine_held(tmp_path):
    path = tmp_path / "journal.sqlite"
    engine, _, journal, _ = bar_engine(path)
    report = asyncio.run(engine.run())
    live_position = engine.oms.position("BTC/USDT")
    journal.close()
    with Journal(path, read_only=True) as reopened:
        rebuilt = OMS(reopened, [fine_instrument("BTC/USDT")])
        assert rebuilt.position("BTC/USDT") == live_position
        assert rebuilt.orders == engine.oms.orders
        assert rebuilt.position("BTC/USDT").quantity == report.position


def test_a_restarted_engine_continues_the_journal_without_reusing_ids_and_keeps_its_capital(tmp_path):
    path = tmp_path / "journal.sqlite"
    first, _, journal, _ = bar_engine(path, end="2019-10-03")
    asyncio.run(first.run())
    first_orders, last_target = first.oms.orders, first.target
    journal.close()

    second, _, journal, _ = bar_engine(path, start="2019-10-03 01:00", end="2019-10-08")
    second.config = replace(second.config, capital=Decimal("1"))  # ignored: the journal has the capital

    async def resume():
        await second.start()
        assert second.target == last_target and second.execution.capital == Decimal("10000")
        assert second.oms.orders == first_orders
        return await second.run()

    asyncio.run(resume())
    started = [e.payload["restarted"] for e in journal.iter_events(kinds=["engine.started"])]
    new_ids = set(second.oms.orders) - set(first_orders)
    sequence = lambda client_order_id: int(client_order_id.rsplit("-", 1)[1])  # noqa: E731
    assert started == [False, True]
    assert new_ids and min(map(sequence, new_ids)) == max(map(sequence, first_orders)) + 1
    journal.close()


def _targets(journal: Journal) -> list[tuple[str, float]]:
    return [(str(e.payload["bar_start"]), e.payload["target"]) for e in journal.iter_events(kinds=["strategy.target"])]


def test_a_restarted_engine_decides_as_if_it_had_never_stopped(tmp_path):
    # The strategy needs 20 bars of history. A restart must refill its window from the journaled
    # bars: an empty window would make it flat (and sell the position) for 20 bars after every restart.
    whole, _, whole_journal, _ = bar_engine(tmp_path / "whole.sqlite", end="2019-10-08")
    asyncio.run(whole.run())
    expected = _targets(whole_journal)
    whole_journal.close()

    path = tmp_path / "split.sqlite"
    first, _, journal, _ = bar_engine(path, end="2019-10-03")
    asyncio.run(first.run())
    journal.close()
    second, _, journal, _ = bar_engine(path, start="2019-10-03 01:00", end="2019-10-08")
    asyncio.run(second.run())
    assert _targets(journal) == expected
    refilled = [e.payload for e in journal.iter_events(kinds=["engine.started"])][-1]
    assert refilled["restarted"] is True and refilled["history_bars"] == second.window.size
    journal.close()


def test_a_restart_onto_a_market_whose_clock_went_back_starts_the_window_afresh(tmp_path):
    # A replayed venue that restarted replays its data from the beginning: the journaled history
    # no longer precedes the bars, so the engine drops it (journaled) rather than fail.
    path = tmp_path / "journal.sqlite"
    first, _, journal, _ = bar_engine(path, end="2019-10-04")
    asyncio.run(first.run())
    journal.close()
    second, _, journal, _ = bar_engine(path, start="2019-10-02", end="2019-10-05")
    report = asyncio.run(second.run())
    dropped = [e.payload for e in journal.iter_events(kinds=["engine.history_dropped"])]
    assert len(dropped) == 1 and dropped[0]["bar_start"].startswith("2019-10-02")
    assert report.bars > 0 and second.window.last.start.isoformat().startswith("2019-10-05")
    journal.close()
