"""The paper venue on the real recorded Binance book: walking levels, partial fills, limits crossing."""

from __future__ import annotations

import asyncio

import pytest
from venue_helpers import D, ManualClock, make_order, paper_venue, recorded

from tradepulse.adapters.paper import FeeSchedule, VenueFill, VenueOrderStatus
from tradepulse.model.book import OrderBook
from tradepulse.model.events import BookTicker, DepthDiff, DepthSnapshot
from tradepulse.adapters.paper.feeds import get_recording

SPOT_BTC = get_recording("binance:BTC/USDT").instrument


@pytest.fixture(scope="module")
def btc_events():
    """The first recorded BTC file (it holds the REST snapshot), parsed once."""
    return list(recorded(first_file_only=True))


def synced_venue(events, *, until_synced_plus: int = 50, **options):
    """A paper venue fed the recording until its book is in sync (plus a few more events)."""
    clock = ManualClock()
    venue = paper_venue(clock, instrument=SPOT_BTC, **options)
    asyncio.run(venue.connect())
    fed = 0
    for index, event in enumerate(events):
        clock.at = event.at
        venue.on_market(event)
        if venue.market("BTC/USDT").book.synced:
            fed += 1
            if fed >= until_synced_plus:
                return venue, clock, index + 1
    raise AssertionError("the recording never synced the book")


def test_the_book_rebuilt_from_snapshot_and_diffs_matches_the_recorded_best_quotes(btc_events):
    book, tickers, matches, checks = OrderBook("BTC/USDT"), [], 0, 0
    for event in btc_events:
        if isinstance(event, BookTicker):
            tickers.append(event)
        elif isinstance(event, DepthSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, DepthDiff) and book.apply_diff(event):
            assert not book.crossed
            ticker = max((t for t in tickers[-50:] if t.update_id <= event.last_update_id), key=lambda t: t.update_id)
            checks += 1
            matches += book.best_bid() == (ticker.bid, ticker.bid_quantity) and book.best_ask() == (ticker.ask, ticker.ask_quantity)
    assert book.synced and book.gaps == 0
    assert checks > 3_000 and matches == checks


def test_a_market_buy_larger_than_the_best_level_walks_the_book_at_the_recorded_prices(btc_events):
    venue, _, _ = synced_venue(btc_events, quote="10000000")
    asks = list(venue.market("BTC/USDT").book.levels("asks"))
    quantity = asks[0][1] + asks[1][1] + asks[2][1] / 2
    answer = asyncio.run(venue.submit_order(make_order("tp-t-1", "buy", str(quantity))))
    fills = [u for u in venue.updates().drain_nowait() if isinstance(u, VenueFill)]
    assert answer.status is VenueOrderStatus.FILLED
    assert [(f.price, f.quantity) for f in fills] == [asks[0], asks[1], (asks[2][0], asks[2][1] / 2)]
    vwap = sum(f.price * f.quantity for f in fills) / quantity
    assert asks[0][0] < vwap < asks[2][0] and answer.average_price == SPOT_BTC.round_price(vwap)


def test_liquidity_taken_is_not_offered_again_until_the_level_is_updated(btc_events):
    venue, _, _ = synced_venue(btc_events, quote="10000000")
    best_price, best_quantity = next(venue.market("BTC/USDT").book.levels("asks"))
    asyncio.run(venue.submit_order(make_order("tp-t-1", "buy", str(best_quantity))))
    second = asyncio.run(venue.submit_order(make_order("tp-t-2", "buy", str(best_quantity))))
    assert second.average_price > best_price


def test_a_market_order_beyond_the_whole_book_fills_partially_and_the_rest_expires(btc_events):
    venue, _, _ = synced_venue(btc_events, base="100000", quote="0")
    depth = venue.market("BTC/USDT").book.depth("bids")
    answer = asyncio.run(venue.submit_order(make_order("tp-t-1", "sell", str(depth + 5))))
    assert answer.status is VenueOrderStatus.EXPIRED
    assert answer.filled_quantity == depth and "could not fill" in answer.reason
    assert asyncio.run(venue.balances())["BTC"].free == D("100000") - depth


def test_fill_or_kill_beyond_the_depth_expires_without_trading_and_ioc_stops_at_its_limit(btc_events):
    venue, _, _ = synced_venue(btc_events, quote="10000000")
    asks = list(venue.market("BTC/USDT").book.levels("asks"))
    too_much = asks[0][1] + asks[1][1]
    fok = asyncio.run(venue.submit_order(make_order("tp-t-1", "buy", str(too_much), limit=str(asks[0][0]), tif="FOK")))
    ioc = asyncio.run(venue.submit_order(make_order("tp-t-2", "buy", str(too_much), limit=str(asks[0][0]), tif="IOC")))
    assert fok.status is VenueOrderStatus.EXPIRED and fok.filled_quantity == 0
    assert ioc.status is VenueOrderStatus.EXPIRED and ioc.filled_quantity == asks[0][1] and ioc.average_price == asks[0][0]


def test_a_resting_bid_fills_as_maker_at_its_price_when_the_recorded_market_comes_down_to_it(btc_events):
    venue, clock, position = synced_venue(btc_events, quote="1000000", fees=FeeSchedule(maker_bps=1, taker_bps=10))
    best_bid = venue.market("BTC/USDT").book.best_bid()[0]
    limit = best_bid - D("5.00")
    asyncio.run(venue.submit_order(make_order("tp-t-1", "buy", "0.01", limit=str(limit))))
    for event in btc_events[position:]:
        clock.at = event.at
        venue.on_market(event)
        if asyncio.run(venue.fetch_order("BTC/USDT", "tp-t-1")).status is VenueOrderStatus.FILLED:
            break
    trades = asyncio.run(venue.my_trades("BTC/USDT"))
    assert trades, "the recorded market never reached the bid; pick a closer limit"
    assert {(t.price, t.is_maker) for t in trades} == {(limit, True)}
    assert sum(t.quantity for t in trades) == D("0.01")
    assert sum(t.fee for t in trades) == SPOT_BTC.quantize_quote(limit * D("0.01") * D("0.0001"))
