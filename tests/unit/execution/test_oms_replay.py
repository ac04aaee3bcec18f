"""Replaying the journal rebuilds exactly the OMS that wrote it, and the id sequence continues."""

from __future__ import annotations

import random
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from execution_helpers import INSTRUMENTS, StepClock, make_fill, market_buy, random_session
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.errors import ConfigError
from tradepulse.execution import OMS, Instrument, OrderStatus
from tradepulse.store import Journal, JournalError, OmsEventKind


def assert_same_state(live: OMS, rebuilt: OMS) -> None:
    assert rebuilt.orders == live.orders
    assert rebuilt.portfolio.positions == live.portfolio.positions
    assert rebuilt.portfolio.totals() == live.portfolio.totals()
    assert rebuilt.last_client_order_sequence == live.last_client_order_sequence
    assert rebuilt.last_applied_seq == live.last_applied_seq == live.journal.last_seq()
    assert rebuilt._seen_trades == live._seen_trades


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_rebuilt_oms_equals_the_live_one_after_any_session(seed):
    with tempfile.TemporaryDirectory() as directory, Journal(Path(directory) / "j.sqlite", durability="fast") as journal:
        live = OMS(journal, INSTRUMENTS, clock=StepClock())
        random_session(live, random.Random(seed), steps=60)
        assert_same_state(live, OMS.from_journal(journal, INSTRUMENTS))


def test_a_long_session_replays_to_the_same_state(journal):
    live = OMS(journal, INSTRUMENTS, clock=StepClock())
    random_session(live, random.Random(20240301), steps=1500)
    assert journal.count(OmsEventKind.ORDER_FILLED) > 100
    assert_same_state(live, OMS.from_journal(journal, INSTRUMENTS))


def test_id_sequence_continues_after_a_restart_and_never_reuses_an_id(journal_path, clock):
    with Journal(journal_path, clock=clock) as journal:
        first = OMS(journal, INSTRUMENTS, clock=clock)
        issued = [first.prepare_submit(market_buy("0.01")).client_order_id for _ in range(3)]
        first.deny(market_buy("0.01"), "halted")
    with Journal(journal_path, clock=clock) as journal:
        restarted = OMS.from_journal(journal, INSTRUMENTS, clock=clock)
        assert restarted.last_client_order_sequence == 4
        following = restarted.prepare_submit(market_buy("0.01")).client_order_id
    assert following == "tp-momentum-5" and following not in issued


def test_replay_restores_positions_open_orders_and_seen_trades(oms, journal):
    order = oms.prepare_submit(market_buy("0.3"))
    oms.apply_fill(make_fill(order.client_order_id, "11", "0.1", "43000.00"))
    rebuilt = OMS.from_journal(journal, INSTRUMENTS)
    assert rebuilt.position("BTC/USDT").quantity == Decimal("0.1")
    assert [o.status for o in rebuilt.open_orders()] == [OrderStatus.PARTIALLY_FILLED]
    assert rebuilt.seen_trade("BTC/USDT", "11")
    assert rebuilt.apply_fill(make_fill(order.client_order_id, "11", "0.1", "43000.00")).outcome == "duplicate"


def test_replay_skips_events_other_components_wrote(oms, journal):
    oms.prepare_submit(market_buy("0.01"))
    journal.append("risk.decision", {"allowed": False, "reason": "stale data"})
    journal.append("risk.state_changed", {"from": "ACTIVE", "to": "HALTED"})
    rebuilt = OMS.from_journal(journal, INSTRUMENTS)
    assert rebuilt.orders == oms.orders and rebuilt.last_applied_seq == 1


def test_replay_of_an_event_for_an_order_never_journaled_fails_loudly(journal):
    orphan = {"symbol": "BTC/USDT", "client_order_id": "tp-x-1", "at": "2024-01-01T00:00:00+00:00"}
    journal.append(OmsEventKind.ORDER_ACCEPTED, orphan)
    with pytest.raises(JournalError, match="event 1"):
        OMS.from_journal(journal, INSTRUMENTS)


def test_replay_needs_every_instrument_the_journal_trades(oms, journal):
    order = oms.prepare_submit(market_buy("0.01"))
    oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "43000.00"))
    eth_only = [instrument for instrument in INSTRUMENTS if instrument.symbol == "ETH/USDT"]
    with pytest.raises((ConfigError, JournalError), match="BTC/USDT"):
        OMS.from_journal(journal, eth_only)


def test_two_instruments_with_one_symbol_are_refused(journal):
    duplicate = Instrument("BTC/USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.1"))
    with pytest.raises(ConfigError, match="twice"):
        OMS(journal, [*INSTRUMENTS, duplicate])
