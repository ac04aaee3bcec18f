"""The venue's two clocks: server time (``/api/v3/time``) and market time (replayed events).

Server time is the wall clock plus any injected skew; signed-request timestamps are checked against
it. Market time stamps everything the replay causes (event ``E``/``T``, klines, order and fill
times). At speed 1 both read the same; at speed ``s`` market time advances ``s`` times faster, so
an accelerated replay's candles close on schedule while clients' signatures stay valid.
"""

from __future__ import annotations

import time

__all__ = ["VenueClock"]


class VenueClock:
    """Server and market clocks of one venue.

    Parameters
    ----------
    speed
        How many market milliseconds pass per wall millisecond.
    """

    def __init__(self, speed: float = 1.0) -> None:
        self.skew_ms = 0
        self._speed = speed
        self._anchor_market_ms = time.time() * 1000.0
        self._anchor_monotonic = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the replay speed from now on (market time never jumps)."""
        now = self.market_ms_float()
        self._anchor_market_ms, self._anchor_monotonic = now, time.monotonic()
        self._speed = speed

    def server_ms(self) -> int:
        """Return server time in ms since the epoch (wall clock plus injected skew)."""
        return int(time.time() * 1000) + self.skew_ms

    def market_ms_float(self) -> float:
        return self._anchor_market_ms + (time.monotonic() - self._anchor_monotonic) * 1000.0 * self._speed

    def market_ms(self) -> int:
        """Return market time in ms since the epoch."""
        return int(self.market_ms_float())

    def wall_seconds_until(self, market_ms: float) -> float:
        """Return how many wall seconds remain until market time reaches ``market_ms``."""
        return (market_ms - self.market_ms_float()) / 1000.0 / self._speed
