"""The order lifecycle is exactly the transition table: every (state, event) pair moves as listed or raises."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tradepulse.model.orders import (
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    InvalidTransition,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    next_status,
    render_transition_table,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "execution.md"
ALL_PAIRS = list(itertools.product(OrderStatus, OrderEvent))
AT = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(("status", "event"), ALL_PAIRS, ids=[f"{s}-{e}" for s, e in ALL_PAIRS])
def test_every_state_event_pair_moves_as_the_table_says_or_raises(status, event):
    if (status, event) in TRANSITIONS:
        assert next_status(status, event) is TRANSITIONS[(status, event)]
    else:
        with pytest.raises(InvalidTransition, match=f"{status}.*{event}"):
            next_status(status, event)


def test_order_apply_follows_the_table_and_keeps_the_old_order_unchanged():
    order = Order("tp-s-1", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("1"), AT)
    submitted = order.apply(OrderEvent.SUBMIT, AT, venue_order_id="V1")
    assert (order.status, submitted.status, submitted.venue_order_id) == (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED, "V1")
    with pytest.raises(InvalidTransition):
        submitted.apply(OrderEvent.DENY, AT)


def test_rejected_cancel_of_a_partly_filled_order_returns_to_partially_filled():
    assert next_status(OrderStatus.PENDING_CANCEL, OrderEvent.CANCEL_REJECT, Decimal("0")) is OrderStatus.ACCEPTED
    assert next_status(OrderStatus.PENDING_CANCEL, OrderEvent.CANCEL_REJECT, Decimal("0.1")) is OrderStatus.PARTIALLY_FILLED


def test_denied_and_rejected_orders_take_no_event_at_all():
    for status in (OrderStatus.DENIED, OrderStatus.REJECTED):
        assert not [event for event in OrderEvent if (status, event) in TRANSITIONS]


def test_no_event_leads_back_to_initialized_and_every_state_is_reachable():
    targets = set(TRANSITIONS.values())
    assert OrderStatus.INITIALIZED not in targets
    assert targets | {OrderStatus.INITIALIZED} == set(OrderStatus)


def test_open_and_terminal_states_partition_the_states_after_initialization():
    assert OPEN_STATES.isdisjoint(TERMINAL_STATES)
    assert OPEN_STATES | TERMINAL_STATES | {OrderStatus.INITIALIZED} == set(OrderStatus)
    assert all(status.is_open for status in OPEN_STATES) and all(status.is_terminal for status in TERMINAL_STATES)


def test_a_fill_reported_after_a_cancel_counts_but_the_rest_stays_cancelled():
    assert next_status(OrderStatus.CANCELED, OrderEvent.PARTIAL_FILL) is OrderStatus.CANCELED
    assert next_status(OrderStatus.CANCELED, OrderEvent.FILL) is OrderStatus.FILLED


def test_docs_show_the_transition_table_rendered_from_the_code():
    assert render_transition_table() in DOCS.read_text(encoding="utf-8")


def test_every_transition_note_explains_an_existing_transition():
    from tradepulse.model.orders import TRANSITION_NOTES

    assert set(TRANSITION_NOTES) <= set(TRANSITIONS)
