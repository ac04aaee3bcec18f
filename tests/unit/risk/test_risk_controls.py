"""RiskControls as the engine uses it: breakers halt the gate, an operator resumes, everything journals and replays."""

from __future__ import annotations

from decimal import Decimal

import pytest

from risk_fakes import D, acts, context, intent, round_trips_through_json
from tradepulse.risk import (
    BreakerTrip,
    OperatorRequired,
    RiskControls,
    RiskLimits,
    StateChange,
    TradingMode,
)
from tradepulse.store.journal import Journal

LIMITS = RiskLimits(max_daily_loss=D(500), max_rejects=3, price_band_bps=None, stale_after_seconds=30)



@pytest.fixture
def controls(clock) -> RiskControls:
    return RiskControls(LIMITS, clock, symbols=["BTC/USDT"])


def test_a_breaker_trip_halts_the_gate_until_an_operator_resumes(controls, clock):
    controls.on_equity(D(10_000))
    events = acts(controls.on_equity(D(9_400)))
    assert [type(e) for e in events] == [BreakerTrip, StateChange]
    denied = controls.check(intent(), context(clock))
    assert denied.check == "trading_state" and "halted by breaker:daily_loss" in denied.reason
    with pytest.raises(OperatorRequired):
        controls.resume("breaker:daily_loss")
    change = controls.resume("operator:alice")
    assert change.new is TradingMode.ACTIVE
    assert controls.breakers.tripped == {}
    assert controls.check(intent(), context(clock)).approved


def test_a_reject_storm_halts_and_the_halt_cancels_everything(controls):
    controls.on_order_rejected("BTC/USDT", "price filter")
    controls.on_order_rejected("BTC/USDT", "price filter")
    trip, change = acts(controls.on_order_rejected("BTC/USDT", "price filter"))
    assert trip.breaker == "reject_storm"
    assert [a.to_payload() for a in change.actions] == [{"action": "cancel_open_orders", "scope": "all"}]


def test_stale_data_is_caught_by_polling(controls, clock):
    controls.on_market_data("BTC/USDT")
    clock.advance(30)
    assert [e.kind for e in controls.poll()] == ["risk.breaker_trip", "risk.state_change"]


def test_status_is_json_safe_for_dashboards(controls, clock):
    controls.check(intent(), context(clock))
    controls.on_equity(D(10_000))
    controls.on_equity(D(9_000))
    status = controls.status()
    assert round_trips_through_json(status)
    assert status["state"]["mode"] == "HALTED" and list(status["tripped"]) == ["daily_loss"]
    assert status["orders_in_window"] == 1


def journal(journal_file: Journal, *events) -> None:
    for event in events:
        journal_file.append(event.kind, event.to_payload())


def test_everything_risk_returns_journals_to_sqlite_and_replays_after_a_restart(controls, clock, tmp_path):
    with Journal(tmp_path / "journal.sqlite", durability="fast", clock=clock) as journal_file:
        journal_file.append("risk.limits", LIMITS.to_payload())
        journal(journal_file, controls.check(intent(quantity="0.1", price="50000"), context(clock)))
        journal(journal_file, *controls.on_equity(D(10_000)))
        journal_file.append("risk.breaker_snapshot", controls.breakers.snapshot())
        journal(journal_file, controls.halt("exchange incident", "operator:bob", flatten=True))
    # Restart: a new process replays the risk family from the file.
    with Journal(tmp_path / "journal.sqlite", durability="fast", read_only=True) as journal_file:
        replayed = [event.payload for event in journal_file.iter_events(kind_prefix="risk.")]
    assert [p["kind"] for p in replayed] == [
        "risk.limits", "risk.decision", "risk.baselines", "risk.breaker_snapshot", "risk.state_change"
    ]
    assert Decimal(replayed[1]["details"]["notional"]) == D(5000)
    restarted = RiskControls(LIMITS, clock, symbols=["BTC/USDT"])
    restarted.restore(replayed)
    assert restarted.state.mode is TradingMode.HALTED and restarted.state.flatten
    assert restarted.state.reason == "exchange incident"
    assert restarted.check(intent(), context(clock)).check == "trading_state"
    # The day's baseline survived the restart: 9,500 is 500 below the journaled 10,000.
    assert any(isinstance(e, BreakerTrip) for e in restarted.on_equity(D(9_500)))


def test_a_resume_after_the_last_snapshot_voids_its_baselines_on_replay(controls, clock):
    controls.on_equity(D(10_000))
    snapshot = controls.breakers.snapshot()
    controls.on_equity(D(9_400))  # trips daily loss
    resume = controls.resume("operator:alice").to_payload()
    restarted = RiskControls(LIMITS, clock, symbols=["BTC/USDT"])
    restarted.restore([snapshot, resume])
    assert restarted.state.mode is TradingMode.ACTIVE
    assert acts(restarted.on_equity(D(9_400))) == []  # not 600 below the pre-resume 10,000
