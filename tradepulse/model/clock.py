"""Clocks for the engine: simulated time for replays, wall time for live trading.

Everything in the engine — the OMS, the risk breakers, the paper venue's latency, the journal's
timestamps during a replay — asks one clock for "now". In a replay that clock is
:class:`SimulatedClock`, moved forward by the feed's event times, so a replay of an hour of data
takes as long as the computation (``speed=None``) or an hour divided by ``speed``; nothing ever
sleeps in simulated time, which is also why tests stay fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from tradepulse.errors import ConfigError

__all__ = ["EngineClock", "SimulatedClock", "WallClock"]


@runtime_checkable
class EngineClock(Protocol):
    """What the engine needs from a clock.

    ``now()`` returns an aware UTC ``datetime``; ``advance_to(at)`` is awaited with each market
    event's time before the engine handles it; ``simulated`` says whether time is the feed's.
    """

    simulated: bool

    def now(self) -> datetime: ...

    async def advance_to(self, at: datetime) -> None: ...


class SimulatedClock:
    """Time taken from the events being replayed, optionally paced against the wall clock.

    Parameters
    ----------
    start
        Initial time; the first event's time when omitted (``now()`` before any event raises).
    speed
        ``None`` replays as fast as possible; ``X`` replays at X times real time (``speed=60``
        turns an hour of data into a minute).
    sleep, monotonic
        The pacing primitives (``asyncio.sleep`` and ``time.monotonic``); injectable so pacing
        can be checked without waiting.

    Examples
    --------
    >>> import asyncio
    >>> from datetime import datetime, timezone
    >>> clock = SimulatedClock()
    >>> asyncio.run(clock.advance_to(datetime(2024, 8, 9, tzinfo=timezone.utc)))
    >>> clock.now().isoformat()
    '2024-08-09T00:00:00+00:00'
    """

    simulated = True

    def __init__(
        self,
        start: datetime | None = None,
        *,
        speed: float | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and not (speed > 0 and speed != float("inf")):
            raise ConfigError(f"replay speed must be a positive number (or max), got {speed!r}")
        self.speed = speed
        self._now = start
        self._sleep = sleep
        self._monotonic = monotonic
        self._anchor: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        """The current simulated time."""
        if self._now is None:
            raise ConfigError("the simulated clock has not started: no event has been replayed yet")
        return self._now

    async def advance_to(self, at: datetime) -> None:
        """Move time forward to ``at`` (never backwards), waiting on the wall clock when paced."""
        if at.tzinfo is None:
            raise ConfigError(f"event times must be timezone-aware, got {at.isoformat()}")
        if self._now is not None and at <= self._now:
            return
        if self.speed is not None:
            await self._pace(at)
        self._now = at

    async def _pace(self, at: datetime) -> None:
        # Pace against a fixed anchor rather than event to event, so rounding in each sleep does
        # not accumulate into drift over a long replay.
        if self._anchor is None:
            self._anchor = (self._now or at, self._monotonic())
        start, wall_start = self._anchor
        due = wall_start + (at - start).total_seconds() / self.speed
        delay = due - self._monotonic()
        if delay > 0:
            await self._sleep(delay)


class WallClock:
    """The real UTC time; events arrive when they happen, so advancing is a no-op."""

    simulated = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def advance_to(self, at: datetime) -> None:
        return None
