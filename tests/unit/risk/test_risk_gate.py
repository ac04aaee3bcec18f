"""The pre-trade gate: every check denies with its reason and approves just inside its limit."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest

from risk_fakes import BTC, PRICES, D, FakeClock, context, intent, open_order, round_trips_through_json
from tradepulse.model.orders import OrderStatus
from tradepulse.risk import CHECKS, Approval, RiskContext, RiskGate, RiskLimits, TradingMode



def gate_with(clock: FakeClock, **limits) -> RiskGate:
    # Throttle and open-order limits off unless a test is about them, so they never interfere.
    limits.setdefault("max_orders_per_window", None)
    limits.setdefault("max_open_orders", None)
    return RiskGate(RiskLimits(**limits), clock)


def assert_denied(decision, check: str, *fragments: str) -> None:
    assert not decision.approved, decision.reason
    assert decision.check == check, (decision.check, decision.reason)
    assert decision.approval is None
    for fragment in fragments:
        assert fragment in decision.reason, decision.reason


def assert_approved(decision) -> None:
    assert decision.approved, f"{decision.check}: {decision.reason}"
    assert decision.check == "all"
    assert decision.approval is not None


# -- order fields and venue minimums -----------------------------------------------------------


def raw(**fields) -> SimpleNamespace:
    """An order-shaped object that skipped OrderIntent's own validation (as a buggy caller might)."""
    return SimpleNamespace(**{"symbol": "BTC/USDT", "side": "buy", "order_type": "market", "quantity": D(1), "limit_price": None, **fields})


@pytest.mark.parametrize(
    ("order", "fragment"),
    [
        (None, "order has no symbol"),
        (raw(side="hold"), "side must be buy or sell"),
        (raw(order_type="stop"), "type must be market or limit"),
        (raw(quantity="lots"), "quantity must be a number"),
        (raw(quantity=D(-1)), "quantity must be positive"),
        (raw(order_type="limit"), "needs a numeric limit price"),
        (raw(order_type="limit", limit_price=D(0)), "limit price must be positive"),
    ],
)
def test_malformed_order_is_denied_not_raised(clock, order, fragment):
    assert_denied(gate_with(clock).check(order, context(clock)), "order_fields", fragment)


def test_order_for_a_symbol_without_instrument_metadata_is_denied(clock):
    decision = gate_with(clock).check(intent(), context(clock, instruments={}))
    assert_denied(decision, "instrument", "no instrument metadata for BTC/USDT")


def test_limit_price_off_the_tick_grid_is_denied_and_on_it_approved(clock):
    gate = gate_with(clock)
    assert_denied(gate.check(intent(price="50000.005"), context(clock)), "tick_size", "50000.005", "tick size 0.01")
    assert_approved(gate.check(intent(price="50000.01"), context(clock)))


def test_quantity_off_the_lot_grid_is_denied_and_on_it_approved(clock):
    gate = gate_with(clock)
    assert_denied(gate.check(intent(quantity="0.000015"), context(clock)), "lot_size", "0.000015", "lot size 0.00001")
    no_minimums = {"BTC/USDT": replace(BTC, min_quantity=D(0), min_notional=D(0))}
    assert_approved(gate.check(intent(quantity="0.00002", price="50000"), context(clock, instruments=no_minimums)))


def test_quantity_below_venue_minimum_is_denied_and_at_it_approved(clock):
    gate = gate_with(clock)
    assert_denied(gate.check(intent(quantity="0.00009"), context(clock)), "min_quantity", "0.00009", "minimum 0.0001")
    assert_approved(gate.check(intent(quantity="0.0001"), context(clock)))  # 0.0001 × 50,000 = 5 = min notional


def test_notional_below_venue_minimum_is_denied_and_at_it_approved(clock):
    gate = gate_with(clock)
    decision = gate.check(intent(quantity="0.0001", price="49999.99"), context(clock))
    assert_denied(decision, "min_notional", "order notional 4.999999 USDT is below the venue minimum 5.00")
    assert_approved(gate.check(intent(quantity="0.0001", price="50000"), context(clock)))


# -- last trade and price band -----------------------------------------------------------------


def test_market_order_without_any_last_trade_is_denied(clock):
    decision = gate_with(clock).check(intent(), context(clock, prices={}))
    assert_denied(decision, "last_trade", "a market order needs a last trade price for BTC/USDT", "no trade seen yet")


