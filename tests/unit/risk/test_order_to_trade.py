"""Ethical trading, rule two: the order-to-trade ratio is measured, and its breaker halts like the others.

Real :class:`CircuitBreakers` and :class:`RiskControls` on a clock moved by hand; the restart cases
journal every returned event to a real SQLite journal and restore from it, as the engine does.
"""

from __future__ import annotations

import pytest

from risk_fakes import D, FakeClock, acts, round_trips_through_json
from tradepulse.errors import ConfigError
from tradepulse.risk import (
    BaselineChange,
    BreakerTrip,
    CancelOpenOrders,
    CircuitBreakers,
    RiskControls,
    RiskLimits,
    StateChange,
    TradingMode,
    TradingState,
    order_to_trade_ratio,
)
from tradepulse.store import Journal

# Every other breaker off, so only the order-to-trade breaker can act.
QUIET = dict(
    max_daily_loss_fraction=None,
    max_drawdown_fraction=None,
    stale_after_seconds=None,
    max_venue_errors=None,
    max_venue_error_fraction=None,
    max_rejects=None,
)


def breakers_with(clock: FakeClock, **limits) -> CircuitBreakers:
    return CircuitBreakers(RiskLimits(**{**QUIET, **limits}), TradingState(clock), clock, currency="USDT")


def controls_with(clock: FakeClock, **limits) -> RiskControls:
    return RiskControls(RiskLimits(**{**QUIET, **limits}), clock=clock, symbols=["BTC/USDT"], currency="USDT")


def feed(breakers, orders: int = 0, cancels: int = 0, trades: int = 0) -> list:
    """Feed the inputs; return what acted (trips and state changes)."""
    acted = []
    for _ in range(trades):
        acted += acts(breakers.on_trade("BTC/USDT"))
    for _ in range(cancels):
        acted += acts(breakers.on_cancel_requested("BTC/USDT"))
    for _ in range(orders):
        acted += acts(breakers.on_order_submitted("BTC/USDT"))
    return acted


# -- the measurement ----------------------------------------------------------------------------


def test_the_ratio_is_order_messages_per_trade_and_no_trade_counts_as_one():
    assert order_to_trade_ratio(30, 10, 4) == D(10)
    assert order_to_trade_ratio(7, 0, 2) == D("3.5")
    assert order_to_trade_ratio(20, 0, 0) == D(20)
    assert order_to_trade_ratio(0, 0, 5) == D(0)


def test_the_measurement_is_in_the_status_and_counts_cancels(clock):
    controls = controls_with(clock, max_order_to_trade_ratio=None)  # measured even when the breaker is off
    feed(controls, orders=6, cancels=3, trades=2)
    measured = controls.status()["breakers"]["order_to_trade"]
    assert measured == {"orders": 6, "cancels": 3, "trades": 2, "ratio": "4.5", "window_seconds": 600.0, "min_orders": 20,
                        "max_order_to_trade_ratio": None}
    assert controls.breakers.order_to_trade() == measured
    assert round_trips_through_json(controls.status())


def test_the_window_forgets_what_is_older_than_order_to_trade_window_seconds(clock):
    breakers = breakers_with(clock, order_to_trade_window_seconds=60)
    feed(breakers, orders=3, trades=1)
    clock.advance(30)
    feed(breakers, orders=2, cancels=1)
    clock.advance(30)  # the first three orders and the trade are exactly 60 s old: out
    assert breakers.order_to_trade()["orders"] == 2 and breakers.order_to_trade()["trades"] == 0
    assert breakers.order_to_trade()["ratio"] == "3"


# -- the breaker --------------------------------------------------------------------------------


def test_the_breaker_trips_exactly_at_the_ratio_and_halts(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=4, order_to_trade_min_orders=4)
    assert feed(breakers, trades=2, orders=7) == []  # 7 / 2 = 3.5
    trip, change = feed(breakers, orders=1)  # 8 / 2 = 4: reached
    assert isinstance(trip, BreakerTrip) and isinstance(change, StateChange)
    assert (trip.breaker, trip.limit, trip.value, trip.limit_value, trip.unit) == (
        "order_to_trade", "max_order_to_trade_ratio", D(4), D(4), "ratio")
    assert trip.reason == ("8 orders and 0 cancels against 2 trades in the last 600 s: order-to-trade ratio 4.00 reached "
                           "max_order_to_trade_ratio 4 (judged from order_to_trade_min_orders 4)")
    assert dict(trip.details) == {"orders": 8, "cancels": 0, "trades": 2, "window_seconds": 600.0, "min_orders": 4,
                                  "last_symbol": "BTC/USDT"}
    assert change.new is TradingMode.HALTED and change.actor == "breaker:order_to_trade"
    assert change.actions == (CancelOpenOrders("all"),)
    assert set(breakers.tripped) == {"order_to_trade"}
    payload = trip.to_payload()
    assert round_trips_through_json(payload) and payload["kind"] == "risk.breaker_trip" and payload["value"] == "4"


