"""An exchange's kit through ccxt: the venue adapter, its market-data feed, the wall clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.kit import MarketRequest, VenueKit, VenueSettings
from tradepulse.adapters.live_merge import LiveMergedFeed
from tradepulse.model.clock import WallClock
from tradepulse.model.costs import Costs

__all__ = ["build_kit"]

# What sizing assumes a taker pays when a buy is capped by cash: Binance's standard spot fee.
_SIZING_FEES_BPS = 10.0


def build_kit(settings: VenueSettings, market: MarketRequest, environ: Mapping[str, str]) -> VenueKit:
    """Build the adapter and feed for ``market.symbol`` on ``settings.exchange`` (keys from ``environ``).

    A portfolio gets one adapter (one account) listing every member, and one feed per member merged.
    """
    options = dict(settings.options) or None
    venue = CcxtVenue.create(settings.exchange, environ=environ, symbols=list(market.members), retry=RetryPolicy(), config=options)
    feeds = [CcxtFeed.create(settings.exchange, symbol, environ=environ, config=options) for symbol in market.members]
    feed: Any = feeds[0] if len(feeds) == 1 else LiveMergedFeed(feeds)
    return VenueKit(
        venue=venue, feed=feed, costs=Costs(fees_bps=_SIZING_FEES_BPS), clock=WallClock(), bar_period=market.bar,
        persistent=True, default_capital=None, cash_reserve_fraction=market.cash_reserve_fraction,
    )
