"""Retries with seeded backoff and jitter, only for what is safe to retry; rate limits close a gate."""

from __future__ import annotations

import asyncio
import random

import ccxt
import ccxt.pro
import pytest

from tradepulse.errors import ConfigError, OrderRejected, RateLimited, TemporaryVenueError
from tradepulse.adapters.ccxt.errors import OrderRateLimited
from tradepulse.adapters.ccxt.retry import CcxtCaller, RateGate, RetryPolicy


class FakeTime:
    """Time that moves only when slept: the caller's sleep and the gate's clock share it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def failing(*errors: BaseException, result: object = "ok"):
    """A call that raises ``errors`` in turn, then returns ``result``; counts its invocations."""
    attempts = []

    async def call() -> object:
        attempts.append(1)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return result

    call.attempts = attempts  # type: ignore[attr-defined]
    return call


def run_with_exchange(scenario):
    async def wrapped():
        exchange = ccxt.pro.binance()  # a real client; nothing here reaches the network
        try:
            return await scenario(exchange)
        finally:
            await exchange.close()

    return asyncio.run(wrapped())


def make_caller(exchange, clock: FakeTime, **policy) -> CcxtCaller:
    return CcxtCaller(exchange, venue="binance", policy=RetryPolicy(seed=7, **policy), sleep=clock.sleep, monotonic=clock.monotonic)


def test_backoff_doubles_up_to_the_ceiling_and_jitter_is_repeatable_for_a_seed():
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0, jitter=0.5)
    first = [policy.delay(n, random.Random(3)) for n in range(5)]
    assert first == [policy.delay(n, random.Random(3)) for n in range(5)]
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0]
    assert all(ceiling * 0.5 <= delay <= ceiling for delay, ceiling in zip(first, ceilings, strict=True))
    with pytest.raises(ConfigError):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigError):
        RetryPolicy(jitter=2)


def test_a_read_is_retried_after_temporary_failures_with_backoff():
    clock = FakeTime()

    async def scenario(exchange):
        caller = make_caller(exchange, clock, attempts=4, jitter=0.0, base_delay_s=0.1)
        call = failing(ccxt.RequestTimeout("t"), ccxt.ExchangeNotAvailable("503"))
        assert await caller.call("fetch_balance", call) == "ok"
        return len(call.attempts), caller.stats

    attempts, stats = run_with_exchange(scenario)
    assert attempts == 3 and clock.sleeps == [0.1, 0.2] and stats["retries"] == 2


def test_order_creation_is_never_retried():
    clock = FakeTime()

    async def scenario(exchange):
        caller = make_caller(exchange, clock)
        call = failing(ccxt.RequestTimeout("t"))
        with pytest.raises(TemporaryVenueError):
            await caller.call("create_order", call, retry=False, order_request=True)
        return len(call.attempts)

    assert run_with_exchange(scenario) == 1 and clock.sleeps == []


def test_refusals_are_not_retried():
    clock = FakeTime()

    async def scenario(exchange):
        caller = make_caller(exchange, clock)
        call = failing(ccxt.InvalidOrder("LOT_SIZE"))
        with pytest.raises(OrderRejected):
            await caller.call("cancel_order", call)
        return len(call.attempts)

    assert run_with_exchange(scenario) == 1


def test_a_rate_limit_waits_out_retry_after_and_then_retries_once():
    clock = FakeTime()

    async def scenario(exchange):
        caller = make_caller(exchange, clock, max_rate_limit_wait_s=5)
        exchange.last_response_headers = {"Retry-After": "2"}
        call = failing(ccxt.DDoSProtection("429"))
        assert await caller.call("fetch_order", call) == "ok"
        return len(call.attempts), caller.stats

    attempts, stats = run_with_exchange(scenario)
    assert attempts == 2 and clock.sleeps == [2.0] and stats["rate_limited"] == 1


def test_during_a_ban_no_request_is_sent_at_all():
    clock = FakeTime()

    async def scenario(exchange):
        caller = make_caller(exchange, clock, max_rate_limit_wait_s=5)
        exchange.last_response_headers = {"retry-after": "120"}
        banned = failing(ccxt.DDoSProtection("418 banned"))
        with pytest.raises(RateLimited) as first:
            await caller.call("fetch_balance", banned)
        later = failing()
        with pytest.raises(RateLimited):
            await caller.call("fetch_balance", later)
        with pytest.raises(OrderRateLimited):
            await caller.call("create_order", later, retry=False, order_request=True)
        clock.now += 121
        assert await caller.call("fetch_balance", later) == "ok"
        return len(banned.attempts), len(later.attempts), first.value, caller.stats

    banned_attempts, later_attempts, first, stats = run_with_exchange(scenario)
    assert banned_attempts == 1 and later_attempts == 1  # only the call after the ban reached the venue
    assert first.retry_after_s == pytest.approx(120) and stats["refused_locally"] == 3


def test_clock_skew_resyncs_the_clock_before_the_retry():
    clock = FakeTime()

    async def scenario(exchange):
        caller = make_caller(exchange, clock, jitter=0.0)
        resyncs = []

        async def load_time_difference(params=None):
            resyncs.append(1)
            return 0

        exchange.load_time_difference = load_time_difference
        call = failing(ccxt.InvalidNonce('binance {"code":-1021}'))
        assert await caller.call("fetch_balance", call) == "ok"
        return len(resyncs), caller.stats["clock_resyncs"]

    assert run_with_exchange(scenario) == (1, 1)


def test_the_rate_gate_never_shortens_a_closure():
    clock = FakeTime()
    gate = RateGate(clock.monotonic)
    gate.close_for(10)
    gate.close_for(1)
    assert gate.remaining_s() == 10
    clock.now = 10.5
    assert gate.remaining_s() == 0
