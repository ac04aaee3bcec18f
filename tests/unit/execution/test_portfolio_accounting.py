"""Positions, average cost, realised/unrealised P&L and fees in exact Decimal quote currency."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from execution_helpers import BTC_USDT, ETH_BTC, INSTRUMENTS
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.errors import ConfigError
from tradepulse.execution import Fill, InvalidOrder, Portfolio, Side
from tradepulse.execution.portfolio import fee_in_quote, instruments_by_symbol

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def portfolio() -> Portfolio:
    return Portfolio(instruments_by_symbol(INSTRUMENTS))


def book(book_portfolio: Portfolio, *fills: tuple[Side, str, str], fee: str = "0"):
    position = None
    for side, quantity, price in fills:
        position = book_portfolio.apply_fill("BTC/USDT", side, D(quantity), D(price), D(fee))
    return position


def test_buys_accumulate_quantity_and_average_cost():
    position = book(portfolio(), (BUY, "1", "100.00"), (BUY, "3", "104.00"))
    assert (position.quantity, position.cost_basis, position.average_cost) == (D("4"), D("412"), D("103.00"))
    assert position.realized_pnl == 0


def test_partial_close_realises_pnl_on_the_closed_part_and_keeps_the_average_cost():
    position = book(portfolio(), (BUY, "1", "100.00"), (BUY, "3", "104.00"), (SELL, "1", "110.00"))
    assert position.quantity == D("3")
    assert position.realized_pnl == D("7")  # 110 - 103
    assert position.average_cost == D("103.00")


def test_short_position_gains_when_the_price_falls():
    position = book(portfolio(), (SELL, "2", "100.00"), (BUY, "2", "90.00"))
    assert position.is_flat and position.realized_pnl == D("20") and position.cost_basis == 0


def test_flip_from_long_to_short_realises_the_closed_part_and_opens_the_rest_at_the_fill_price():
    position = book(portfolio(), (BUY, "1", "100.00"), (SELL, "3", "110.00"))
    assert position.realized_pnl == D("10")
    assert (position.quantity, position.average_cost, position.cost_basis) == (D("-2"), D("110.00"), D("-220"))


def test_flip_from_short_to_long():
    position = book(portfolio(), (SELL, "1", "100.00"), (BUY, "1.5", "95.00"))
    assert position.realized_pnl == D("5")
    assert (position.quantity, position.average_cost) == (D("0.5"), D("95.00"))


def test_point_one_plus_point_two_closes_to_exactly_flat_without_dust():
    position = book(portfolio(), (BUY, "0.1", "43000.10"), (BUY, "0.2", "43000.20"), (SELL, "0.3", "43000.30"))
    assert position.quantity == 0 and position.cost_basis == 0
    assert position.realized_pnl == D("0.3") * D("43000.30") - D("0.1") * D("43000.10") - D("0.2") * D("43000.20")


def test_a_partial_close_rounds_its_cost_share_once_and_the_full_close_settles_exactly():
    held = portfolio()
    book(held, (BUY, "1", "100.00"), (BUY, "1", "100.00"), (BUY, "1", "101.00"))
    after_third = book(held, (SELL, "1", "110.00"))
    assert after_third.realized_pnl == D("9.6666667")  # 110 - 301/3, rounded to the 1e-7 quantum
    closed = book(held, (SELL, "2", "110.00"))
    assert closed.realized_pnl == D("330") - D("301")  # the round trip is exact to the last digit


def test_unrealised_pnl_follows_the_mark_for_longs_and_shorts():
    held = portfolio()
    book(held, (BUY, "2", "100.00"))
    assert held.mark("BTC/USDT", D("105.00")).unrealized_pnl == D("10")
    shorted = portfolio()
    book(shorted, (SELL, "2", "100.00"))
    marked = shorted.mark("BTC/USDT", D("105.00"))
    assert marked.unrealized_pnl == D("-10") and marked.net_pnl == D("-10")


def test_a_fill_marks_the_position_at_the_fill_price():
    position = book(portfolio(), (BUY, "1", "100.00"), (BUY, "1", "102.00"))
    assert position.mark_price == D("102.00") and position.unrealized_pnl == D("2")  # 2 * 102 - 202


def fill(fee: str, fee_currency: str, rate: str | None = None) -> Fill:
    return Fill("1", "tp-s-1", D("0.5"), D("40000.00"), datetime(2024, 1, 1, tzinfo=UTC), fee=D(fee), fee_currency=fee_currency,
                fee_quote_rate=None if rate is None else D(rate))


def test_quote_fee_is_taken_as_charged():
    assert fee_in_quote(BTC_USDT, fill("20.0000000", "USDT")) == D("20")
    assert fee_in_quote(BTC_USDT, fill("20", "")) == D("20")


def test_base_fee_is_converted_at_the_fill_price():
    assert fee_in_quote(BTC_USDT, fill("0.0005", "BTC")) == D("20")


def test_third_currency_fee_needs_a_rate():
    assert fee_in_quote(BTC_USDT, fill("0.05", "BNB", rate="400.00")) == D("20")
    with pytest.raises(InvalidOrder, match="fee_quote_rate"):
        fee_in_quote(BTC_USDT, fill("0.05", "BNB"))


def test_fees_are_kept_apart_from_realised_pnl():
    position = book(portfolio(), (BUY, "1", "100.00"), (SELL, "1", "101.00"), fee="0.1")
    assert (position.realized_pnl, position.fees_quote, position.net_pnl) == (D("1"), D("0.2"), D("0.8"))


def test_totals_are_per_quote_currency_and_never_mix_currencies():
    held = portfolio()
    held.apply_fill("BTC/USDT", SELL, D("1"), D("100.00"), D("0"))
    held.apply_fill("BTC/USDT", BUY, D("1"), D("90.00"), D("0.5"))
    held.apply_fill("ETH/BTC", BUY, D("1"), D("0.05000"), D("0"))
    held.apply_fill("ETH/BTC", SELL, D("1"), D("0.05100"), D("0"))
    totals = held.totals()
    assert totals["USDT"].net_pnl == D("9.5") and totals["BTC"].realized_pnl == D("0.001")
    assert held.total("BTC").quote == ETH_BTC.quote
    with pytest.raises(ConfigError, match="quote"):
        held.total()


def test_fill_for_a_symbol_without_instrument_is_a_config_error():
    with pytest.raises(ConfigError, match="DOGE/USDT"):
        portfolio().apply_fill("DOGE/USDT", BUY, D("1"), D("1"), D("0"))


lots = st.integers(min_value=1, max_value=200_000).map(lambda n: D(n) * BTC_USDT.lot_size)
ticks = st.integers(min_value=1_000_000, max_value=9_000_000).map(lambda n: D(n) * BTC_USDT.tick_size)
trades = st.lists(st.tuples(st.sampled_from([BUY, SELL]), lots, ticks), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(trades=trades, mark=ticks)
def test_accounting_identity_holds_exactly_for_any_sequence_of_fills(trades, mark):
    held = portfolio()
    for side, quantity, price in trades:
        held.apply_fill("BTC/USDT", side, quantity, price, D("0"))
    position = held.mark("BTC/USDT", mark)
    assert position.quantity == sum((quantity * side.sign for side, quantity, _ in trades), D(0))
    cash_flow = sum((-quantity * side.sign * price for side, quantity, price in trades), D(0))
    # Realised + unrealised is cash in minus cash out plus what is held, at the mark: exactly.
    assert position.realized_pnl + position.unrealized_pnl == cash_flow + position.quantity * mark
    if position.quantity:
        assert abs(position.average_cost - position.cost_basis / position.quantity) <= BTC_USDT.tick_size / 2
