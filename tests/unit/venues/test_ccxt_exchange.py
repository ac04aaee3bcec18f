"""Capabilities, markets as instruments, and ccxt structures as exact venue answers."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal as D

import ccxt.pro
import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE

from tradepulse.errors import ConfigError
from tradepulse.model.orders import Order, OrderType, Side, TimeInForce
from tradepulse.model.venue import VenueOrderStatus as S
from tradepulse.adapters.ccxt.exchange import (
    RedactingLogger,
    instrument_from_market,
    local_venue_urls,
    missing_capabilities,
    require_capabilities,
    to_datetime,
    to_decimal,
)
from tradepulse.adapters.ccxt.orders import fill_from_trade, fills_in_answer, order_request, update_from_order
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.ccxt.feed import CcxtFeed

NOW = datetime(2024, 8, 9, tzinfo=UTC)
BTC_MARKET = {
    "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "spot": True, "active": True,
    "precision": {"price": 0.01, "amount": 1e-05},
    "limits": {"amount": {"min": 1e-05, "max": 9000.0}, "cost": {"min": 5.0}},
}


def test_real_exchange_classes_lacking_capabilities_fail_with_one_message_listing_all_of_them():
    async def scenario():
        exchange = ccxt.pro.cex()  # ccxt's cex has no fetchOrder and no fetchMyTrades
        try:
            venue = CcxtVenue(exchange, owns_exchange=False)
            with pytest.raises(ConfigError) as raised:
                await venue.connect()  # refused before any request
            return str(raised.value)
        finally:
            await exchange.close()

    message = asyncio.run(scenario())
    assert "'cex' cannot be used for trading" in message and "fetchOrder" in message and "fetchMyTrades" in message
    assert "createOrder" not in message


def test_alternatives_count_as_one_capability():
    has = {"fetchTrades": True, "watchOrderBook": False, "fetchOrderBook": False}
    assert missing_capabilities(has, [("watchTrades", "fetchTrades"), ("watchOrderBook", "fetchOrderBook")]) == [
        "watchOrderBook or fetchOrderBook"
    ]


def test_a_feed_on_an_exchange_without_a_way_to_get_trades_is_refused():
    async def scenario():
        exchange = ccxt.pro.binance()
        try:
            exchange.has = {**exchange.has, "watchTrades": False, "fetchTrades": False}
            with pytest.raises(ConfigError, match="watchTrades or fetchTrades"):
                CcxtFeed(exchange, "BTC/USDT")
            exchange.has = {**exchange.has, "watchOrders": False}
            require_capabilities(exchange, ["fetchOrder"], "x")  # polling still possible: no error
        finally:
            await exchange.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("mode", "precision", "tick", "lot"), [
    (TICK_SIZE, {"price": 0.01, "amount": 1e-05}, D("0.01"), D("0.00001")),
    (DECIMAL_PLACES, {"price": 2, "amount": 5}, D("0.01"), D("0.00001")),
])
def test_markets_become_instruments_with_the_venue_grid_and_minimums(mode, precision, tick, lot):
    instrument = instrument_from_market({**BTC_MARKET, "precision": precision}, mode)
    assert instrument is not None
    assert (instrument.tick_size, instrument.lot_size) == (tick, lot)
    assert (instrument.min_quantity, instrument.min_notional) == (D("0.00001"), D("5"))
    assert instrument.round_quantity(D("0.123456")) == D("0.12345")


def test_markets_without_a_fixed_grid_are_not_tradable_instruments():
    assert instrument_from_market({**BTC_MARKET, "precision": {"price": 5, "amount": 3}}, SIGNIFICANT_DIGITS) is None
    assert instrument_from_market({**BTC_MARKET, "precision": {"price": None, "amount": 1e-05}}, TICK_SIZE) is None


def test_venue_numbers_convert_to_exact_decimals():
    assert to_decimal(61234.56) == D("61234.56")
    assert to_decimal(0.1) + to_decimal(0.2) == D("0.3")
    assert to_decimal("0.00100000") == D("0.001")
    assert to_decimal(None) is None and to_decimal(float("nan")) is None
    assert to_datetime(1723161600000) == datetime(2024, 8, 9, tzinfo=UTC) and to_datetime(-1) is None


def test_local_venue_urls_are_for_binance_compatible_venues_only():
    urls = local_venue_urls("binance", "http://127.0.0.1:8765/ignored")
    assert urls["api"]["ws"]["spot"] == "ws://127.0.0.1:8765/stream/ws"
    assert urls["api"]["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:8765/ws-api/v3"
    with pytest.raises(ConfigError, match="Binance-compatible"):
        local_venue_urls("kraken", "http://127.0.0.1:8765")
    with pytest.raises(ConfigError, match="http://host:port"):
        local_venue_urls("binance", "127.0.0.1:8765")


def test_order_requests_carry_exact_decimal_text_and_our_client_order_id():
    limit = Order("tp-s-7", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.00120"), NOW, limit_price=D("61234.50"),
                  time_in_force=TimeInForce.IOC)
    request = order_request(limit)
    assert request == {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": "0.00120", "price": "61234.50",
                       "params": {"clientOrderId": "tp-s-7", "timeInForce": "IOC"}}
    market = order_request(Order("tp-s-8", "BTC/USDT", Side.BUY, OrderType.MARKET, D("0.001"), NOW))
    assert market["price"] is None and market["params"] == {"clientOrderId": "tp-s-8"}


@pytest.mark.parametrize(("status", "filled", "expected"), [
    ("open", 0.0, S.NEW), ("open", 0.0005, S.PARTIALLY_FILLED), ("canceling", 0.0, S.NEW), ("closed", 0.001, S.FILLED),
    ("closed", 0.0004, S.CANCELED), ("canceled", 0.0, S.CANCELED), ("expired", 0.0004, S.EXPIRED), ("rejected", 0.0, S.REJECTED),
])
def test_ccxt_order_statuses_map_to_venue_statuses(status, filled, expected):
    raw = {"id": "42", "clientOrderId": "tp-s-1", "symbol": "BTC/USDT", "status": status, "side": "buy", "amount": 0.001,
           "filled": filled, "cost": filled * 61000.0, "lastUpdateTimestamp": 1723161600000}
    update = update_from_order(raw, instrument_from_market(BTC_MARKET, TICK_SIZE))
    assert update.status is expected and update.venue_order_id == "42" and update.at == NOW
    if filled:
        assert update.average_price == D("61000.00")


def test_our_client_order_id_wins_over_the_one_in_a_cancel_answer():
    raw = {"id": "2", "clientOrderId": "cancel-request-id", "symbol": "BTC/USDT", "status": "canceled", "amount": 0.001, "filled": 0}
    assert update_from_order(raw, None, "tp-s-2").client_order_id == "tp-s-2"


def test_trades_become_fills_with_the_venue_trade_id_and_exact_fee():
    raw = {"id": "1001", "order": "42", "symbol": "BTC/USDT", "side": "buy", "price": 61728.01, "amount": 0.001,
           "timestamp": 1723161600000, "takerOrMaker": "maker", "fee": {"cost": 1e-06, "currency": "BTC"}}
    fill = fill_from_trade(raw, "tp-s-1")
    assert fill is not None
    assert (fill.trade_id, fill.venue_order_id, fill.price, fill.quantity) == ("1001", "42", D("61728.01"), D("0.001"))
    assert (fill.fee, fill.fee_currency, fill.is_maker, fill.at) == (D("0.000001"), "BTC", True, NOW)


def test_fills_carried_by_an_order_answer_are_taker_fills_of_that_order():
    answer = {"id": "7", "clientOrderId": "tp-s-3", "symbol": "BTC/USDT", "status": "closed", "side": "buy", "amount": 0.002,
              "filled": 0.002, "cost": 123.45, "lastUpdateTimestamp": 1723161600000,
              "trades": [{"id": "11", "price": 61725.0, "amount": 0.001, "fee": {"cost": 1e-06, "currency": "BTC"}},
                         {"id": "12", "price": 61725.0, "amount": 0.001, "fee": {"cost": 1e-06, "currency": "BTC"}}]}
    update = update_from_order(answer)
    fills = fills_in_answer(answer, update)
    assert [f.trade_id for f in fills] == ["11", "12"]
    assert all(f.client_order_id == "tp-s-3" and f.venue_order_id == "7" and f.side is Side.BUY and not f.is_maker for f in fills)


def test_a_client_built_elsewhere_gets_its_credentials_redacted_and_verbose_mode_refused(caplog):
    async def scenario():
        noisy = ccxt.pro.binance({"apiKey": "key-built-elsewhere", "secret": "secret-built-elsewhere", "verbose": True})
        quiet = ccxt.pro.binance({"apiKey": "key-built-elsewhere", "secret": "secret-built-elsewhere"})
        try:
            with pytest.raises(ConfigError, match="verbose"):
                CcxtVenue(noisy, owns_exchange=False)
            CcxtVenue(quiet, owns_exchange=False)
            return quiet.logger
        finally:
            await noisy.close()
            await quiet.close()

    logger = asyncio.run(scenario())
    assert isinstance(logger, RedactingLogger)
    with caplog.at_level(logging.DEBUG, logger="tradepulse.ccxt.binance"):
        logger.debug("%s %s", {"X-MBX-APIKEY": "key-built-elsewhere"}, "secret-built-elsewhere")
    assert "built-elsewhere" not in caplog.text and "'X-MBX-APIKEY': '***'" in caplog.text
