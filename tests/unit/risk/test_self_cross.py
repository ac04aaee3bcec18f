"""Ethical trading, rule one: the gate refuses an order that would trade against the account's own resting order.

The real :class:`RiskGate` judges real :class:`Order` objects; the cancel-replace cases drive a real
OMS (journaled to SQLite) through submit, cancel request, cancel reject and cancel confirmation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from risk_fakes import BTC, ETH, T0, D, FakeClock, context, intent, open_order, round_trips_through_json
from tradepulse.errors import ConfigError
from tradepulse.execution import OMS, Fill
from tradepulse.model.orders import Order, OrderStatus, OrderType, Side
from tradepulse.risk import CHECKS, RiskControls, RiskGate, RiskLimits
from tradepulse.store import Journal


def gate_with(clock: FakeClock, **limits) -> RiskGate:
    limits.setdefault("max_orders_per_window", None)
    limits.setdefault("max_open_orders", None)
    return RiskGate(RiskLimits(**limits), clock)


def resting(side: str, price: str, *, number: int = 1, symbol: str = "BTC/USDT", quantity: str = "0.1",
            status: OrderStatus = OrderStatus.ACCEPTED, filled: str = "0", order_type: OrderType = OrderType.LIMIT) -> Order:
    """An own order working at the venue at ``price``."""
    order = open_order(side, quantity, symbol=symbol, number=number, filled=filled)
    return replace(order, limit_price=None if order_type is OrderType.MARKET else D(price), status=status, order_type=order_type)


def check(clock, order, *open_orders, **limits):
    return gate_with(clock, **limits).check(order, context(clock, open_orders=open_orders))


# -- crossing is refused ---------------------------------------------------------------------------


def test_a_market_buy_while_an_own_sell_rests_is_refused_with_the_numbers(clock):
    decision = check(clock, intent("buy", "0.1"), resting("sell", "50100.00", number=7))
    assert not decision.approved and decision.approval is None
    assert decision.check == "self_cross"
    assert decision.reason == (
        "buy 0.1 BTC/USDT at market would trade against this account's own resting sell order tp-test-7 "
        "(0.1 at 50,100.00, ACCEPTED): a self-trade; cancel the resting order and wait for the venue to confirm the cancel first"
    )
    details = decision.details
    assert details["resting_client_order_id"] == "tp-test-7"
    assert details["resting_price"] == D("50100.00") and details["limit_value"] == D("50100.00")
    assert details["order_price"] is None and details["order_type"] is OrderType.MARKET
    assert details["resting_side"] is Side.SELL and details["resting_quantity"] == D("0.1")
    assert details["crossing_orders"] == 1 and details["unit"] == "USDT"
    payload = decision.to_payload()
    assert round_trips_through_json(payload)
    assert payload["details"]["resting_price"] == "50100.00" and payload["details"]["order_type"] == "market"


@pytest.mark.parametrize("price", ["50100.00", "50100.01", "50400.00"])
def test_a_buy_limit_at_or_above_the_own_resting_sell_is_refused(clock, price):
    decision = check(clock, intent("buy", "0.1", price), resting("sell", "50100.00"))
    assert decision.check == "self_cross", decision.reason
    assert f"at {D(price):,.2f} would trade against" in decision.reason
    assert decision.details["order_price"] == D(price) and decision.details["resting_price"] == D("50100.00")


@pytest.mark.parametrize("price", ["49900.00", "49899.99", "49600.00"])
def test_a_sell_limit_at_or_below_the_own_resting_buy_is_refused(clock, price):
    decision = check(clock, intent("sell", "0.1", price), resting("buy", "49900.00", number=3))
    assert decision.check == "self_cross", decision.reason
    assert "own resting buy order tp-test-3 (0.1 at 49,900.00, ACCEPTED)" in decision.reason


def test_a_market_sell_while_an_own_buy_rests_is_refused(clock):
    assert check(clock, intent("sell", "0.1"), resting("buy", "49000.00")).check == "self_cross"


def test_the_best_priced_own_order_is_named_and_the_others_counted(clock):
    orders = (resting("sell", "50300.00", number=1), resting("sell", "50050.00", number=2), resting("sell", "50200.00", number=3))
    decision = check(clock, intent("buy", "0.1", "50250.00"), *orders)
    assert decision.details["resting_client_order_id"] == "tp-test-2"  # the lowest sell
    assert decision.details["crossing_orders"] == 2  # 50,050 and 50,200; 50,300 is above the bid
    assert "(and 1 more own order)" in decision.reason


def test_the_remaining_quantity_of_a_partly_filled_resting_order_is_what_rests(clock):
    partly = resting("sell", "50100.00", quantity="0.5", filled="0.2", status=OrderStatus.PARTIALLY_FILLED)
    decision = check(clock, intent("buy", "0.1"), partly)
    assert decision.details["resting_quantity"] == D("0.3") and "(0.3 at 50,100.00, PARTIALLY_FILLED)" in decision.reason


# -- not crossing passes ------------------------------------------------------------------------


def test_a_buy_limit_below_the_own_resting_sell_passes(clock):
    assert check(clock, intent("buy", "0.1", "50099.99"), resting("sell", "50100.00")).approved


def test_a_sell_limit_above_the_own_resting_buy_passes(clock):
    assert check(clock, intent("sell", "0.1", "49900.01"), resting("buy", "49900.00")).approved


def test_own_orders_on_the_same_side_never_cross(clock):
    assert check(clock, intent("buy", "0.1"), resting("buy", "49900.00"), resting("buy", "50000.00", number=2)).approved


def test_an_own_resting_order_on_another_symbol_does_not_cross(clock):
    eth_ask = resting("sell", "2990.00", symbol="ETH/USDT")  # below BTC's price, on another market
    assert check(clock, intent("buy", "0.1"), eth_ask).approved
    assert check(clock, intent("buy", "0.1", "50000.00"), eth_ask).approved


@pytest.mark.parametrize("status", [OrderStatus.CANCELED, OrderStatus.FILLED, OrderStatus.EXPIRED, OrderStatus.REJECTED,
                                    OrderStatus.DENIED])
def test_terminal_resting_orders_are_ignored(clock, status):
    done = resting("sell", "50000.00", status=status, filled="0.1" if status is OrderStatus.FILLED else "0")
    assert check(clock, intent("buy", "0.1"), done).approved


def test_an_own_market_order_in_flight_is_not_resting(clock):
    # A market order never rests on a book: it trades against others' liquidity or is cancelled.
    in_flight = resting("sell", "0", order_type=OrderType.MARKET, status=OrderStatus.SUBMITTED)
    assert check(clock, intent("buy", "0.1", "50000.00"), in_flight).approved


# -- what still counts as resting -------------------------------------------------------------


@pytest.mark.parametrize("status", [OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL])
def test_an_order_not_yet_acknowledged_or_waiting_for_its_cancel_still_counts(clock, status):
    # SUBMITTED may already rest at the venue; PENDING_CANCEL rests until the venue confirms the cancel
    # (the cancel can be refused, or lose the race to a fill).
    decision = check(clock, intent("buy", "0.1"), resting("sell", "50100.00", status=status))
    assert decision.check == "self_cross" and decision.details["resting_status"] is status
    assert f", {status})" in decision.reason


# -- place in the gate, and policy ------------------------------------------------------------------


def test_self_cross_runs_after_the_price_checks_and_before_the_size_checks():
    assert CHECKS.index("price_band") < CHECKS.index("self_cross") < CHECKS.index("min_notional")


def test_a_badly_priced_order_is_denied_for_its_price_first(clock):
    decision = check(clock, intent("buy", "0.1", "60000.00"), resting("sell", "50100.00"))
    assert decision.check == "price_band"


def test_self_cross_is_a_policy_with_no_switch():
    with pytest.raises(ConfigError, match="unknown key 'self_cross'"):
        RiskLimits.from_mapping({"self_cross": False})


def test_a_self_cross_denial_takes_no_throttle_slot(clock):
    gate = gate_with(clock, max_orders_per_window=1)
    assert gate.check(intent("buy", "0.1"), context(clock, open_orders=(resting("sell", "50100.00"),))).check == "self_cross"
    assert gate.orders_in_window() == 0


# -- cancel-replace with the real OMS -------------------------------------------------------------------


@pytest.fixture
def oms_and_gate(tmp_path, clock):
    with Journal(tmp_path / "journal.sqlite", durability="fast", clock=clock) as journal:
        controls = RiskControls(RiskLimits(max_orders_per_window=None), clock=clock, symbols=["BTC/USDT"], currency="USDT")
        yield OMS(journal, [BTC, ETH], clock=clock, require_approval=True), controls


def submit(oms: OMS, controls: RiskControls, clock, order):
    decision = controls.check(order, context(clock, open_orders=oms.open_orders()))
    if decision.approved:
        placed = oms.prepare_submit(order, approval=decision.approval)
        oms.apply_accept(placed.client_order_id, f"v-{placed.client_order_id}")
        return decision, placed
    return decision, None


def test_cancel_replace_across_the_book_waits_for_the_cancel_confirmation(oms_and_gate, clock):
    oms, controls = oms_and_gate
    _, ask = submit(oms, controls, clock, intent("sell", "0.1", "50100.00"))
    clock.advance(1)
    # Replacing the ask by a bid above it: while the ask may still rest, the bid is refused.
    decision, _ = submit(oms, controls, clock, intent("buy", "0.1", "50150.00"))
    assert decision.check == "self_cross" and decision.details["resting_client_order_id"] == ask.client_order_id
    oms.request_cancel(ask.client_order_id)
    decision, _ = submit(oms, controls, clock, intent("buy", "0.1", "50150.00"))
    assert decision.check == "self_cross" and decision.details["resting_status"] is OrderStatus.PENDING_CANCEL
    oms.apply_cancel_reject(ask.client_order_id, "unknown order sent")  # the cancel failed: the ask still works
    assert submit(oms, controls, clock, intent("buy", "0.1", "50150.00"))[0].check == "self_cross"
    oms.request_cancel(ask.client_order_id)
    oms.apply_cancel(ask.client_order_id)  # confirmed: the replaced order is terminal
    clock.advance(1)
    decision, bid = submit(oms, controls, clock, intent("buy", "0.1", "50150.00"))
    assert decision.approved and bid is not None


def test_a_replace_on_the_same_side_never_waits(oms_and_gate, clock):
    oms, controls = oms_and_gate
    _, first = submit(oms, controls, clock, intent("buy", "0.1", "49900.00"))
    oms.request_cancel(first.client_order_id)
    decision, second = submit(oms, controls, clock, intent("buy", "0.1", "49950.00"))
    assert decision.approved and second is not None


def test_a_fully_filled_resting_order_no_longer_crosses(oms_and_gate, clock):
    oms, controls = oms_and_gate
    _, ask = submit(oms, controls, clock, intent("sell", "0.1", "50000.00"))
    oms.apply_fill(Fill(trade_id="t-1", client_order_id=ask.client_order_id, fill_quantity=D("0.1"),
                        fill_price=D("50000.00"), filled_at=T0 + timedelta(seconds=1)))
    assert oms.order(ask.client_order_id).status is OrderStatus.FILLED
    assert submit(oms, controls, clock, intent("buy", "0.1"))[0].approved
