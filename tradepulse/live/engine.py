"""The async live engine: market events in, orders out, every step journaled.

One engine trades one symbol with one strategy::

    feed ──► (paper venue sees the event first) ──► bar builder ──► strategy on the rolling window
         ──► target exposure ──► [next available price] ──► order intent ──► risk gate ──► OMS ──► venue
                                                              venue answers and fills ──► OMS ──┘

* **Bars.** A bar feed delivers bars as given (:class:`BarClose`); a trade feed is cut into time
  bars (:class:`~tradepulse.live.bars.TimeBarBuilder`).
* **Strategy.** When a bar closes, the strategy (the same class the backtest runs) is evaluated on
  the last ``warmup_bars`` bars and its last row is the target. As in the backtest, an order is
  made only when the target *changes*, and it goes out at the next available price: the next
  bar's open in a bar replay, the next trade in a tick replay.
* **Money.** The target is sized from equity at that price and rounded to the lot
  (:class:`~tradepulse.execution.engine.ExecutionEngine`); the risk gate decides; the OMS journals the
  order before the venue hears of it.
* **Risk inputs.** Every market event feeds the stale-data breaker; every bar close marks the
  position to market and feeds equity to the loss and drawdown breakers; every venue call feeds
  the venue-error breaker. A HALTED state cancels open orders (and flattens if asked).
* **Determinism.** In simulated time the engine drains the venue's update stream right after
  each market event and each request, so a replay produces the same journal every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tradepulse.errors import ConfigError, StrategyError
from tradepulse.execution import OMS, CancelOutcome
from tradepulse.execution.engine import ExecutionEngine
from tradepulse.live.bars import BarWindow, TimeBarBuilder, journaled_bars
from tradepulse.live.lifecycle import ENGINE_ACTOR, EngineLifecycle
from tradepulse.live.report import ReplayReport
from tradepulse.model.clock import EngineClock
from tradepulse.model.costs import Costs
from tradepulse.model.events import Bar, BarClose, BarOpen, BookTicker, MarketEvent, Trade
from tradepulse.model.kinds import (
    BAR_FIELDS,
    RISK_KIND_PREFIX,
    EngineKind,
    EngineStartedPayload,
    MarketKind,
    RiskKind,
    StrategyKind,
    StrategyTargetPayload,
)
from tradepulse.model.venue import SimulatedVenue, Venue
from tradepulse.risk import RiskControls, StateChange
from tradepulse.risk.breakers import RiskEvent
from tradepulse.store import Journal
from tradepulse.strategy.base import Strategy, live_window_bars

__all__ = ["EngineConfig", "LiveEngine"]

# How often an order missing at the venue, whose request could still land, is asked about again.
_LATE_LANDING_POLL_S = 0.5


@dataclass(frozen=True)
class EngineConfig:
    """How the engine trades.

    Parameters
    ----------
    symbol
        The symbol to trade; the venue must list it.
    strategy_id
        Id in client order ids and journal events; the strategy's name by default.
    capital
        Quote currency the strategy trades with; the venue's free quote balance at start by
        default. A restart keeps the capital the journal started with.
    bar_period
        Bar length for trade feeds (time bars are built from trades); ignored for bar feeds.
    window_bars
        Bars the strategy sees; its ``warmup_bars`` by default (never fewer).
    sizing_costs
        Fees and slippage sizing assumes when a buy is capped by cash; use the venue's.
    cash_reserve_fraction
        Share of the cash buys never spend: headroom for fills that walk thin books. Zero keeps a
        bar replay identical to the backtest.
    heartbeat_seconds
        On a wall clock, how often the engine closes due bars, runs the venue's delayed requests and
        polls the stale-data breaker when no market data arrives (a dead feed must still be noticed).
    """

    symbol: str
    strategy_id: str | None = None
    capital: Decimal | None = None
    bar_period: timedelta | None = None
    window_bars: int | None = None
    sizing_costs: Costs | None = None
    cash_reserve_fraction: Decimal = Decimal(0)
    heartbeat_seconds: float = 1.0


class LiveEngine(EngineLifecycle):
    """Run one strategy on one symbol from a feed to a venue.

    Parameters
    ----------
    strategy
        A :class:`~tradepulse.strategy.Strategy` instance (the same one a backtest takes).
    feed
        Async iterable of market events in time order.
    venue
        Anything implementing :class:`~tradepulse.execution.venues.Venue`; a
        :class:`~tradepulse.model.venue.SimulatedVenue` (the paper venue) is fed each
        event before the engine.
    journal
        The event journal; an existing one is replayed into the OMS (a restart continues it).
    risk
        The risk controls (gate, kill switch, breakers) sharing the engine's clock.
    clock
        :class:`~tradepulse.model.clock.SimulatedClock` for replays, ``WallClock`` live.
    config
        See :class:`EngineConfig`.

    Examples
    --------
    >>> report = asyncio.run(engine.run())          # doctest: +SKIP
    >>> report.to_dict()["final_equity"]            # doctest: +SKIP
    """

    def __init__(
        self,
        strategy: Strategy,
        feed: AsyncIterable[MarketEvent],
        venue: Venue,
        journal: Journal,
        *,
        risk: RiskControls,
        clock: EngineClock,
        config: EngineConfig,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"the engine runs a Strategy instance, got {type(strategy).__name__}")
        self.strategy = strategy
        self.feed = feed
        self.venue = venue
        # Asked once: a simulated venue sees the market through the engine (declared, not probed per event).
        self._simulated_venue = venue if isinstance(venue, SimulatedVenue) else None
        self.journal = journal
        self.risk = risk
        self.clock = clock
        self.config = config
        self.symbol = config.symbol
        self.strategy_id = config.strategy_id or strategy.name
        self.window = BarWindow(live_window_bars(strategy, config.window_bars))
        # A strategy's per-bar form, if it has one, spares a frame and pandas on every bar.
        self._steps = strategy.incremental()
        self._history_until = None  # the last journaled bar put back in the window by a restart
        self.builder = TimeBarBuilder(self.symbol, config.bar_period) if config.bar_period else None
        self.oms: OMS | None = None
        self.execution: ExecutionEngine | None = None
        self.report: ReplayReport | None = None
        self.target = 0.0  # the account starts flat, as in the backtest
        self._pending_target: float | None = None
        self._deferring = False
        self._settle_task: asyncio.Task | None = None
        self._last_price: Decimal | None = None
        self._best_ask: Decimal | None = None
        self._init_lifecycle(config.heartbeat_seconds)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the venue, rebuild the OMS and risk state from the journal, journal the start.

        :meth:`run` calls it; call it yourself to drive :meth:`on_event` by hand.
        """
        if self._started:
            return
        self._started = True
        await self.venue.connect()
        instruments = await self.venue.instruments()
        if self.symbol not in instruments:
            raise ConfigError(f"venue {self.venue.name} does not trade {self.symbol}; it lists {', '.join(sorted(instruments))}")
        instrument = instruments[self.symbol]
        self.oms = OMS(self.journal, [instrument], clock=self.clock.now, require_approval=True)
        earlier = self.journal.events(kinds=[EngineKind.STARTED], limit=1)
        if earlier:
            capital = Decimal(earlier[0].payload["capital"])
        elif self.config.capital is not None:
            capital = self.config.capital
        else:
            balances = await self.venue.balances()
            capital = balances[instrument.quote].free if instrument.quote in balances else Decimal(0)
        if capital <= 0:
            raise ConfigError(f"the engine needs positive capital in {instrument.quote}, got {capital}")
        self.risk.restore(event.payload for event in self.journal.iter_events(kind_prefix=RISK_KIND_PREFIX))
        last_target = self.journal.events(kinds=[StrategyKind.TARGET], newest_first=True, limit=1)
        if last_target:
            self.target = float(last_target[0].payload["target"])
        history = self._refill_history()
        self.report = ReplayReport(self.symbol, capital)
        self.execution = ExecutionEngine(
            oms=self.oms, venue=self.venue, journal=self.journal, risk=self.risk, instrument=instrument,
            strategy_id=self.strategy_id, capital=capital, clock=self.clock.now,
            sizing_costs=self.config.sizing_costs, cash_reserve_fraction=self.config.cash_reserve_fraction,
            on_fill=self.report.record_fill,
        )
        self.journal.append(EngineKind.STARTED, EngineStartedPayload(
            symbol=self.symbol, strategy=self.strategy.name, strategy_id=self.strategy_id,
            params=self.strategy.params, capital=capital, venue=self.venue.name, window_bars=self.window.size,
            bar_period_seconds=self.config.bar_period.total_seconds() if self.config.bar_period else None,
            restarted=bool(earlier), target=self.target, history_bars=history,
        ))
        self.journal.append(RiskKind.LIMITS, self.risk.limits.to_payload())

    def _refill_history(self) -> int:
        """Put the journaled bars back in the window, and through the per-bar form; return how many.

        Without them a restarted strategy sees an empty window, its indicators are undefined and it
        goes flat (selling the position) until the window fills again. The per-bar form gets every
        journaled bar, since it may remember further back than the window.
        """
        bars = journaled_bars(self.journal, self.symbol, None if self._steps is not None else self.window.size)
        for bar in bars:
            if self._steps is not None:
                self._steps.update(bar.open, bar.high, bar.low, bar.close, bar.volume)
        for bar in bars[-self.window.size:]:
            self.window.append(bar)
        if bars:
            self._last_price = Decimal(repr(bars[-1].close))
            self._history_until = bars[-1].start
        return min(len(bars), self.window.size)

    def _drop_history_if_behind(self, bar: Bar) -> None:
        """The first bar after a restart must follow the journaled ones; if the market's clock went back
        (a replayed venue that restarted), the history no longer precedes it: start the window afresh."""
        until, self._history_until = self._history_until, None
        if until is None or bar.start > until:
            return
        self.window = BarWindow(self.window.size)
        self._steps = self.strategy.incremental()
        self.journal.append(EngineKind.HISTORY_DROPPED, {
            "symbol": self.symbol, "bar_start": bar.start, "history_until": until,
            "reason": "the first bar after the restart is not after the journaled history; the window starts empty",
        })

    @property
    def last_price(self) -> Decimal | None:
        """The last price the engine saw (trade, bar open or bar close)."""
        return self._last_price

    async def cancel_open_orders(self) -> list[CancelOutcome]:
        """Cancel every open order of this engine (re-sending cancels that failed); say how each went."""
        async with self._lock:
            return await self._cancel_all_locked()

    async def _cancel_all_locked(self) -> list[CancelOutcome]:
        return await self._execution().cancel_all()

    def _install_strategy(self, strategy: Strategy) -> int:
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"the engine runs a Strategy instance, got {type(strategy).__name__}")
        self.strategy = strategy
        self.window = BarWindow(live_window_bars(strategy, self.config.window_bars))
        self._steps = strategy.incremental()
        return self._refill_history()

    async def _close_positions_now(self) -> None:
        if self.target != 0.0 or self._oms().position(self.symbol).quantity != 0:
            self.journal.append(StrategyKind.TARGET, StrategyTargetPayload(
                symbol=self.symbol, strategy_id=self.strategy_id, target=0.0, previous=self.target,
                bar_start=self.window.last.start if self.window.last else None,
                bar_end=self.window.last.end if self.window.last else None,
            ))
            self.target = 0.0
            self._pending_target = 0.0
            if self._last_price is not None:
                await self._act(self._last_price, self.clock.now())

    def _settle_in_background(self) -> None:
        """Look up unknown submission outcomes in a task of their own (one at a time; wall clock only)."""
        if self._settle_task is None or self._settle_task.done():
            self._settle_task = asyncio.get_running_loop().create_task(self._settle_unknown(), name=f"settle:{self.symbol}")

    async def _settle_now_or_later(self) -> None:
        """Settle unknown outcomes: inline in simulated time (a replay stays deterministic), else in the background."""
        if not self._execution().unknown_orders():
            return
        if self.clock.simulated:
            await self._settle_step()  # the caller holds the lock
        else:
            self._settle_in_background()

    async def _settle_step(self, lock: asyncio.Lock | None = None) -> bool:
        """One round of lookups; True when the venue answered. Venue calls run outside ``lock``."""
        from tradepulse.errors import VenueError

        execution = self._execution()
        pending = execution.unknown_orders()
        if not pending:
            return True
        try:
            outcomes = await execution.fetch_outcomes(pending)
        except VenueError as error:
            async with lock or contextlib.nullcontext():
                self.journal.append(EngineKind.RECONCILE_PENDING, {
                    "symbol": self.symbol, "client_order_ids": [order.client_order_id for order in pending], "error": str(error),
                })
                await execution.carry_out(self.risk.on_venue_response(False, detail=str(error)))
            return False
        async with lock or contextlib.nullcontext():
            await execution.apply_outcomes(outcomes)
            await execution.carry_out(self.risk.on_venue_response(True))
            if execution.take_target_unmet() and self._pending_target is None:
                # The order never reached the venue: the position is not at the target; act on it again.
                self._pending_target = self.target
        return True

    async def _settle_unknown(self) -> None:
        """Ask the venue about unknown outcomes until it answers, backing off while it cannot.

        The venue calls run outside the engine's lock, so bars, risk checks and the watchdog carry
        on during an outage; each failed lookup counts towards the venue-error breaker.
        """
        delay = 1.0
        while not self._stopping and self._execution().unknown_orders():
            if await self._settle_step(self._lock):
                delay = 1.0
                if self._execution().unknown_orders():
                    # The venue answered but does not show the order yet, and its request could still land.
                    await asyncio.sleep(_LATE_LANDING_POLL_S)
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _before_finish(self) -> None:
        if self._settle_task is not None and not self._settle_task.done():
            self._settle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._settle_task

    async def _carry_out(self, events: Iterable[RiskEvent | StateChange]) -> None:
        await self._execution().carry_out(events)

    def _update_sink(self) -> ExecutionEngine:
        return self._execution()

    async def on_heartbeat(self) -> None:
        """Do what time alone requires: close due bars, run due venue requests, poll the breakers."""
        async with self._lock:
            now = self.clock.now()
            if self._simulated_venue is not None:
                self._simulated_venue.process_due(now)
            execution = self._execution()
            await execution.apply_updates(self.venue.updates().drain_nowait())
            for bar in self.builder.close_due(now) if self.builder is not None else []:
                await self._on_bar(bar)
            await execution.carry_out(self.risk.poll(now))

    # -- events ----------------------------------------------------------------------------------

    async def on_event(self, event: MarketEvent) -> None:
        """Handle one market event (the feed loop calls this after advancing the clock)."""
        async with self._lock:
            await self._on_event(event)

    async def _on_event(self, event: MarketEvent) -> None:
        # Runs for every trade: each step below is skipped cheaply when it has nothing to do
        # (no venue updates, no flatten asked for, no unknown outcome), since awaiting a
        # coroutine that returns at once still costs more than the check.
        execution = self._execution()
        updates = self.venue.updates()
        if self._simulated_venue is not None:
            self._simulated_venue.on_market(event)
        answers = updates.drain_nowait()
        if answers:
            await execution.apply_updates(answers)
        risk_events = self.risk.on_market_data(self.symbol, event.at)
        if risk_events:  # almost always none: market data only feeds the stale-data breaker
            await execution.carry_out(risk_events)
        closed: list[Bar] = []
        price: Decimal | None = None
        if isinstance(event, BarClose):
            closed.append(event.bar)
        elif isinstance(event, BarOpen):
            price = Decimal(repr(event.price))
        elif isinstance(event, Trade):
            price = event.price
            if self.builder is not None:
                closed = self.builder.on_trade(event)
        else:
            if isinstance(event, BookTicker):
                self._best_ask = event.ask
            if self.builder is not None:
                closed = self.builder.close_due(event.at)
        for bar in closed:
            await self._on_bar(bar)
        if price is not None:
            self._last_price = price
            if self._pending_target is not None:
                await self._act(price, event.at)
            if execution.flatten_pending:
                await execution.flatten(price, event.at)
        answers = updates.drain_nowait()
        if answers:
            await execution.apply_updates(answers)
        if execution.has_unknown_orders:
            await self._settle_now_or_later()

    async def _on_bar(self, bar: Bar) -> None:
        oms, execution, report = self._oms(), self._execution(), self.report
        assert report is not None
        if self._history_until is not None:
            self._drop_history_if_behind(bar)
        self.window.append(bar)
        # A row of the bars segment: written with the mark it causes (nothing external happens
        # between them), at once when live, at the next commit in a replay.
        self.journal.append_row(MarketKind.BARS, BAR_FIELDS, (bar.start.isoformat(), bar.end.isoformat(), bar.open, bar.high, bar.low,
                                                             bar.close, bar.volume), symbol=self.symbol, ts=bar.end)
        close = Decimal(repr(bar.close))
        self._last_price = close
        oms.mark_to_market({self.symbol: close}, at=bar.end)
        equity = execution.equity(close)
        report.record_bar(bar, equity, oms.position(self.symbol).quantity)
        risk_events = self.risk.on_equity_and_poll(equity, bar.end)
        if risk_events or execution.flatten_pending:  # carry_out([]) only flattens, and only when asked to
            await execution.carry_out(risk_events)
        try:
            if self._steps is not None:
                raw = self._steps.update(bar.open, bar.high, bar.low, bar.close, bar.volume)
            else:
                raw = self.strategy.latest_target(self.window.frame())
            target = _checked_target(raw, self.strategy.name)
        except Exception as error:  # noqa: BLE001 - a strategy bug must stop trading, not the engine
            self.journal.append(StrategyKind.ERROR, {"symbol": self.symbol, "bar_start": bar.start, "error": type(error).__name__, "message": str(error)})
            await execution.carry_out([self.risk.halt(f"strategy {self.strategy.name} failed: {error}", ENGINE_ACTOR)])
            return
        if target != self.target:
            self.journal.append(StrategyKind.TARGET, StrategyTargetPayload(
                symbol=self.symbol, strategy_id=self.strategy_id, target=target, previous=self.target,
                bar_start=bar.start, bar_end=bar.end,
            ))
            self.target = target
            self._pending_target = target

    async def _act(self, price: Decimal, at: datetime) -> None:
        """Turn the pending target into an order at ``price`` (the first price after the signal bar)."""
        execution = self._execution()
        target, self._pending_target = self._pending_target, None
        assert target is not None
        await self._settle_now_or_later()
        unresolved = execution.unknown_orders()
        if unresolved:
            # Keep the target: it is acted on at the first price after the venue has answered.
            self._pending_target = target
            if not self._deferring:
                self._deferring = True
                self.journal.append(EngineKind.ORDER_DEFERRED, {
                    "symbol": self.symbol, "target": target,
                    "waiting_for": [order.client_order_id for order in unresolved],
                    "reason": "an earlier submission's outcome is unknown; nothing new is sent until the venue answers",
                })
            return
        self._deferring = False
        intent = execution.intent_for_target(target, price, self.window.last, best_ask=self._best_ask)
        if intent is None:
            position = self._oms().position(self.symbol).quantity
            self.journal.append(EngineKind.ORDER_SKIPPED, {
                "symbol": self.symbol, "target": target, "price": price, "position": position,
                "reason": "the change rounds to nothing or is below the venue minimums",
            })
            return
        await execution.submit(intent, price, at, target=target)

    # -- helpers -------------------------------------------------------------------------------

    def _execution(self) -> ExecutionEngine:
        if self.execution is None:
            raise ConfigError("the engine has not started: call `await engine.start()` (or run()) first")
        return self.execution

    def _oms(self) -> OMS:
        self._execution()
        assert self.oms is not None
        return self.oms


def _checked_target(value: Any, name: str) -> float:
    target = float(value)
    if math.isnan(target):
        return 0.0
    if not -1.0 <= target <= 1.0:
        raise StrategyError(f"{name}: target exposure must be within [-1, 1], got {target}")
    return target + 0.0  # -0.0 and 0.0 are the same target
