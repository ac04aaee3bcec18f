"""An exchange's kit through ccxt: the venue adapter, its market-data feed, the wall clock."""

from __future__ import annotations

from collections.abc import Mapping

from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.kit import MarketRequest, VenueKit, VenueSettings
from tradepulse.model.clock import WallClock
from tradepulse.model.costs import Costs

__all__ = ["build_kit"]

# What sizing assumes a taker pays when a buy is capped by cash: Binance's standard spot fee.
_SIZING_FEES_BPS = 10.0


def build_kit(settings: VenueSettings, market: MarketRequest, environ: Mapping[str, str]) -> VenueKit:
    """Build the adapter and feed for ``market.symbol`` on ``settings.exchange`` (keys from ``environ``)."""
    options = dict(settings.options) or None
    venue = CcxtVenue.create(settings.exchange, environ=environ, symbols=[market.symbol], retry=RetryPolicy(), config=options)
    feed = CcxtFeed.create(settings.exchange, market.symbol, environ=environ, config=options)
    return VenueKit(
        venue=venue, feed=feed, costs=Costs(fees_bps=_SIZING_FEES_BPS), clock=WallClock(), bar_period=market.bar,
        persistent=True, default_capital=None, cash_reserve_fraction=market.cash_reserve_fraction,
    )
