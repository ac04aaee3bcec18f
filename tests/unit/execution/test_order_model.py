"""Orders, intents and fills hold exact Decimals and survive the journal's JSON unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepulse.model.orders import (
    Fill,
    InvalidOrder,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradepulse.store import canonical_payload

AT = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
decimals = st.decimals(min_value=Decimal("1e-8"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False, places=8)


def test_float_quantities_are_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"Decimal\('0.1'\)"):
        OrderIntent("s", "BTC/USDT", Side.BUY, 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Fill("t1", "tp-s-1", Decimal("1"), 43000.0, AT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": Decimal("0")}, "positive"),
        ({"quantity": Decimal("-1")}, "positive"),
        ({"order_type": OrderType.LIMIT}, "limit_price"),
        ({"limit_price": Decimal("1")}, "market order takes no limit_price"),
        ({"quantity": Decimal("NaN")}, "finite"),
    ],
)
def test_malformed_intents_are_refused(kwargs, message):
    arguments = {"strategy": "s", "symbol": "BTC/USDT", "side": Side.BUY, "quantity": Decimal("1"), **kwargs}
    with pytest.raises(InvalidOrder, match=message):
        OrderIntent(**arguments)


def test_intent_accepts_plain_strings_for_enums_and_checks_notional_at_the_limit_price():
    intent = OrderIntent("s", "BTC/USDT", "sell", Decimal("0.5"), "limit", limit_price=Decimal("100"), time_in_force="IOC")
    assert (intent.side, intent.order_type, intent.time_in_force) == (Side.SELL, OrderType.LIMIT, TimeInForce.IOC)
    assert intent.notional == Decimal("50")


def test_fill_without_trade_id_or_with_a_non_positive_fee_rate_is_refused():
    with pytest.raises(InvalidOrder, match="trade id"):
        Fill("", "tp-s-1", Decimal("1"), Decimal("1"), AT)
    with pytest.raises(InvalidOrder, match="fee_quote_rate"):
        Fill("t1", "tp-s-1", Decimal("1"), Decimal("1"), AT, fee=Decimal("0.1"), fee_currency="BNB", fee_quote_rate=Decimal("-2"))
    # A negative fee is a rebate (tests/unit/execution/test_fee_rebates.py), not an error.
    assert Fill("t1", "tp-s-1", Decimal("1"), Decimal("1"), AT, fee=Decimal("-0.1")).fee == Decimal("-0.1")


@given(quantity=decimals, price=decimals, fee=decimals)
def test_order_survives_the_journal_round_trip_exactly(quantity, price, fee):
    order = Order(
        "tp-s-7", "BTC/USDT", Side.SELL, OrderType.LIMIT, quantity, AT, limit_price=price,
        status=OrderStatus.PARTIALLY_FILLED, filled_quantity=quantity / 3, average_fill_price=price, fees=fee,
        updated_at=AT, trade_ids=("1", "2"), filled_notional=quantity * price,
    )
    rebuilt = Order.from_payload(canonical_payload(order.to_payload()))
    assert rebuilt == order
    assert rebuilt.filled_quantity == quantity / 3  # exact, not merely close


@given(quantity=decimals, price=decimals, fee=decimals)
def test_fill_survives_the_journal_round_trip_exactly(quantity, price, fee):
    fill = Fill(
        "9001", "tp-s-7", quantity, price, AT, fee=fee, fee_currency="BNB", fee_quote_rate=price, is_maker=True, side=Side.BUY
    )
    assert Fill.from_payload(canonical_payload(fill.to_payload())) == fill


def test_point_one_plus_point_two_stays_exactly_point_three_through_the_journal():
    order = Order("tp-s-1", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.1") + Decimal("0.2"), AT)
    payload = canonical_payload(order.to_payload())
    assert payload["quantity"] == "0.3"
    assert Order.from_payload(payload).quantity == Decimal("0.3")


def test_payloads_convert_by_value_whatever_the_exact_type():
    """payload_of looks plain types up by exact type; subclasses and enums take the general rules."""

    class Stamp(datetime):
        pass

    class Amount(Decimal):
        pass

    order = Order("tp-s-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, Amount("0.30"), Stamp(2024, 3, 1, 12, 30, tzinfo=UTC),
                  limit_price=Decimal("1E+2"), trade_ids=("7",))
    payload = order.to_payload()
    assert payload["created_at"] == AT.isoformat()
    assert (payload["quantity"], payload["limit_price"]) == ("0.30", "100")
    assert (payload["side"], payload["order_type"], payload["trade_ids"]) == ("buy", "limit", ["7"])
    assert payload["venue_order_id"] is None and payload["average_fill_price"] is None
    rebuilt = Order.from_payload(canonical_payload(payload))
    assert rebuilt == order and type(rebuilt.created_at) is datetime and rebuilt.trade_ids == ("7",)
