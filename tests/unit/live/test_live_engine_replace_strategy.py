"""A running engine takes a new strategy version between two events, as the service's hot-load does."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from live_helpers import bar_engine

from tradepulse.adapters.paper.feeds import BarReplayFeed
from tradepulse.model.events import BarClose
from tradepulse.strategy import load_strategy

SWAP_AFTER_EVENTS = 120  # 60 hourly bars: both strategies are warm by then


def _expected_changes(strategy, after_bar_start):
    """The new strategy's target changes on the full history, for the bars after the swap."""
    bars = BarReplayFeed.from_source("sample:binance:BTC/USDT:1h", end="2019-10-06").bars
    signals = strategy.signals(bars).fillna(0.0).clip(-1, 1)
    return signals[signals.index > after_bar_start]


async def _run_with_swap(engine, events, new_strategy, open_orders):
    await engine.start()
    for event in events[:SWAP_AFTER_EVENTS]:
        await engine.clock.advance_to(event.at)
        await engine.on_event(event)
    before = engine.target
    payload = await engine.replace_strategy(new_strategy, actor="alice", reason="v2 approved", open_orders=open_orders,
                                            version="sma_cross-v2", previous_version="sma_cross-v1")
    payload["position_right_after"] = engine.oms.position("BTC/USDT").quantity
    last_bar = engine.window.last
    positions_after_next_event = None
    for index, event in enumerate(events[SWAP_AFTER_EVENTS:]):
        await engine.clock.advance_to(event.at)
        await engine.on_event(event)
        if index == 0:
            positions_after_next_event = engine.oms.position("BTC/USDT").quantity
    return before, payload, last_bar, positions_after_next_event


def test_the_new_version_decides_from_the_next_bar_as_if_it_had_run_all_along(tmp_path):
    engine, _, journal, events = bar_engine(tmp_path / "journal.sqlite")
    new = load_strategy("sma_cross")(fast=3, slow=10)
    before, payload, last_bar, _ = asyncio.run(_run_with_swap(engine, events, new, "cancel"))
    assert payload["from"] == {"strategy": "sma_cross", "params": {"fast": 5, "slow": 20, "allow_short": False},
                               "version": "sma_cross-v1"}
    assert payload["to"]["params"] == {"fast": 3, "slow": 10, "allow_short": False} and payload["actor"] == "alice"
    assert payload["history_bars"] == engine.window.size  # refilled from the journal, not empty
    replaced = journal.events(kinds=["strategy.replaced"])
    assert len(replaced) == 1 and replaced[0].payload["reason"] == "v2 approved"
    # Every decision after the swap is the new strategy's decision on the full history.
    changes = {pd.Timestamp(event.payload["bar_start"]): event.payload["target"]
               for event in journal.iter_events(kinds=["strategy.target"], after_seq=replaced[0].seq)}
    wanted, running = {}, before
    for start, value in _expected_changes(new, last_bar.start).items():
        if value != running:
            wanted[start] = value
            running = value
    assert len(wanted) >= 3 and changes == wanted


def test_flatten_closes_the_retiring_position_at_the_next_price(tmp_path):
    engine, _, journal, events = bar_engine(tmp_path / "journal.sqlite")
    before, payload, _, position = asyncio.run(_run_with_swap(engine, events, load_strategy("sma_cross")(fast=3, slow=10), "flatten"))
    assert before != 0.0, "pick a swap point where the old strategy holds a position"
    assert payload["open_orders"] == "flatten"
    assert payload["position_right_after"] == 0  # closed at market at once, before the new version decided
    assert position == 0
    flat = [event.payload for event in journal.iter_events(kinds=["strategy.target"]) if event.payload["target"] == 0.0]
    assert flat


def test_an_unknown_retire_policy_is_refused_before_anything_changes(tmp_path):
    engine, _, journal, events = bar_engine(tmp_path / "journal.sqlite")

    async def scenario():
        await engine.start()
        for event in events[:10]:
            await engine.clock.advance_to(event.at)
            await engine.on_event(event)
        with pytest.raises(ValueError, match="open_orders must be one of cancel, flatten, keep"):
            await engine.replace_strategy(load_strategy("sma_cross")(), actor="a", reason="r", open_orders="abandon")

    asyncio.run(scenario())
    assert engine.strategy.params["fast"] == 5 and engine.strategy.params["slow"] == 20
    assert not journal.events(kinds=["strategy.replaced"])


def test_bar_close_events_exist_in_the_replay():
    # The swap point counts events; the hourly replay gives an open and a close per bar.
    feed = BarReplayFeed.from_source("sample:binance:BTC/USDT:1h", end="2019-10-06")
    events = list(feed.events())
    assert sum(isinstance(event, BarClose) for event in events) == len(events) // 2
