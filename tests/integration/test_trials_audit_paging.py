"""The crash trials' audit reads every trade and order of the account, page by page, through ccxt.

Binance answers at most one page a call (1,000 at most, the newest without ``fromId``); the 200-run
trial's audit read one page and called every older journaled fill one the venue did not have.
"""

from __future__ import annotations

from emulator_fixtures import binance_client, new_account, run, venue  # noqa: F401

from tradepulse.service.trials import all_venue_orders, all_venue_trades

BTC = "BTC/USDT"


def test_all_trades_and_orders_are_read_across_pages(venue):  # noqa: F811
    key, secret = new_account(venue, {"USDT": "10000", "BTC": "1"})

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            for number in range(5):
                await exchange.create_order(BTC, "market", "buy" if number % 2 == 0 else "sell", 0.001)
            one_page = await exchange.fetch_my_trades(BTC, limit=2)
            trades = await all_venue_trades(exchange, BTC, page=2)
            orders = await all_venue_orders(exchange, BTC, page=2)
            return one_page, trades, orders

    one_page, trades, orders = run(scenario())
    assert len(one_page) == 2
    ids = [int(trade["id"]) for trade in trades]
    assert len(ids) >= 5 and ids == sorted(set(ids))  # every trade, once, oldest first
    assert {trade["id"] for trade in one_page} <= {trade["id"] for trade in trades}
    order_ids = [int(order["id"]) for order in orders]
    assert len(order_ids) == 5 and order_ids == sorted(set(order_ids))
