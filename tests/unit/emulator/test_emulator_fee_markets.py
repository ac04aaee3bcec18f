"""The BNBUSDT market a venue lists for BNB fees: Binance's filters, a fixed price on every endpoint, no trading.

The recordings hold no BNB ticks, so the price is the configured constant. These tests go through
the venue's real aiohttp application; ccxt against it is in tests/integration/test_ccxt_bnb_fees.py.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tradepulse.emulator import AccountSpec, VenueConfig
from tradepulse.emulator.app import Venue, make_app
from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.market import is_known_stream
from tradepulse.emulator.matching import OrderRequest
from tradepulse.emulator.symbols import FEE_ASSET_SYMBOLS, exchange_info_symbol

D = Decimal


@pytest.fixture(scope="module")
def venue() -> Venue:
    built = Venue(VenueConfig(start_offset_s=30, fee_asset_prices={"BNB": D("560")}))
    built.replayer.warm_up()
    return built


def get(venue: Venue, *requests: tuple[str, dict]) -> list:
    async def answers() -> list:
        async with TestClient(TestServer(make_app(venue))) as client:
            out = []
            for path, params in requests:
                answer = await client.get(f"/api/v3/{path}", params=params)
                out.append((answer.status, await answer.json()))
            return out
    return asyncio.run(answers())


def test_bnbusdt_is_listed_with_binances_filters_and_as_not_trading(venue):
    [(status, info)] = get(venue, ("exchangeInfo", {}))
    assert status == 200 and [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    bnb = info["symbols"][2]
    assert bnb == exchange_info_symbol(FEE_ASSET_SYMBOLS["BNB"])
    filters = {f["filterType"]: f for f in bnb["filters"]}
    assert bnb["status"] == "BREAK" and (bnb["baseAsset"], bnb["quoteAsset"]) == ("BNB", "USDT")
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000" and filters["LOT_SIZE"]["stepSize"] == "0.00100000"
    assert filters["LOT_SIZE"]["minQty"] == "0.00100000" and filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert [s["status"] for s in info["symbols"][:2]] == ["TRADING", "TRADING"]


def test_every_price_endpoint_shows_the_configured_price_and_nothing_has_traded(venue):
    one = {"symbol": "BNBUSDT"}
    (_, ticker), (_, mini), (_, price), (_, book), (_, depth), (_, average), (_, trades), (_, klines) = get(
        venue, ("ticker/24hr", one), ("ticker/24hr", {**one, "type": "MINI"}), ("ticker/price", one),
        ("ticker/bookTicker", one), ("depth", one), ("avgPrice", one), ("trades", one),
        ("klines", {**one, "interval": "1m"}))
    for key in ("lastPrice", "openPrice", "highPrice", "lowPrice", "prevClosePrice", "weightedAvgPrice"):
        assert ticker[key] == "560.00000000", key
    assert ticker["volume"] == ticker["quoteVolume"] == "0.00000000" and ticker["count"] == 0
    assert (ticker["bidPrice"], ticker["askPrice"]) == ("559.99000000", "560.01000000")
    assert mini["lastPrice"] == "560.00000000" and "bidPrice" not in mini
    assert price == {"symbol": "BNBUSDT", "price": "560.00000000"}
    assert (book["bidPrice"], book["askPrice"]) == ("559.99000000", "560.01000000")
    assert depth["bids"] == [["559.99000000", "1.00000000"]] and depth["asks"] == [["560.01000000", "1.00000000"]]
    assert average["price"] == "560.00000000"
    assert trades == [] and klines == []


def test_the_all_symbols_tickers_include_it_and_the_replayed_markets_are_unchanged(venue):
    (_, tickers), (_, prices), (_, chosen) = get(
        venue, ("ticker/24hr", {}), ("ticker/price", {}), ("ticker/24hr", {"symbols": '["BNBUSDT","BTCUSDT"]'}))
    assert [t["symbol"] for t in tickers] == ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    assert prices[2]["price"] == "560.00000000" and D(prices[0]["price"]) == venue.markets["BTCUSDT"].last_price()
    assert [t["symbol"] for t in chosen] == ["BNBUSDT", "BTCUSDT"] and chosen[1]["count"] > 0


def test_an_order_on_it_is_refused_as_binance_refuses_one_on_a_closed_market(venue):
    account = venue.accounts.add("bnb-trader", "s", {"USDT": "10000", "BNB": "1"})
    for request in (OrderRequest("BNBUSDT", "BUY", "MARKET", D("1")),
                    OrderRequest("BNBUSDT", "SELL", "LIMIT", D("0.5"), price=D("560"), time_in_force="GTC")):
        with pytest.raises(ApiError) as refused:
            venue.engine.place(account, request)
        assert refused.value.body() == {"code": -2010, "msg": "Market is closed."}
    assert account.balance("USDT").free == 10000 and account.balance("BNB").free == 1
    assert venue.engine.open_orders(account, "BNBUSDT") == [] and venue.engine.resting_count() == 0


def test_it_has_no_streams_and_shows_in_the_venue_state(venue):
    assert not is_known_stream("bnbusdt@trade", venue.market_hub.symbols)
    assert is_known_stream("btcusdt@trade", venue.market_hub.symbols)
    bnb = venue.state()["markets"]["BNBUSDT"]
    assert (bnb["bestBid"], bnb["bestAsk"], bnb["lastTradeId"]) == ("559.99000000", "560.01000000", None)


def test_a_venue_that_needs_no_bnb_lists_only_what_it_replays():
    plain = Venue(VenueConfig(start_offset_s=5, accounts=(AccountSpec("k", "s"),)))
    assert list(plain.markets) == ["BTCUSDT", "ETHUSDT"] == list(plain.specs)
    [(status, body)] = get(plain, ("ticker/price", {"symbol": "BNBUSDT"}))
    assert status == 400 and body["code"] == -1121