def test_market_order_with_stale_last_trade_is_denied_and_just_fresh_approved(clock):
    gate = gate_with(clock, last_trade_max_age_seconds=60)
    assert_denied(gate.check(intent(), context(clock, trade_age_seconds=60.5)), "last_trade", "last trade 60.5 s ago")
    assert_approved(gate.check(intent(), context(clock, trade_age_seconds=60)))


def test_limit_order_needs_a_last_trade_only_while_the_price_band_is_on(clock):
    no_trades = context(clock, prices={})
    assert_denied(gate_with(clock).check(intent(price="50000"), no_trades), "last_trade", "the price band check needs")
    assert_approved(gate_with(clock, price_band_bps=None).check(intent(price="50000"), no_trades))


@pytest.mark.parametrize(("inside", "outside"), [("52500", "52500.01"), ("47500", "47499.99")])
def test_limit_price_outside_the_band_is_denied_and_at_its_edge_approved(clock, inside, outside):
    gate = gate_with(clock, price_band_bps=D(500))
    decision = gate.check(intent(quantity="0.01", price=outside), context(clock))
    expected = f"limit price {D(outside):,.2f} is 500.00 bps from the last trade 50,000.00"
    assert_denied(decision, "price_band", expected, "outside price_band_bps 500")
    assert decision.details["unit"] == "bps"
    assert_approved(gate.check(intent(quantity="0.01", price=inside), context(clock)))


def test_symbol_price_band_override_applies_to_that_symbol_only(clock):
    gate = gate_with(clock, price_band_bps=D(100), symbols={"ETH/USDT": {"price_band_bps": 1000}})
    assert_approved(gate.check(intent(symbol="ETH/USDT", quantity="0.01", price="3200"), context(clock)))
    assert_denied(gate.check(intent(quantity="0.01", price="53000"), context(clock)), "price_band")


# -- notional, position and exposure limits ----------------------------------------------------


def test_order_notional_above_max_is_denied_with_the_values_and_at_max_approved(clock):
    gate = gate_with(clock, max_order_notional=D(10_000))
    decision = gate.check(intent(quantity="0.25", price="50000"), context(clock))
    assert_denied(decision, "max_order_notional")
    assert decision.reason == "order notional 12,500.00 USDT exceeds max_order_notional 10,000.00"
    assert decision.details["value"] == D("12500") and decision.details["limit_value"] == D(10_000)
    assert_approved(gate.check(intent(quantity="0.2", price="50000"), context(clock)))


def test_market_order_notional_is_valued_at_the_last_trade(clock):
    gate = gate_with(clock, max_order_notional=D(10_000))
    assert_denied(gate.check(intent(quantity="0.20001"), context(clock)), "max_order_notional", "10,000.50 USDT")
    assert_approved(gate.check(intent(quantity="0.2"), context(clock)))


def test_position_quantity_beyond_max_is_denied_and_at_max_approved(clock):
    gate = gate_with(clock, max_position_quantity=D("0.5"))
    long = context(clock, positions={"BTC/USDT": "0.4"})
    assert_denied(gate.check(intent(quantity="0.10001"), long), "max_position_quantity", "would reach 0.50001", "max_position_quantity 0.5")
    assert_approved(gate.check(intent(quantity="0.1"), long))
    short = context(clock, positions={"BTC/USDT": "-0.45"})
    assert_denied(gate.check(intent("sell", "0.06"), short), "max_position_quantity", "would reach -0.51")
    assert_approved(gate.check(intent("sell", "0.05"), short))


def test_position_limit_counts_open_orders_on_the_same_side(clock):
    gate = gate_with(clock, max_position_quantity=D("0.5"))
    pending = context(clock, positions={"BTC/USDT": "0.4"}, open_orders=(open_order("buy", "0.05"),))
    assert_denied(gate.check(intent(quantity="0.1"), pending), "max_position_quantity", "including 0.05 on open orders")
    assert_approved(gate.check(intent(quantity="0.05"), pending))


def test_order_that_shrinks_an_over_limit_position_is_approved(clock):
    gate = gate_with(clock, max_position_quantity=D("0.5"), max_position_notional=D(1000), max_gross_exposure=D(1000))
    assert_approved(gate.check(intent("sell", "0.1"), context(clock, positions={"BTC/USDT": "2"})))


def test_symbol_position_override_wins_over_the_global_limit(clock):
    gate = gate_with(clock, max_position_quantity=D("0.5"), symbols={"ETH/USDT": {"max_position_quantity": 10}})
    assert_approved(gate.check(intent(symbol="ETH/USDT", quantity="10"), context(clock)))
    assert_denied(gate.check(intent(symbol="ETH/USDT", quantity="10.001"), context(clock)), "max_position_quantity")


