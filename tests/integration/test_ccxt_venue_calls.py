"""Every ccxt call the adapter and the feed make, for real, against the local Binance-compatible venue.

The adapter is built exactly as in production (``CcxtVenue.create`` reading ``TRADEPULSE_BINANCE_*``
variables), pointed at the venue with ``TRADEPULSE_BINANCE_URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from emulator_fixtures import binance_client, eventually, new_account, run, user_stream_ready, venue  # noqa: F401

from tradepulse.emulator import VenueThread
from tradepulse.errors import InsufficientFunds, OrderNotFound, OrderRejected
from tradepulse.model.orders import Order, OrderType, Side
from tradepulse.adapters.paper import Venue
from tradepulse.model.venue import OrderUpdate, VenueFill
from tradepulse.model.venue import VenueOrderStatus as S
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.model.events import BarClose, BookTicker, DepthSnapshot, Trade

BTC = "BTC/USDT"


def adapter_env(venue: VenueThread, key: str, secret: str) -> dict[str, str]:
    return {"TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
            "TRADEPULSE_BINANCE_URL": venue.endpoints.base_url}


@contextlib.asynccontextmanager
async def connected(venue: VenueThread, key: str, secret: str, **options) -> AsyncIterator[CcxtVenue]:
    adapter = CcxtVenue.create("binance", environ=adapter_env(venue, key, secret), symbols=[BTC, "ETH/USDT"],
                               retry=RetryPolicy(seed=1), **options)
    try:
        await adapter.connect()
        yield adapter
    finally:
        await adapter.close()


def order(client_order_id: str, quantity: str, limit: str | None = None, side: Side = Side.BUY) -> Order:
    kind = OrderType.LIMIT if limit else OrderType.MARKET
    return Order(client_order_id, BTC, side, kind, D(quantity), datetime.now(UTC), limit_price=D(limit) if limit else None)


async def far_bid(adapter: CcxtVenue) -> str:
    """A buy price 10 % under the best bid: it rests, inside the venue's price band."""
    book = await adapter.exchange.fetch_order_book(BTC, 5)
    return format((D(repr(book["bids"][0][0])) * D("0.9")).quantize(D("0.01")), "f")


