"""A maker rebate (a negative fee) is income: accounted, journaled and replayed as such, never refused.

Venues that pay makers report the rebate as a negative commission on the fill. The OMS must take
it like any fee, with its sign: it lowers the order's and the position's fees (so net P&L and the
engine's cash go up), a rebate paid in the base asset is in the account and so in the position, and
replaying the journal rebuilds exactly the same state.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from execution_helpers import BTC_USDT, INSTRUMENTS, limit, make_fill

from tradepulse.execution import OMS, InvalidOrder, OrderStatus, Side
from tradepulse.execution.portfolio import fee_in_quote
from tradepulse.store import OmsEventKind

D = Decimal
K = OmsEventKind


def accepted(oms: OMS, side: Side, quantity: str, price: str) -> str:
    order = oms.prepare_submit(limit(side, quantity, price))
    oms.apply_accept(order.client_order_id, "V-" + order.client_order_id)
    return order.client_order_id


def filled_payloads(oms: OMS) -> list[dict]:
    return [event.payload for event in oms.journal.iter_events(kinds=[str(K.ORDER_FILLED)])]


def same_state_after_replay(oms: OMS) -> None:
    replayed = OMS(oms.journal, INSTRUMENTS)
    assert replayed.orders == oms.orders
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert replayed.position(symbol) == oms.position(symbol)


def test_a_quote_rebate_on_a_maker_sell_is_income_journaled_and_replayed(oms):
    bought = accepted(oms, Side.BUY, "0.01", "43000.00")
    oms.apply_fill(make_fill(bought, "t1", "0.01", "43000.00", fee="0.43", fee_currency="USDT"))
    sold = accepted(oms, Side.SELL, "0.01", "43100.00")
    result = oms.apply_fill(make_fill(sold, "t2", "0.01", "43100.00", fee="-0.0431", fee_currency="USDT", is_maker=True))

    order, position = result.order, result.position
    assert order.status is OrderStatus.FILLED and order.fees == D("-0.0431")
    assert position.realized_pnl == D("1.00")
    assert position.fees_quote == D("0.43") - D("0.0431")
    assert position.net_pnl == D("1.00") - D("0.3869")  # the rebate adds to P&L
    payload = filled_payloads(oms)[-1]
    assert payload["fill"]["fee"] == "-0.0431" and payload["fee_quote"] == "-0.0431000"
    same_state_after_replay(oms)


def test_a_base_rebate_on_a_maker_buy_is_in_the_position_because_the_venue_credited_it(oms):
    bought = accepted(oms, Side.BUY, "0.01", "40000.00")
    result = oms.apply_fill(make_fill(bought, "t1", "0.01", "40000.00", fee="-0.000001", fee_currency="BTC", is_maker=True))
    position = result.position
    # The venue credits 0.010001 BTC: the extra unit is worth 0.04 USDT at the fill price and counts as income.
    assert position.quantity == D("0.010001")
    assert position.cost_basis == D("400.04") and position.fees_quote == D("-0.04")
    assert position.net_pnl == D("0.04")
    assert filled_payloads(oms)[-1]["fill"]["fee"] == "-0.000001"
    same_state_after_replay(oms)


def test_a_rebate_in_a_third_currency_is_valued_at_its_rate_with_its_sign():
    fill = make_fill("tp-s-1", "7", "0.5", "40000.00", fee="-0.01", fee_currency="BNB", fee_quote_rate=D("500.00"))
    assert fee_in_quote(BTC_USDT, fill) == D("-5.00")


def test_a_fee_rate_must_be_positive():
    with pytest.raises(InvalidOrder, match="fee_quote_rate"):
        make_fill("x", "1", "1", "1", fee="0.01", fee_currency="BNB", fee_quote_rate=D("0"))
