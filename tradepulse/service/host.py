"""The service host: runs every configured strategy's engine, and is what the API talks to.

Lifecycle (docs/operations.md has the operator's view):

* **Start.** Take the state directory's lock (one service per state directory), open the
  service journal, build one :class:`~tradepulse.service.slots.EngineSlot` per strategy, start
  each engine (connect, rebuild the OMS and risk state from its journal). A **cold** start
  journals the venue's balances as the baseline before any order; a **warm** start reconciles
  the journal with the venue (open orders, fills missed while down, balances). If anything stays
  unexplained, that engine is HALTED and a ``reconciliation_mismatch`` alert goes out: it does
  not trade until an operator looks and resumes.
* **Run.** Each engine runs as a task; a journal listener turns every event into metrics, log
  lines (correlation id = client order id) and messages for WebSocket subscribers; risk state
  changes and breaker trips raise alerts. A watchdog notices a feed silent for longer than
  ``watchdog_seconds`` and an event loop that stalls.
* **Stop** (SIGTERM, ``tradepulse live stop``): cancel open orders if configured, stop the feeds
  so the engines finish their current event, journal the stop, close everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.execution.results import cancel_report
from tradepulse.model.kinds import ORDER_KIND_PREFIX, EngineKind, OmsEventKind, RiskKind, ServiceKind, StrategyKind
from tradepulse.obs.alerts import AlertSender
from tradepulse.obs.json_logs import correlation
from tradepulse.obs.metrics import TradingMetrics
from tradepulse.service.config import ServiceConfig
from tradepulse.service.events import EquityBook, EventBus, MetricsRecorder, event_message
from tradepulse.service.governance import Governor
from tradepulse.service.slots import EngineSlot, build_slot, journal_location
from tradepulse.service.views import ServiceViews
from tradepulse.store import Journal
from tradepulse.store.journal import JournalEvent

__all__ = ["ServiceHost"]

logger = logging.getLogger("tradepulse.service")

_SERVICE_ACTOR = "system:service"
#: How often a standby tries to take the lease (and how quickly it takes over once it is free).
_LEASE_POLL_SECONDS = 1.0
_LEASE_CHECK_SECONDS = 5.0
_STATE_RANK = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}


def _execution_of(engine: Any, symbol: str) -> Any:
    """The execution engine trading ``symbol``: a portfolio engine has one per member."""
    executions = getattr(engine, "executions", None)
    return executions[symbol] if executions else engine.execution


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ServiceHost(ServiceViews):
    """Host the configured strategies; implements :class:`~tradepulse.service.contract.ServiceBackend`.

    Parameters
    ----------
    config
        The validated configuration (:func:`~tradepulse.service.config.load_config`).
    environ
        Where venue credentials and the alert webhook URL come from; ``os.environ`` by default.
    metrics
        A metrics registry to record into; a new one by default.

    Examples
    --------
    >>> host = ServiceHost(load_config("live.toml"))   # doctest: +SKIP
    >>> await host.start(); ...; await host.stop()     # doctest: +SKIP
    """

    def __init__(self, config: ServiceConfig, *, environ: Mapping[str, str] | None = None,
                 metrics: TradingMetrics | None = None) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.metrics_registry = metrics or TradingMetrics()
        self.slots: dict[str, EngineSlot] = {}
        self.bus = EventBus()
        self.equities = EquityBook()
        self._reconnects_seen: dict[str, int] = {}
        self.started_at: datetime | None = None
        self._started_monotonic = time.monotonic()
        self.start_mode = "cold"
        self.service_journal: Journal | None = None
        self._lock_file: Any = None
        self.lease: Any = None  # the PostgreSQL lease, with [service] store (one active service per name)
        self.standby = False
        self._tasks: list[asyncio.Task] = []
        self._stopped = asyncio.Event()
        self._stopping = False
        self._running = False
        self._loop_watchdog: LoopWatchdog | None = None
        self.loop_beat = time.monotonic()
        self.loop_stalled = False
        self.loop_lag_seconds = 0.0
        self.governor = Governor(self, config.governance)
        self.alert_sender = (
            AlertSender(config.alerts.webhook_url.reveal(), format=config.alerts.format,
                        timeout=config.alerts.timeout_seconds, service=config.service.name)
            if config.alerts.webhook_url is not None else None
        )

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Lock the state directory, build and start every engine, reconcile, begin trading."""
        state_dir = self.config.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock(state_dir / "service.lock")
        await self._take_lease()
        self.service_journal = Journal(journal_location(self.config, "service"), durability=self.config.service.durability)
        self.started_at = _utc_now()
        self._started_monotonic = time.monotonic()
        try:
            for entry in self.config.strategies:
                slot = build_slot(self.config, entry, self.environ)
                self.slots[entry.id] = slot
                slot.journal.add_listener(self._listener_for(slot))
            for slot in self.slots.values():
                await self._start_slot(slot)
        except BaseException:
            await self._close_all()
            raise
        self.start_mode = "warm" if any(slot.start_mode == "warm" for slot in self.slots.values()) else "cold"
        self.service_journal.append(ServiceKind.STARTED, {
            "pid": os.getpid(), "mode": self.start_mode, "config": str(self.config.path) if self.config.path else None,
            "strategies": [slot.strategy_id for slot in self.slots.values()],
        })
        for slot in self.slots.values():
            slot.task = asyncio.create_task(self._run_slot(slot), name=f"engine:{slot.strategy_id}")
            slot.outcome = "running"
        self._running = True
        self.loop_beat = time.monotonic()
        self._loop_watchdog = LoopWatchdog(self)
        self._loop_watchdog.start()
        self._tasks = [asyncio.create_task(self._watchdog(), name="watchdog"),
                       asyncio.create_task(self._publish_status(), name="status"),
                       asyncio.create_task(self.governor.watch(), name="governance")]
        if self.lease is not None:
            self._tasks.append(asyncio.create_task(self._watch_lease(), name="lease"))
        logger.info("service started", extra={"mode": self.start_mode, "strategies": list(self.slots)})

    async def _start_slot(self, slot: EngineSlot) -> None:
        engine = slot.engine
        await engine.start()
        self._refresh_metrics(slot)
        base, quote = slot.symbol.split("/")
        baseline = slot.journal.events(kinds=[ServiceKind.BASELINE], limit=1)
        ever_ordered = bool(slot.journal.events(kind_prefix=ORDER_KIND_PREFIX, limit=1))
        if not baseline and not ever_ordered:
            # Before the first order: whatever the account holds now is not this engine's doing.
            balances = await slot.venue.balances()
            bases = [symbol.split("/")[0] for symbol in slot.symbols]
            slot.journal.append(ServiceKind.BASELINE, {
                "symbol": slot.symbol, "base_asset": base, "quote_asset": quote,
                "base_total": balances[base].total if base in balances else 0,
                "quote_total": balances[quote].total if quote in balances else 0,
                # Every member's base asset: a portfolio reconciles each position against its own balance.
                "base_totals": {asset: balances[asset].total if asset in balances else 0 for asset in bases},
            })
            baseline = slot.journal.events(kinds=[ServiceKind.BASELINE], limit=1)
        if slot.start_mode == "warm":
            await self._reconcile(slot, baseline[0].payload if baseline else None)

    async def _reconcile(self, slot: EngineSlot, baseline: Mapping[str, Any] | None) -> None:
        from decimal import Decimal

        from tradepulse.execution.reconcile import reconcile

        engine = slot.engine
        first = slot.journal.events(kinds=[EngineKind.STARTED], limit=1)
        since = first[0].ts if first else None
        oms = engine.oms
        assert oms is not None
        unexplained: list[str] = []
        payloads = []
        for symbol in slot.symbols:
            asset = symbol.split("/")[0]
            totals = baseline.get("base_totals") or {} if baseline else {}
            known = totals.get(asset, baseline["base_total"] if baseline and asset == baseline.get("base_asset") else None) if baseline else None
            result = await reconcile(
                oms=oms, venue=slot.venue, journal=slot.journal, instrument=oms.instrument(symbol),
                strategy_id=slot.strategy_id, baseline_base=Decimal(str(known)) if known is not None else None,
                since=since, execution=_execution_of(engine, symbol),
            )
            payloads.append(result.to_payload())
            unexplained += result.unexplained
        # One payload for one symbol (as before); a portfolio's lists each member's.
        slot.reconciliation = payloads[0] if len(payloads) == 1 else {
            "ok": not unexplained, "members": payloads, "unexplained": unexplained,
        }
        self.metrics_registry.reconciled(not unexplained)
        if unexplained:
            reason = "reconciliation with the venue left differences unexplained: " + "; ".join(unexplained)
            await engine.halt(reason[:1000], _SERVICE_ACTOR)
            self.alert("reconciliation_mismatch", "critical",
                       f"{slot.strategy_id} ({slot.symbol}) is HALTED after a warm start: {reason}. "
                       "Check the venue account, then resume with `tradepulse live resume`.",
                       {"strategy_id": slot.strategy_id, "reconciliation": slot.reconciliation})

    async def _run_slot(self, slot: EngineSlot) -> None:
        try:
            await slot.engine.run()
        except asyncio.CancelledError:
            slot.outcome = "stopped"
            raise
        except Exception as error:  # noqa: BLE001 - one engine failing must not take the others down
            slot.outcome, slot.error = "failed", f"{type(error).__name__}: {error}"
            logger.error("engine %s stopped on an error: %s", slot.strategy_id, slot.error)
            self._journal_service(ServiceKind.ENGINE_FAILED, {"strategy_id": slot.strategy_id, "error": slot.error})
            self.alert("feed_loss", "critical", f"engine {slot.strategy_id} stopped: {slot.error}",
                       {"strategy_id": slot.strategy_id})
            return
        slot.outcome = "stopped" if self._stopping else "completed"
        if not self._stopping:
            # A replay source ran out (paper) or the feed ended: the engine is done, the service stays up.
            self._journal_service(ServiceKind.ENGINE_COMPLETED, {"strategy_id": slot.strategy_id})

    async def stop(self, *, cancel_orders: bool | None = None) -> None:
        """Stop gracefully: cancel open orders (as configured), stop feeds and engines, flush, close."""
        if not self._running:
            return  # never started, or a failed start already closed everything
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        cancel = self.config.service.cancel_orders_on_stop if cancel_orders is None else cancel_orders
        cancels: list[dict[str, Any]] = []
        for slot in self.slots.values():
            if cancel and slot.running and slot.engine.execution is not None:
                with contextlib.suppress(Exception):
                    outcomes = await asyncio.wait_for(slot.engine.cancel_open_orders(), timeout=15)
                    cancels += [{**outcome.to_payload(), "strategy_id": slot.strategy_id} for outcome in outcomes]
            slot.engine.stop()
            slot.feed.stop()
        cancelled = cancel_report(cancels)["cancelled"]
        for slot in self.slots.values():
            if slot.task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(slot.task), timeout=20)
                except (TimeoutError, asyncio.TimeoutError):
                    slot.task.cancel()
                    with contextlib.suppress(BaseException):
                        await slot.task
                except Exception:  # noqa: BLE001 - already recorded by _run_slot
                    pass
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._loop_watchdog is not None:
            self._loop_watchdog.stop()
        self._journal_service(ServiceKind.STOPPED, {"cancelled_orders": cancelled})
        self.bus.close()
        await self._close_all()
        self._stopped.set()
        logger.info("service stopped", extra={"cancelled_orders": len(cancelled)})

    async def wait(self) -> None:
        """Wait until :meth:`stop` has finished."""
        await self._stopped.wait()

    async def _close_all(self) -> None:
        for slot in self.slots.values():
            if slot.task is None:
                with contextlib.suppress(Exception):
                    await slot.venue.close()
            close_feed = getattr(slot.feed.inner, "aclose", None)
            if close_feed is not None:
                with contextlib.suppress(Exception):
                    await close_feed()
            slot.close()
        if self.service_journal is not None:
            self.service_journal.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    async def _take_lease(self) -> None:
        """With journals in PostgreSQL: wait (as a standby) until this service holds its name's lease.

        Two services with the same store and name are an active one and a standby: the standby waits
        here, before it opens a journal or talks to the venue, and takes over when the active one's
        database session ends (it died or its host vanished), then warm-starts from the shared
        journals and reconciles with the venue like any restart.
        """
        if not self.config.service.store:
            return
        from tradepulse.store.postgres import JournalLease, PgLocation

        location = PgLocation.parse(self.config.service.store, journal="lease")
        self.lease = JournalLease(location, self.config.service.name)
        said = 0.0
        try:
            while not await asyncio.to_thread(self.lease.try_acquire):
                if time.monotonic() - said > 30:
                    logger.warning("standby: another service holds the lease; waiting to take over",
                                   extra={"service": self.config.service.name, "store": location.url})
                    said = time.monotonic()
                self.standby = True
                await asyncio.sleep(_LEASE_POLL_SECONDS)
        except BaseException:
            # Stopped while waiting (SIGTERM to a standby), or the database is unreachable.
            self.lease.release()
            self.lease = None
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
            raise
        if self.standby:
            logger.warning("took over the lease: this service is now the active one", extra={"service": self.config.service.name})
        self.standby = False

    async def _watch_lease(self) -> None:
        """A lost lease (the database session ended) means a standby may take over: stop trading at once."""
        while True:
            await asyncio.sleep(_LEASE_CHECK_SECONDS)
            if self.lease is not None and not await asyncio.to_thread(self.lease.still_held):
                reason = "lost the journal lease (the database session ended): a standby may take over"
                logger.error(reason, extra={"service": self.config.service.name})
                await self.kill(actor=_SERVICE_ACTOR, reason=reason)
                return

    def _take_lock(self, path: Path) -> None:
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ConfigError(f"another service is running on state directory {path.parent} (it holds {path.name})") from None
        self._lock_file = handle

    # -- operator actions ------------------------------------------------------------------------

    async def kill(self, *, actor: str, reason: str, flatten: bool = False) -> dict[str, Any]:
        for slot in self._started_slots():
            if slot.running:
                await slot.engine.halt(reason, actor, flatten)
            else:
                # A finished engine has no venue connection left to cancel on; its state still changes,
                # so a restart from this journal comes back HALTED.
                change = slot.risk.halt(reason, actor, flatten)
                slot.journal.append(change.kind, change.to_payload())
        self.alert("kill", "critical", f"trading HALTED by {actor}: {reason}", {"flatten": flatten})
        return self._states()

    async def resume(self, *, actor: str, reason: str) -> dict[str, Any]:
        for slot in self._started_slots():
            if slot.running:
                await slot.engine.resume(actor, reason)
            else:
                change = slot.risk.resume(actor, reason)
                slot.journal.append(change.kind, change.to_payload())
        return self._states()

    async def cancel_all(self, *, actor: str) -> dict[str, Any]:
        orders: list[dict[str, Any]] = []
        for slot in self._live_slots():
            orders += [{**outcome.to_payload(), "strategy_id": slot.strategy_id} for outcome in await slot.engine.cancel_open_orders()]
        report = cancel_report(orders)
        self._journal_service(ServiceKind.CANCEL_ALL, {"actor": actor, **report})
        return report

    async def flatten(self, *, actor: str) -> dict[str, Any]:
        return await self.kill(actor=actor, reason="operator flatten: close every position", flatten=True)

    # -- strategy versions (tradepulse.service.governance) ---------------------------------------

    def versions(self, *, name: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        return self.governor.versions(name=name, stage=stage)

    def version(self, version_id: str) -> dict[str, Any]:
        return self.governor.version(version_id)

    async def approve(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        return await self.governor.approve(version_id, approver=approver, comment=comment)

    async def reject(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        return await self.governor.reject(version_id, approver=approver, comment=comment)

    async def rollback(self, name: str, *, actor: str, reason: str) -> dict[str, Any]:
        return await self.governor.rollback(name, actor=actor, reason=reason)

    def _started_slots(self) -> list[EngineSlot]:
        return [slot for slot in self.slots.values() if slot.engine.execution is not None]

    def _live_slots(self) -> list[EngineSlot]:
        return [slot for slot in self.slots.values() if slot.engine.execution is not None and slot.outcome in ("running", "starting")]

    def _states(self) -> dict[str, Any]:
        return {"trading_state": self.trading_state(),
                "engines": [{"strategy_id": slot.strategy_id, "trading_state": slot.trading_state()} for slot in self.slots.values()]}

    def trading_state(self) -> str:
        states = [slot.trading_state() for slot in self.slots.values()] or ["HALTED"]
        return max(states, key=lambda state: _STATE_RANK.get(state, 2))

    # -- alerts ----------------------------------------------------------------------------------

    def alert(self, kind: str, severity: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        """Record an alert in the service journal and post it to the webhook (in the background)."""
        self.record_alert(kind, severity, message, details)

    def journal_service_event(self, kind: str, payload: Mapping[str, Any]) -> JournalEvent | None:
        """Append to the service journal (any thread: the journal serialises writers)."""
        return self._journal_service(kind, payload)

    def record_alert(self, kind: str, severity: str, message: str, details: Mapping[str, Any] | None = None, *,
                     deliver_now: bool = False) -> None:
        """Journal and post one alert; ``deliver_now`` posts from the calling thread (the loop may be stuck)."""
        record = {"kind": kind, "severity": severity, "title": message.split(": ")[0][:200], "detail": message,
                  "details": dict(details or {}), "delivered": None}
        event = self._journal_service(ServiceKind.ALERT, record)
        log = logger.critical if severity == "critical" else logger.warning
        log("alert %s: %s", kind, message, extra={"alert_kind": kind})
        if self.alert_sender is not None and deliver_now:
            outcome = self.alert_sender.send(kind, severity, message, details)
            self._journal_service(ServiceKind.ALERT_DELIVERY, {"alert_seq": event.seq if event else None,
                                                             "delivered": outcome.delivered, "status": getattr(outcome, "status", None)})
        elif self.alert_sender is not None:
            sender, seq = self.alert_sender, event.seq if event else None

            async def deliver() -> None:
                outcome = await asyncio.to_thread(sender.send, kind, severity, message, details)
                self._journal_service(ServiceKind.ALERT_DELIVERY, {"alert_seq": seq, "delivered": outcome.delivered,
                                                                 "status": getattr(outcome, "status", None)})
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(deliver())

    def _journal_service(self, kind: str, payload: Mapping[str, Any]) -> JournalEvent | None:
        if self.service_journal is None:
            return None
        event = self.service_journal.append(kind, payload)
        self.bus.publish(event_message("service", event))
        return event

    # -- observing -------------------------------------------------------------------------------

    def _listener_for(self, slot: EngineSlot) -> Any:
        recorder = MetricsRecorder(self.metrics_registry, slot, self.equities)

        def on_event(event: JournalEvent) -> None:
            recorder.record(event)
            self._log_event(slot, event)
            self.bus.publish(event_message(slot.strategy_id, event))
            if event.kind == RiskKind.STATE_CHANGE and event.payload.get("new") in ("HALTED", "REDUCING"):
                actor = str(event.payload.get("actor", ""))
                if not actor.startswith("operator:"):
                    self.alert("breaker_trip", "critical" if event.payload.get("new") == "HALTED" else "warning",
                               f"{slot.strategy_id} ({slot.symbol}) is {event.payload.get('new')}: {event.payload.get('reason')}",
                               {"strategy_id": slot.strategy_id, "actor": actor})
        return on_event

    def _log_event(self, slot: EngineSlot, event: JournalEvent) -> None:
        """One JSON log line per order event, risk change and signal, correlated by client order id.

        A signal (``strategy.target``) happens before its order exists, so it is logged again, under
        the order's client order id, when the order is submitted: following one id in the logs gives
        the signal, the submission, the venue's answer and every fill.
        """
        kind = event.kind
        if kind == StrategyKind.TARGET:
            slot.last_signal = (event.seq, dict(event.payload))
        if not (kind.startswith(ORDER_KIND_PREFIX) or kind in (StrategyKind.TARGET, RiskKind.STATE_CHANGE, RiskKind.BREAKER_TRIP)):
            return
        correlation_id = event.correlation_id or f"{slot.strategy_id}-{event.seq}"
        with correlation(correlation_id):
            if kind == OmsEventKind.ORDER_SUBMITTED and slot.last_signal is not None:
                signal_seq, signal = slot.last_signal
                logger.info("signal %s", slot.strategy_id, extra={
                    "strategy_id": slot.strategy_id, "symbol": slot.symbol, "event_kind": "signal", "seq": signal_seq,
                    "target": signal.get("target"), "previous_target": signal.get("previous"), "bar_end": signal.get("bar_end"),
                })
            order = event.payload.get("order") or {}
            logger.info("%s %s", kind, slot.strategy_id, extra={
                "strategy_id": slot.strategy_id, "symbol": slot.symbol, "event_kind": kind, "seq": event.seq,
                "status": order.get("status"), "side": order.get("side"), "quantity": order.get("quantity"),
                "signal_seq": slot.last_signal[0] if kind == OmsEventKind.ORDER_SUBMITTED and slot.last_signal else None,
            })

    def _refresh_metrics(self, slot: EngineSlot) -> None:
        metrics = self.metrics_registry
        metrics.set_trading_state(self.trading_state())
        if slot.engine.oms is not None:
            for symbol in slot.symbols:
                metrics.set_position(symbol, slot.engine.oms.position(symbol).quantity)

    async def _watchdog(self) -> None:
        interval = 1.0
        limit = self.config.service.watchdog_seconds
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            self.loop_beat = time.monotonic()
            self.loop_lag_seconds = max(0.0, self.loop_beat - before - interval)
            worst = 0.0
            for slot in self.slots.values():
                if not slot.running:
                    continue
                silent = slot.feed.silent_seconds()
                worst = max(worst, silent)
                if silent > limit and not slot.stalled:
                    slot.stalled = True
                    self._journal_service(ServiceKind.FEED_STALLED, {"strategy_id": slot.strategy_id, "silent_seconds": round(silent, 1)})
                    self.alert("feed_loss", "critical",
                               f"{slot.strategy_id} ({slot.symbol}) has had no market data for {silent:.0f} s",
                               {"strategy_id": slot.strategy_id, "limit_seconds": limit})
                elif silent <= limit and slot.stalled:
                    slot.stalled = False
                    self._journal_service(ServiceKind.FEED_RECOVERED, {"strategy_id": slot.strategy_id})
                self._count_reconnects(slot)
            self.metrics_registry.set_feed_staleness(worst)
            # Journal writes are synchronous (durable before they return); what can lag is delivery
            # of journaled events to live subscribers.
            self.metrics_registry.set_journal_lag(self.bus.backlog())

    def _count_reconnects(self, slot: EngineSlot) -> None:
        """Turn the feed's and the user stream's reconnect counters into the metric's increments."""
        counters = {
            "market_data": int(getattr(slot.feed.inner, "stats", {}).get("reconnects", 0)),
            "user": int(slot.venue.connection_status().stats.get("user_stream_reconnects", 0)),
        }
        for stream, total in counters.items():
            key = f"{slot.strategy_id}:{stream}"
            for _ in range(total - self._reconnects_seen.get(key, 0)):
                self.metrics_registry.reconnected(stream)
            self._reconnects_seen[key] = total

    async def _publish_status(self) -> None:
        while True:
            await asyncio.sleep(self.config.service.status_interval_seconds)
            if self.bus.subscribers:
                self.bus.publish({"type": "status", **self.status()})

    def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        return self.bus.subscribe()

    def metrics(self) -> bytes:
        self.metrics_registry.set_trading_state(self.trading_state())
        return self.metrics_registry.render()

    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started_monotonic


class LoopWatchdog(threading.Thread):
    """A thread that notices when the event loop itself stops turning.

    The loop's own watchdog task cannot report a stall while the loop is stalled (a blocking call
    in a strategy, a lock held across I/O): everything in the loop, the API included, waits. This
    thread watches the loop's heartbeat and, once it is older than ``watchdog_seconds``, journals
    ``service.loop_stalled`` and sends a ``feed_loss`` alert from outside the loop, once per stall.
    """

    def __init__(self, host: ServiceHost, poll_seconds: float = 0.5) -> None:
        super().__init__(name="tradepulse-loop-watchdog", daemon=True)
        self.host = host
        self.poll_seconds = poll_seconds
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def run(self) -> None:
        host, limit = self.host, self.host.config.service.watchdog_seconds
        while not self._stop_event.wait(self.poll_seconds):
            silent = time.monotonic() - host.loop_beat
            if silent > limit and not host.loop_stalled:
                host.loop_stalled = True
                message = f"the service's event loop has not turned for {silent:.0f} s: trading, the API and the feeds are stuck"
                logger.critical(message)
                with contextlib.suppress(Exception):
                    host.record_alert("feed_loss", "critical", message, {"silent_seconds": round(silent, 1)}, deliver_now=True)
            elif silent <= limit and host.loop_stalled:
                host.loop_stalled = False
                with contextlib.suppress(Exception):
                    host.journal_service_event(ServiceKind.LOOP_RECOVERED, {})
