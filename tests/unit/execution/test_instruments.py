"""Instruments round prices to the tick and quantities down to the lot, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from execution_helpers import BTC_USDT
from hypothesis import given
from hypothesis import strategies as st

from tradepulse.execution import Instrument, InvalidOrder, Side

amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False, places=12)


def test_round_quantity_goes_down_to_the_lot_and_keeps_its_decimals():
    assert BTC_USDT.round_quantity(Decimal("0.123456789")) == Decimal("0.12345")
    assert str(BTC_USDT.round_quantity(Decimal("1"))) == "1.00000"


def test_round_price_goes_to_the_nearest_tick_half_even():
    assert BTC_USDT.round_price(Decimal("43000.005")) == Decimal("43000.00")
    assert BTC_USDT.round_price(Decimal("43000.015")) == Decimal("43000.02")
    assert BTC_USDT.round_price(Decimal("43000.0051")) == Decimal("43000.01")


def test_limit_prices_round_in_the_direction_that_never_pays_more():
    assert BTC_USDT.round_limit_price(Decimal("100.019"), Side.BUY) == Decimal("100.01")
    assert BTC_USDT.round_limit_price(Decimal("100.011"), Side.SELL) == Decimal("100.02")


def test_a_tick_that_is_not_a_power_of_ten_rounds_to_its_multiples():
    odd = Instrument("X/USDT", "X", "USDT", tick_size=Decimal("0.05"), lot_size=Decimal("5"))
    assert odd.round_price(Decimal("1.26")) == Decimal("1.25")
    assert odd.round_quantity(Decimal("14.9")) == Decimal("10")


@given(amount=amounts)
def test_rounded_values_are_on_the_grid_and_never_exceed_the_input(amount):
    quantity = BTC_USDT.round_quantity(amount)
    assert quantity <= amount and amount - quantity < BTC_USDT.lot_size
    assert BTC_USDT.is_quantity_on_grid(quantity)
    price = BTC_USDT.round_price(amount)
    assert abs(price - amount) <= BTC_USDT.tick_size / 2 and BTC_USDT.is_price_on_grid(price)


def test_order_problem_names_the_filter_an_order_breaks():
    assert "lot size" in BTC_USDT.order_problem(Decimal("0.000001"))
    assert "tick size" in BTC_USDT.order_problem(Decimal("0.001"), limit_price=Decimal("100.001"))
    assert "notional" in BTC_USDT.order_problem(Decimal("0.0001"), reference_price=Decimal("43000"))
    assert BTC_USDT.order_problem(Decimal("0.001"), reference_price=Decimal("43000")) is None


def test_default_pnl_quantum_makes_on_grid_notionals_exact():
    assert BTC_USDT.quote_quantum == Decimal("1E-7")
    notional = Decimal("0.12345") * Decimal("43000.01")
    assert BTC_USDT.quantize_quote(notional) == notional


def test_invalid_grids_are_refused():
    with pytest.raises(InvalidOrder):
        Instrument("X/Y", "X", "Y", tick_size=Decimal("0"), lot_size=Decimal("1"))
    with pytest.raises(TypeError):
        Instrument("X/Y", "X", "Y", tick_size=0.01, lot_size=Decimal("1"))  # type: ignore[arg-type]


def _to_grid_by_division(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """The general rule: whole steps, rounded, times the step, printed with the step's decimals."""
    from decimal import localcontext

    with localcontext() as context:
        context.prec = 60
        result = (value / step).to_integral_value(rounding=rounding) * step
        return result.quantize(step) if step.as_tuple().exponent <= 0 else result


@given(
    value=st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False, places=14),
    step=st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.01"), Decimal("0.00001"), Decimal("1E-8")]),
    rounding=st.sampled_from(["ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_CEILING", "ROUND_FLOOR"]),
)
def test_power_of_ten_steps_round_exactly_as_whole_steps_do(value, step, rounding):
    # Power-of-ten steps take a one-call path; it must give the same number with the same decimals.
    from tradepulse.model.instruments import _to_grid

    fast, general = _to_grid(value, step, rounding), _to_grid_by_division(value, step, rounding)
    assert fast == general
    assert str(fast) == str(general)


def test_other_steps_still_round_to_whole_steps():
    from tradepulse.model.instruments import _to_grid

    assert _to_grid(Decimal("43000.37"), Decimal("0.5"), "ROUND_HALF_EVEN") == Decimal("43000.5")
    assert str(_to_grid(Decimal("0.0125"), Decimal("0.010"), "ROUND_DOWN")) == "0.010"
    assert _to_grid(Decimal("43017"), Decimal("1E+1"), "ROUND_DOWN") == Decimal("43010")
