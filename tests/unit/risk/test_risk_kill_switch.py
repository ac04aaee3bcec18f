"""The gate honours the kill switch: REDUCING lets only reducing orders through, HALTED nothing but a flatten.

Includes the property tests: REDUCING never approves an order that grows |position|, and the
throttle never approves more than N orders in any window.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_fakes import INSTRUMENTS, D, FakeClock, context, intent, open_order
from tradepulse.risk import RiskGate, RiskLimits, TradingMode, flatten_intents

# Only the kill switch (and venue minimums, which always apply) can deny in these tests.
OPEN = dict(price_band_bps=None, max_open_orders=None, max_orders_per_window=None)



@pytest.fixture
def gate(clock) -> RiskGate:
    return RiskGate(RiskLimits(**OPEN), clock)


def test_reducing_denies_an_order_that_grows_the_position(gate, clock):
    gate.state.reduce("venue degraded", "system:reconciler")
    decision = gate.check(intent("buy", "0.1"), context(clock, positions={"BTC/USDT": "0.5"}))
    assert not decision.approved and decision.check == "trading_state"
    assert decision.reason.startswith("trading state REDUCING")
    assert "buy 0.1 BTC/USDT against a position of 0.5 would not" in decision.reason
    assert decision.details["state"] is TradingMode.REDUCING


def test_reducing_denies_opening_a_position_from_flat(gate, clock):
    gate.state.reduce("venue degraded", "system:reconciler")
    for side in ("buy", "sell"):
        assert gate.check(intent(side, "0.1"), context(clock)).check == "trading_state"


def test_reducing_allows_an_order_that_shrinks_the_position(gate, clock):
    gate.state.reduce("venue degraded", "system:reconciler")
    assert gate.check(intent("sell", "0.5"), context(clock, positions={"BTC/USDT": "0.5"})).approved
    assert gate.check(intent("buy", "0.2"), context(clock, positions={"BTC/USDT": "-0.3"})).approved


def test_reducing_denies_an_order_that_flips_the_position(gate, clock):
    gate.state.reduce("venue degraded", "system:reconciler")
    decision = gate.check(intent("sell", "0.6"), context(clock, positions={"BTC/USDT": "0.5"}))
    assert decision.check == "trading_state"


def test_reducing_counts_open_orders_that_already_reduce(gate, clock):
    gate.state.reduce("venue degraded", "system:reconciler")
    held = context(clock, positions={"BTC/USDT": "0.5"}, open_orders=(open_order("sell", "0.4"),))
    decision = gate.check(intent("sell", "0.2"), held)
    assert decision.check == "trading_state" and "0.4 already on open sell orders" in decision.reason
    assert gate.check(intent("sell", "0.1"), held).approved


def test_halted_denies_everything_including_reducing_orders(gate, clock):
    gate.state.halt("daily loss", "breaker:daily_loss")
    for order in (intent("sell", "0.1"), intent("buy", "0.1")):
        decision = gate.check(order, context(clock, positions={"BTC/USDT": "0.5"}))
        assert not decision.approved and decision.check == "trading_state"
        assert decision.reason.startswith("trading state HALTED: no new orders (halted by breaker:daily_loss")
        assert decision.reason.endswith(": daily loss)")


def test_halted_with_flatten_allows_exactly_the_flatten_orders(gate, clock):
    gate.state.halt("exchange incident", "operator:alice", flatten=True)
    positions = {"BTC/USDT": D("0.5"), "ETH/USDT": D("-2")}
    held = context(clock, positions={s: str(q) for s, q in positions.items()})
    for order in flatten_intents(positions, INSTRUMENTS):
        assert gate.check(order, held).approved
    decision = gate.check(intent("buy", "0.1"), held)
    assert not decision.approved and "only the reduce-only orders of its flatten are allowed" in decision.reason


def test_flatten_orders_get_out_even_without_fresh_prices_or_within_order_notional(clock):
    gate = RiskGate(RiskLimits(max_order_notional=D(1_000)), clock)
    positions = {"BTC/USDT": D("0.5")}  # 25,000 USDT: far above max_order_notional
    dead_feed = context(clock, positions={"BTC/USDT": "0.5"}, prices={})
    (exit_order,) = flatten_intents(positions, INSTRUMENTS)
    assert gate.check(exit_order, dead_feed).check == "last_trade"  # ACTIVE: normal rules
    gate.state.halt("feed down", "breaker:stale_data", flatten=True)
    assert gate.check(exit_order, dead_feed).approved
    assert gate.check(exit_order, context(clock, positions={"BTC/USDT": "0.5"})).approved


def test_reducing_orders_outside_a_flatten_still_obey_order_notional(clock):
    gate = RiskGate(RiskLimits(max_order_notional=D(1_000)), clock)
    gate.state.reduce("unwind", "operator:alice")
    decision = gate.check(intent("sell", "0.5"), context(clock, positions={"BTC/USDT": "0.5"}))
    assert decision.check == "max_order_notional"


def test_operator_resume_lets_orders_through_again(gate, clock):
    gate.state.halt("test", "operator:alice")
    gate.state.resume("operator:alice")
    assert gate.check(intent("buy", "0.1"), context(clock)).approved


# -- properties --------------------------------------------------------------------------------

quantities = st.integers(min_value=1, max_value=200).map(lambda n: D(n) / 100)  # 0.01 .. 2.00, on the lot grid


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=-200, max_value=200).map(lambda n: D(n) / 100),
    side=st.sampled_from(["buy", "sell"]),
    quantity=quantities,
    pending=st.lists(st.tuples(st.sampled_from(["buy", "sell"]), quantities), max_size=3),
    halted_with_flatten=st.booleans(),
)
def test_reducing_never_approves_an_order_that_increases_abs_position(position, side, quantity, pending, halted_with_flatten):
    clock = FakeClock()
    gate = RiskGate(RiskLimits(**OPEN), clock)
    if halted_with_flatten:
        gate.state.halt("flatten", "operator:alice", flatten=True)  # the same rule applies to a flatten
    else:
        gate.state.reduce("reduce", "operator:alice")
    open_orders = tuple(open_order(s, str(q), number=n) for n, (s, q) in enumerate(pending))
    decision = gate.check(intent(side, str(quantity)), context(clock, positions={"BTC/USDT": str(position)}, open_orders=open_orders))
    if decision.approved:
        sign = 1 if side == "buy" else -1
        same_side = sum((q for s, q in pending if s == side), D(0))
        # Worst case: every open order on this side fills, then this one; and any partial subset.
        for filled in (quantity, quantity + same_side):
            after = position + sign * filled
            assert abs(after) <= abs(position)
            assert after == 0 or (after > 0) == (position > 0)


@settings(max_examples=200, deadline=None)
@given(
    max_orders=st.integers(min_value=1, max_value=5),
    window_ms=st.integers(min_value=1, max_value=5_000),
    gaps_ms=st.lists(st.integers(min_value=0, max_value=3_000), min_size=1, max_size=60),
)
def test_throttle_never_allows_more_than_n_orders_in_any_window(max_orders, window_ms, gaps_ms):
    clock = FakeClock()
    limits = RiskLimits(price_band_bps=None, max_open_orders=None, max_orders_per_window=max_orders, order_window_seconds=window_ms / 1000)
    gate = RiskGate(limits, clock)
    approved_at = []
    for gap in gaps_ms:
        clock.now += timedelta(milliseconds=gap)
        # Fresh market each time: only the throttle can deny.
        if gate.check(intent("buy", "0.01"), context(clock)).approved:
            approved_at.append(clock.now)
    window = timedelta(milliseconds=window_ms)
    # Times only move forward, so the busiest window ends at an approval.
    for end in approved_at:
        assert sum(1 for t in approved_at if end - window < t <= end) <= max_orders
    # And the throttle is not stricter than it says: an order is denied only when the window is full.
    assert approved_at, "the first order always passes"


@settings(max_examples=100, deadline=None)
@given(max_orders=st.integers(min_value=1, max_value=5), count=st.integers(min_value=1, max_value=12))
def test_throttle_allows_exactly_n_orders_at_the_same_instant(max_orders, count):
    clock = FakeClock()
    gate = RiskGate(RiskLimits(price_band_bps=None, max_open_orders=None, max_orders_per_window=max_orders), clock)
    approvals = sum(gate.check(intent("buy", "0.01"), context(clock)).approved for _ in range(count))
    assert approvals == min(count, max_orders)
