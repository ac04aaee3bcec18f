"""Request and response models of the HTTP API, so the OpenAPI document says exactly what travels.

The shapes follow :class:`tradepulse.service.contract.ServiceBackend`. Conventions:

* money and quantities are decimal **strings** (``"10000.5"``), exact as the journal holds them;
* times are ISO-8601 strings in UTC;
* response objects allow fields beyond the documented ones (a newer service may add some; a
  client must ignore what it does not know); request bodies do not (a typo such as
  ``"flaten": true`` is a 422, not a kill that silently keeps the position).

Numbers handed over where a string is documented are turned into strings
(``coerce_numbers_to_str``) rather than failing the response.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tradepulse.model.kinds import OmsEventKind, RiskKind
from tradepulse.model.orders import OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "ActionRequest",
    "Alert",
    "CancelAllResult",
    "EngineStatus",
    "ErrorBody",
    "ErrorResponse",
    "Event",
    "ExecutionQuality",
    "Fill",
    "Health",
    "KillRequest",
    "Order",
    "PnlPoint",
    "Position",
    "RiskState",
    "Status",
    "StrategyInfo",
    "StreamMessage",
    "TradingStateResult",
]

TradingStateName = Literal["ACTIVE", "REDUCING", "HALTED"]
Money = Annotated[str, Field(description="Decimal string, exact (e.g. `\"10000.5\"`).", examples=["10000.5"])]
Timestamp = Annotated[str, Field(description="ISO-8601 time in UTC (`Z` or `+00:00`).",
                                 examples=["2026-11-22T04:13:18.123000Z"])]

#: Strategy ids, as the configuration allows them.
STRATEGY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


# -- errors ------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code: `unauthorized`, `forbidden`, `not_found`, "
                                  "`method_not_allowed`, `validation_error`, `rejected`, `venue_error`, "
                                  "`internal_error`.", examples=["unauthorized"])
    message: str = Field(description="One human sentence; never contains a token or a secret.")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="For `validation_error`: where and why, as `[{\"loc\": [...], \"msg\": ...}]`."
    )


class ErrorResponse(BaseModel):
    """Every error the API answers with."""

    error: ErrorBody


# -- health and status -------------------------------------------------------------------------


class Health(_Response):
    status: Literal["ok", "degraded"] = Field(
        description="`degraded` when an engine stopped unexpectedly, the venue is disconnected or a feed is stale."
    )
    uptime_seconds: float
    trading_state: TradingStateName


class TokenInfo(_Response):
    scope: Literal["read", "operate", "approve"] = Field(
        description="`operate` may also call /actions/*; `approve` may also approve or reject versions. Never echoes the token.")
    name: str | None = Field(default=None, description="Who holds the token, when it was configured as `name:token`.")


class ServiceInfo(_Response):
    version: str
    pid: int
    started_at: Timestamp | None = None
    uptime_seconds: float
    start_mode: Literal["cold", "warm"] = Field(description="`warm` when the service resumed from its journals.")
    config_path: str | None = None


class VenueStatus(_Response):
    name: str
    kind: str = Field(description="`paper` or `ccxt`.")
    connected: bool


class EngineVenue(_Response):
    connected: bool = Field(description="The engine's venue connection is up (and the engine running).")
    user_stream: str | None = Field(default=None, description="How the venue's account of our orders is followed: `websocket` or `polling` (ccxt).")
    last_error: str | None = Field(default=None, description="The last user-stream error, secrets redacted.")
    stats: dict[str, int] = Field(default_factory=dict, description="Counters: requests, retries, rate limits, unknown outcomes, reconnects.")


class EngineStatus(_Response):
    strategy_id: str
    strategy: str
    symbol: str
    running: bool
    trading_state: TradingStateName
    last_bar_end: Timestamp | None = Field(default=None, description="End of the last closed bar the engine saw.")
    last_event_at: Timestamp | None = None
    feed_stale_seconds: float | None = Field(default=None, description="Seconds since the last market-data event.")
    reconnects: int = 0
    venue: EngineVenue | None = None


class Reconciliation(_Response):
    strategy_id: str
    ok: bool
    adopted: list[Any] = Field(default_factory=list, description="Venue orders adopted at start-up.")
    unexplained: list[Any] = Field(default_factory=list, description="Differences reconciliation could not explain.")


class Watchdog(_Response):
    stalled: list[str] = Field(description="Strategy ids whose engine made no progress within the limit.")
    limit_seconds: float


class Status(_Response):
    service: ServiceInfo
    trading_state: TradingStateName = Field(description="The most restrictive state of the engines.")
    venue: VenueStatus
    engines: list[EngineStatus]
    reconciliation: list[Reconciliation]
    watchdog: Watchdog


# -- trading data ------------------------------------------------------------------------------


class StrategyInfo(_Response):
    strategy_id: str
    strategy: str = Field(description="The strategy's registered name, e.g. `sma_cross`.")
    symbol: str
    params: dict[str, Any]
    bar_seconds: float
    capital: Money | None = None
    target: float | None = Field(default=None, description="The strategy's target: fraction of equity to hold (0 = flat).")
    trading_state: TradingStateName
    position: Money | None = Field(default=None, description="The position held now (base-asset units).")
    version: str | None = Field(default=None, description="The stored strategy version running now, if it runs one.")
    follows: str | None = Field(default=None, description="`promoted:<name>` entries: the name whose promoted version it follows.")


class Position(_Response):
    strategy_id: str
    symbol: str
    quantity: Money
    average_cost: Money | None = None
    mark_price: Money | None = None
    realized_pnl: Money
    unrealized_pnl: Money
    fees_quote: Money
    net_pnl: Money
    equity: Money | None = None


class Order(_Response):
    strategy_id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Money
    limit_price: Money | None = None
    time_in_force: TimeInForce
    status: OrderStatus
    venue_order_id: str | None = None
    filled_quantity: Money
    average_fill_price: Money | None = None
    filled_notional: Money = "0"
    fees: Money
    created_at: Timestamp
    updated_at: Timestamp | None = None
    strategy: str
    reason: str = Field(default="", description="Why the order exists.")
    status_reason: str = Field(default="", description="Why it was denied, rejected or cancelled; empty otherwise.")
    trade_ids: list[str] = Field(default_factory=list)
    journaled_at: Timestamp
    last_seq: int = Field(description="Journal sequence number of the order's latest event.")


class Fill(_Response):
    strategy_id: str
    seq: int
    journaled_at: Timestamp
    client_order_id: str
    symbol: str
    side: Side
    strategy: str
    trade_id: str
    fill_quantity: Money
    fill_price: Money
    fee: Money
    fee_currency: str | None = None
    fee_quote: Money
    filled_at: Timestamp | None = None
    venue_order_id: str | None = None
    is_maker: bool | None = None
    order_status: OrderStatus


class PnlPoint(_Response):
    ts: Timestamp
    strategy_id: str
    equity: Money
    realized_pnl: Money
    unrealized_pnl: Money
    fees_quote: Money
    net_pnl: Money
    gross_exposure: Money | None = Field(default=None, description="Sum of every position's |quantity| x mark at that point.")


class ExecutionQuality(_Response):
    """How well one strategy's orders in one symbol were executed (see docs/api.md, Execution quality)."""

    strategy_id: str
    strategy: str = Field(description="The strategy id the orders carry (the engine's `strategy_id`).")
    symbol: str
    orders: int = Field(description="Orders sent to the venue (denied intents are not).")
    orders_with_fills: int = Field(description="Orders filled at least partly.")
    rejects: int = Field(description="Orders the venue rejected.")
    denials: int = Field(description="Intents the risk gate refused; never sent.")
    ordered_quantity: Money
    filled_quantity: Money
    fill_ratio: float | None = Field(description="Filled ÷ ordered quantity; null without orders.")
    slippage_orders: int = Field(description="Filled orders with an arrival price: those the slippage covers.")
    slippage_bps_avg: float | None = Field(
        description="Slippage against the arrival price (the last price the engine saw when it decided), in basis "
                    "points of the arrival value, positive = a cost; weighted by arrival notional. Null when nothing "
                    "was measured.")
    slippage_bps_worst: float | None = Field(description="The costliest order's slippage (bps).")
    slippage_quote: Money = Field(description="The slippage as an amount of the quote currency (positive = a cost).")
    ack_orders: int = Field(description="Orders with a measured order-to-ack time.")
    ack_ms_p50: float | None = Field(description="Median milliseconds from submission to the venue's first sign of "
                                                 "the order (its ack, or its first fill), on the journal's clock.")
    ack_ms_p95: float | None = Field(description="95th percentile of the same (linear between ranks).")
    ack_ms_max: float | None = Field(description="The slowest.")
    fees_quote: Money = Field(description="Fees paid, in the quote currency.")


