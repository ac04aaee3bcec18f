"""Engines and adapters on the local venue, for tests that drive the execution path by hand.

- ``adapter_for(venue, key, secret, seed=...)``: an async context manager yielding a connected
  :class:`~tradepulse.adapters.ccxt.venue.CcxtVenue` (ccxt's real ``binance`` class) on ``venue``.
- ``started_engine(venue, key, secret, journal, retry=...)``: a started :class:`LiveEngine` on that
  account with an empty feed (orders are sent through ``engine.execution`` by the test); close
  ``engine.venue`` when done.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

from emulator_fixtures import no_events

from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.emulator import VenueThread
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.model.clock import WallClock
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.store import Journal
from tradepulse.strategy import load_strategy

__all__ = ["BTC", "adapter_for", "started_engine", "venue_environ"]

BTC = "BTC/USDT"


def venue_environ(venue: VenueThread, key: str, secret: str) -> dict[str, str]:
    """The ``TRADEPULSE_BINANCE_*`` variables that point the ccxt adapter at ``venue`` with this account."""
    return {"TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
            "TRADEPULSE_BINANCE_URL": venue.endpoints.base_url}


@contextlib.asynccontextmanager
async def adapter_for(venue: VenueThread, key: str, secret: str, *, seed: int = 4) -> AsyncIterator[CcxtVenue]:
    """A connected adapter on ``venue`` for this account, always closed."""
    adapter = CcxtVenue.create("binance", environ=venue_environ(venue, key, secret), symbols=[BTC],
                               retry=RetryPolicy(seed=seed, base_delay_s=0.05))
    try:
        await adapter.connect()
        yield adapter
    finally:
        await adapter.close()


async def started_engine(venue: VenueThread, key: str, secret: str, journal: Journal, *,
                         retry: RetryPolicy | None = None) -> LiveEngine:
    """A started engine on ``venue`` (wall clock, no loss breakers, capital 1,000 USDT, an empty feed)."""
    clock = WallClock()
    adapter = CcxtVenue.create("binance", environ=venue_environ(venue, key, secret), symbols=[BTC],
                               retry=retry or RetryPolicy(seed=3, base_delay_s=0.01))
    risk = RiskControls(RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=None), clock=clock.now,
                        symbols=[BTC], currency="USDT")
    engine = LiveEngine(load_strategy("sma_cross")(fast=2, slow=3), no_events(), adapter, journal, risk=risk, clock=clock,
                        config=EngineConfig(symbol=BTC, capital=Decimal("1000")))
    await engine.start()
    return engine