def test_position_notional_beyond_max_is_denied_and_at_max_approved(clock):
    gate = gate_with(clock, max_position_notional=D(25_000))
    held = context(clock, positions={"BTC/USDT": "0.4"})
    decision = gate.check(intent(quantity="0.10002"), held)
    assert_denied(decision, "max_position_notional", "position value would reach 25,001.00 USDT", "max_position_notional 25,000.00")
    assert_approved(gate.check(intent(quantity="0.1"), held))


def test_gross_exposure_beyond_max_is_denied_and_at_max_approved(clock):
    gate = gate_with(clock, max_gross_exposure=D(30_000))
    held = context(clock, positions={"BTC/USDT": "0.4", "ETH/USDT": "2"})  # 20,000 + 6,000
    decision = gate.check(intent(quantity="0.08001"), held)
    assert_denied(decision, "max_gross_exposure", "would reach 30,000.50 USDT", "max_gross_exposure 30,000.00")
    assert_approved(gate.check(intent(quantity="0.08"), held))


def test_given_gross_exposure_is_used_instead_of_computing_it(clock):
    gate = gate_with(clock, max_gross_exposure=D(30_000))
    assert_denied(gate.check(intent(quantity="0.1"), context(clock, gross_exposure=D(26_000))), "max_gross_exposure")
    assert_approved(gate.check(intent(quantity="0.1"), context(clock, gross_exposure=D(25_000))))


def test_gross_exposure_that_cannot_be_valued_denies_new_risk(clock):
    gate = gate_with(clock, max_gross_exposure=D(30_000))
    unpriced = context(clock, positions={"DOGE/USDT": "1000"})
    assert_denied(gate.check(intent(quantity="0.01"), unpriced), "max_gross_exposure", "no price for DOGE/USDT")


def test_gross_leverage_beyond_max_is_denied_and_at_max_approved(clock):
    gate = gate_with(clock, max_gross_leverage=D(2))
    held = context(clock, positions={"BTC/USDT": "0.4", "ETH/USDT": "2"}, equity=D(15_000))
    assert_denied(gate.check(intent(quantity="0.08002"), held), "max_gross_leverage", "would reach 2.00x", "beyond max_gross_leverage 2x")
    assert_approved(gate.check(intent(quantity="0.08"), held))


def test_gross_leverage_without_equity_denies_new_risk(clock):
    decision = gate_with(clock, max_gross_leverage=D(2)).check(intent(quantity="0.01"), context(clock))
    assert_denied(decision, "max_gross_leverage", "equity is unknown")


# -- open orders and throttle ------------------------------------------------------------------


def test_one_order_beyond_max_open_orders_is_denied_and_up_to_it_approved(clock):
    gate = gate_with(clock, max_open_orders=3)
    # Resting buys: a buy never crosses them (resting sells at the market would be a self_cross).
    two = tuple(open_order("buy", "0.01", number=n) for n in range(2))
    assert_approved(gate.check(intent(quantity="0.01"), context(clock, open_orders=two)))
    three = two + (open_order("buy", "0.01", number=3),)
    decision = gate.check(intent(quantity="0.01"), context(clock, open_orders=three))
    assert_denied(decision, "max_open_orders", "3 orders are open", "max_open_orders 3")


def test_finished_orders_do_not_count_as_open(clock):
    gate = gate_with(clock, max_open_orders=1)
    done = replace(open_order("buy", "1"), status=OrderStatus.FILLED, filled_quantity=D(1))
    assert_approved(gate.check(intent(quantity="0.01"), context(clock, open_orders=(done,))))


def test_throttle_denies_the_order_beyond_the_window_and_frees_the_slot_after_it(clock):
    gate = gate_with(clock, max_orders_per_window=3, order_window_seconds=10)
    for _ in range(3):
        assert_approved(gate.check(intent(quantity="0.01"), context(clock)))
        clock.advance(1)
    decision = gate.check(intent(quantity="0.01"), context(clock))
    assert_denied(decision, "order_rate", "3 orders approved in the last 10 s", "max_orders_per_window 3", "a slot frees in 7 s")
    clock.advance(6.999)
    assert not gate.check(intent(quantity="0.01"), context(clock)).approved
    clock.advance(0.001)  # the first approval is now exactly 10 s old: out of the window
    assert_approved(gate.check(intent(quantity="0.01"), context(clock)))


def test_denied_orders_do_not_use_throttle_slots(clock):
    gate = gate_with(clock, max_orders_per_window=1, max_order_notional=D(100))
    for _ in range(5):
        assert_denied(gate.check(intent(quantity="1"), context(clock)), "max_order_notional")
    assert_approved(gate.check(intent(quantity="0.001"), context(clock)))
    assert gate.orders_in_window() == 1