def test_the_breaker_does_not_trip_before_the_minimum_number_of_orders(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=2, order_to_trade_min_orders=5)
    assert feed(breakers, orders=4, cancels=10) == []  # ratio 14, but only 4 orders
    trip = feed(breakers, orders=1)[0]
    assert trip.breaker == "order_to_trade" and trip.value == D(15) and trip.details["orders"] == 5


def test_cancels_count_as_order_messages(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=4, order_to_trade_min_orders=4)
    assert feed(breakers, trades=2, orders=4, cancels=3) == []  # 7 / 2: cancels only record
    trip = feed(breakers, orders=1)[0]  # 5 orders + 3 cancels = 8 messages / 2 trades = 4
    assert (trip.value, trip.details["cancels"]) == (D(4), 3)


def test_cancels_and_trades_never_trip_by_themselves(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=2, order_to_trade_min_orders=1)
    feed(breakers, orders=1, trades=1)
    assert feed(breakers, cancels=50) == []  # a halt's own cancels must not trip a breaker mid-halt
    assert breakers.state.mode is TradingMode.ACTIVE
    assert acts(breakers.poll())[0].breaker == "order_to_trade"  # the timer judges it


def test_trades_leaving_the_window_raise_the_ratio_and_poll_trips(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=5, order_to_trade_min_orders=5, order_to_trade_window_seconds=60)
    feed(breakers, trades=2)
    clock.advance(10)
    assert feed(breakers, orders=6) == []  # 6 / 2 = 3
    assert acts(breakers.poll()) == []
    clock.advance(50)  # the trades are 60 s old: 6 orders, no trade
    trip = acts(breakers.poll())[0]
    assert trip.value == D(6) and trip.details["trades"] == 0


def test_orders_leaving_the_window_do_not_count_towards_the_minimum(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=3, order_to_trade_min_orders=4, order_to_trade_window_seconds=60)
    feed(breakers, orders=3)
    clock.advance(60)
    assert feed(breakers, orders=3) == []  # three in the window, not six
    assert feed(breakers, orders=1)[0].details["orders"] == 4


def test_the_action_can_be_reducing(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=2, order_to_trade_min_orders=2, order_to_trade_action="REDUCING")
    trip, change = feed(breakers, orders=2)
    assert trip.action is TradingMode.REDUCING and change.new is TradingMode.REDUCING
    assert change.actions == (CancelOpenOrders("risk_increasing"),)


def test_a_trip_while_halted_is_journaled_without_a_change(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=2, order_to_trade_min_orders=2)
    breakers.state.halt("exchange incident", "operator:alice")
    (trip,) = feed(breakers, orders=2)
    assert trip.breaker == "order_to_trade"


def test_switched_off_it_never_trips(clock):
    breakers = breakers_with(clock, max_order_to_trade_ratio=None)
    assert feed(breakers, orders=500, cancels=500) == [] and breakers.tripped == {}


def test_it_is_on_by_default():
    limits = RiskLimits()
    assert (limits.max_order_to_trade_ratio, limits.order_to_trade_min_orders, limits.order_to_trade_window_seconds,
            limits.order_to_trade_action) == (D(20), 20, 600.0, TradingMode.HALTED)


def test_defaults_trip_on_twenty_unfilled_orders_but_not_on_orders_that_fill(clock):
    filled = CircuitBreakers(RiskLimits(), TradingState(clock), clock)
    for _ in range(100):
        assert acts(filled.on_trade()) == [] and acts(filled.on_order_submitted()) == []
    unfilled = CircuitBreakers(RiskLimits(), TradingState(clock), clock)
    assert feed(unfilled, orders=19) == []
    assert feed(unfilled, orders=1)[0].value == D(20)


# -- like the other breakers: stays tripped, re-arms on resume, survives a restart -------------------


def test_a_tripped_breaker_stays_silent_until_an_operator_resumes_and_resume_empties_the_window(clock):
    controls = controls_with(clock, max_order_to_trade_ratio=3, order_to_trade_min_orders=3)
    feed(controls, orders=3)
    assert controls.state.mode is TradingMode.HALTED
    assert feed(controls, orders=10) == []  # tripped: silent
    assert set(controls.status()["tripped"]) == {"order_to_trade"}
    resume = controls.resume("operator:alice")
    assert resume.baselines["order_flow"] == []
    assert controls.breakers.tripped == {} and controls.breakers.order_to_trade()["orders"] == 0
    assert feed(controls, orders=2) == []  # counted afresh from the resume
    assert feed(controls, orders=1)[0].breaker == "order_to_trade"


