"""Circuit breakers: each trips exactly at its threshold, never auto-resumes, and re-arms on an operator resume."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest

from risk_fakes import T0, D, FakeClock, acts, round_trips_through_json
from tradepulse.risk import (
    BreakerTrip,
    CancelOpenOrders,
    CircuitBreakers,
    FlattenPositions,
    OperatorRequired,
    RiskLimits,
    StateChange,
    TradingMode,
    TradingState,
)

# Every breaker off; each test switches on the one it is about.
QUIET = dict(
    max_daily_loss_fraction=None,
    max_drawdown_fraction=None,
    stale_after_seconds=None,
    max_venue_errors=None,
    max_venue_error_fraction=None,
    max_rejects=None,
)



def breakers_with(clock: FakeClock, symbols=(), currency="", **limits) -> CircuitBreakers:
    return CircuitBreakers(RiskLimits(**{**QUIET, **limits}), TradingState(clock), clock, symbols, currency)


def only_trip(events) -> BreakerTrip:
    trips = [e for e in events if isinstance(e, BreakerTrip)]
    assert len(trips) == 1, events
    return trips[0]


# -- daily loss ---------------------------------------------------------------------------------


def test_daily_loss_trips_exactly_at_max_daily_loss(clock):
    breakers = breakers_with(clock, max_daily_loss=D(500))
    assert acts(breakers.on_equity(D(10_000))) == []
    assert acts(breakers.on_equity(D("9500.01"))) == []
    events = acts(breakers.on_equity(D(9_500)))
    trip, change = events
    assert (trip.breaker, trip.limit, trip.value, trip.limit_value) == ("daily_loss", "max_daily_loss", D(500), D(500))
    assert trip.reason.startswith("daily loss 500.00 reached max_daily_loss 500.00 (day started at 10,000.00")
    assert isinstance(change, StateChange) and change.new is TradingMode.HALTED and change.actor == "breaker:daily_loss"
    assert change.actions == (CancelOpenOrders("all"),)


def test_loss_reasons_name_the_account_currency_when_given(clock):
    breakers = breakers_with(clock, currency="USDT", max_daily_loss=D(500))
    breakers.on_equity(D(10_000))
    trip = only_trip(breakers.on_equity(D(9_000)))
    assert trip.reason == "daily loss 1,000.00 USDT reached max_daily_loss 500.00 (day started at 10,000.00 USDT, equity now 9,000.00 USDT)"
    assert trip.unit == "USDT"


def test_daily_loss_fraction_trips_exactly_at_its_fraction(clock):
    breakers = breakers_with(clock, max_daily_loss_fraction=D("0.05"))
    breakers.on_equity(D(10_000))
    assert acts(breakers.on_equity(D("9500.01"))) == []
    trip = only_trip(breakers.on_equity(D(9_500)))
    assert (trip.limit, trip.value, trip.unit) == ("max_daily_loss_fraction", D("0.05"), "fraction")
    assert "is 5.00% of the day's starting equity" in trip.reason


def test_tripped_breaker_does_not_trip_again_or_auto_resume(clock):
    breakers = breakers_with(clock, max_daily_loss=D(500))
    breakers.on_equity(D(10_000))
    breakers.on_equity(D(9_000))
    assert acts(breakers.on_equity(D(8_000))) == []
    assert acts(breakers.on_equity(D(20_000))) == []  # recovering does not resume trading
    clock.advance(2 * 86_400)  # neither does a new trading day
    assert acts(breakers.on_equity(D(20_000))) == []
    assert breakers.state.mode is TradingMode.HALTED and set(breakers.tripped) == {"daily_loss"}


def test_daily_loss_baseline_resets_at_the_configured_utc_boundary(clock):
    clock.now = T0.replace(hour=20, minute=59)
    breakers = breakers_with(clock, max_daily_loss=D(500), trading_day_start_utc=time(21, 0))
    breakers.on_equity(D(10_000))
    clock.now = T0.replace(hour=21)
    assert acts(breakers.on_equity(D(9_600))) == []  # first update of the new trading day: its start
    clock.advance(1800)
    assert acts(breakers.on_equity(D(9_200))) == []  # 400 down on the day, though 800 since yesterday
    assert only_trip(breakers.on_equity(D(9_100))).details["day_start_equity"] == D(9_600)


def test_midnight_boundary_is_the_default(clock):
    clock.now = T0.replace(hour=23, minute=59)
    breakers = breakers_with(clock, max_daily_loss=D(500))
    breakers.on_equity(D(10_000))
    clock.advance(120)
    assert acts(breakers.on_equity(D(9_400))) == []  # 00:01 next day: new baseline


def test_operator_resume_rearms_daily_loss_from_the_equity_at_resume(clock):
    breakers = breakers_with(clock, max_daily_loss=D(500))
    breakers.on_equity(D(10_000))
    breakers.on_equity(D(9_500))
    breakers.state.resume("operator:alice")
    assert breakers.tripped == {}
    assert acts(breakers.on_equity(D("9000.01"))) == []
    trip = only_trip(breakers.on_equity(D(9_000)))
    assert trip.details["day_start_equity"] == D(9_500)


def test_a_breaker_cannot_resume_trading(clock):
    breakers = breakers_with(clock, max_daily_loss=D(500))
    breakers.on_equity(D(10_000))
    breakers.on_equity(D(9_000))
    with pytest.raises(OperatorRequired):
        breakers.state.resume("breaker:daily_loss")
    assert breakers.state.mode is TradingMode.HALTED


# -- drawdown -----------------------------------------------------------------------------------


def test_drawdown_fraction_trips_exactly_at_its_fraction_from_the_peak(clock):
    breakers = breakers_with(clock, max_drawdown_fraction=D("0.2"))
    for equity in (10_000, 12_000, 10_000):
        assert acts(breakers.on_equity(D(equity))) == []
    assert acts(breakers.on_equity(D("9600.01"))) == []
    trip = only_trip(breakers.on_equity(D(9_600)))
    assert (trip.breaker, trip.value, trip.details["peak_equity"]) == ("drawdown", D("0.2"), D(12_000))


def test_drawdown_amount_trips_exactly_at_max_drawdown(clock):
    breakers = breakers_with(clock, max_drawdown=D(1_000))
    breakers.on_equity(D(5_000))
    clock.advance(3 * 86_400)  # the peak survives trading days, unlike the daily baseline
    assert acts(breakers.on_equity(D("4000.01"))) == []
    trip = only_trip(breakers.on_equity(D(4_000)))
    assert trip.reason.startswith("drawdown 1,000.00 reached max_drawdown 1,000.00 (peak 5,000.00")


# -- stale market data -------------------------------------------------------------------------


def test_stale_data_trips_exactly_after_stale_after_seconds(clock):
    breakers = breakers_with(clock, ["BTC/USDT"], stale_after_seconds=60)
    breakers.on_market_data("BTC/USDT")
    clock.advance(59.999)
    assert acts(breakers.poll()) == []
    clock.advance(0.001)
    trip, change = acts(breakers.poll())
    assert (trip.breaker, trip.value, trip.limit_value, trip.unit) == ("stale_data", 60.0, 60.0, "s")
    assert trip.reason.startswith("no market data for BTC/USDT for 60 s, reaching stale_after_seconds 60")
    assert change.new is TradingMode.HALTED


def test_stale_data_action_is_configurable(clock):
    breakers = breakers_with(clock, ["BTC/USDT"], stale_after_seconds=10, stale_data_action="REDUCING")
    clock.advance(10)
    _, change = acts(breakers.poll())
    assert change.new is TradingMode.REDUCING and change.actions == (CancelOpenOrders("risk_increasing"),)


def test_fresh_data_on_one_symbol_does_not_hide_another_going_stale(clock):
    breakers = breakers_with(clock, ["BTC/USDT", "ETH/USDT"], stale_after_seconds=30)
    breakers.on_market_data("ETH/USDT")
    clock.advance(30)
    trip = only_trip(breakers.on_market_data("ETH/USDT"))
    assert trip.details["symbol"] == "BTC/USDT" and "no data since start-up or resume" in trip.reason


def test_late_out_of_order_market_data_does_not_age_a_symbol(clock):
    breakers = breakers_with(clock, ["BTC/USDT"], stale_after_seconds=30)
    breakers.on_market_data("BTC/USDT", at=clock.now + timedelta(seconds=20))
    breakers.on_market_data("BTC/USDT", at=clock.now)
    clock.advance(45)
    assert acts(breakers.poll()) == []


def test_resume_rearms_staleness_from_the_moment_of_resume(clock):
    breakers = breakers_with(clock, ["BTC/USDT"], stale_after_seconds=60)
    clock.advance(60)
    assert breakers.poll()
    clock.advance(100)
    breakers.state.resume("operator:alice")
    clock.advance(59)
    assert acts(breakers.poll()) == []
    clock.advance(1)
    assert only_trip(breakers.poll()).breaker == "stale_data"


# -- venue errors and reject storms --------------------------------------------------------------


def test_venue_errors_trip_exactly_at_max_venue_errors_in_the_window(clock):
    breakers = breakers_with(clock, max_venue_errors=3, venue_error_window_seconds=60)
    assert acts(breakers.on_venue_error("timeout")) == []
    clock.advance(30)
    assert acts(breakers.on_venue_error("timeout")) == []
    clock.advance(30)  # the first error is now 60 s old: out of the window
    assert acts(breakers.on_venue_error("timeout")) == []
    clock.advance(1)
    trip = only_trip(breakers.on_venue_error("502 Bad Gateway"))
    assert (trip.value, trip.limit_value, trip.limit) == (3, 3, "max_venue_errors")
    assert trip.reason == "3 venue errors in the last 60 s reached max_venue_errors 3 (last: 502 Bad Gateway)"


def test_venue_error_fraction_trips_exactly_at_its_fraction_after_enough_requests(clock):
    breakers = breakers_with(clock, max_venue_error_fraction=D("0.5"), venue_error_min_requests=10)
    for ok in [False] * 4 + [True] * 5:
        assert acts(breakers.on_venue_response(ok)) == []  # 4 of 9: below the minimum sample anyway
    trip = only_trip(breakers.on_venue_response(False, detail="timeout"))
    assert (trip.value, trip.limit, trip.details["requests"]) == (Decimal("0.5"), "max_venue_error_fraction", 10)


def test_venue_error_fraction_just_below_does_not_trip(clock):
    breakers = breakers_with(clock, max_venue_error_fraction=D("0.5"), venue_error_min_requests=10)
    for ok in [False] * 4 + [True] * 6 + [False]:  # 5 of 11
        assert acts(breakers.on_venue_response(ok)) == []


def test_reject_storm_trips_exactly_at_max_rejects_in_the_window(clock):
    breakers = breakers_with(clock, max_rejects=5, reject_window_seconds=10)
    for _ in range(4):
        assert acts(breakers.on_order_rejected("BTC/USDT", "insufficient balance")) == []
        clock.advance(2)
    trip, change = acts(breakers.on_order_rejected("BTC/USDT", "insufficient balance"))
    assert (trip.breaker, trip.value, trip.limit_value) == ("reject_storm", 5, 5)
    assert trip.reason.endswith("reached max_rejects 5 (last: BTC/USDT insufficient balance)")
    assert change.actor == "breaker:reject_storm"


def test_rejects_outside_the_window_do_not_count(clock):
    breakers = breakers_with(clock, max_rejects=3, reject_window_seconds=10)
    for _ in range(10):
        assert acts(breakers.on_order_rejected()) == []
        clock.advance(5)


def test_resume_empties_the_error_and_reject_windows(clock):
    breakers = breakers_with(clock, max_rejects=2, max_venue_errors=2)
    breakers.on_order_rejected()
    breakers.on_venue_error()
    breakers.on_order_rejected()
    breakers.state.resume("operator:alice")
    assert acts(breakers.on_order_rejected()) == [] and acts(breakers.on_venue_error()) == []


# -- trips, state and journal -------------------------------------------------------------------


def test_trip_while_already_halted_is_journaled_without_a_state_change(clock):
    breakers = breakers_with(clock, max_rejects=1, stale_data_action="REDUCING", stale_after_seconds=5, symbols=["BTC/USDT"])
    breakers.state.halt("manual", "operator:alice")
    clock.advance(5)
    events = acts(breakers.on_order_rejected())
    assert [type(e) for e in events] == [BreakerTrip, BreakerTrip]
    assert breakers.state.mode is TradingMode.HALTED and breakers.state.actor == "operator:alice"


def test_breaker_halt_can_flatten_when_configured(clock):
    breakers = breakers_with(clock, max_rejects=1, flatten_on_breaker_halt=True)
    _, change = acts(breakers.on_order_rejected())
    assert change.actions == (CancelOpenOrders("all"), FlattenPositions()) and change.flatten


def test_trip_payload_is_journal_ready_with_value_against_limit(clock):
    breakers = breakers_with(clock, max_daily_loss_fraction=D("0.05"))
    breakers.on_equity(D(10_000))
    payloads = [event.to_payload() for event in acts(breakers.on_equity(D("9400.00")))]
    trip = payloads[0]
    assert all(round_trips_through_json(p) for p in payloads)
    assert {k: trip[k] for k in ("kind", "breaker", "limit", "value", "limit_value", "unit", "action", "at")} == {
        "kind": "risk.breaker_trip",
        "breaker": "daily_loss",
        "limit": "max_daily_loss_fraction",
        "value": "0.06",
        "limit_value": "0.05",
        "unit": "fraction",
        "action": "HALTED",
        "at": "2024-05-01T12:00:00+00:00",
    }
    assert trip["details"]["day_start_equity"] == "10000" and trip["details"]["trading_day"] == "2024-05-01"
    assert payloads[1]["kind"] == "risk.state_change" and payloads[1]["reason"].startswith("breaker daily_loss: daily loss 600.00")


def test_snapshot_restores_the_days_baseline_and_peak_after_a_restart(clock):
    limits = dict(max_daily_loss=D(2_500), max_drawdown=D(3_000))
    before = breakers_with(clock, **limits)
    assert acts(before.on_equity(D(12_000))) == [] and acts(before.on_equity(D(10_000))) == []
    snapshot = before.snapshot()
    assert round_trips_through_json(snapshot) and snapshot["day_start_equity"] == "12000"
    clock.advance(600)
    after = breakers_with(clock, **limits)
    after.restore(snapshot)
    # 3,000 below the restored day start and peak; without the snapshot 9,000 would be the new baseline.
    tripped = {e.breaker for e in after.on_equity(D(9_000)) if isinstance(e, BreakerTrip)}
    assert tripped == {"daily_loss", "drawdown"}


def test_snapshot_from_a_previous_trading_day_keeps_only_the_peak(clock):
    before = breakers_with(clock, max_daily_loss=D(500))
    before.on_equity(D(12_000))
    snapshot = before.snapshot()
    clock.advance(86_400)
    after = breakers_with(clock, max_daily_loss=D(500))
    after.restore(snapshot)
    assert acts(after.on_equity(D(10_000))) == []
    assert after.snapshot()["peak_equity"] == "12000" and after.snapshot()["day_start_equity"] == "10000"
