"""The shared fill and fee rules, and the paper venue following the rules it is given."""

from __future__ import annotations

from decimal import Decimal as D

from tradepulse.sim.fees import FeeAsset, commission, commission_in_other_asset, round_to_eight_places
from tradepulse.sim.fills import LimitFill, resting_fill_quantity, take_levels

ASKS = [(D("100.00"), D("1")), (D("100.50"), D("2")), (D("101.00"), D("5"))]


def test_a_taker_walks_levels_best_first_up_to_its_quantity_or_its_limit():
    assert take_levels(ASKS, buying=True, quantity=D("2.5")) == [(D("100.00"), D("1")), (D("100.50"), D("1.5"))]
    assert take_levels(ASKS, buying=True, quantity=D("9"), limit_price=D("100.50")) == [(D("100.00"), D("1")), (D("100.50"), D("2"))]


def test_a_quote_budget_buys_whole_lots_at_each_level():
    plan = take_levels(ASKS, buying=True, quote_budget=D("250"), step=D("0.01"))
    assert plan == [(D("100.00"), D("1")), (D("100.50"), D("1.49"))]
    assert sum(price * quantity for price, quantity in plan) <= D("250")


def test_touch_fills_on_a_print_at_the_price_from_our_side_through_needs_a_better_print():
    common = {"buying": True, "limit_price": D("100"), "remaining": D("2"), "trade_quantity": D("0.5")}
    assert resting_fill_quantity(LimitFill.TOUCH, trade_price=D("100"), buyer_is_maker=True, **common) == D("0.5")
    assert resting_fill_quantity(LimitFill.TOUCH, trade_price=D("100"), buyer_is_maker=False, **common) == 0  # a buyer lifted offers
    assert resting_fill_quantity(LimitFill.THROUGH, trade_price=D("100"), buyer_is_maker=True, **common) == 0
    assert resting_fill_quantity(LimitFill.THROUGH, trade_price=D("99.99"), buyer_is_maker=False, **common) == D("0.5")


def test_commissions_by_asset_rule_and_a_rebate_keeps_its_sign():
    price, quantity, rate = D("50000"), D("0.01"), D("0.001")
    assert commission(price, quantity, rate, buying=True, fee_asset=FeeAsset.RECEIVED, round_to=round_to_eight_places) == (D("0.00001000"), True)
    assert commission(price, quantity, rate, buying=False, fee_asset=FeeAsset.RECEIVED, round_to=round_to_eight_places) == (D("0.50000000"), False)
    rebate, in_base = commission(price, quantity, D("-0.0001"), buying=False, fee_asset=FeeAsset.QUOTE, round_to=round_to_eight_places)
    assert rebate == D("-0.05000000") and not in_base
    # 500 USDT of notional at 10 bps, 25 % off, paid in BNB at 560 USDT.
    assert commission_in_other_asset(D("500"), rate, discount=D("0.25"), unit_price=D("560"), round_to=round_to_eight_places) == D("0.00066964")
