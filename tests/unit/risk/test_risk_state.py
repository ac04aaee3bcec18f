"""The trading state: halting produces cancel-all (and flatten), only operators loosen, changes are journal-ready."""

from __future__ import annotations

import pytest

from risk_fakes import BTC, ETH, D, open_order, round_trips_through_json
from tradepulse.model.orders import OrderType, Side
from tradepulse.risk import (
    CancelOpenOrders,
    FlattenPositions,
    OperatorRequired,
    StateChange,
    TradingMode,
    TradingState,
    flatten_intents,
    is_operator,
)



@pytest.fixture
def state(clock) -> TradingState:
    return TradingState(clock)


def test_state_starts_active(state):
    assert state.mode is TradingMode.ACTIVE and not state.flatten


def test_halt_produces_cancel_all(state):
    change = state.halt("exchange incident", actor="operator:alice")
    assert state.mode is TradingMode.HALTED
    assert change.actions == (CancelOpenOrders("all"),)
    assert not change.flatten


def test_halt_with_flatten_produces_cancel_all_then_flatten(state):
    change = state.halt("exchange incident", actor="operator:alice", flatten=True)
    assert change.actions == (CancelOpenOrders("all"), FlattenPositions())
    assert change.flatten and state.flatten


def test_state_change_payload_has_reason_actor_states_and_time(state, clock):
    clock.advance(5)
    payload = state.halt("exchange incident", actor="operator:alice", flatten=True).to_payload()
    assert payload == {
        "kind": "risk.state_change",
        "previous": "ACTIVE",
        "new": "HALTED",
        "reason": "exchange incident",
        "actor": "operator:alice",
        "at": "2024-05-01T12:00:05+00:00",
        "flatten": True,
        "actions": [{"action": "cancel_open_orders", "scope": "all"}, {"action": "flatten_positions"}],
    }
    assert round_trips_through_json(payload)


def test_halt_never_raises_even_without_reason_or_actor(state):
    change = state.halt("", actor="")
    assert state.mode is TradingMode.HALTED
    assert change.reason == "no reason given" and change.actor == "unknown"


def test_halting_twice_reissues_cancel_all(state):
    state.halt("first", "operator:alice")
    again = state.halt("second", "operator:bob")
    assert (again.previous, again.new) == (TradingMode.HALTED, TradingMode.HALTED)
    assert again.actions == (CancelOpenOrders("all"),)
    assert state.reason == "second"


@pytest.mark.parametrize("actor", ["breaker", "breaker:daily_loss", "system:engine", "operator:", "operator:  ", "", "alice"])
def test_resume_needs_an_operator(state, actor):
    state.halt("stop", "breaker:daily_loss")
    with pytest.raises(OperatorRequired, match="only an operator"):
        state.resume(actor)
    assert state.mode is TradingMode.HALTED


def test_operator_resume_returns_to_active_and_counts_the_resume(state):
    state.halt("stop", "breaker:daily_loss", flatten=True)
    change = state.resume("operator:alice")
    assert (change.previous, change.new, change.actor) == (TradingMode.HALTED, TradingMode.ACTIVE, "operator:alice")
    assert change.reason == "operator resumed trading" and change.actions == ()
    assert state.mode is TradingMode.ACTIVE and not state.flatten and state.resume_count == 1


def test_reduce_cancels_only_risk_increasing_orders(state):
    change = state.reduce("venue degraded", "system:reconciler")
    assert state.mode is TradingMode.REDUCING
    assert change.actions == (CancelOpenOrders("risk_increasing"),)
    orders = [
        open_order("buy", "0.1", number=1),
        open_order("sell", "0.1", number=2),
        open_order("sell", "1", "ETH/USDT", number=3),
        open_order("buy", "1", "ETH/USDT", number=4),
    ]
    cancel = change.actions[0]
    ids = lambda selected: [o.client_order_id for o in selected]  # noqa: E731
    assert ids(cancel.select(orders, {"BTC/USDT": D("0.5"), "ETH/USDT": D("-2")})) == ["tp-test-1", "tp-test-3"]
    # From flat, any order opens a position: every ETH order adds risk.
    assert ids(cancel.select(orders, {"BTC/USDT": D("0.5")})) == ["tp-test-1", "tp-test-3", "tp-test-4"]


def test_automation_cannot_move_halted_to_reducing_but_an_operator_can(state):
    state.halt("stop", "operator:alice")
    with pytest.raises(OperatorRequired, match="HALTED to REDUCING"):
        state.reduce("loosen", "breaker:stale_data")
    change = state.reduce("let the strategy unwind", "operator:alice")
    assert (change.previous, change.new) == (TradingMode.HALTED, TradingMode.REDUCING)


def test_escalate_only_tightens(state):
    assert state.escalate(TradingMode.REDUCING, "r", "breaker:x").new is TradingMode.REDUCING
    assert state.escalate(TradingMode.REDUCING, "again", "breaker:x") is None
    assert state.escalate(TradingMode.HALTED, "h", "breaker:y").new is TradingMode.HALTED
    assert state.escalate(TradingMode.REDUCING, "weaker", "breaker:x") is None
    assert state.mode is TradingMode.HALTED


def test_state_is_rebuilt_from_journaled_changes(state, clock):
    payloads = [state.reduce("a", "system:x").to_payload()]
    clock.advance(60)
    payloads.append(state.halt("b", "breaker:reject_storm", flatten=True).to_payload())
    payloads.append({"kind": "risk.decision", "approved": False})  # other kinds are skipped
    restored = TradingState.from_journal(payloads, clock)
    assert (restored.mode, restored.reason, restored.actor, restored.flatten) == (TradingMode.HALTED, "b", "breaker:reject_storm", True)
    assert restored.since == state.since
    assert restored.to_payload() == state.to_payload()


def test_operator_identity_is_operator_colon_name():
    assert is_operator("operator:alice")
    assert not is_operator("breaker") and not is_operator("Operator:alice") and not is_operator(None)  # type: ignore[arg-type]


def test_flatten_intents_close_each_position_rounded_down_to_the_lot():
    intents = flatten_intents(
        {"BTC/USDT": D("0.123456789"), "ETH/USDT": D("-2.5"), "XRP/USDT": D("0")}, {"BTC/USDT": BTC, "ETH/USDT": ETH}
    )
    assert [(i.symbol, i.side, i.quantity, i.order_type) for i in intents] == [
        ("BTC/USDT", Side.SELL, D("0.12345"), OrderType.MARKET),
        ("ETH/USDT", Side.BUY, D("2.5"), OrderType.MARKET),
    ]


def test_flatten_leaves_untradeable_dust_alone():
    assert flatten_intents({"BTC/USDT": D("0.00009")}, {"BTC/USDT": BTC}) == []
    assert flatten_intents({"BTC/USDT": D("0.000001")}, {"BTC/USDT": BTC}) == []


def test_state_change_kind_is_a_journal_kind():
    from tradepulse.store.kinds import KIND_PATTERN

    assert KIND_PATTERN.match(StateChange.kind)
