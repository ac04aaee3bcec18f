"""Execution core: orders as a state table, instruments, the OMS and portfolio accounting.

Money is exact here: quantities, prices, fees and P&L are :class:`~decimal.Decimal`. See
``docs/execution.md`` for the order lifecycle, accounting rules and the journal events.
"""

from __future__ import annotations

from tradepulse.execution.oms import OMS, FillOutcome, FillResult, Submission
from tradepulse.execution.portfolio import PnlSummary, Portfolio, Position
from tradepulse.execution.reconcile import Reconciliation, reconcile
from tradepulse.execution.results import CancelOutcome, CancelResult, SubmitResult, SubmitStatus
from tradepulse.model.ids import CLIENT_ORDER_ID_PATTERN, ClientOrderIds, make_client_order_id
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import (
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Fill,
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    UnknownOrder,
    next_status,
)

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "CancelOutcome",
    "CancelResult",
    "OMS",
    "OPEN_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "ClientOrderIds",
    "Fill",
    "FillOutcome",
    "FillResult",
    "Instrument",
    "InvalidOrder",
    "InvalidTransition",
    "Order",
    "OrderEvent",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "PnlSummary",
    "Portfolio",
    "Position",
    "Reconciliation",
    "Side",
    "SubmitResult",
    "SubmitStatus",
    "Submission",
    "TimeInForce",
    "UnknownOrder",
    "make_client_order_id",
    "next_status",
    "reconcile",
]
