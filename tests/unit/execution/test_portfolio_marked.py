"""``Portfolio.marked`` reuses the last mark's work while no fill changes a position; it must equal the full valuation.

The reference is what the OMS journaled before: ``valued`` per symbol, ``totals`` of the result,
and ``to_payload`` of each. Compared as text (``Decimal`` equality would hide a changed exponent,
which the journal and every reader would see).
"""

from __future__ import annotations

import json
from decimal import Decimal

from execution_helpers import BTC_USDT, INSTRUMENTS
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepulse.execution import Portfolio, Side
from tradepulse.execution.portfolio import instruments_by_symbol
from tradepulse.model.instruments import Instrument
from tradepulse.store.journal import encode_value

D = Decimal
# A quote quantum that is not a power of ten takes the other rounding path of the grid.
ODD = Instrument("ODD/USDT", "ODD", "USDT", tick_size=D("0.05"), lot_size=D("0.001"), min_notional=D("1"), pnl_quantum=D("0.005"))


def reference(portfolio: Portfolio, prices: dict[str, Decimal]):
    positions = tuple(portfolio.valued(symbol, price) for symbol, price in prices.items())
    totals = tuple(portfolio.totals(positions).values())
    return ({position.symbol: position.to_payload() for position in positions},
            {summary.quote: summary.to_payload() for summary in totals}, positions, totals)


def as_text(values) -> list[str]:
    return [repr(value) for value in values]


def check_mark(portfolio: Portfolio, prices: dict[str, Decimal]) -> None:
    expected_positions, expected_totals, positions, totals = reference(portfolio, prices)
    marked = portfolio.marked(prices)
    # As the journal's text: the key order and each decimal's digits are part of what it stores.
    assert marked.positions_json == encode_value(expected_positions)
    assert marked.totals_json == encode_value(expected_totals)
    assert as_text(marked.positions) == as_text(positions)  # repr shows each Decimal's exponent
    assert as_text(marked.totals) == as_text(totals)
    for position in marked.positions:
        portfolio.restore(position)  # as the OMS stores a mark once it is journaled


steps = st.lists(
    st.one_of(
        st.tuples(st.just("fill"), st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 500_000), st.integers(1, 8_000_000)),
        st.tuples(st.just("mark"), st.integers(1, 8_000_000)),
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(steps=steps, odd=st.booleans())
def test_a_mark_reusing_the_last_one_equals_the_full_valuation(steps, odd):
    instrument = ODD if odd else BTC_USDT
    portfolio = Portfolio(instruments_by_symbol((*INSTRUMENTS, ODD)))
    for step in steps:
        if step[0] == "fill":
            _, side, lots, ticks = step
            portfolio.apply_fill(instrument.symbol, side, lots * instrument.lot_size, ticks * instrument.tick_size, D("0.01"))
        else:
            check_mark(portfolio, {instrument.symbol: step[1] * instrument.tick_size})


def test_marks_between_fills_follow_each_fill():
    portfolio = Portfolio(instruments_by_symbol(INSTRUMENTS))
    check_mark(portfolio, {"BTC/USDT": D("100.00")})  # never traded: a flat position at the mark
    portfolio.apply_fill("BTC/USDT", Side.BUY, D("0.5"), D("100.00"), D("0.05"))
    check_mark(portfolio, {"BTC/USDT": D("101.50")})
    check_mark(portfolio, {"BTC/USDT": D("99.25")})
    assert portfolio.position("BTC/USDT").unrealized_pnl == D("-0.375")
    portfolio.apply_fill("BTC/USDT", Side.SELL, D("1"), D("99.00"), D("0.10"))  # through zero to short
    check_mark(portfolio, {"BTC/USDT": D("98.00")})
    assert portfolio.position("BTC/USDT").unrealized_pnl == D("0.50")  # short 0.5 from 99.00
    check_mark(portfolio, {"BTC/USDT": D("98.00")})


def test_other_positions_take_the_general_path_and_still_count_in_the_totals():
    portfolio = Portfolio(instruments_by_symbol(INSTRUMENTS))
    portfolio.apply_fill("BTC/USDT", Side.BUY, D("0.5"), D("100.00"), D("0"))
    portfolio.apply_fill("ETH/USDT", Side.BUY, D("2"), D("10.00"), D("0"))
    check_mark(portfolio, {"BTC/USDT": D("110.00")})
    marked = portfolio.marked({"BTC/USDT": D("120.00")})
    assert json.loads(marked.totals_json)["USDT"]["unrealized_pnl"] == "10.0000000"  # BTC's 10; ETH's, marked at its fill, 0
    check_mark(portfolio, {"ETH/USDT": D("12.00"), "BTC/USDT": D("90.00")})
    check_mark(portfolio, {})


def test_the_oms_journals_a_mark_row_equal_to_encoding_its_values(journal, clock):
    # The OMS writes a lone symbol's mark row from the texts the mark made; it must be the row
    # append_row would have encoded from the same values, for every mark between fills.
    from datetime import timedelta

    from execution_helpers import INSTRUMENTS

    from tradepulse.execution import OMS
    from tradepulse.store.journal import segment_rows

    oms = OMS(journal, INSTRUMENTS, clock=clock)
    written: list[str] = []
    append_encoded_row = journal.append_encoded_row

    def recording(kind, fields, text, **options):
        written.append(text)
        return append_encoded_row(kind, fields, text, **options)

    journal.append_encoded_row = recording
    at = clock.now
    for step, price in enumerate(["100.00", "101.25", "99.99", "100.00"]):
        if step == 2:
            oms._portfolio.apply_fill("BTC/USDT", Side.SELL, D("0.25"), D("100.50"), D("0.02"))  # a fill between marks
        oms.mark_to_market({"BTC/USDT": D(price)}, at=at + timedelta(minutes=step))
    # Two symbols at once take the general valuation; the row's prices are still built by hand.
    oms._portfolio.apply_fill("ETH/USDT", Side.BUY, D("2"), D("10.00"), D("0"))
    oms.mark_to_market({"ETH/USDT": D("12.5"), "BTC/USDT": D("98")}, at=at + timedelta(minutes=9))
    events = journal.events(kinds=["portfolio.marks"])
    rows = [row for event in events for row in segment_rows(event.payload)]
    assert len(written) == len(rows) == 5
    assert list(rows[-1]["prices"]) == ["ETH/USDT", "BTC/USDT"]
    for text, row in zip(written, rows, strict=True):
        assert text == encode_value([row["at"], row["prices"], row["positions"], row["totals"]])
    assert rows[-2]["positions"]["BTC/USDT"]["quantity"] == "-0.25"
