"""Valuing a fee charged in a third currency: the venue's own price, or one clear refusal when it lists no such market.

ccxt's real ``binance`` class against the local venue, whose BNBUSDT market is listed at its
configured fee-asset price. A currency with no ``<fee>/<quote>`` market cannot be valued: the rate
lookup says so in one sentence, and the fill is passed on without a rate (the OMS then refuses it
and the engine halts rather than guess a price).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from emulator_fixtures import VENUE_API_KEY, VENUE_API_SECRET, new_account, run

from tradepulse.adapters.ccxt.fees import FeeRates, FeeValuingOutbox
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.emulator import AccountSpec, VenueConfig, VenueThread
from tradepulse.errors import VenueError
from tradepulse.execution.portfolio import fee_in_quote
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import InvalidOrder, Side
from tradepulse.model.venue import UpdateStream, VenueFill

BTC = "BTC/USDT"


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    with VenueThread(VenueConfig(fee_asset_prices={"BNB": D("612.5")}), accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),)) as running:
        yield running


def fill_charged_in(currency: str) -> VenueFill:
    return VenueFill("t-1", "tp-fees-1", BTC, Side.BUY, D("0.001"), D("60000"), datetime.now(UTC), fee=D("0.00007"),
                     fee_currency=currency)


def test_a_bnb_fee_is_valued_at_the_venues_bnb_price_and_an_unlisted_currency_is_refused(venue):
    key, secret = new_account(venue, {"USDT": "1000"})
    env = {"TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
           "TRADEPULSE_BINANCE_URL": venue.endpoints.base_url}

    async def scenario():
        adapter = CcxtVenue.create("binance", environ=env, symbols=[BTC], retry=RetryPolicy(seed=2), use_websocket=False)
        await adapter.connect()
        try:
            rates = FeeRates(adapter.exchange, adapter.caller)
            bnb = await rates.rate("BNB", "USDT")
            with pytest.raises(VenueError, match="no XYZ/USDT market to value a fee charged in XYZ"):
                await rates.rate("XYZ", "USDT")
            outbox = FeeValuingOutbox(UpdateStream(), rates, lambda symbol: ("BTC", "USDT") if symbol == BTC else None)
            return bnb, await outbox.valued(fill_charged_in("BNB")), await outbox.valued(fill_charged_in("XYZ"))
        finally:
            await adapter.close()

    bnb, valued, unvalued = run(scenario())
    assert bnb == D("612.5") and valued.fee_quote_rate == D("612.5")
    assert valued.to_fill().fee_quote_rate == D("612.5")  # what the OMS journals with the fill
    assert unvalued.fee_quote_rate is None
    # Without a rate the fee cannot be accounted: the OMS refuses the fill (and the engine halts) rather than guess.
    btc = Instrument("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), lot_size=D("0.00001"), min_quantity=D("0.00001"),
                     min_notional=D("5"))
    assert fee_in_quote(btc, valued.to_fill()) == D("0.042875")  # 0.00007 BNB at 612.5 USDT
    with pytest.raises(InvalidOrder, match="needs fee_quote_rate"):
        fee_in_quote(btc, unvalued.to_fill())
