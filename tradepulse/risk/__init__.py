"""Risk: the pre-trade gate, the trading state (kill switch) and the circuit breakers.

Risk is a gate that says no with a reason. :class:`RiskGate` returns a :class:`RiskDecision` for
every order — never an exception for a denial — and only an approved decision carries the
:class:`Approval` an order needs to reach the venue. :class:`TradingState` (ACTIVE / REDUCING /
HALTED) is the kill switch; :class:`CircuitBreakers` tighten it automatically and only an operator
loosens it. :class:`RiskControls` wires the three together for the live engine. Everything they
return has ``to_payload()`` for the journal. See docs/risk.md.
"""

from tradepulse.risk.actions import CancelOpenOrders, FlattenPositions, InstrumentLike, flatten_intents
from tradepulse.risk.breakers import (
    BASELINES,
    BREAKERS,
    ORDER_FLOW,
    BaselineChange,
    BreakerTrip,
    CircuitBreakers,
    RiskEvent,
    order_to_trade_ratio,
)
from tradepulse.risk.controls import RiskControls
from tradepulse.risk.gate import (
    APPROVAL_REFUSALS,
    CHECKS,
    Approval,
    ApprovalRefused,
    LastTrade,
    RiskContext,
    RiskDecision,
    RiskGate,
)
from tradepulse.risk.limits import RiskLimits, SymbolLimits
from tradepulse.risk.state import OPERATOR_PREFIX, OperatorRequired, StateChange, TradingMode, TradingState, is_operator

__all__ = [
    "APPROVAL_REFUSALS",
    "BASELINES",
    "BREAKERS",
    "CHECKS",
    "OPERATOR_PREFIX",
    "ORDER_FLOW",
    "Approval",
    "ApprovalRefused",
    "BaselineChange",
    "BreakerTrip",
    "CancelOpenOrders",
    "CircuitBreakers",
    "FlattenPositions",
    "InstrumentLike",
    "LastTrade",
    "OperatorRequired",
    "RiskContext",
    "RiskControls",
    "RiskDecision",
    "RiskEvent",
    "RiskGate",
    "RiskLimits",
    "StateChange",
    "SymbolLimits",
    "TradingMode",
    "TradingState",
    "flatten_intents",
    "is_operator",
    "order_to_trade_ratio",
]
