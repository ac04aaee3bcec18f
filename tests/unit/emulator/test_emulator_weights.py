"""Binance's request weights and the 429-then-418 escalation."""

from __future__ import annotations

import pytest

from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.weights import WeightLimiter, endpoint_weight

MINUTE_START = 1_700_000_040.0  # a whole minute


@pytest.mark.parametrize(("method", "path", "params", "weight"), [
    ("GET", "depth", {"limit": "100"}, 5), ("GET", "depth", {"limit": "500"}, 25),
    ("GET", "depth", {"limit": "1000"}, 50), ("GET", "depth", {"limit": "5000"}, 250),
    ("GET", "exchangeInfo", {}, 20), ("GET", "account", {}, 20), ("GET", "order", {}, 4),
    ("POST", "order", {}, 1), ("GET", "openOrders", {"symbol": "BTCUSDT"}, 6), ("GET", "openOrders", {}, 80),
    ("GET", "ticker/24hr", {"symbol": "BTCUSDT"}, 2), ("GET", "ticker/24hr", {}, 80), ("GET", "klines", {}, 2),
])
def test_endpoint_weights_are_binances(method, path, params, weight):
    assert endpoint_weight(method, path, params) == weight


def test_used_weight_accumulates_per_ip_and_resets_each_minute():
    limiter = WeightLimiter(100, 120)
    assert limiter.admit("1.1.1.1", 20, MINUTE_START) == 20
    assert limiter.admit("1.1.1.1", 30, MINUTE_START + 1) == 50
    assert limiter.admit("2.2.2.2", 5, MINUTE_START + 1) == 5
    assert limiter.admit("1.1.1.1", 1, MINUTE_START + 60) == 1


def test_over_the_limit_is_429_and_going_on_before_retry_after_is_a_418_ban():
    limiter = WeightLimiter(100, 120)
    limiter.admit("ip", 90, MINUTE_START)
    with pytest.raises(ApiError) as throttled:
        limiter.admit("ip", 20, MINUTE_START + 10)
    assert throttled.value.status == 429 and throttled.value.code == -1003
    assert throttled.value.headers["Retry-After"] == "50"
    with pytest.raises(ApiError) as banned:
        limiter.admit("ip", 1, MINUTE_START + 11)
    assert banned.value.status == 418 and banned.value.headers["Retry-After"] == "120"
    with pytest.raises(ApiError):  # the ban outlives the minute
        limiter.admit("ip", 1, MINUTE_START + 100)
    assert limiter.admit("ip", 1, MINUTE_START + 11 + 121) == 1


def test_repeat_offenders_are_banned_twice_as_long():
    limiter = WeightLimiter(10, 60)
    now = MINUTE_START
    for expected in ("60", "120"):
        with pytest.raises(ApiError):
            limiter.admit("ip", 11, now)
        with pytest.raises(ApiError) as banned:
            limiter.admit("ip", 1, now + 1)
        assert banned.value.headers["Retry-After"] == expected
        now += 1 + int(expected) + 60


def test_a_forced_429_asks_for_one_second_and_a_patient_client_continues():
    limiter = WeightLimiter(6000, 120)
    with pytest.raises(ApiError) as throttled:
        limiter.admit("ip", 1, MINUTE_START, force_429=True)
    assert throttled.value.headers["Retry-After"] == "1"
    assert limiter.admit("ip", 1, MINUTE_START + 1.01) == 1
