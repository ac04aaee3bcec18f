"""Journal events turned into live messages (:class:`EventBus`) and metrics (:class:`MetricsRecorder`).

Both are fed by a journal listener, i.e. only with what is already durable: a subscriber never
sees an order the journal could lose, and the metrics count exactly what the journal holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tradepulse.model.kinds import OmsEventKind, RiskKind
from tradepulse.obs.metrics import TradingMetrics
from tradepulse.store.journal import JournalEvent, format_ts, segment_rows

__all__ = ["EquityBook", "EventBus", "MetricsRecorder", "event_message"]

#: Messages a subscriber may fall behind before the oldest are dropped (it never blocks the engine).
SUBSCRIBER_QUEUE = 1000


def event_message(source: str, event: JournalEvent) -> dict[str, Any]:
    """The WebSocket message of one journal event (``source`` is the strategy id, or ``"service"``)."""
    return {"type": "event", "strategy_id": source, "seq": event.seq, "ts": format_ts(event.ts), "kind": event.kind,
            "correlation_id": event.correlation_id, "payload": event.payload}


class StreamMessage(dict):
    """A message fanned out to every subscriber: one object, serialised once for all of them."""

    _text: str | None = None

    def frame(self) -> str:
        """The message as the JSON text frame every subscriber is sent (computed on first use, then shared)."""
        if self._text is None:
            self._text = json.dumps(self, default=str, separators=(",", ":"))
        return self._text


class EventBus:
    """Fan messages out to subscribers, each with a bounded queue; slow ones lose their oldest messages."""

    def __init__(self) -> None:
        self._queues: dict[int, asyncio.Queue] = {}
        self._ids = itertools.count(1)
        self.dropped: dict[int, int] = {}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def backlog(self) -> int:
        """Messages queued for the slowest subscriber."""
        return max((queue.qsize() for queue in self._queues.values()), default=0)

    def publish(self, message: Mapping[str, Any]) -> None:
        """Queue ``message`` for every subscriber; callable from any thread."""
        if not self._queues:
            return
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop:
            loop.call_soon_threadsafe(self._put_all, StreamMessage(message))
        else:
            self._put_all(StreamMessage(message))

    def _put_all(self, message: StreamMessage) -> None:
        for key, queue in list(self._queues.items()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                self.dropped[key] = self.dropped.get(key, 0) + 1
            queue.put_nowait(message)

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        """Yield messages until the bus closes (the service stops)."""
        self._loop = asyncio.get_running_loop()
        key = next(self._ids)
        queue: asyncio.Queue = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._queues[key] = queue
        try:
            while True:
                message = await queue.get()
                if message is None:
                    return
                yield message
        finally:
            self._queues.pop(key, None)
            self.dropped.pop(key, None)

    def close(self) -> None:
        """End every subscription."""
        self._closed = True
        for queue in self._queues.values():
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(None)


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


class EquityBook:
    """Each engine's latest equity and the service's peak total (shared by the recorders)."""

    def __init__(self) -> None:
        self.by_strategy: dict[str, Decimal] = {}
        self.peak: Decimal | None = None

    def update(self, strategy_id: str, equity: Decimal) -> tuple[Decimal, Decimal]:
        """Record one engine's equity; return the total and its drawdown from the peak total."""
        self.by_strategy[strategy_id] = equity
        total = sum(self.by_strategy.values(), Decimal(0))
        self.peak = total if self.peak is None else max(self.peak, total)
        drawdown = (self.peak - total) / self.peak if self.peak > 0 else Decimal(0)
        return total, drawdown


class MetricsRecorder:
    """Update :class:`~tradepulse.obs.metrics.TradingMetrics` from one engine's journal events."""

    def __init__(self, metrics: TradingMetrics, slot: Any, equities: EquityBook) -> None:
        self.metrics = metrics
        self.slot = slot
        self.equities = equities
        self._submitted: dict[str, float] = {}

    def record(self, event: JournalEvent) -> None:
        kind, payload, metrics = event.kind, event.payload, self.metrics
        # A portfolio's orders are of several symbols: the order says which.
        symbol = str((payload.get("order") or {}).get("symbol") or self.slot.symbol) if isinstance(payload, Mapping) else self.slot.symbol
        if kind == OmsEventKind.ORDER_SUBMITTED:
            metrics.order_submitted(symbol)
            self._submitted[str(payload.get("client_order_id"))] = time.monotonic()
            last = self.slot.feed.last_event_monotonic
            if last is not None:
                # The engine submits while handling the event that made it act.
                metrics.observe_tick_to_order(max(0.0, time.monotonic() - last))
        elif kind in (OmsEventKind.ORDER_ACCEPTED, OmsEventKind.ORDER_REJECTED, OmsEventKind.ORDER_FILLED):
            started = self._submitted.pop(str(payload.get("client_order_id")), None)
            if started is not None:
                metrics.observe_order_to_ack(time.monotonic() - started)
            if kind == OmsEventKind.ORDER_REJECTED:
                metrics.rejected(symbol)
            elif kind == OmsEventKind.ORDER_FILLED:
                quantity = _decimal((payload.get("fill") or {}).get("fill_quantity"))
                metrics.fill(symbol, quantity if quantity is not None else Decimal(0))
                position = (payload.get("position") or {}).get("quantity")
                if position is not None:
                    metrics.set_position(symbol, Decimal(str(position)))
        elif kind == OmsEventKind.ORDER_DENIED:
            decision = payload.get("decision") or {}
            metrics.denied(str(decision.get("check") or "unknown"))
        elif kind == OmsEventKind.PORTFOLIO_MARKS:
            for row in segment_rows(payload):  # one row per event when live; many in a replay
                self._record_equity(row)
        elif kind == OmsEventKind.PORTFOLIO_MARKED:
            self._record_equity(payload)
        elif kind == RiskKind.STATE_CHANGE:
            metrics.set_trading_state(str(payload.get("new")))

    def _record_equity(self, payload: Mapping[str, Any]) -> None:
        execution = self.slot.engine.execution
        net = None
        for summary in (payload.get("totals") or {}).values():
            net = _decimal(summary.get("net_pnl"))
        if execution is None or net is None:
            return
        total, drawdown = self.equities.update(self.slot.strategy_id, execution.capital + net)
        self.metrics.set_equity(total)
        self.metrics.set_drawdown(drawdown)