def test_connect_loads_instruments_from_the_venue_filters_and_exact_balances(venue):
    key, secret = new_account(venue, {"USDT": "1000.5", "BTC": "0.25"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            return adapter, await adapter.instruments(), await adapter.balances()

    adapter, instruments, balances = run(scenario())
    assert isinstance(adapter, Venue) and adapter.name == "binance"
    btc, eth = instruments[BTC], instruments["ETH/USDT"]
    assert (btc.tick_size, btc.lot_size, btc.min_quantity, btc.min_notional) == (D("0.01"), D("0.00001"), D("0.00001"), D("5"))
    assert (eth.lot_size, eth.base, eth.quote) == (D("0.0001"), "ETH", "USDT")
    assert balances["USDT"].free == D("1000.5") and balances["BTC"].total == D("0.25") and "ETH" not in balances


def test_a_market_order_fills_with_venue_trade_ids_that_my_trades_and_balances_confirm(venue):
    key, secret = new_account(venue, {"USDT": "1000", "BTC": "0.5"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            answer = await adapter.submit_order(order("tp-calls-1", "0.00100"))
            published = adapter.updates().drain_nowait()
            fetched = await adapter.fetch_order(BTC, "tp-calls-1")
            trades = await adapter.my_trades(BTC)
            balances = await adapter.balances()
        async with connected(venue, key, secret) as restarted:  # knows nothing: looks the order up by its venue id
            trades_after_restart = await restarted.my_trades(BTC)
        async with binance_client(venue, key, secret) as plain:
            at_venue = await plain.fetch_order(None, BTC, params={"origClientOrderId": "tp-calls-1"})
        return answer, published, fetched, trades, balances, at_venue, trades_after_restart

    answer, published, fetched, trades, balances, at_venue, trades_after_restart = run(scenario())
    assert trades_after_restart == trades
    assert answer.status is S.FILLED and answer.filled_quantity == D("0.001") and fetched.status is S.FILLED
    assert at_venue["clientOrderId"] == "tp-calls-1" and at_venue["id"] == answer.venue_order_id
    fills = [u for u in published if isinstance(u, VenueFill)]
    assert fills and {f.trade_id for f in fills} == {t.trade_id for t in trades}
    assert all(t.client_order_id == "tp-calls-1" and t.venue_order_id == answer.venue_order_id for t in trades)
    assert sum(t.quantity for t in trades) == D("0.001") and all(t.fee_currency == "BTC" for t in trades)
    spent = sum(t.price * t.quantity for t in trades)
    assert balances["USDT"].free == D("1000") - spent
    assert balances["BTC"].free == D("0.5") + D("0.001") - sum(t.fee for t in trades)


def test_a_resting_order_is_listed_fetched_and_cancelled_idempotently(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            price = await far_bid(adapter)
            placed = await adapter.submit_order(order("tp-calls-2", "0.00100", price))
            listed = await adapter.open_orders(BTC)
            listed_everywhere = await adapter.open_orders()
            locked = (await adapter.balances())["USDT"].locked
        async with connected(venue, key, secret) as restarted:  # cancels by client order id: it never saw the venue id
            cancelled = await restarted.cancel_order(BTC, "tp-calls-2")
            again = await restarted.cancel_order(BTC, "tp-calls-2")  # a retried cancel must not fail
            after = await restarted.open_orders(BTC)
        return price, placed, listed, listed_everywhere, locked, cancelled, again, after

    price, placed, listed, listed_everywhere, locked, cancelled, again, after = run(scenario())
    assert placed.status is S.NEW and [u.client_order_id for u in listed] == ["tp-calls-2"]
    assert [u.client_order_id for u in listed_everywhere] == ["tp-calls-2"]
    assert locked == D(price) * D("0.001")
    assert cancelled.status is S.CANCELED and cancelled.client_order_id == "tp-calls-2"
    assert again.status is S.CANCELED and after == []


def test_refusals_and_unknown_orders_raise_the_protocol_errors(venue):
    key, secret = new_account(venue, {"USDT": "100", "BTC": "0.01"})

    async def scenario():
        outcomes = {}
        async with connected(venue, key, secret) as adapter:
            price = await far_bid(adapter)
            for name, attempt in {
                "off_lot_grid": lambda: adapter.submit_order(order("tp-calls-3", "0.000015")),
                "too_expensive": lambda: adapter.submit_order(order("tp-calls-4", "0.01000", price)),
                "unknown_fetch": lambda: adapter.fetch_order(BTC, "tp-never-sent"),
                "unknown_cancel": lambda: adapter.cancel_order(BTC, "tp-never-sent"),
                "not_listed": lambda: adapter.submit_order(Order("tp-calls-5", "DOGE/USDT", Side.BUY, OrderType.MARKET, D("1"),
                                                                 datetime.now(UTC))),
            }.items():
                try:
                    await attempt()
                except Exception as error:  # noqa: BLE001 - the type is what is checked
                    outcomes[name] = error
            await adapter.submit_order(order("tp-calls-6", "0.00100", side=Side.SELL))
            try:
                await adapter.cancel_order(BTC, "tp-calls-6")
            except Exception as error:  # noqa: BLE001
                outcomes["cancel_filled"] = error
        return outcomes

    outcomes = run(scenario())
    assert isinstance(outcomes["off_lot_grid"], OrderRejected) and "lot size" in str(outcomes["off_lot_grid"])
    assert isinstance(outcomes["too_expensive"], InsufficientFunds)
    assert isinstance(outcomes["unknown_fetch"], OrderNotFound) and isinstance(outcomes["unknown_cancel"], OrderNotFound)
    assert isinstance(outcomes["not_listed"], OrderRejected)
    assert isinstance(outcomes["cancel_filled"], OrderRejected) and "filled" in str(outcomes["cancel_filled"])


def test_the_user_stream_reports_orders_and_fills_placed_elsewhere_with_our_client_order_id(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            await user_stream_ready(venue, key)
            async with binance_client(venue, key, secret) as plain:
                placed = await plain.create_order(BTC, "market", "buy", 0.001, params={"clientOrderId": "tp-elsewhere-1"})
            seen: list = []

            async def has_fill_and_final_status():
                seen.extend(adapter.updates().drain_nowait())
                return any(isinstance(u, VenueFill) for u in seen) and any(
                    isinstance(u, OrderUpdate) and u.status is S.FILLED for u in seen)

            await eventually(has_fill_and_final_status)
            return placed, seen, await adapter.my_trades(BTC)

    placed, seen, trades = run(scenario())
    fills = [u for u in seen if isinstance(u, VenueFill)]
    assert {f.trade_id for f in fills} == {t.trade_id for t in trades}
    assert all(f.client_order_id == "tp-elsewhere-1" and f.venue_order_id == placed["id"] for f in fills)
    assert all(u.client_order_id == "tp-elsewhere-1" for u in seen if isinstance(u, OrderUpdate))


def test_without_a_websocket_the_user_data_is_polled(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret, use_websocket=False, poll_interval_s=0.2) as adapter:
            assert adapter.user_stream.mode == "polling"
            await adapter.submit_order(order("tp-calls-7", "0.00100", await far_bid(adapter)))
            adapter.updates().drain_nowait()
            async with binance_client(venue, key, secret) as plain:  # cancelled behind the adapter's back
                await plain.cancel_order(None, BTC, params={"origClientOrderId": "tp-calls-7"})

            async def cancelled():
                return [u for u in adapter.updates().drain_nowait() if isinstance(u, OrderUpdate) and u.status is S.CANCELED]

            return await eventually(cancelled), adapter.stats

    updates, stats = run(scenario())
    assert updates[0].client_order_id == "tp-calls-7" and stats["user_stream_polls"] >= 1


def test_the_feed_yields_trades_book_tops_depth_and_closed_candles(venue):
    async def scenario(use_websocket: bool):
        feed = CcxtFeed.create("binance", BTC, exchange_url=venue.endpoints.base_url, depth_levels=5, poll_interval_s=0.2,
                               ohlcv_timeframe="1s", use_websocket=use_websocket)
        kinds: dict[type, list] = {}
        try:
            async for event in feed:
                kinds.setdefault(type(event), []).append(event)
                if all(len(kinds.get(kind, [])) >= 2 for kind in (Trade, BookTicker, DepthSnapshot, BarClose)):
                    feed.stop()
        finally:
            await feed.aclose()
        return kinds, feed.stats

    for use_websocket in (True, False):
        kinds, stats = run(scenario(use_websocket), timeout_s=30)
        trades = kinds[Trade]
        assert [int(t.trade_id) for t in trades] == sorted({int(t.trade_id) for t in trades})
        assert all(t.at.tzinfo is not None and t.price > 0 for t in trades)
        tops = kinds[BookTicker]
        assert all(t.bid < t.ask for t in tops)
        depth = kinds[DepthSnapshot][-1]
        assert len(depth.bids) == 5 and depth.bids[0][0] > depth.bids[-1][0] and depth.asks[0][0] < depth.asks[-1][0]
        bar = kinds[BarClose][0].bar
        assert bar.end - bar.start == (kinds[BarClose][1].bar.start - bar.start) and bar.high >= bar.low
        assert (stats["polls"] > 0) is (not use_websocket)


@pytest.mark.parametrize("symbol", ["DOGE/USDT"])
def test_the_feed_refuses_a_symbol_the_venue_does_not_list(venue, symbol):
    from tradepulse.errors import ConfigError

    async def scenario():
        feed = CcxtFeed.create("binance", symbol, exchange_url=venue.endpoints.base_url)
        try:
            async for _ in feed:
                break
        finally:
            await feed.aclose()

    with pytest.raises(ConfigError, match="does not list DOGE/USDT"):
        run(scenario())


def test_concurrent_calls_share_one_client(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            return await asyncio.gather(adapter.balances(), adapter.open_orders(BTC), adapter.my_trades(BTC))

    balances, opens, trades = run(scenario())
    assert balances["USDT"].free == D("1000") and opens == [] and trades == []
