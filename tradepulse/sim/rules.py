"""Where simulated venues differ on purpose: named rules, one table (rendered into docs/architecture.md).

Every simulated venue takes liquidity, charges fees and fills resting orders with the same code
(:mod:`tradepulse.sim.fills`, :mod:`tradepulse.sim.fees`); a :class:`VenueRules` says which variant
of each rule it follows. The paper venue can be given the local venue's rules, and then both fill
the same orders identically (``tests/integration/test_sim_parity_ccxt.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tradepulse.sim.fees import FeeAsset
from tradepulse.sim.fills import LimitFill

__all__ = ["BACKTEST_RULES", "LOCAL_VENUE_RULES", "PAPER_RULES", "VENUE_RULES", "FeeRounding", "VenueRules", "render_rules_table"]


class FeeRounding(enum.StrEnum):
    """How a commission is rounded: to the instrument's quote quantum, or half-up to eight decimals (Binance)."""

    QUOTE_QUANTUM = "quote quantum"
    EIGHT_PLACES = "eight decimals, half up"
    NONE = "not rounded (floats)"


@dataclass(frozen=True)
class VenueRules:
    """The rules one simulated venue follows where venues differ on purpose."""

    venue: str
    market_orders: str
    fee_asset: FeeAsset
    fee_rounding: FeeRounding
    limit_fill: LimitFill
    why: str


PAPER_RULES = VenueRules(
    venue="paper venue (`adapters/paper`)",
    market_orders="walk the recorded book net of what was taken (the best quote without depth; bars: last price ± the cost model's slippage)",
    fee_asset=FeeAsset.QUOTE, fee_rounding=FeeRounding.QUOTE_QUANTUM, limit_fill=LimitFill.THROUGH,
    why="conservative by default: fees where the backtest charges them, and no fill at our price that a queue ahead of us may have taken",
)
LOCAL_VENUE_RULES = VenueRules(
    venue="local venue (`emulator`)",
    market_orders="walk its replayed book net of what clients took, clients' resting orders first at a price, self-trade prevention",
    fee_asset=FeeAsset.RECEIVED, fee_rounding=FeeRounding.EIGHT_PLACES, limit_fill=LimitFill.TOUCH,
    why="behaves as Binance does towards ccxt: commission in the asset received, shown to eight decimals",
)
BACKTEST_RULES = VenueRules(
    venue="backtest (`backtest`, vectorbt)",
    market_orders="the next bar's open ± the cost model's slippage (`model/costs.py`)",
    fee_asset=FeeAsset.QUOTE, fee_rounding=FeeRounding.NONE, limit_fill=LimitFill.THROUGH,
    why="research on float arrays; the same fee rate (`sim.fees.rate_from_bps`) as the venues",
)
VENUE_RULES = (PAPER_RULES, LOCAL_VENUE_RULES, BACKTEST_RULES)


def render_rules_table() -> str:
    """The rules as the Markdown table docs/architecture.md shows (a test keeps them equal)."""
    lines = ["| venue | market orders | fee charged in | fee rounding | resting limit fills on | why |",
             "|---|---|---|---|---|---|"]
    for rules in VENUE_RULES:
        lines.append(f"| {rules.venue} | {rules.market_orders} | {rules.fee_asset} | {rules.fee_rounding} | "
                     f"{rules.limit_fill} | {rules.why} |")
    return "\n".join(lines) + "\n"
