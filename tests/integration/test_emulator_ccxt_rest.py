"""ccxt's real binance class against the local venue over REST: every call the reference lists."""

from __future__ import annotations

import time

import ccxt
import pytest
from emulator_fixtures import binance_client, new_account, run, venue  # noqa: F401

SYMBOL = "BTC/USDT"


def test_load_markets_reads_the_real_binance_filters(venue):
    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            return await exchange.load_markets()

    markets = run(scenario())
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}
    btc, eth = markets["BTC/USDT"], markets["ETH/USDT"]
    assert btc["spot"] and btc["active"] and btc["id"] == "BTCUSDT"
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert eth["precision"]["price"] == 0.01 and eth["precision"]["amount"] == 0.0001
    assert btc["limits"]["cost"]["min"] == 5 and btc["limits"]["amount"]["min"] == 0.00001
    assert btc["limits"]["market"]["max"] > 0


def test_fetch_time_is_the_server_clock(venue):
    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            return await exchange.fetch_time()

    server_ms = run(scenario())
    assert abs(server_ms - time.time() * 1000) < 5_000


def test_fetch_ohlcv_returns_recent_minutes_built_from_replayed_trades(venue):
    async def scenario():
        async with binance_client(venue) as exchange:
            minutes = await exchange.fetch_ohlcv(SYMBOL, "1m", limit=4)
            since = minutes[1][0]
            later = await exchange.fetch_ohlcv(SYMBOL, "1m", since=since, limit=2)
            five = await exchange.fetch_ohlcv(SYMBOL, "5m", limit=2)
            return minutes, since, later, five

    minutes, since, later, five = run(scenario())
    assert 2 <= len(minutes) <= 4  # the venue opens with five minutes of replayed history
    times = [row[0] for row in minutes]
    assert times == sorted(times) and all(t % 60_000 == 0 for t in times)
    assert times[-1] <= time.time() * 1000  # never a candle from the future
    for open_time, o, h, l, c, v in minutes:
        assert h >= max(o, c) and l <= min(o, c) and v >= 0
    assert later[0][0] == since and len(later) <= 2
    assert all(row[0] % 300_000 == 0 for row in five)


def test_fetch_ticker_and_order_book_describe_the_replayed_market(venue):
    async def scenario():
        async with binance_client(venue) as exchange:
            return await exchange.fetch_ticker(SYMBOL), await exchange.fetch_order_book(SYMBOL, limit=5)

    ticker, book = run(scenario())
    assert 0 < ticker["low"] <= ticker["last"] <= ticker["high"]
    assert ticker["bid"] < ticker["ask"] and ticker["baseVolume"] > 0
    assert len(book["bids"]) == 5 and len(book["asks"]) == 5
    assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
    assert [a[0] for a in book["asks"]] == sorted(a[0] for a in book["asks"])
    assert book["bids"][0][0] < book["asks"][0][0]
    assert isinstance(book["nonce"], int)


def test_fetch_balance_of_a_new_account_shows_its_funding(venue):
    key, secret = new_account(venue, {"USDT": "1234.5", "BTC": "0.25"})

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            return await exchange.fetch_balance()

    balance = run(scenario())
    assert balance["USDT"] == {"free": 1234.5, "used": 0.0, "total": 1234.5}
    assert balance["BTC"]["total"] == 0.25


