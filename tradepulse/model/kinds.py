"""Every journal event kind, typed in one place, by the component that writes it, with its payload's shape.

Kinds are dotted lowercase names, ``<area>.<what happened>``; the area prefix is how queries
select a family (``risk.`` for everything the risk layer hands the engine). The journal itself
stores any kind that matches :data:`KIND_PATTERN`; the product writes only the kinds declared here
(``tests/unit/test_journal_kinds.py`` holds that, statically and on a real replay and service), and
the engine, the host, the API and the widgets name them through these enums, never as literals.
Payloads with a fixed shape are declared as ``TypedDict`` beside their kind.
"""

from __future__ import annotations

import enum
import re
from typing import Any, NotRequired, TypedDict

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
    PORTFOLIO_MARKS = "portfolio.marks"  # a segment (store.journal.segment_rows) of marks: MARK_FIELDS
    PORTFOLIO_MARKED = "portfolio.marked"  # one mark per event: what journals written before segments hold (read, not written)


class EngineKind(enum.StrEnum):
    """What the live engine writes (``tradepulse.live.engine``)."""

    STARTED = "engine.started"  # EngineStartedPayload
    STOPPED = "engine.stopped"  # EngineStoppedPayload
    ERROR = "engine.error"  # a background step failed; trading halts
    ORDER_DEFERRED = "engine.order_deferred"  # an earlier outcome is unknown; the target waits
    ORDER_SKIPPED = "engine.order_skipped"  # the change rounds to nothing or is below the minimums
    RECONCILE_PENDING = "engine.reconcile_pending"  # an unknown outcome could not be looked up yet
    HISTORY_DROPPED = "engine.history_dropped"  # after a restart the market's clock went back; the window starts empty


class StrategyKind(enum.StrEnum):
    """What the engine writes about the strategy."""

    TARGET = "strategy.target"  # StrategyTargetPayload
    ERROR = "strategy.error"  # the strategy raised; trading halts
    MEMBER_STALE = "strategy.member_stale"  # a portfolio member's bar was late: the period closed without it
    REPLACED = "strategy.replaced"  # a running engine took a newly promoted (or rolled-back) version; the old one retired


class MarketKind(enum.StrEnum):
    """Market data the engine keeps."""

    BARS = "market.bars"  # a segment (store.journal.segment_rows) of closed bars, by symbol: BAR_FIELDS
    BAR = "market.bar"  # one bar per event (MarketBarPayload): journals written before segments (read, not written)


class RiskKind(enum.StrEnum):
    """What the risk layer hands the engine to journal (payloads: docs/risk.md)."""

    DECISION = "risk.decision"
    STATE_CHANGE = "risk.state_change"
    BREAKER_TRIP = "risk.breaker_trip"
    BASELINES = "risk.baselines"
    BREAKER_SNAPSHOT = "risk.breaker_snapshot"
    LIMITS = "risk.limits"


class ReconcileKind(enum.StrEnum):
    """Warm-start reconciliation (:func:`tradepulse.execution.reconcile.reconcile`)."""

    COMPLETED = "reconcile.completed"  # once per warm start


class ServiceKind(enum.StrEnum):
    """What the service writes, to its own journal or (the baseline) to an engine's."""

    STARTED = "service.started"
    STOPPED = "service.stopped"
    BASELINE = "service.baseline"  # the venue balances at a cold start, before the first order
    ENGINE_FAILED = "service.engine_failed"
    ENGINE_COMPLETED = "service.engine_completed"
    CANCEL_ALL = "service.cancel_all"  # an operator's cancel-all and its per-order report
    ALERT = "service.alert"
    ALERT_DELIVERY = "service.alert_delivery"
    FEED_STALLED = "service.feed_stalled"
    FEED_RECOVERED = "service.feed_recovered"
    LOOP_STALLED = "service.loop_stalled"
    LOOP_RECOVERED = "service.loop_recovered"
    TOKENS_RELOADED = "service.tokens_reloaded"  # SIGHUP re-read the API tokens: how many per scope (never the tokens)
    PROMOTION = "service.promotion"  # an approval, rejection or rollback made through the API, with who made it


class PromotionKind(enum.StrEnum):
    """What the strategy store writes to its promotion record (``tradepulse.promotion``)."""

    VERSION_CREATED = "promotion.version_created"  # an immutable version: source, params, evidence
    PROMOTED = "promotion.promoted"  # to paper, by its author, with the checks passed
    BLOCKED = "promotion.blocked"  # a promotion a failed check refused
    APPROVED = "promotion.approved"  # to live, signed off by someone other than the author
    REJECTED = "promotion.rejected"  # sent back to research, with the reviewer's comment
    ROLLED_BACK = "promotion.rolled_back"  # live goes back to the previous approved version


ALL_KINDS: frozenset[str] = frozenset(
    str(kind) for family in (OmsEventKind, EngineKind, StrategyKind, MarketKind, RiskKind, ReconcileKind, ServiceKind,
                             PromotionKind)
    for kind in family
)
"""Every kind the product writes."""

ORDER_KIND_PREFIX = "order."
RECONCILE_COMPLETED = ReconcileKind.COMPLETED
"""Written once per warm-start reconciliation (:func:`tradepulse.execution.reconcile.reconcile`)."""
RISK_KIND_PREFIX = "risk."
"""Risk decisions, trading-state changes and breaker trips: ``risk.<what>`` (written by the engine)."""
SERVICE_KIND_PREFIX = "service."
"""Every kind the service host writes to its own journal: ``service.<what>``."""
PROMOTION_KIND_PREFIX = "promotion."
"""Every kind the strategy store writes to its promotion record: ``promotion.<what>``."""


class EngineStartedPayload(TypedDict):
    """``engine.started``: what a restart continues from (capital is kept from the first start)."""

    symbol: str
    strategy: str
    strategy_id: str
    params: dict[str, Any]
    capital: Any
    venue: str
    window_bars: int
    bar_period_seconds: float | None
    restarted: bool
    target: float
    symbols: NotRequired[list[str]]  # a portfolio strategy's members (``symbol`` is the first)
    targets: NotRequired[dict[str, float]]  # a portfolio strategy's weight per member
    history_bars: NotRequired[int]  # journaled bars put back in the window on a restart


class EngineStoppedPayload(TypedDict):
    """``engine.stopped``: the run's totals."""

    symbol: str
    bars: int
    fills: int
    final_equity: Any
    pnl: Any
    orders: dict[str, int]


class StrategyTargetPayload(TypedDict):
    """``strategy.target``: the strategy changed its target exposure at the close of a bar."""

    symbol: str
    strategy_id: str
    target: float
    previous: float
    bar_start: Any
    bar_end: Any


# The fields of a ``market.bars`` row; with the segment's symbol, a row reads back as a MarketBarPayload.
BAR_FIELDS = ("start", "end", "open", "high", "low", "close", "volume")
# The fields of a ``portfolio.marks`` row: the time, symbol -> price (exact text), and the OMS's
# snapshot of the positions (symbol -> position) and totals (quote currency -> sums) at that price.
MARK_FIELDS = ("at", "prices", "positions", "totals")


class MarketBarPayload(TypedDict):
    """A ``market.bars`` row (and a ``market.bar`` event's payload): one closed bar, as the strategy saw it."""

    symbol: str
    start: Any
    end: Any
    open: float
    high: float
    low: float
    close: float
    volume: float
