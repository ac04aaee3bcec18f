"""What both live engines share: the feed loop, stop, the kill switch, and their background tasks.

:class:`~tradepulse.live.engine.LiveEngine` (one symbol) and
:class:`~tradepulse.live.portfolio_engine.PortfolioEngine` (several symbols of one account) differ
in how a bar becomes orders; how they run, stop, halt, resume, listen to the venue and keep time
is one piece of code, here.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Iterable
from typing import Any

from tradepulse.execution import OMS
from tradepulse.execution.engine import ExecutionEngine
from tradepulse.model.clock import EngineClock
from tradepulse.model.events import MarketEvent
from tradepulse.model.kinds import EngineKind, EngineStoppedPayload, RiskKind, StrategyKind
from tradepulse.model.venue import Venue
from tradepulse.risk import RiskControls, StateChange
from tradepulse.risk.breakers import RiskEvent
from tradepulse.store import Journal
from tradepulse.strategy.base import Strategy

__all__ = ["ENGINE_ACTOR", "RETIRE_POLICIES", "EngineLifecycle", "order_counts"]

ENGINE_ACTOR = "system:engine"

#: What happens to a retiring strategy's open orders and position when another version takes over:
#: ``cancel`` its open orders (the position stays; the new version's next decision moves it),
#: ``flatten`` (cancel, then close the position at market at once, before the new version decides),
#: ``keep`` (leave resting orders working; the new version inherits them with the position).
RETIRE_POLICIES = ("cancel", "flatten", "keep")


class EngineLifecycle(ABC):
    """The run loop and controls of a live engine; subclasses say how events become orders.

    Subclasses set ``feed``, ``venue``, ``journal``, ``risk``, ``clock``, ``symbol``, ``oms`` and
    ``report`` and implement :meth:`start`, :meth:`on_event`, :meth:`on_heartbeat`,
    :meth:`_carry_out` (journal risk events and act on them) and :meth:`_update_sink` (the execution
    engine venue updates go through).
    """

    feed: AsyncIterable[MarketEvent]
    venue: Venue
    journal: Journal
    risk: RiskControls
    clock: EngineClock
    symbol: str
    oms: OMS | None
    report: Any
    heartbeat_seconds: float

    def _init_lifecycle(self, heartbeat_seconds: float) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self._stopping = False
        self._started = False
        # Feed events, venue updates and heartbeats interleave on a wall clock; one at a time touches the OMS.
        self._lock = asyncio.Lock()

    # -- what subclasses provide ---------------------------------------------------------------

    @abstractmethod
    async def start(self) -> None:
        """See the class docstring."""

    @abstractmethod
    async def on_event(self, event: MarketEvent) -> None:
        """See the class docstring."""

    @abstractmethod
    async def on_heartbeat(self) -> None:
        """See the class docstring."""

    @abstractmethod
    async def _carry_out(self, events: Iterable[RiskEvent | StateChange]) -> None:
        """See the class docstring."""

    @abstractmethod
    def _update_sink(self) -> ExecutionEngine:
        """See the class docstring."""

    @abstractmethod
    def _install_strategy(self, strategy: Strategy) -> int:
        """Make ``strategy`` the one evaluated from the next bar on; refill its window from the journaled
        bars (as a restart does) and return how many bars it holds."""

    @abstractmethod
    async def _cancel_all_locked(self) -> list[Any]:
        """Cancel every open order (the caller holds the lock); say how each went."""

    @abstractmethod
    async def _close_positions_now(self) -> None:
        """Aim at no position and send the closing orders at the last price (the caller holds the lock)."""

    async def _before_finish(self) -> None:
        """Last work before the stop is journaled (background lookups, final positions)."""

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> Any:
        """Start (unless started), consume the feed to its end (or :meth:`stop`), stop; return the report."""
        await self.start()
        # A replay at full speed has nothing external between its events but venue calls, before
        # which the OMS syncs: group its commits (a paced replay and live trading commit event by event,
        # so the API, the stream and the metrics see each as it happens).
        replaying = self.clock.simulated and getattr(self.clock, "speed", None) is None
        helpers = [] if self.clock.simulated else [asyncio.create_task(self._listen()), asyncio.create_task(self._heartbeat())]
        with self.journal.deferred_commits() if replaying else contextlib.nullcontext():
            try:
                # A replay feed's events are read in step with the engine anyway: take them from its
                # plain iterator rather than through a generator layered on it (a step per event).
                events = getattr(self.feed, "events", None) if replaying else None
                if callable(events):
                    for event in events():
                        await self.clock.advance_to(event.at)
                        await self.on_event(event)
                        if self._stopping:
                            break
                else:
                    async for event in self.feed:
                        await self.clock.advance_to(event.at)
                        await self.on_event(event)
                        if self._stopping:
                            break
            finally:
                for task in helpers:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self._finish()
        assert self.report is not None
        return self.report

    def stop(self) -> None:
        """Stop after the event being handled."""
        self._stopping = True

    async def halt(self, reason: str, actor: str, flatten: bool = False) -> StateChange:
        """The kill switch: halt trading, journal it, cancel open orders (and flatten if asked)."""
        async with self._lock:
            change = self.risk.halt(reason, actor, flatten)
            await self._carry_out([change])
            return change

    async def resume(self, actor: str, reason: str = "operator resumed trading") -> StateChange:
        """Undo the kill switch (only ``operator:<name>`` actors may), journaled like a halt."""
        async with self._lock:
            change = self.risk.resume(actor, reason)
            await self._carry_out([change])
            return change

    async def replace_strategy(self, strategy: Strategy, *, actor: str, reason: str, open_orders: str = "cancel",
                               version: str | None = None, previous_version: str | None = None) -> dict[str, Any]:
        """Retire the running strategy and run ``strategy`` from the next bar on, without a restart.

        Between two events (the lock is held): the retiring strategy's open orders are handled by
        ``open_orders`` (:data:`RETIRE_POLICIES`), the new strategy's window is refilled from the
        journaled bars so it decides on the same history a restart would give it, and the change is
        journaled as ``strategy.replaced`` with who, why and both versions. Trading state, breakers
        and positions carry over: a new version is not a reason to forget a halt.
        """
        if open_orders not in RETIRE_POLICIES:
            raise ValueError(f"open_orders must be one of {', '.join(RETIRE_POLICIES)}, got {open_orders!r}")
        async with self._lock:
            outcomes = [] if open_orders == "keep" else await self._cancel_all_locked()
            old: Strategy = self.strategy  # type: ignore[attr-defined]
            history = self._install_strategy(strategy)
            if open_orders == "flatten":
                await self._close_positions_now()
            payload = {
                "symbol": self.symbol, "strategy_id": getattr(self, "strategy_id", None),
                "from": {"strategy": old.name, "params": old.params, "version": previous_version},
                "to": {"strategy": strategy.name, "params": strategy.params, "version": version},
                "actor": actor, "reason": reason, "open_orders": open_orders, "history_bars": history,
                "orders": [outcome.to_payload() for outcome in outcomes],
            }
            self.journal.append(StrategyKind.REPLACED, payload)
            return payload

    async def _finish(self) -> None:
        await self._before_finish()
        if self.oms is not None and self.report is not None:
            self.report.orders = order_counts(self.oms)
            self.journal.append(RiskKind.BREAKER_SNAPSHOT, self.risk.breakers.snapshot())
            self.journal.append(EngineKind.STOPPED, EngineStoppedPayload(
                symbol=self.symbol, bars=self.report.bars, fills=len(self.report.fills),
                final_equity=self.report.final_equity, pnl=self.report.pnl, orders=self.report.orders,
            ))
        await self.venue.close()

    # -- background tasks (wall clock only) -----------------------------------------------------

    async def _listen(self) -> None:
        # Live venues push updates at any time; in simulated time the loop drains them instead.
        async for update in self.venue.updates():
            await self._guarded("venue updates", self._apply_update(update))

    async def _apply_update(self, update: Any) -> None:
        async with self._lock:
            await self._update_sink().apply_updates([update])

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            await self._guarded("heartbeat", self.on_heartbeat())

    async def _guarded(self, where: str, work: Any) -> None:
        """Run a background step; a failure is journaled and halts trading instead of dying unseen."""
        try:
            await work
        except Exception as error:  # noqa: BLE001 - a background task must never fail silently
            self.journal.append(EngineKind.ERROR, {"symbol": self.symbol, "where": where, "error": type(error).__name__, "message": str(error)})
            await self._carry_out([self.risk.halt(f"engine {where} failed: {error}", ENGINE_ACTOR)])


def order_counts(oms: OMS) -> dict[str, int]:
    """How many of the OMS's orders are in each status (the report's ``orders``)."""
    # From the journal: the OMS holds only open and recent orders, the report counts every one.
    return oms.status_counts()