def test_a_clock_stepping_back_does_not_reopen_throttle_slots(clock):
    gate = gate_with(clock, max_orders_per_window=1, order_window_seconds=10)
    clock.advance(100)
    assert_approved(gate.check(intent(quantity="0.01"), context(clock)))
    clock.advance(-50)
    assert_denied(gate.check(intent(quantity="0.01"), context(clock)), "order_rate")


# -- decisions, approvals and payloads ---------------------------------------------------------


def test_first_failing_check_in_check_order_decides(clock):
    gate = gate_with(clock, max_order_notional=D(10), max_position_quantity=D("0.001"))
    decision = gate.check(intent(quantity="0.000015", price="50000.005"), context(clock))
    assert decision.check == "tick_size"
    assert CHECKS.index("tick_size") < CHECKS.index("lot_size") < CHECKS.index("max_order_notional")


def test_decision_payload_is_journal_ready(clock):
    decision = gate_with(clock, max_order_notional=D(10_000)).check(intent(quantity="0.25", price="50000"), context(clock))
    payload = decision.to_payload()
    assert round_trips_through_json(payload)
    assert payload["kind"] == "risk.decision"
    assert payload["approved"] is False and payload["check"] == "max_order_notional"
    assert payload["details"] == {"limit": "max_order_notional", "value": "12500.00", "limit_value": "10000", "unit": "USDT"}
    assert payload["order"]["quantity"] == "0.25" and payload["order"]["side"] == "buy"
    assert payload["trading_state"] == "ACTIVE" and payload["decided_at"] == "2024-05-01T12:00:00+00:00"
    assert len(payload["decision_id"]) == 32


def test_decision_ids_are_unique_within_a_gate_and_across_gates(clock):
    # Ids come from a random half per gate and a counter: a restarted gate (a new instance) must not
    # reuse the ids of the one before it, and no two decisions of one gate may share one.
    first, second = gate_with(clock), gate_with(clock)
    ids = [gate.check(intent(quantity="0.1"), context(clock)).to_payload()["decision_id"]
           for gate in (first, first, first, second, second)]
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)
    assert ids[0][:16] == ids[1][:16] != ids[3][:16]

def test_approval_payload_records_what_was_approved(clock):
    decision = gate_with(clock).check(intent(quantity="0.1"), context(clock, positions={"BTC/USDT": "0.2"}))
    payload = decision.to_payload()
    assert json.loads(json.dumps(payload))["details"]["projected_position"] == "0.3"
    assert payload["details"]["notional"] == "5000.0" and payload["check"] == "all"


def test_only_the_gate_can_mint_an_approval(clock):
    with pytest.raises(TypeError, match="only from RiskGate.check"):
        Approval("x", "BTC/USDT", "buy", "market", D(1), None, None, clock())


def test_an_approval_cannot_be_copied_with_a_bigger_quantity(clock):
    approval = gate_with(clock).check(intent(quantity="0.1"), context(clock)).approval
    assert replace(approval) == approval
    with pytest.raises(TypeError, match="unchanged"):
        replace(approval, quantity=D(10))


def test_approval_covers_the_approved_order_and_nothing_bigger_or_different(clock):
    order = intent(quantity="0.1", price="50000")
    approval = gate_with(clock).check(order, context(clock)).approval
    assert approval.covers(order)
    assert not approval.covers(replace(order, quantity=D("0.2")))
    assert not approval.covers(replace(order, limit_price=D("50001")))
    assert not approval.covers(replace(order, symbol="ETH/USDT"))
    assert not approval.covers(intent("sell", quantity="0.1", price="50000"))
    assert not approval.covers(object())


def test_a_broken_context_denies_instead_of_crashing_the_loop(clock):
    broken = RiskContext(open_orders=(SimpleNamespace(side="buy"),), last_trades={"BTC/USDT": (PRICES["BTC/USDT"], clock())})
    decision = gate_with(clock).check(intent(), broken)
    assert_denied(decision, "gate_error", "risk gate could not evaluate the order")
    assert round_trips_through_json(decision.to_payload())


def test_decision_records_the_trading_state_it_was_made_in(clock):
    gate = gate_with(clock)
    gate.state.halt("test", "operator:alice")
    clock.advance(1)
    decision = gate.check(intent(), context(clock))
    assert decision.trading_state is TradingMode.HALTED
    assert decision.decided_at == clock.now and decision.decided_at - gate.state.since == timedelta(seconds=1)
