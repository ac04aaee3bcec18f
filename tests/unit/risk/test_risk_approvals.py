"""A gate approval covers one submission, once, for a short time, and only in the trading state it was granted in.

The OMS here is the real one on a real SQLite journal, as the engine builds it (``require_approval``).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from risk_fakes import BTC, PRICES, D, context, intent
from tradepulse.errors import ConfigError
from tradepulse.execution import OMS, OrderStatus
from tradepulse.model.orders import InvalidOrder
from tradepulse.adapters.paper import PaperVenue
from tradepulse.risk import ApprovalRefused, RiskControls, RiskLimits
from tradepulse.store import Journal

LIMITS = RiskLimits(max_orders_per_window=None, max_open_orders=None)


@pytest.fixture
def journal(tmp_path, clock):
    with Journal(tmp_path / "journal.sqlite", durability="fast", clock=clock) as opened:
        yield opened


@pytest.fixture
def oms(journal, clock) -> OMS:
    return OMS(journal, [BTC], clock=clock, require_approval=True)


def controls_with(clock, **limits) -> RiskControls:
    return RiskControls(RiskLimits(**{"max_orders_per_window": None, "max_open_orders": None, **limits}), clock)


def approved(controls: RiskControls, clock, order=None, **context_args):
    decision = controls.check(order if order is not None else intent(quantity="0.1", price="50000"), context(clock, **context_args))
    assert decision.approved, decision.reason
    return decision.approval


def denials(journal: Journal) -> list[dict]:
    return [event.payload for event in journal.iter_events(kinds=["order.denied"])]


def test_an_approval_covers_one_submission_and_a_second_is_refused_and_journaled(oms, journal, clock):
    controls = controls_with(clock)
    order = intent(quantity="0.1", price="50000")
    approval = approved(controls, clock, order)
    first = oms.prepare_submit(order, approval=approval)
    assert first.status is OrderStatus.SUBMITTED
    with pytest.raises(ApprovalRefused, match="already used") as refused:
        oms.prepare_submit(order, approval=approval)
    assert refused.value.check == "approval_used" and isinstance(refused.value, InvalidOrder)
    [denial] = denials(journal)
    assert denial["decision"] == {"decision_id": approval.decision_id, "check": "approval_used"}
    assert "already used" in denial["reason"]
    assert [o.status for o in oms.orders.values()] == [OrderStatus.SUBMITTED, OrderStatus.DENIED]


def test_a_smaller_order_under_a_used_approval_is_refused_too(oms, clock):
    controls = controls_with(clock)
    approval = approved(controls, clock, intent(quantity="0.2", price="50000"))
    oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=approval)
    with pytest.raises(ApprovalRefused, match="already used"):
        oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=approval)


def test_an_approval_expires_after_approval_ttl_seconds_on_the_engines_clock(oms, journal, clock):
    controls = controls_with(clock, approval_ttl_seconds=2)
    on_time = approved(controls, clock)
    late = approved(controls, clock)
    clock.advance(2)  # exactly the time to live: still valid (limits are inclusive)
    oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=on_time)
    clock.advance(0.001)
    with pytest.raises(ApprovalRefused, match="expired") as refused:
        oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=late)
    assert refused.value.check == "approval_expired"
    assert "approval_ttl_seconds 2" in str(refused.value)
    assert denials(journal)[0]["decision"]["check"] == "approval_expired"


def test_the_default_time_to_live_is_a_few_seconds(oms, clock):
    assert RiskLimits().approval_ttl_seconds == 5.0
    controls = controls_with(clock)
    approval = approved(controls, clock)
    clock.advance(5.5)
    with pytest.raises(ApprovalRefused, match="expired"):
        oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=approval)


@pytest.mark.parametrize("value", [0, -1, None, "soon"])
def test_the_time_to_live_must_be_a_positive_number_of_seconds(value):
    with pytest.raises(ConfigError, match="approval_ttl_seconds"):
        RiskLimits(approval_ttl_seconds=value)


def test_a_halt_after_the_approval_voids_it(oms, journal, clock):
    controls = controls_with(clock)
    approval = approved(controls, clock)
    controls.halt("exchange incident", actor="operator:alice")
    with pytest.raises(ApprovalRefused, match="trading state changed from ACTIVE to HALTED") as refused:
        oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=approval)
    assert refused.value.check == "approval_state_changed"
    assert denials(journal)[0]["decision"]["check"] == "approval_state_changed"


def test_a_breaker_moving_to_reducing_voids_an_approval(oms, clock):
    controls = controls_with(clock, max_daily_loss=D(100), daily_loss_action="REDUCING")
    controls.on_equity(D(10_000))
    approval = approved(controls, clock)
    controls.on_equity(D(9_800))
    with pytest.raises(ApprovalRefused, match="from ACTIVE to REDUCING"):
        oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=approval)


def test_a_change_and_back_voids_an_approval_though_the_state_is_the_same_again(oms, clock):
    controls = controls_with(clock)
    reducing = controls.reduce("unwinding", actor="operator:alice")
    assert reducing.new.value == "REDUCING"
    sell = intent("sell", quantity="0.1", price="50000")
    approval = approved(controls, clock, sell, positions={"BTC/USDT": "0.5"})
    controls.halt("stop", actor="operator:alice")
    controls.reduce("unwinding again", actor="operator:alice")
    with pytest.raises(ApprovalRefused, match="trading state changed"):
        oms.prepare_submit(sell, approval=approval)


def test_a_resume_voids_an_approval_granted_while_reducing(oms, clock):
    controls = controls_with(clock)
    controls.reduce("unwinding", actor="operator:alice")
    sell = intent("sell", quantity="0.1", price="50000")
    approval = approved(controls, clock, sell, positions={"BTC/USDT": "0.5"})
    controls.resume("operator:alice")
    with pytest.raises(ApprovalRefused, match="from REDUCING to ACTIVE"):
        oms.prepare_submit(sell, approval=approval)


def test_an_approval_that_does_not_cover_the_order_is_not_used_up(oms, clock):
    controls = controls_with(clock)
    order = intent(quantity="0.1", price="50000")
    approval = approved(controls, clock, order)
    with pytest.raises(InvalidOrder, match="does not cover"):
        oms.prepare_submit(intent(quantity="0.2", price="50000"), approval=approval)
    assert oms.prepare_submit(order, approval=approval).status is OrderStatus.SUBMITTED


def test_a_refused_approval_never_reaches_the_venue(oms, clock):
    venue = PaperVenue([BTC], clock=clock, balances={"USDT": Decimal("100000")})
    controls = controls_with(clock)
    order = intent(quantity="0.1", price=str(PRICES["BTC/USDT"] - 100))
    approval = approved(controls, clock, order)

    async def submit_twice():
        await venue.connect()
        await oms.submit(order, venue.submit_order, approval=approval)
        with pytest.raises(ApprovalRefused):
            await oms.submit(order, venue.submit_order, approval=approval)
        return await venue.open_orders()

    resting = asyncio.run(submit_twice())
    assert len(resting) == 1


def test_approvals_issued_long_ago_do_not_pile_up_in_the_gate(oms, clock):
    controls = controls_with(clock, approval_ttl_seconds=1)
    for _ in range(50):
        oms.prepare_submit(intent(quantity="0.1", price="50000"), approval=approved(controls, clock))
        clock.advance(0.5)
    # Only approvals still inside their time to live need remembering: older ones are refused as expired anyway.
    assert controls.gate.used_approvals() <= 3
