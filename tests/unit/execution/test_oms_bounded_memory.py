"""The OMS holds open orders and the most recent finished ones; older ones come back from the journal when named."""

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
from tradepulse.execution import OMS, FillOutcome, InvalidOrder, OrderStatus, Side
from tradepulse.store import Journal


def _assert_same_books(small: OMS, full: OMS) -> None:
    assert small.portfolio.positions == full.portfolio.positions
    assert small.portfolio.totals() == full.portfolio.totals()
    assert small._seen_trades == full._seen_trades
    assert small.last_client_order_sequence == full.last_client_order_sequence
    assert small.last_applied_seq == full.last_applied_seq
    assert [order.client_order_id for order in small.open_orders()] == [order.client_order_id for order in full.open_orders()]
    for client_order_id, order in full.orders.items():
        assert small.order(client_order_id) == order


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), keep=st.integers(min_value=1, max_value=4))
def test_a_small_oms_journals_what_a_full_one_would_and_replays_to_the_same_books(seed, keep):
    with tempfile.TemporaryDirectory() as directory, Journal(Path(directory) / "j.sqlite", durability="fast") as journal:
        small = OMS(journal, INSTRUMENTS, clock=StepClock(), keep_finished=keep)
        random_session(small, random.Random(seed), steps=150)
        finished = [order for order in small.orders.values() if not order.status.is_open]
        assert len(finished) <= keep
        # A full replay of what the small OMS journaled gives the same books and orders.
        full = OMS.from_journal(journal, INSTRUMENTS, keep_finished=10**9)
        _assert_same_books(small, full)
        # And a small replay gives them too (evicted orders read back as they stood at each event).
        _assert_same_books(OMS.from_journal(journal, INSTRUMENTS, keep_finished=keep), full)


def test_an_evicted_order_is_found_again_and_a_repeated_fill_for_it_is_a_duplicate(journal):
    oms = OMS(journal, INSTRUMENTS, clock=StepClock(), keep_finished=1)
    first = oms.prepare_submit(market_buy("0.01"))
    oms.apply_fill(make_fill(first.client_order_id, "t-1", "0.01", "43000.00"))
    second = oms.prepare_submit(market_buy("0.01"))
    oms.apply_fill(make_fill(second.client_order_id, "t-2", "0.01", "43001.00"))
    assert first.client_order_id not in oms.orders  # only the latest finished order is held
    assert oms.order(first.client_order_id).status is OrderStatus.FILLED
    repeated = oms.apply_fill(make_fill(first.client_order_id, "t-1", "0.01", "43000.00"))
    assert repeated.outcome is FillOutcome.DUPLICATE
    assert oms.position("BTC/USDT").quantity == first.quantity + second.quantity


def test_an_evicted_orders_id_cannot_be_adopted_again(journal):
    oms = OMS(journal, INSTRUMENTS, clock=StepClock(), keep_finished=1)
    for trade in ("t-1", "t-2"):
        order = oms.prepare_submit(market_buy("0.01"))
        oms.apply_fill(make_fill(order.client_order_id, trade, "0.01", "43000.00"))
    evicted = "tp-momentum-1"
    assert evicted not in oms.orders
    with pytest.raises(InvalidOrder, match="already in use"):
        oms.adopt(evicted, strategy="momentum", symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.01"),
                  venue_order_id="v-1", limit_price=Decimal("43000.00"))


def test_keep_finished_must_be_positive(journal):
    with pytest.raises(ConfigError, match="keep_finished"):
        OMS(journal, INSTRUMENTS, keep_finished=0)


def test_status_counts_count_every_order_held_or_not(journal):
    oms = OMS(journal, INSTRUMENTS, clock=StepClock(), keep_finished=2)
    for number in range(5):
        order = oms.prepare_submit(market_buy("0.01"))
        oms.apply_fill(make_fill(order.client_order_id, f"t-{number}", "0.01", "43000.00"))
    oms.prepare_submit(market_buy("0.01"))  # still open
    oms.deny(market_buy("0.01"), "halted")
    assert len(oms.orders) == 3  # two finished, one open
    assert oms.status_counts() == {"DENIED": 1, "FILLED": 5, "SUBMITTED": 1}
