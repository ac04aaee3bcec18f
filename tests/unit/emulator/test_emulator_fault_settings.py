"""Fault settings: parsing from flags and JSON, counters, seeded randomness."""

from __future__ import annotations

import pytest

from tradepulse.emulator.faults import FaultInjector, FaultSettings, parse_fault_flags
from tradepulse.errors import ConfigError


def test_flags_accept_repeated_and_comma_separated_settings():
    settings = parse_fault_flags(["latency_ms=50,rest_error_rate=0.1", "ws_drop_every_s=30"])
    assert (settings.latency_ms, settings.rest_error_rate, settings.ws_drop_every_s) == (50, 0.1, 30.0)


@pytest.mark.parametrize("flag", ["nonsense=1", "latency_ms", "latency_ms=fast", "rest_error_rate=2",
                                  "rest_error_status=404", "latency_ms=1.5", "ws_drop_every_s=0.01",
                                  "latency_ms=nan", "rest_error_rate=inf"])
def test_bad_flags_are_config_errors_naming_the_problem(flag):
    with pytest.raises(ConfigError, match="--faults"):
        parse_fault_flags([flag])


def test_next_n_counters_fire_n_times_then_stop():
    injector = FaultInjector(FaultSettings(rest_error_next=2, lose_order_response_next=1, rate_limit_next=1))
    assert [injector.rest_error_status() for _ in range(3)] == [503, 503, None]
    assert [injector.take_lost_order_response() for _ in range(2)] == [True, False]
    assert [injector.take_forced_rate_limit() for _ in range(2)] == [True, False]


def test_random_failures_repeat_for_a_seed_and_reset_restarts_the_sequence():
    def pattern(injector: FaultInjector) -> list[bool]:
        injector.update({"rest_error_rate": 0.5})
        return [injector.rest_error_status() is not None for _ in range(50)]

    first = FaultInjector(seed=3)
    a = pattern(first)
    first.reset()
    assert pattern(first) == a == pattern(FaultInjector(seed=3))
    assert a != pattern(FaultInjector(seed=4)) and any(a) and not all(a)


def test_json_updates_are_validated_and_partial():
    injector = FaultInjector()
    injector.update({"latency_ms": 20})
    assert injector.update({"clock_skew_ms": -5000}).to_json()["latency_ms"] == 20
    for bad in ({"latency_ms": True}, {"latency_ms": "x"}, {"unknown": 1}, {"rest_error_rate": -0.1}):
        with pytest.raises(ValueError):
            injector.update(bad)