class EngineRisk(_Response):
    strategy_id: str
    symbol: str
    status: dict[str, Any] = Field(description="The engine's risk controls: state, tripped breakers, throttle usage.")


class RiskHistoryEntry(_Response):
    strategy_id: str
    seq: int
    ts: Timestamp
    kind: str = Field(examples=[RiskKind.STATE_CHANGE])
    payload: dict[str, Any]


class RiskState(_Response):
    trading_state: TradingStateName
    engines: list[EngineRisk]
    history: list[RiskHistoryEntry] = Field(description="State changes and breaker trips, newest first.")


class Alert(_Response):
    seq: int | None = Field(default=None, description="Sequence number in the service journal.")
    ts: Timestamp
    kind: str = Field(examples=["breaker_trip", "kill", "reconciliation_mismatch", "feed_loss"])
    severity: Literal["info", "warning", "critical"]
    title: str
    detail: Any = None
    delivered: bool | None = None


class Event(_Response):
    strategy_id: str
    seq: int
    ts: Timestamp
    kind: str = Field(examples=[OmsEventKind.ORDER_SUBMITTED])
    correlation_id: str | None = None
    payload: dict[str, Any]


# -- operator actions --------------------------------------------------------------------------


class ActionRequest(BaseModel):
    """Why the operator acts; recorded with the action."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(
        min_length=1, max_length=500, pattern=r"\S",
        description="Why (1 to 500 characters, not only spaces); journaled and logged with the action.",
        examples=["exchange maintenance at 04:00"],
    )


class KillRequest(ActionRequest):
    flatten: bool = Field(default=False, description="Also close every position at market after cancelling orders.")


class TradingStateResult(_Response):
    trading_state: TradingStateName
    engines: list[dict[str, Any]] = Field(description="Each engine's state after the action.")


CancelOutcomeName = Literal["cancelled", "failed", "pending"]


class CancelFailure(_Response):
    client_order_id: str
    symbol: str
    strategy_id: str
    reason: str = Field(description="Why the cancel did not take effect; the next kill or cancel-all re-sends a cancel "
                                    "for an order the venue may still be working.")
    order_status: str = Field(description="The order's state after the attempt.")


class CancelReport(_Response):
    client_order_id: str
    symbol: str
    strategy_id: str
    outcome: CancelOutcomeName = Field(description="cancelled (the venue confirmed it), failed (see reason) or pending "
                                                   "(the venue took the cancel; its confirmation has not arrived yet).")
    reason: str = ""
    order_status: str


class CancelAllResult(_Response):
    cancelled: list[str] = Field(description="Client order ids of the orders the venue confirmed cancelled.")
    failed: list[CancelFailure] = Field(description="Orders whose cancel did not take effect, each with the reason.")
    pending: list[str] = Field(description="Client order ids whose cancel was taken but not yet confirmed.")
    orders: list[CancelReport] = Field(description="Every order the cancel-all acted on, with its outcome.")


# -- WebSocket ---------------------------------------------------------------------------------


class StreamMessage(_Response):
    """One text frame of ``/api/v1/stream`` (see docs/api/asyncapi.yaml)."""

    type: Literal["event", "status"]


# -- strategy versions ------------------------------------------------------------------------

VERSION_ID_PATTERN = r"^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*-[0-9a-f]{12}$"
VersionStage = Literal["research", "paper", "live", "retired"]


class VersionSummary(_Response):
    id: str = Field(description="`<name>-<12 hex>`: the hash of the source and parameters.")
    name: str
    stage: VersionStage
    author: str
    created_at: str
    params: dict[str, Any]
    checks_passed: bool
    running_in: list[str] = Field(description="Strategy ids of this service running the version now.")


class VersionDetail(VersionSummary):
    checks: dict[str, Any] = Field(description="The strategy checks' report when the version was stored.")
    backtest: dict[str, Any] = Field(description="Key figures of its backtest on the data it was checked on.")
    walkforward: dict[str, Any] | None = Field(
        default=None, description="Out-of-sample folds at the version's own parameters: train/test bars, each fold's return, "
                                  "the out-of-sample figures (or why it was skipped).")
    data_fingerprint: str
    source_sha256: str
    origin: str
    history: list[dict[str, Any]] = Field(description="Its promotion record, oldest first (kind, at, actor, comment, evidence).")


class ReviewRequest(BaseModel):
    """A reviewer's sign-off or rejection: what was reviewed and why."""

    model_config = ConfigDict(extra="forbid", strict=True)

    comment: str = Field(min_length=1, max_length=2000, pattern=r"\S",
                         description="What was reviewed and why (required); recorded with the decision.",
                         examples=["paper run 2026-12-01..06 matches the backtest; limits reviewed"])


class RollbackRequest(ActionRequest):
    strategy: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                          description="The strategy name (not a version) whose previous approved version goes live again.")


class GovernanceResult(_Response):
    decision: dict[str, Any] = Field(description="What the promotion record now says (version, stage, who, comment).")
    service: list[dict[str, Any]] = Field(
        description="What this service did about it: `loaded` a new version, or `halted` one no longer allowed.")
