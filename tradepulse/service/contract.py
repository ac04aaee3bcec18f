"""What the HTTP API needs from the running service: the :class:`ServiceBackend` protocol.

:class:`tradepulse.service.host.ServiceHost` implements it; :func:`tradepulse.service.api.create_app`
serves it. Keeping the contract here lets the API layer stay a thin translation (HTTP in,
JSON out, auth) with no trading logic, and lets the host stay free of HTTP.

Every read method returns plain JSON-able values (``str``/``int``/``float``/``bool``/``None``,
lists and dicts; money as decimal *strings*, times as ISO-8601 UTC strings ending in ``Z``).
A method that is asked about an unknown ``strategy_id`` raises :class:`UnknownStrategy`
(the API answers 404). Operator actions are coroutines that return what they did.

REST routes (all under ``/api/v1``, all requiring a bearer token; operate scope for POST):

=========================  ==============================================================
``GET /health``            :meth:`ServiceBackend.health`
``GET /status``            :meth:`ServiceBackend.status`
``GET /strategies``        :meth:`ServiceBackend.strategies`
``GET /positions``         :meth:`ServiceBackend.positions`
``GET /orders``            :meth:`ServiceBackend.orders` (status, symbol, strategy_id, limit, offset)
``GET /fills``             :meth:`ServiceBackend.fills` (symbol, strategy_id, limit, offset)
``GET /pnl``               :meth:`ServiceBackend.pnl` (strategy_id, limit)
``GET /execution``         :meth:`ServiceBackend.execution` (since, strategy_id)
``GET /risk``              :meth:`ServiceBackend.risk` (limit of breaker history)
``GET /alerts``            :meth:`ServiceBackend.alerts` (limit, offset)
``GET /events``            :meth:`ServiceBackend.events` (kind_prefix, strategy_id, after_seq, limit)
``POST /actions/kill``     :meth:`ServiceBackend.kill` (body: reason, flatten)
``POST /actions/resume``   :meth:`ServiceBackend.resume` (body: reason)
``POST /actions/cancel-all``  :meth:`ServiceBackend.cancel_all`
``POST /actions/flatten``  :meth:`ServiceBackend.flatten`
``POST /actions/rollback``  :meth:`ServiceBackend.rollback` (body: strategy, reason)
``GET /versions``          :meth:`ServiceBackend.versions` (name, stage)
``GET /versions/{id}``     :meth:`ServiceBackend.version`
``POST /versions/{id}/approve``  :meth:`ServiceBackend.approve` (approve scope; body: comment)
``POST /versions/{id}/reject``   :meth:`ServiceBackend.reject` (approve scope; body: comment)
``WS   /stream``           :meth:`ServiceBackend.subscribe` (token as ``?token=`` or header)
``GET /metrics``           :meth:`ServiceBackend.metrics` (Prometheus text; read scope)
=========================  ==============================================================
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = ["APPROVE", "OPERATE", "READ", "ServiceBackend", "UnknownStrategy", "UnknownVersion"]

#: Scope of a token that may read everything.
READ = "read"
#: Scope of a token that may also act (kill, resume, cancel all, flatten, rollback); it implies READ.
OPERATE = "operate"
#: Scope of a reviewer's token: approve or reject strategy versions; it implies READ, not OPERATE.
APPROVE = "approve"

#: Trading states, from the risk layer; the service's state is the most restrictive of its engines'.
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")


class UnknownStrategy(LookupError):
    """A request named a strategy id the service does not host (the API answers 404)."""


class UnknownVersion(LookupError):
    """A request named a strategy version the store does not hold (the API answers 404)."""


@runtime_checkable
class ServiceBackend(Protocol):
    """The running service as the API sees it. Shapes are documented per method."""

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded", "uptime_seconds": float, "trading_state": str}``.

        ``degraded`` when an engine stopped unexpectedly, the venue is disconnected or a feed is
        stale past the watchdog limit.
        """

    def status(self) -> dict[str, Any]:
        """The whole picture::

            {"service": {"version", "pid", "started_at", "uptime_seconds", "start_mode": "cold"|"warm",
                         "config_path"},
             "trading_state": "ACTIVE"|"REDUCING"|"HALTED",
             "venue": {"name", "kind", "connected": bool},
             "engines": [{"strategy_id", "strategy", "symbol", "running": bool, "trading_state",
                          "last_bar_end", "last_event_at", "feed_stale_seconds", "reconnects"}],
             "reconciliation": [{"strategy_id", "ok": bool, "adopted": [...], "unexplained": [...], ...}],
             "watchdog": {"stalled": [strategy_id, ...], "limit_seconds"}}
        """

    def strategies(self) -> list[dict[str, Any]]:
        """``[{"strategy_id", "strategy", "symbol", "params": {...}, "bar_seconds", "capital",
        "target", "trading_state", "position"}]``."""

    def positions(self) -> list[dict[str, Any]]:
        """``[{"strategy_id", "symbol", "quantity", "average_cost", "mark_price", "realized_pnl",
        "unrealized_pnl", "fees_quote", "net_pnl", "equity"}]`` (money as strings)."""

    def orders(self, *, status: list[str] | None = None, symbol: str | None = None, strategy_id: str | None = None,
               limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Orders as they are now, newest first, each with ``strategy_id`` added (see store.queries.orders)."""

    def fills(self, *, symbol: str | None = None, strategy_id: str | None = None, limit: int = 100,
              offset: int = 0) -> list[dict[str, Any]]:
        """Applied fills, newest first, each with ``strategy_id`` added (see store.queries.fills)."""

    def pnl(self, *, strategy_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Equity and P&L points, oldest first, the last ``limit`` per strategy:
        ``[{"ts", "strategy_id", "equity", "realized_pnl", "unrealized_pnl", "fees_quote", "net_pnl", "gross_exposure"}]``."""

    def execution(self, *, since: datetime | None = None, strategy_id: str | None = None) -> list[dict[str, Any]]:
        """Execution quality of the orders submitted since ``since`` (all when ``None``), one row per
        strategy and symbol: ``[{"strategy_id", "strategy", "symbol", "orders", "orders_with_fills",
        "rejects", "denials", "ordered_quantity", "filled_quantity", "fill_ratio", "slippage_orders",
        "slippage_bps_avg", "slippage_bps_worst", "slippage_quote", "ack_orders", "ack_ms_p50",
        "ack_ms_p95", "ack_ms_max", "fees_quote"}]`` (see store.queries.execution_quality)."""

    def risk(self, *, limit: int = 100) -> dict[str, Any]:
        """``{"trading_state", "engines": [{"strategy_id", "symbol", "status": {...}}],
        "history": [{"strategy_id", "seq", "ts", "kind", "payload"}]}`` (history newest first)."""

    def alerts(self, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Alerts raised, newest first: ``[{"ts", "kind", "severity", "title", "detail", "delivered"}]``."""

    def events(self, *, kind_prefix: str | None = None, strategy_id: str | None = None, after_seq: int = 0,
               limit: int = 100) -> list[dict[str, Any]]:
        """Journal events, oldest first: ``[{"strategy_id", "seq", "ts", "kind", "correlation_id", "payload"}]``."""

    async def kill(self, *, actor: str, reason: str, flatten: bool = False) -> dict[str, Any]:
        """Halt every engine (cancel open orders; flatten if asked). Returns ``{"trading_state", "engines": [...]}``."""

    async def resume(self, *, actor: str, reason: str) -> dict[str, Any]:
        """Move every engine back to ACTIVE. Returns ``{"trading_state", "engines": [...]}``."""

    async def cancel_all(self, *, actor: str) -> dict[str, Any]:
        """Cancel every open order (re-sending cancels that failed before); report each order.

        Returns ``{"cancelled": [id, ...], "failed": [{"client_order_id", "symbol", "strategy_id",
        "reason", "order_status"}], "pending": [id, ...], "orders": [every per-order outcome]}``.
        """

    async def flatten(self, *, actor: str) -> dict[str, Any]:
        """Halt with flatten: close every position at market. Returns ``{"trading_state", "engines": [...]}``."""

    def versions(self, *, name: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        """Stored strategy versions, oldest first: ``[{"id", "name", "stage", "author", "created_at", "params",
        "checks_passed", "running_in": [strategy_id, ...]}]`` (empty without a store)."""

    def version(self, version_id: str) -> dict[str, Any]:
        """One version: the summary plus ``checks``, ``backtest``, ``data_fingerprint``, ``source_sha256``,
        ``origin`` and ``history`` (its promotion record). Raises :class:`UnknownVersion`."""

    async def approve(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        """Paper -> live, signed off by ``approver``. Returns ``{"decision": {...}, "service": [what changed]}``;
        a rule the store enforces raises a :class:`~tradepulse.errors.TradePulseError` (409)."""

    async def reject(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        """Paper -> research, with the reviewer's comment; returns like :meth:`approve`."""

    async def rollback(self, name: str, *, actor: str, reason: str) -> dict[str, Any]:
        """The previous approved version of ``name`` goes live again; returns like :meth:`approve`."""

    def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        """Live messages until the service stops: ``{"type": "event", "strategy_id", "seq", "ts", "kind",
        "correlation_id", "payload"}`` for every journal event and ``{"type": "status", ...status()}``
        every few seconds. A slow subscriber loses the oldest messages, never blocks the engine."""

    def metrics(self) -> bytes:
        """The Prometheus text exposition of the service's metrics."""
