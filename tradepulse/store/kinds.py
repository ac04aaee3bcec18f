"""Event kinds written to the journal, by the component that writes them.

Kinds are dotted lowercase names, ``<area>.<what happened>``; the area prefix is how queries
select a family (``risk.`` for everything the risk layer hands the engine). The journal itself
stores any kind that matches :data:`KIND_PATTERN`.
"""

from __future__ import annotations

import enum
import re

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class OmsEventKind(enum.StrEnum):
    """What the OMS writes. Every ``order.*`` payload carries the order after the event under ``"order"``."""

    ORDER_SUBMITTED = "order.submitted"  # intent journaled; the venue call follows
    ORDER_DENIED = "order.denied"  # the risk gate said no; never sent
    ORDER_ADOPTED = "order.adopted"  # a venue order with one of our ids that the journal lacked (reconciliation)
    ORDER_SUBMIT_FAILED = "order.submit_failed"  # the venue call raised; outcome unknown until asked
    ORDER_ACCEPTED = "order.accepted"
    ORDER_REJECTED = "order.rejected"
    ORDER_FILLED = "order.filled"  # one fill, partial or final
    ORDER_CANCEL_REQUESTED = "order.cancel_requested"  # journaled before the cancel call
    ORDER_CANCELED = "order.canceled"
    ORDER_CANCEL_REJECTED = "order.cancel_rejected"
    ORDER_EXPIRED = "order.expired"
    FILL_DUPLICATE = "fill.duplicate"  # same (symbol, trade id) seen before; changes nothing
    FILL_UNKNOWN_ORDER = "fill.unknown_order"  # no such client order id; changes nothing
    VENUE_UNKNOWN_ORDER = "venue.unknown_order"  # an ack/reject/cancel/expiry for an unknown id; changes nothing
    VENUE_ANSWER_REFUSED = "venue.answer_refused"  # the state table (or a check) refused the answer; changes nothing, raised
    PORTFOLIO_MARKED = "portfolio.marked"  # positions valued at market prices


ORDER_KIND_PREFIX = "order."
RECONCILE_COMPLETED = "reconcile.completed"
"""Written once per warm-start reconciliation (:func:`tradepulse.execution.reconcile.reconcile`)."""
RISK_KIND_PREFIX = "risk."
"""Risk decisions, trading-state changes and breaker trips: ``risk.<what>`` (written by the engine)."""