def test_each_input_journals_only_the_entry_it_added(clock):
    breakers = breakers_with(clock)
    (change,) = breakers.on_order_submitted("BTC/USDT")
    assert isinstance(change, BaselineChange) and change.changed == ("order_flow",)
    payload = change.to_payload()
    assert payload["order_flow_added"] == [[clock().isoformat(), "order"]] and "order_flow" not in payload
    clock.advance(1)
    assert breakers.on_trade()[0].to_payload()["order_flow_added"] == [[clock().isoformat(), "trade"]]
    assert breakers.on_cancel_requested()[0].to_payload()["order_flow_added"] == [[clock().isoformat(), "cancel"]]
    assert round_trips_through_json(payload)


class Process:
    """Risk controls whose every returned event is journaled, as the engine does; restart = a new process."""

    def __init__(self, path, clock, **limits) -> None:
        self.path, self.clock, self.limits = path, clock, limits
        self.journal = Journal(path, durability="fast", clock=clock)
        self.controls = controls_with(clock, **limits)

    def feed(self, events) -> list:
        for event in events:
            self.journal.append(event.kind, event.to_payload())
        return acts(events)

    def restart(self) -> RiskControls:
        self.journal.close()
        with Journal(self.path, durability="fast", read_only=True) as journal:
            payloads = [event.payload for event in journal.iter_events(kind_prefix="risk.")]
        restarted = controls_with(self.clock, **self.limits)
        restarted.restore(payloads)
        return restarted


def test_the_window_survives_a_crash_and_trips_where_it_would_have(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_order_to_trade_ratio=4, order_to_trade_min_orders=4,
                      order_to_trade_window_seconds=120)
    process.feed(process.controls.on_trade("BTC/USDT"))
    for _ in range(3):
        clock.advance(10)
        process.feed(process.controls.on_order_submitted("BTC/USDT"))
        process.feed(process.controls.on_cancel_requested("BTC/USDT"))
    unbroken, restarted = process.controls, process.restart()
    assert restarted.breakers.order_to_trade() == unbroken.breakers.order_to_trade()
    assert restarted.breakers.order_to_trade()["ratio"] == "6"  # 3 orders + 3 cancels / 1 trade
    clock.advance(10)
    expected = [e.to_payload() for e in acts(unbroken.on_order_submitted("BTC/USDT"))]
    assert [e.to_payload() for e in acts(restarted.on_order_submitted("BTC/USDT"))] == expected
    assert expected[0]["breaker"] == "order_to_trade" and expected[0]["value"] == "7"


def test_restored_entries_still_expire(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, order_to_trade_window_seconds=60)
    for _ in range(5):
        process.feed(process.controls.on_order_submitted("BTC/USDT"))
    clock.advance(61)
    assert process.restart().breakers.order_to_trade()["orders"] == 0


def test_a_tripped_order_to_trade_breaker_stays_tripped_after_a_restart(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_order_to_trade_ratio=2, order_to_trade_min_orders=2)
    for _ in range(2):
        process.feed(process.controls.on_order_submitted("BTC/USDT"))
    restarted = process.restart()
    assert restarted.state.mode is TradingMode.HALTED and set(restarted.breakers.tripped) == {"order_to_trade"}


def test_a_resume_voids_the_journaled_window(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_order_to_trade_ratio=3, order_to_trade_min_orders=3)
    for _ in range(3):
        process.feed(process.controls.on_order_submitted("BTC/USDT"))
    process.feed([process.controls.resume("operator:alice")])
    process.feed(process.controls.on_order_submitted("BTC/USDT"))
    restarted = process.restart()
    assert restarted.state.mode is TradingMode.ACTIVE and restarted.breakers.order_to_trade()["orders"] == 1


def test_a_clean_stop_snapshot_carries_the_measurement(clock):
    breakers = breakers_with(clock)
    feed(breakers, orders=2, trades=1)
    snapshot = breakers.snapshot()
    assert snapshot["order_to_trade"]["orders"] == 2 and round_trips_through_json(snapshot)


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("max_order_to_trade_ratio", "0.5", "must be at least 1"),
        ("max_order_to_trade_ratio", True, "must be a number"),
        ("order_to_trade_min_orders", 0, "must be at least 1"),
        ("order_to_trade_min_orders", None, "cannot be switched off"),
        ("order_to_trade_window_seconds", None, "cannot be switched off"),
        ("order_to_trade_window_seconds", 0, "must be greater than 0"),
        ("order_to_trade_action", "PAUSED", "must be one of REDUCING, HALTED"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(key, value, fragment):
    with pytest.raises(ConfigError, match=f"risk.{key} {fragment}"):
        RiskLimits.from_mapping({key: value})


def test_the_limits_payload_rebuilds_the_same_limits():
    limits = RiskLimits.from_mapping({"max_order_to_trade_ratio": 15, "order_to_trade_min_orders": 40,
                                      "order_to_trade_window_seconds": 900, "order_to_trade_action": "REDUCING"})
    payload = limits.to_payload()
    assert payload["max_order_to_trade_ratio"] == "15" and payload["order_to_trade_action"] == "REDUCING"
    payload.pop("kind")
    assert RiskLimits.from_mapping(payload) == limits
