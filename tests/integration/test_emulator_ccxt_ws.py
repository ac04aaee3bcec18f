"""ccxt.pro's real binance class against the local venue's WebSocket streams and WebSocket API."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import aiohttp
import ccxt
import pytest
from emulator_fixtures import binance_client, eventually, new_account, run, user_stream_ready, venue  # noqa: F401

from tradepulse.emulator import VenueThread
from tradepulse.emulator.auth import hmac_sha256_hex, ws_signature_payload

SYMBOL = "BTC/USDT"


def test_watch_trades_streams_replayed_trades_with_increasing_ids(venue):
    async def scenario():
        async with binance_client(venue) as exchange:
            seen = []
            while len(seen) < 5:
                seen.extend(await exchange.watch_trades(SYMBOL))
            return seen

    trades = run(scenario())
    ids = [int(t["id"]) for t in trades]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(t["symbol"] == SYMBOL and t["price"] > 0 for t in trades)
    assert abs(trades[-1]["timestamp"] - time.time() * 1000) < 10_000


def test_watch_order_book_stays_identical_to_the_rest_snapshot(venue):
    async def scenario():
        async with binance_client(venue) as exchange:
            for _ in range(5):
                book = await exchange.watch_order_book(SYMBOL)
            venue.call(lambda v: v.replayer.pause())
            try:
                # With the replay paused, wait until ccxt has applied the last published diff ...
                target = venue.call(lambda v: v.markets["BTCUSDT"].book.last_update_id)
                await eventually(lambda: _nonce_reached(exchange, target))
                book = exchange.orderbooks[SYMBOL]
                rest = await exchange.fetch_order_book(SYMBOL, limit=1000)
            finally:
                venue.call(lambda v: v.replayer.resume())
            return book, rest

    book, rest = run(scenario())
    # ... then the book built from snapshot + diffs is level for level the venue's REST snapshot.
    assert book["nonce"] == rest["nonce"]
    assert [list(level) for level in book["bids"][:100]] == [list(level) for level in rest["bids"][:100]]
    assert [list(level) for level in book["asks"][:100]] == [list(level) for level in rest["asks"][:100]]


async def _nonce_reached(exchange, target: int) -> bool:
    await asyncio.sleep(0)
    return exchange.orderbooks[SYMBOL]["nonce"] == target


def test_watch_ticker_and_watch_ohlcv_follow_the_replay(venue):
    async def scenario():
        async with binance_client(venue) as exchange:
            # watch_ticker subscribes <symbol>@miniTicker by default; name=ticker asks for @ticker (with bid/ask).
            mini = await exchange.watch_ticker("ETH/USDT")
            ticker = await exchange.watch_ticker(SYMBOL, params={"name": "ticker"})
            candles = await exchange.watch_ohlcv(SYMBOL, "1m")
            return ticker, mini, candles

    ticker, mini, candles = run(scenario())
    assert ticker["symbol"] == SYMBOL and ticker["bid"] < ticker["ask"] and ticker["last"] > 0
    assert mini["symbol"] == "ETH/USDT" and mini["last"] > 0
    open_time, o, h, l, c, v = candles[-1]
    assert open_time % 60_000 == 0 and h >= max(o, c) >= min(o, c) >= l


def test_user_data_streams_report_orders_fills_and_balances(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            orders_task = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
            trades_task = asyncio.ensure_future(exchange.watch_my_trades(SYMBOL))
            balance_task = asyncio.ensure_future(exchange.watch_balance())
            await user_stream_ready(venue, key)
            placed = await exchange.create_order(SYMBOL, "market", "buy", 0.001, params={"clientOrderId": "ws-user-1"})
            orders, trades, balance = await asyncio.gather(orders_task, trades_task, balance_task)
            return placed, orders, trades, balance

    placed, orders, trades, balance = run(scenario())
    assert orders[-1]["id"] == placed["id"] and orders[-1]["clientOrderId"] == "ws-user-1"
    assert trades[0]["order"] == placed["id"] and trades[0]["amount"] > 0
    fee = sum(t["fee"]["cost"] for t in placed["trades"])
    assert balance["BTC"]["free"] == pytest.approx(0.5 + 0.001 - fee, abs=1e-12)
    assert balance["USDT"]["free"] == pytest.approx(10000 - placed["cost"], abs=1e-6)


def test_a_resting_order_is_filled_by_recorded_trades_and_reported_as_maker(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            watcher = asyncio.ensure_future(exchange.watch_my_trades(SYMBOL))
            await user_stream_ready(venue, key)
            for _ in range(8):  # the market may move away from the bid; then try again at the new bid
                bid = (await exchange.fetch_order_book(SYMBOL, limit=5))["bids"][0][0]
                order = await exchange.create_order(SYMBOL, "limit", "buy", 0.0002, bid)
                try:
                    return order, await asyncio.wait_for(asyncio.shield(watcher), 8)
                except asyncio.TimeoutError:
                    await exchange.cancel_order(order["id"], SYMBOL)
            raise AssertionError("no recorded sell reached the best bid in 64 s")

    order, fills = run(scenario(), timeout_s=90)
    assert fills[0]["order"] == order["id"] and fills[0]["takerOrMaker"] == "maker"
    assert fills[0]["price"] == order["price"]


def test_raw_stream_protocol_acks_lists_and_wraps_combined_streams(venue):
    base = venue.endpoints

    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{base.ws_market_url}/7") as ws:
                await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker", "ethusdt@depth5@100ms"],
                                    "id": 1})
                ack = json.loads((await ws.receive()).data)
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
                listing = None
                while listing is None:
                    message = json.loads((await ws.receive()).data)
                    if message.get("id") == 2:
                        listing = message
                await ws.send_json({"method": "SUBSCRIBE", "params": ["dogeusdt@trade"], "id": 3})
                rejection = None
                while rejection is None:
                    message = json.loads((await ws.receive()).data)
                    if message.get("id") == 3:
                        rejection = message
            async with session.ws_connect(f"{base.ws_market_url}/8", autoping=False) as ws:
                await ws.ping(b"are you there")
                pong = await ws.receive()
            async with session.ws_connect(f"{base.ws_combined_url}?streams=btcusdt@trade/ethusdt@bookTicker") as ws:
                wrapped = json.loads((await ws.receive()).data)
            async with session.ws_connect(f"{base.base_url.replace('http', 'ws')}/ws/ethusdt@bookTicker") as ws:
                raw = json.loads((await ws.receive()).data)
        return ack, listing, rejection, pong, wrapped, raw

    ack, listing, rejection, pong, wrapped, raw = run(scenario())
    assert pong.type == aiohttp.WSMsgType.PONG and pong.data == b"are you there"
    assert ack == {"result": None, "id": 1}
    assert listing == {"result": ["btcusdt@bookTicker", "ethusdt@depth5@100ms"], "id": 2}
    assert rejection["id"] == 3 and rejection["error"]["code"] == 2
    assert wrapped["stream"] in ("btcusdt@trade", "ethusdt@bookTicker") and "data" in wrapped
    assert raw["s"] == "ETHUSDT" and float(raw["b"]) < float(raw["a"])


def test_user_data_subscription_with_a_wrong_secret_is_refused(venue):
    key, _ = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, "not-the-secret", load_markets=False) as exchange:
            await exchange.watch_balance()

    with pytest.raises((ccxt.AuthenticationError, KeyError)) as raised:
        run(scenario(), timeout_s=15)
    # ccxt 4.5.90 maps the venue's -1022 answer to AuthenticationError, then its own clean-up
    # raises KeyError('spot') (ensure_user_data_stream_ws_subscribe_signature deletes the
    # subscription a second time); the AuthenticationError is kept as the KeyError's context.
    error = raised.value if isinstance(raised.value, ccxt.AuthenticationError) else raised.value.__context__
    assert isinstance(error, ccxt.AuthenticationError) and "-1022" in str(error)


def test_ws_api_signature_subscription_pushes_events_with_its_subscription_id(venue):
    key, secret = new_account(venue)

    def signed(params):
        return {**params, "signature": hmac_sha256_hex(secret, ws_signature_payload(params))}

    async def scenario():
        now = int(time.time() * 1000)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(venue.endpoints.ws_api_url) as ws:
                bad = {"apiKey": key, "timestamp": now, "recvWindow": 5000, "signature": "0" * 64}
                await ws.send_json({"id": "a", "method": "userDataStream.subscribe.signature", "params": bad})
                refused = json.loads((await ws.receive()).data)
                params = signed({"apiKey": key, "timestamp": now, "recvWindow": 5000})
                await ws.send_json({"id": "b", "method": "userDataStream.subscribe.signature", "params": params})
                accepted = json.loads((await ws.receive()).data)
                await asyncio.to_thread(
                    venue.call, lambda v: v.engine.adjust_balance(v.accounts.by_api_key(key), "USDT", Decimal("5")))
                events = [json.loads((await ws.receive()).data) for _ in range(2)]
        return refused, accepted, events

    refused, accepted, events = run(scenario())
    assert refused == {"id": "a", "status": 400,
                       "error": {"code": -1022, "msg": "Signature for this request is not valid."}}
    assert accepted == {"id": "b", "status": 200, "result": {"subscriptionId": 0}}
    assert [e["subscriptionId"] for e in events] == [0, 0]
    assert events[0]["event"]["e"] == "balanceUpdate" and events[0]["event"]["d"] == "5.00000000"
    assert events[1]["event"]["e"] == "outboundAccountPosition"
    assert events[1]["event"]["B"] == [{"a": "USDT", "f": "10005.00000000", "l": "0.00000000"}]


def test_ccxt_follows_book_and_trades_seamlessly_across_a_replay_loop():
    # Start 10 recorded seconds before the loop restarts and replay 20x: the loop wraps within a second.
    # The venue also pings every 0.3 s; a client that did not answer would be cut off within the test.
    with VenueThread(speed=20, start_offset_s=640, ws_heartbeat_s=0.3) as fast:
        async def scenario():
            async with binance_client(fast, None, None) as exchange:
                trades = []
                book_updates = 0
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 4
                watch_trades = asyncio.ensure_future(exchange.watch_trades(SYMBOL))
                while loop.time() < deadline:
                    await exchange.watch_order_book(SYMBOL)
                    book_updates += 1
                    if watch_trades.done():
                        trades.extend(watch_trades.result())
                        watch_trades = asyncio.ensure_future(exchange.watch_trades(SYMBOL))
                watch_trades.cancel()
                fast.call(lambda v: v.replayer.pause())
                target = fast.call(lambda v: v.markets["BTCUSDT"].book.last_update_id)
                await eventually(lambda: _nonce_reached(exchange, target))
                book = exchange.orderbooks[SYMBOL]
                rest = await exchange.fetch_order_book(SYMBOL, limit=1000)
                return trades, book_updates, book, rest, fast.call(lambda v: v.replayer.loop)

        trades, book_updates, book, rest, loops = run(scenario())
    assert loops >= 1 and book_updates > 20
    ids = [int(t["id"]) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap and no repeat across the loop
    times = [t["timestamp"] for t in trades]
    assert times == sorted(times)
    assert [list(level) for level in book["bids"][:50]] == [list(level) for level in rest["bids"][:50]]
    assert [list(level) for level in book["asks"][:50]] == [list(level) for level in rest["asks"][:50]]
