"""The paper venue's kit: a replay feed, the paper venue on its market, simulated time."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradepulse.adapters.kit import MarketRequest, VenueKit, VenueSettings
from tradepulse.adapters.paper.feeds import open_feed
from tradepulse.adapters.paper.universe_feed import MergedFeed
from tradepulse.adapters.paper.venue import PaperVenue
from tradepulse.model.clock import SimulatedClock
from tradepulse.model.costs import Costs
from tradepulse.sim.market import FeeSchedule, LatencyModel

__all__ = ["build_kit"]


def build_kit(settings: VenueSettings, market: MarketRequest, environ: Mapping[str, str]) -> VenueKit:
    """Open ``market.feed`` (a sample, file, cache entry or recording) and a paper venue on its instrument.

    For a portfolio, one replay feed per member, merged on one clock, and one venue listing them all.
    ``feed = "live"`` trades on the exchange's live public data instead (:mod:`tradepulse.adapters.live_paper`).
    """
    if market.feed == "live":
        from tradepulse.adapters.live_paper import build_live_paper_kit

        return build_live_paper_kit(settings, market, environ)
    members = [open_feed(source, symbol=symbol) for symbol, source in zip(market.members, market.member_feeds, strict=True)]
    feed: Any = members[0] if len(members) == 1 else MergedFeed(members)
    clock = SimulatedClock(next(iter(feed.events())).at, speed=market.speed)
    instrument = feed.instrument
    venue = PaperVenue(
        [member.instrument for member in members], clock=clock.now, balances={instrument.quote: settings.init_cash},
        fees=FeeSchedule(maker_bps=settings.fees_bps, taker_bps=settings.fees_bps),
        latency=LatencyModel(fixed_ms=settings.latency_ms) if settings.latency_ms else None,
        allow_short=settings.allow_short, name="paper",
    )
    ticks = feed.kind == "ticks"
    return VenueKit(
        venue=venue, feed=feed, costs=Costs(fees_bps=float(settings.fees_bps)), clock=clock,
        bar_period=market.bar if ticks else None, persistent=False, default_capital=settings.init_cash,
        # A bar replay must match the backtest exactly; ticks walk real books and keep a little back.
        cash_reserve_fraction=Decimal("0.001") if ticks else Decimal(0),
    )
