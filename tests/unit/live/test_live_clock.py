"""The simulated clock: time from the events, optionally paced against an injected wall clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tradepulse.errors import ConfigError
from tradepulse.model.clock import SimulatedClock, WallClock

AT = datetime(2024, 8, 9, tzinfo=UTC)


class FakeWall:
    """Wall time that moves only when the clock sleeps, recording each sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def test_replaying_at_a_speed_waits_the_event_spacing_divided_by_the_speed():
    wall = FakeWall()
    clock = SimulatedClock(speed=60, sleep=wall.sleep, monotonic=wall.monotonic)

    async def replay():
        for minutes in (0, 1, 3, 3, 10):
            await clock.advance_to(AT + timedelta(minutes=minutes))

    asyncio.run(replay())
    assert clock.now() == AT + timedelta(minutes=10)
    assert sum(wall.sleeps) == pytest.approx(10.0)  # ten minutes of data at 60x
    assert wall.sleeps == pytest.approx([1.0, 2.0, 7.0])


def test_as_fast_as_possible_never_sleeps_and_time_never_goes_back():
    wall = FakeWall()
    clock = SimulatedClock(sleep=wall.sleep, monotonic=wall.monotonic)

    async def replay():
        await clock.advance_to(AT + timedelta(hours=5))
        await clock.advance_to(AT)

    asyncio.run(replay())
    assert wall.sleeps == [] and clock.now() == AT + timedelta(hours=5)


def test_a_clock_without_events_has_no_time_and_bad_speeds_are_refused():
    with pytest.raises(ConfigError, match="has not started"):
        SimulatedClock().now()
    for speed in (0, -2, float("inf")):
        with pytest.raises(ConfigError):
            SimulatedClock(speed=speed)
    assert not WallClock.simulated and WallClock().now().tzinfo is UTC
