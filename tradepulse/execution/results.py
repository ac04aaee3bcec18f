"""What execution commands report back: one result per order, never a guess left to the caller."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["CancelOutcome", "CancelResult", "SubmitResult", "SubmitStatus", "cancel_report"]


class CancelResult(enum.StrEnum):
    """How one cancel went.

    ``cancelled``: the venue confirmed it. ``failed``: the cancel did not take effect (the venue
    refused it, could not be reached, or the order had already filled); ``reason`` says which, and
    an order the venue may still be working is asked again by the next kill or cancel-all.
    ``pending``: the cancel was accepted for processing but its confirmation has not arrived yet.
    """

    CANCELLED = "cancelled"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True)
class CancelOutcome:
    """The result of cancelling one order."""

    client_order_id: str
    symbol: str
    outcome: CancelResult
    reason: str = ""
    order_status: str = ""

    def to_payload(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"client_order_id": self.client_order_id, "symbol": self.symbol, "outcome": str(self.outcome),
                "reason": self.reason, "order_status": self.order_status}


def cancel_report(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Group per-order cancel payloads (:meth:`CancelOutcome.to_payload`) the way a cancel-all answers.

    ``cancelled`` and ``pending`` list client order ids, ``failed`` the orders with their reasons,
    ``orders`` every payload as given. An empty ``failed`` and ``pending`` is the only all-clear.
    """
    return {
        "cancelled": [order["client_order_id"] for order in orders if order["outcome"] == CancelResult.CANCELLED],
        "failed": [{key: order[key] for key in ("client_order_id", "symbol", "reason", "order_status", "strategy_id") if key in order}
                   for order in orders if order["outcome"] == CancelResult.FAILED],
        "pending": [order["client_order_id"] for order in orders if order["outcome"] == CancelResult.PENDING],
        "orders": orders,
    }


class SubmitStatus(enum.StrEnum):
    """How one submission went.

    ``sent``: the venue answered and the answer is applied (the order may be filled, working, or
    expired). ``denied``: the risk gate (or a spent approval) said no; nothing was sent.
    ``refused``: the venue refused the order; it is REJECTED. ``unknown``: the venue call failed
    without a definite answer; the order is SUBMITTED until the venue is asked by client order id.
    """

    SENT = "sent"
    DENIED = "denied"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SubmitResult:
    """The result of one submission: its status, the order as it now stands, and why (when not sent)."""

    status: SubmitStatus
    order: Any = None
    reason: str = ""
