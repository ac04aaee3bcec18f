"""exchangeInfo entries and the order filters they imply."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.symbols import SYMBOLS, check_order_filters, exchange_info_symbol


def test_exchange_info_carries_binances_filters():
    btc = exchange_info_symbol(SYMBOLS["BTCUSDT"])
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert "MARKET_LOT_SIZE" in filters and btc["permissions"] == ["SPOT"] and btc["status"] == "TRADING"
    eth = {f["filterType"]: f for f in exchange_info_symbol(SYMBOLS["ETHUSDT"])["filters"]}
    assert eth["LOT_SIZE"]["stepSize"] == "0.00010000"


def _check(**overrides):
    order = dict(order_type="LIMIT", side="BUY", price=Decimal("60000"), quantity=Decimal("0.001"),
                 quote_order_qty=None, avg_price=Decimal("60000"), open_orders=0) | overrides
    check_order_filters(SYMBOLS["BTCUSDT"], **order)


@pytest.mark.parametrize(("overrides", "failing"), [
    ({"price": Decimal("60000.001")}, "PRICE_FILTER"),
    ({"quantity": Decimal("0.000015")}, "LOT_SIZE"),
    ({"quantity": Decimal("0.000001")}, "LOT_SIZE"),
    ({"quantity": Decimal("0.00005")}, "NOTIONAL"),
    ({"price": Decimal("1000")}, "PERCENT_PRICE_BY_SIDE"),
    ({"order_type": "MARKET", "price": None, "quantity": Decimal("100")}, "MARKET_LOT_SIZE"),
    ({"order_type": "MARKET", "price": None, "quantity": None, "quote_order_qty": Decimal("4")}, "NOTIONAL"),
    ({"open_orders": 200}, "MAX_NUM_ORDERS"),
])
def test_each_filter_failure_is_minus_1013_naming_the_filter(overrides, failing):
    with pytest.raises(ApiError) as refused:
        _check(**overrides)
    assert refused.value.code == -1013 and refused.value.msg == f"Filter failure: {failing}"


def test_orders_within_every_filter_pass():
    _check()
    _check(order_type="MARKET", price=None, quantity=Decimal("0.001"))