def test_market_buy_with_client_order_id_fills_and_moves_balances(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            order = await exchange.create_order(SYMBOL, "market", "buy", 0.002, params={"clientOrderId": "rest-mkt-1"})
            return order, await exchange.fetch_balance(), await exchange.fetch_my_trades(SYMBOL)

    order, balance, trades = run(scenario())
    assert order["clientOrderId"] == "rest-mkt-1" and order["status"] == "closed"
    assert order["filled"] == pytest.approx(0.002) and order["trades"]
    fee = sum(t["fee"]["cost"] for t in order["trades"])
    assert order["trades"][0]["fee"]["currency"] == "BTC"
    assert balance["BTC"]["total"] == pytest.approx(0.5 + 0.002 - fee, abs=1e-12)
    assert balance["USDT"]["total"] == pytest.approx(10000 - order["cost"], abs=1e-6)
    assert {t["order"] for t in trades} == {order["id"]}
    assert all(t["takerOrMaker"] == "taker" and t["side"] == "buy" for t in trades)


def test_market_buy_by_quote_amount_spends_at_most_that_amount(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            return await exchange.create_order(SYMBOL, "market", "buy", None, params={"quoteOrderQty": 25})

    order = run(scenario())
    assert order["status"] == "closed" and 24 < order["cost"] <= 25


def test_limit_order_rests_locks_funds_and_cancel_releases_them(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            book = await exchange.fetch_order_book(SYMBOL, limit=5)
            price = round(book["bids"][0][0] * 0.98, 2)  # well below the market: it rests
            order = await exchange.create_order(SYMBOL, "limit", "buy", 0.001, price,
                                                params={"clientOrderId": "rest-lim-1"})
            locked = await exchange.fetch_balance()
            by_id = await exchange.fetch_order(order["id"], SYMBOL)
            by_client_id = await exchange.fetch_order(None, SYMBOL, params={"origClientOrderId": "rest-lim-1"})
            open_orders = await exchange.fetch_open_orders(SYMBOL)
            canceled = await exchange.cancel_order(order["id"], SYMBOL)
            released = await exchange.fetch_balance()
            after = await exchange.fetch_order(order["id"], SYMBOL)
            return price, order, locked, by_id, by_client_id, open_orders, canceled, released, after

    price, order, locked, by_id, by_client_id, open_orders, canceled, released, after = run(scenario())
    assert order["status"] == "open" and order["filled"] == 0
    assert locked["USDT"]["used"] == pytest.approx(price * 0.001)
    assert by_id["clientOrderId"] == "rest-lim-1" and by_client_id["id"] == order["id"]
    assert [o["id"] for o in open_orders] == [order["id"]]
    assert canceled["status"] == "canceled" and after["status"] == "canceled"
    assert released["USDT"] == {"free": 10000.0, "used": 0.0, "total": 10000.0}


def test_server_side_order_errors_map_to_ccxt_exceptions(venue):
    key, secret = new_account(venue, {"USDT": "50"})

    async def scenario():
        caught = {}
        async with binance_client(venue, key, secret) as exchange:
            async def capture(name, coroutine):
                try:
                    await coroutine
                except ccxt.BaseError as exc:
                    caught[name] = exc

            book = await exchange.fetch_order_book(SYMBOL, limit=5)
            ask = book["asks"][0][0]
            base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            await capture("lot", exchange.private_post_order({**base, "quantity": "0.000011", "price": "60000"}))
            await capture("tick", exchange.private_post_order({**base, "quantity": "0.001", "price": "60000.001"}))
            await capture("notional", exchange.create_order(SYMBOL, "limit", "buy", 0.00001, 60000))
            await capture("funds", exchange.create_order(SYMBOL, "market", "buy", 0.01))
            await capture("post_only", exchange.create_order(SYMBOL, "limit", "buy", 0.0001, ask + 100,
                                                             params={"postOnly": True}))
            await capture("symbol", exchange.private_get_order({"symbol": "DOGEUSDT", "orderId": 1}))
            await capture("missing", exchange.fetch_order("987654321", SYMBOL))
            await capture("cancel", exchange.cancel_order("987654321", SYMBOL))
            await capture("param", exchange.private_post_order({**base, "quantity": "0.001"}))
        return caught

    caught = run(scenario())
    assert isinstance(caught["lot"], ccxt.InvalidOrder) and "LOT_SIZE" in str(caught["lot"])
    assert isinstance(caught["tick"], ccxt.InvalidOrder) and "PRICE_FILTER" in str(caught["tick"])
    assert isinstance(caught["notional"], ccxt.BadRequest) and "NOTIONAL" in str(caught["notional"])
    assert isinstance(caught["funds"], ccxt.InsufficientFunds)
    assert isinstance(caught["post_only"], ccxt.OrderImmediatelyFillable)
    assert isinstance(caught["symbol"], ccxt.BadSymbol)
    assert isinstance(caught["missing"], ccxt.OrderNotFound) and "-2013" in str(caught["missing"])
    assert isinstance(caught["cancel"], ccxt.OrderNotFound) and "-2011" in str(caught["cancel"])
    assert isinstance(caught["param"], ccxt.BadRequest) and "-1102" in str(caught["param"])


def test_every_answer_reports_the_used_request_weight(venue):
    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            await exchange.fetch_time()
            first = int(exchange.last_response_headers["X-MBX-USED-WEIGHT-1M"])
            await exchange.public_get_exchangeinfo()
            second = int(exchange.last_response_headers["X-MBX-USED-WEIGHT-1M"])
            return first, second

    first, second = run(scenario())
    # exchangeInfo weighs 20; a new minute may have started between the calls.
    assert second == first + 20 or second == 20


def test_fetch_trades_cancel_all_orders_and_fetch_orders(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            public_trades = await exchange.fetch_trades(SYMBOL, limit=20)
            bid = (await exchange.fetch_order_book(SYMBOL, limit=5))["bids"][0][0]
            for offset in (0.9, 0.95):
                await exchange.create_order(SYMBOL, "limit", "buy", 0.001, round(bid * offset, 2))
            canceled = await exchange.cancel_all_orders(SYMBOL)
            return public_trades, canceled, await exchange.fetch_orders(SYMBOL), await exchange.fetch_open_orders(SYMBOL)

    public_trades, canceled, orders, still_open = run(scenario())
    assert 0 < len(public_trades) <= 20 and all(t["symbol"] == SYMBOL for t in public_trades)
    assert len(canceled) == 2 and not still_open
    assert [o["status"] for o in orders] == ["canceled", "canceled"]
