"""The effective per-symbol limits are computed once per symbol and stay what the limits say."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tradepulse.risk import RiskLimits
from tradepulse.risk.limits import SymbolLimits


def test_each_symbols_effective_limits_are_kept_and_a_replaced_limits_object_answers_afresh():
    limits = RiskLimits(max_order_notional=Decimal("1000"), symbols={"ETH/USDT": SymbolLimits(max_order_notional=Decimal("50"))})
    eth, btc = limits.for_symbol("ETH/USDT"), limits.for_symbol("BTC/USDT")
    assert (eth.max_order_notional, btc.max_order_notional) == (Decimal("50"), Decimal("1000"))
    assert limits.for_symbol("ETH/USDT") is eth  # asked on every order: computed once
    raised = replace(limits, max_order_notional=Decimal("2000"))
    assert raised.for_symbol("BTC/USDT").max_order_notional == Decimal("2000")
    assert raised.for_symbol("ETH/USDT").max_order_notional == Decimal("50")
    assert limits.for_symbol("BTC/USDT").max_order_notional == Decimal("1000")
    assert raised == replace(raised)  # the kept answers are not part of the limits' value
