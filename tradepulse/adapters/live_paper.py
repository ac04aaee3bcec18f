"""Paper trading on live prices: the paper venue fed by an exchange's public market data through ccxt.

The paper stage of a strategy's promotion runs here: real-time trades and order book from the
exchange (no keys: public data only), orders filled by the paper venue walking that live book,
nothing sent to the exchange (freqtrade's dry-run, NautilusTrader's sandbox). The exchange's own
markets give the instruments (tick, lot, minimums), so an order the exchange would refuse for its
grid is refused here too.

Selected in the service config by ``[venue] kind = "paper"`` and a strategy's ``feed = "live"``
(the exchange is ``[venue] exchange``; ``TRADEPULSE_<EXCHANGE>_URL`` points it at a local venue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradepulse.adapters.ccxt.exchange import create_exchange, instrument_from_market
from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.adapters.kit import MarketRequest, VenueKit, VenueSettings
from tradepulse.adapters.live_merge import LiveMergedFeed
from tradepulse.adapters.paper.venue import PaperVenue
from tradepulse.errors import ConfigError
from tradepulse.model.aio import run_sync
from tradepulse.model.clock import WallClock
from tradepulse.model.costs import Costs
from tradepulse.model.instruments import Instrument
from tradepulse.sim.market import FeeSchedule, LatencyModel

__all__ = ["LIVE_FEED", "build_live_paper_kit", "exchange_instruments"]

#: The feed text that asks for the exchange's live public data on a paper venue.
LIVE_FEED = "live"
#: Book levels per side the feed passes on, for the paper venue to walk.
DEPTH_LEVELS = 20


async def _load_instruments(exchange_id: str, symbols: Sequence[str], options: Mapping[str, Any] | None,
                            environ: Mapping[str, str]) -> dict[str, Instrument]:
    exchange = create_exchange(exchange_id, config=options, environ=environ)
    try:
        markets = await exchange.load_markets()
        found = {}
        for symbol in symbols:
            market = markets.get(symbol)
            instrument = instrument_from_market(market, exchange.precisionMode) if market else None
            if instrument is None:
                raise ConfigError(f"{exchange_id} lists no spot market {symbol} with a fixed price and amount grid")
            found[symbol] = instrument
        return found
    finally:
        await exchange.close()


def exchange_instruments(exchange_id: str, symbols: Sequence[str], options: Mapping[str, Any] | None = None,
                         environ: Mapping[str, str] | None = None) -> dict[str, Instrument]:
    """The exchange's instruments for ``symbols`` (public ``load_markets``; works inside a running loop too)."""
    return run_sync(_load_instruments(exchange_id, symbols, options, environ or {}))


def build_live_paper_kit(settings: VenueSettings, market: MarketRequest, environ: Mapping[str, str]) -> VenueKit:
    """A paper venue on ``settings.exchange``'s instruments, fed by its live trades and book for every member."""
    options = dict(settings.options) or None
    instruments = exchange_instruments(settings.exchange, market.members, options, environ)
    quotes = {instrument.quote for instrument in instruments.values()}
    if len(quotes) != 1:
        raise ConfigError(f"a paper account trades out of one quote currency; {', '.join(market.members)} are quoted in "
                          f"{', '.join(sorted(quotes))}")
    clock = WallClock()
    venue = PaperVenue(
        list(instruments.values()), clock=clock.now, balances={quotes.pop(): settings.init_cash},
        fees=FeeSchedule(maker_bps=settings.fees_bps, taker_bps=settings.fees_bps),
        latency=LatencyModel(fixed_ms=settings.latency_ms) if settings.latency_ms else None,
        allow_short=settings.allow_short, name="paper",
    )
    feeds = [CcxtFeed.create(settings.exchange, symbol, config=options, environ=environ, depth_levels=DEPTH_LEVELS)
             for symbol in market.members]
    return VenueKit(
        venue=venue, feed=feeds[0] if len(feeds) == 1 else LiveMergedFeed(feeds), costs=Costs(fees_bps=float(settings.fees_bps)),
        clock=clock, bar_period=market.bar, persistent=False, default_capital=settings.init_cash,
        # Live books move between the signal and the fill: keep a little back, as on an exchange.
        cash_reserve_fraction=max(market.cash_reserve_fraction, Decimal("0.001")),
    )
