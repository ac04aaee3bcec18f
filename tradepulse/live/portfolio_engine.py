"""The async live engine for a portfolio strategy: several symbols, one account, one decision per period.

::

    feed (every member) ──► bar builders ──► period assembler ──► strategy on the members' rolling windows
        ──► target weights ──► [every member's next price] ──► sells, then buys ──► risk gate ──► OMS ──► venue

* **Periods.** A member's closed bar waits in the period assembler until every member's bar of
  that period has closed; then the members' windows advance together and the strategy is evaluated
  once on the wide frame (columns ``(field, symbol)``) and its last row is the target weights.
  On a wall clock a period whose bars have not all arrived ``member_timeout_seconds`` after its end
  closes without the late members: each is carried at its previous close (a flat, zero-volume bar,
  as the bar builder does for a quiet period), journaled as ``strategy.member_stale``, and gets no
  order until its data is back. A bar arriving for a period already closed is dropped.
* **Orders.** As in the backtest, an order is made only for a member whose weight changed, and the
  orders go out once every member has a price after the signal period closed (the next bar's open
  in a bar replay). Equity is valued once at those prices, targets are sized from it
  (``weight x equity / price``), and sells are sent before buys so the cash they free pays for the
  buys, which are then capped by the cash left. Each order passes the risk gate, which sees the
  whole account (gross and net exposure across members).
* **Money.** The members share one quote-currency account
  (:class:`~tradepulse.execution.account.SharedAccount`); each member has its own
  :class:`~tradepulse.execution.engine.ExecutionEngine` on the one OMS.

A single-symbol strategy given several symbols runs on each at an equal share (1/n) of equity
(:class:`~tradepulse.strategy.portfolio.EqualShare`), exactly as the portfolio backtest runs it.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError, StrategyError, VenueError
from tradepulse.execution import OMS, CancelOutcome
from tradepulse.execution.account import SharedAccount
from tradepulse.execution.engine import ExecutionEngine
from tradepulse.execution.sizer import intent_for_target
from tradepulse.live.bars import BarWindow, TimeBarBuilder, journaled_bars
from tradepulse.live.lifecycle import ENGINE_ACTOR, EngineLifecycle
from tradepulse.live.portfolio_report import PortfolioReplayReport
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
from tradepulse.model.orders import OrderIntent
from tradepulse.model.venue import SimulatedVenue, Venue
from tradepulse.risk import FlattenPositions, RiskControls, StateChange
from tradepulse.risk.breakers import RiskEvent
from tradepulse.store import Journal
from tradepulse.strategy.base import Strategy, live_window_bars
from tradepulse.strategy.portfolio import PortfolioStrategy, as_portfolio

__all__ = ["PortfolioEngine", "PortfolioEngineConfig"]

_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class PortfolioEngineConfig:
    """How a portfolio engine trades.

    Parameters
    ----------
    symbols
        The members, in the order the strategy sees them; all quoted in one currency.
    strategy_id, capital, window_bars, cash_reserve_fraction, heartbeat_seconds
        As for :class:`~tradepulse.live.engine.EngineConfig`; ``capital`` is the whole account's.
    bar_period
        Bar length for trade feeds (time bars per member); ignored for bar feeds.
    sizing_costs
        Fees and slippage sizing assumes, for every member or per symbol.
    member_timeout_seconds
        On a wall clock, how long after a period's end its late members are waited for.
    """

    symbols: tuple[str, ...]
    strategy_id: str | None = None
    capital: Decimal | None = None
    bar_period: timedelta | None = None
    window_bars: int | None = None
    sizing_costs: Costs | Mapping[str, Costs] | None = None
    cash_reserve_fraction: Decimal = Decimal(0)
    heartbeat_seconds: float = 1.0
    member_timeout_seconds: float = 30.0


class PortfolioEngine(EngineLifecycle):
    """Run one portfolio strategy over several symbols of one account, from a feed to a venue.

    The parameters are those of :class:`~tradepulse.live.engine.LiveEngine`, with a
    :class:`PortfolioEngineConfig`.
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
        config: PortfolioEngineConfig,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"the engine runs a Strategy instance, got {type(strategy).__name__}")
        symbols = tuple(config.symbols)
        if len(set(symbols)) != len(symbols) or not symbols:
            raise ConfigError(f"a portfolio engine needs distinct symbols, got {list(symbols)}")
        self.strategy: PortfolioStrategy = as_portfolio(strategy)
        self.strategy.check_universe(symbols)
        self.feed = feed
        self.venue = venue
        self._simulated_venue = venue if isinstance(venue, SimulatedVenue) else None
        self.journal = journal
        self.risk = risk
        self.clock = clock
        self.config = config
        self.symbols = symbols
        self.symbol = symbols[0]  # what single-symbol callers (logs, the host) name the engine by
        self.strategy_id = config.strategy_id or self.strategy.name
        size = live_window_bars(self.strategy, config.window_bars)
        self.windows = {symbol: BarWindow(size) for symbol in symbols}
        self._refilled = False  # the windows hold journaled bars put back by a restart, no new one yet
        self.builders = {symbol: TimeBarBuilder(symbol, config.bar_period) for symbol in symbols} if config.bar_period else {}
        self.oms: OMS | None = None
        self.account: SharedAccount | None = None
        self.executions: dict[str, ExecutionEngine] = {}
        self.report: PortfolioReplayReport | None = None
        self.targets: dict[str, float] = dict.fromkeys(symbols, 0.0)
        self._pending: dict[str, float] = {}
        self._waiting: dict[datetime, dict[str, Bar]] = {}  # period start -> members' closed bars
        self._closed_through: datetime | None = None  # start of the last period handed to the strategy
        self._fresh: dict[str, Decimal] = {}  # members' prices since the last period closed
        self._stale: set[str] = set()
        self._last_price: dict[str, Decimal] = {}
        self._best_ask: dict[str, Decimal] = {}
        self._deferring = False
        self._init_lifecycle(config.heartbeat_seconds)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the venue, rebuild the OMS and risk state from the journal, journal the start."""
        if self._started:
            return
        self._started = True
        await self.venue.connect()
        listed = await self.venue.instruments()
        missing = [s for s in self.symbols if s not in listed]
        if missing:
            raise ConfigError(f"venue {self.venue.name} does not trade {', '.join(missing)}; it lists {', '.join(sorted(listed))}")
        instruments = {symbol: listed[symbol] for symbol in self.symbols}
        quotes = {instrument.quote for instrument in instruments.values()}
        if len(quotes) != 1:
            raise ConfigError(f"a portfolio trades out of one quote currency; {', '.join(self.symbols)} are quoted in {', '.join(sorted(quotes))}")
        quote = next(iter(quotes))
        self.oms = OMS(self.journal, list(instruments.values()), clock=self.clock.now, require_approval=True)
        earlier = self.journal.events(kinds=[EngineKind.STARTED], limit=1)
        if earlier:
            capital = Decimal(earlier[0].payload["capital"])
        elif self.config.capital is not None:
            capital = self.config.capital
        else:
            balances = await self.venue.balances()
            capital = balances[quote].free if quote in balances else Decimal(0)
        if capital <= 0:
            raise ConfigError(f"the engine needs positive capital in {quote}, got {capital}")
        self.risk.restore(event.payload for event in self.journal.iter_events(kind_prefix=RISK_KIND_PREFIX))
        for event in self.journal.iter_events(kinds=[StrategyKind.TARGET]):
            if event.payload.get("symbol") in self.targets:
                self.targets[event.payload["symbol"]] = float(event.payload["target"])
        # A restart decides as if it never stopped: the members' journaled bars go back in their windows.
        history = 0
        self._refilled = True
        for symbol in self.symbols:
            for bar in journaled_bars(self.journal, symbol, self.windows[symbol].size):
                self.windows[symbol].append(bar)
            history = len(self.windows[symbol])
        self.account = SharedAccount(self.oms, instruments, capital)
        self.report = PortfolioReplayReport(self.symbols, capital)
        for symbol, instrument in instruments.items():
            self.executions[symbol] = ExecutionEngine(
                oms=self.oms, venue=self.venue, journal=self.journal, risk=self.risk, instrument=instrument,
                strategy_id=self.strategy_id, capital=capital, clock=self.clock.now,
                sizing_costs=self._costs(symbol), cash_reserve_fraction=self.config.cash_reserve_fraction,
                on_fill=self.report.record_fill, account=self.account,
            )
        self.journal.append(EngineKind.STARTED, EngineStartedPayload(
            symbol=self.symbol, strategy=self.strategy.name, strategy_id=self.strategy_id,
            params=self.strategy.params, capital=capital, venue=self.venue.name, window_bars=self.windows[self.symbol].size,
            bar_period_seconds=self.config.bar_period.total_seconds() if self.config.bar_period else None,
            restarted=bool(earlier), target=self.targets[self.symbol], symbols=list(self.symbols), targets=dict(self.targets),
            history_bars=history,
        ))
        self.journal.append(RiskKind.LIMITS, self.risk.limits.to_payload())

    @property
    def last_price(self) -> Decimal | None:
        """The last price seen for the first member (per member: :attr:`last_prices`)."""
        return self._last_price.get(self.symbol)

    @property
    def last_prices(self) -> dict[str, Decimal]:
        return dict(self._last_price)

    @property
    def execution(self) -> ExecutionEngine | None:
        """The first member's execution engine (all members share the account's capital and equity)."""
        return self.executions.get(self.symbol)

    @property
    def window(self) -> BarWindow:
        """The first member's bar window (the members' windows advance together)."""
        return self.windows[self.symbol]

    @property
    def target(self) -> float:
        """Gross target exposure (sum of |weight|); per member: :attr:`targets`."""
        return float(sum(abs(weight) for weight in self.targets.values()))

    async def cancel_open_orders(self) -> list[CancelOutcome]:
        """Cancel every open order of every member; say how each went."""
        async with self._lock:
            return await self._cancel_all_locked()

    async def _cancel_all_locked(self) -> list[CancelOutcome]:
        outcomes: list[CancelOutcome] = []
        for execution in self.executions.values():
            outcomes += await execution.cancel_all()
        return outcomes

    def _install_strategy(self, strategy: Strategy) -> int:
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"the engine runs a Strategy instance, got {type(strategy).__name__}")
        portfolio = as_portfolio(strategy)
        portfolio.check_universe(self.symbols)
        self.strategy = portfolio
        size = live_window_bars(portfolio, self.config.window_bars)
        self.windows = {symbol: BarWindow(size) for symbol in self.symbols}
        self._refilled = True
        for symbol in self.symbols:
            for bar in journaled_bars(self.journal, symbol, size):
                self.windows[symbol].append(bar)
        return len(self.windows[self.symbol])

    async def _close_positions_now(self) -> None:
        for symbol in self.symbols:
            if self.targets[symbol] != 0.0 or self._account().positions()[symbol] != 0:
                last = self.windows[symbol].last
                self.journal.append(StrategyKind.TARGET, StrategyTargetPayload(
                    symbol=symbol, strategy_id=self.strategy_id, target=0.0, previous=self.targets[symbol],
                    bar_start=last.start if last else None, bar_end=last.end if last else None,
                ))
                self.targets[symbol] = 0.0
                self._pending[symbol] = 0.0
        if self._pending:
            await self._act(self.clock.now())

    async def _before_finish(self) -> None:
        if self.oms is not None and self.report is not None:
            # Fills after the last period's close moved positions too: report them as they end.
            self.report.positions = self._account().positions()

    def _update_sink(self) -> ExecutionEngine:
        return self._any_execution()

    async def on_heartbeat(self) -> None:
        """Close due bars and overdue periods, run due venue requests, poll the breakers, settle lookups."""
        async with self._lock:
            now = self.clock.now()
            if self._simulated_venue is not None:
                self._simulated_venue.process_due(now)
            await self._any_execution().apply_updates(self.venue.updates().drain_nowait())
            for builder in self.builders.values():
                for bar in builder.close_due(now):
                    await self._on_member_bar(bar)
            await self._close_overdue(now)
            await self._carry_out(self.risk.poll(now))
            await self._settle()

    # -- events ----------------------------------------------------------------------------------

    async def on_event(self, event: MarketEvent) -> None:
        """Handle one market event (the feed loop calls this after advancing the clock)."""
        async with self._lock:
            await self._on_event(event)

    async def _on_event(self, event: MarketEvent) -> None:
        symbol = event.symbol
        if symbol not in self.windows:
            return  # another symbol on a shared stream
        execution = self.executions[symbol]
        if self._simulated_venue is not None:
            self._simulated_venue.on_market(event)
        await execution.apply_updates(self.venue.updates().drain_nowait())
        risk_events = self.risk.on_market_data(symbol, event.at)
        if risk_events:
            await self._carry_out(risk_events)
        closed: list[Bar] = []
        price: Decimal | None = None
        if isinstance(event, BarClose):
            closed.append(event.bar)
        elif isinstance(event, BarOpen):
            price = Decimal(repr(event.price))
        elif isinstance(event, Trade):
            price = event.price
            if symbol in self.builders:
                closed = self.builders[symbol].on_trade(event)
        else:
            if isinstance(event, BookTicker):
                self._best_ask[symbol] = event.ask
            if symbol in self.builders:
                closed = self.builders[symbol].close_due(event.at)
        for bar in closed:
            await self._on_member_bar(bar)
        if price is not None:
            self._last_price[symbol] = price
            self._fresh[symbol] = price
            self._account().mark(symbol, price, event.at)
            if self._pending and self._all_priced():
                await self._act(event.at)
            await execution.flatten(price, event.at)
        await execution.apply_updates(self.venue.updates().drain_nowait())
        await self._settle()

    async def _on_member_bar(self, bar: Bar) -> None:
        if self._closed_through is not None and bar.start <= self._closed_through:
            self.journal.append(StrategyKind.MEMBER_STALE, {
                "symbol": bar.symbol, "bar_start": bar.start, "late": True,
                "reason": "the bar arrived after its period had closed without it; dropped",
            })
            return
        self._waiting.setdefault(bar.start, {})[bar.symbol] = bar
        # Periods close in order: one complete period also closes every earlier, incomplete one.
        complete = [start for start, bars in self._waiting.items() if len(bars) == len(self.symbols)]
        if complete:
            latest = max(complete)
            for start in sorted(s for s in self._waiting if s <= latest):
                await self._close_period(start, self._waiting.pop(start))

    async def _close_overdue(self, now: datetime) -> None:
        timeout = timedelta(seconds=self.config.member_timeout_seconds)
        for start in sorted(self._waiting):
            bars = self._waiting[start]
            end = next(iter(bars.values())).end
            if now < end + timeout:
                break
            await self._close_period(start, self._waiting.pop(start))

    async def _close_period(self, start: datetime, bars: dict[str, Bar]) -> None:
        """Advance every member's window by this period's bar, mark the account, evaluate the strategy."""
        oms, report = self._oms(), self.report
        assert report is not None
        any_bar = next(iter(bars.values()))
        complete: dict[str, Bar] = {}
        stale: list[str] = []
        for symbol in self.symbols:
            bar = bars.get(symbol)
            if bar is None:
                previous = self.windows[symbol].last
                if previous is None:
                    # Nothing to carry: the strategy cannot see this period yet.
                    self.journal.append(StrategyKind.MEMBER_STALE, {
                        "symbol": symbol, "bar_start": start, "late": False,
                        "reason": "no bar of this member yet; the period is skipped",
                    })
                    return
                bar = Bar(symbol, start, any_bar.end, *([previous.close] * 4), 0.0)
                stale.append(symbol)
            complete[symbol] = bar
        self._closed_through = start
        self._stale = set(stale)
        for symbol in stale:
            self.journal.append(StrategyKind.MEMBER_STALE, {
                "symbol": symbol, "bar_start": start, "late": False,
                "reason": f"no bar {self.config.member_timeout_seconds:g} s after the period's end; carried at its previous close",
            })
        closes: dict[str, Decimal] = {}
        for symbol, bar in complete.items():
            last = self.windows[symbol].last
            if last is not None and bar.start <= last.start and self._refilled:
                # After a restart the market's clock went back (a replayed venue restarted): the
                # journaled history no longer precedes it, so the windows start afresh.
                self.windows = {member: BarWindow(self.windows[member].size) for member in self.symbols}
                self.journal.append(EngineKind.HISTORY_DROPPED, {
                    "symbol": symbol, "bar_start": bar.start, "history_until": last.start,
                    "reason": "the first period after the restart is not after the journaled history; the windows start empty",
                })
            self.windows[symbol].append(bar)
            # Rows of each member's bars segment, written with the mark they cause (nothing external between them).
            self.journal.append_row(MarketKind.BARS, BAR_FIELDS, (bar.start, bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume),
                                    symbol=symbol, ts=bar.end)
            closes[symbol] = Decimal(repr(bar.close))
        self._refilled = False
        oms.mark_to_market(closes, at=any_bar.end)
        for symbol, close in closes.items():
            self._account().mark(symbol, close, any_bar.end)
        self._fresh = {}
        equity = self._account().equity(closes)
        report.record_period(any_bar, equity, self._account().positions())
        await self._carry_out(self.risk.on_equity_and_poll(equity, any_bar.end))
        try:
            weights = self.strategy.latest_targets(self._frame())
        except Exception as error:  # noqa: BLE001 - a strategy bug must stop trading, not the engine
            self.journal.append(StrategyKind.ERROR, {"symbol": self.symbol, "bar_start": start, "error": type(error).__name__, "message": str(error)})
            await self._carry_out([self.risk.halt(f"strategy {self.strategy.name} failed: {error}", ENGINE_ACTOR)])
            return
        for symbol in self.symbols:
            target = _checked_weight(weights[symbol], self.strategy.name)
            if target == self.targets[symbol]:
                continue
            self.journal.append(StrategyKind.TARGET, StrategyTargetPayload(
                symbol=symbol, strategy_id=self.strategy_id, target=target, previous=self.targets[symbol],
                bar_start=start, bar_end=any_bar.end,
            ))
            self.targets[symbol] = target
            self._pending[symbol] = target

    def _frame(self) -> pd.DataFrame:
        """The members' windows as one wide frame, columns ``(field, symbol)`` like a Universe's bars."""
        frames = [self.windows[symbol].frame() for symbol in self.symbols]
        index = frames[0].index
        values = np.stack([frame.to_numpy() for frame in frames], axis=2)  # bars x fields x symbols
        columns = pd.MultiIndex.from_product([list(_FIELDS), list(self.symbols)], names=["field", "symbol"])
        return pd.DataFrame(values.reshape(len(index), -1), index=index, columns=columns)

    def _all_priced(self) -> bool:
        return all(symbol in self._fresh or symbol in self._stale for symbol in self.symbols)

    async def _act(self, at: datetime) -> None:
        """Send the pending targets' orders at the members' fresh prices: sells first, then buys."""
        await self._settle()
        unresolved = [order for execution in self.executions.values() for order in execution.unknown_orders()]
        if unresolved:
            if not self._deferring:
                self._deferring = True
                self.journal.append(EngineKind.ORDER_DEFERRED, {
                    "symbol": self.symbol, "targets": dict(self._pending),
                    "waiting_for": [order.client_order_id for order in unresolved],
                    "reason": "an earlier submission's outcome is unknown; nothing new is sent until the venue answers",
                })
            return
        self._deferring = False
        pending = {s: t for s, t in self._pending.items() if s not in self._stale}
        self._pending = {s: t for s, t in self._pending.items() if s in self._stale}
        account = self._account()
        prices = {symbol: self._fresh.get(symbol) or account.price(symbol) for symbol in self.symbols}
        # Equity is valued once at this period's prices, as the backtest values the group once per bar.
        equity = account.equity(prices)
        # By the value each order moves (target value less position value, before rounding), from the
        # largest sale to the largest purchase, members in their order on ties: vectorbt's call
        # sequence. Each is sized at its turn, so a purchase sees the cash the sales before it freed.
        def moved(symbol: str) -> Decimal:
            position = self._oms().position(symbol).quantity
            return Decimal(repr(pending[symbol])) * equity - position * prices[symbol]

        for symbol in sorted(pending, key=moved):
            intent = self._intent(symbol, pending[symbol], prices[symbol], equity)
            if intent is None:
                self._skipped(symbol, pending[symbol], prices[symbol])
                continue
            await self.executions[symbol].submit(intent, prices[symbol], at, target=pending[symbol])

    def _intent(self, symbol: str, target: float, price: Decimal, equity: Decimal) -> OrderIntent | None:
        execution = self.executions[symbol]
        oms, account = self._oms(), self._account()
        working = oms.position(symbol).quantity + sum(
            (order.signed_remaining_quantity for order in oms.open_orders(symbol)), Decimal(0)
        )
        return intent_for_target(
            execution.instrument, self.strategy_id, target, price, equity=equity, cash=account.cash(),
            working_quantity=working, sizing_costs=execution.sizing_costs,
            capital=account.capital / len(self.symbols), cash_reserve_fraction=self.config.cash_reserve_fraction,
            signal_bar=self.windows[symbol].last, best_ask=self._best_ask.get(symbol),
        )

    def _skipped(self, symbol: str, target: float, price: Decimal) -> None:
        self.journal.append(EngineKind.ORDER_SKIPPED, {
            "symbol": symbol, "target": target, "price": price, "position": self._oms().position(symbol).quantity,
            "reason": "the change rounds to nothing or is below the venue minimums",
        })

    async def _settle(self) -> None:
        """Ask the venue about submissions whose outcome is unknown (inline: bar replays stay deterministic)."""
        for execution in self.executions.values():
            pending = execution.unknown_orders()
            if not pending:
                continue
            try:
                outcomes = await execution.fetch_outcomes(pending)
            except VenueError as error:
                self.journal.append(EngineKind.RECONCILE_PENDING, {
                    "symbol": execution.symbol, "client_order_ids": [o.client_order_id for o in pending], "error": str(error),
                })
                await self._carry_out(self.risk.on_venue_response(False, detail=str(error)))
                continue
            await execution.apply_outcomes(outcomes)
            await self._carry_out(self.risk.on_venue_response(True))
            if execution.take_target_unmet() and execution.symbol not in self._pending:
                self._pending[execution.symbol] = self.targets[execution.symbol]

    async def _carry_out(self, events: Iterable[RiskEvent | StateChange]) -> None:
        """Journal risk events once and carry out their actions for every member (a halt cancels all)."""
        events = list(events)
        if not events:
            return
        first = self._any_execution()
        await first.carry_out(events)
        if any(isinstance(action, FlattenPositions) for event in events for action in getattr(event, "actions", ())):
            for execution in self.executions.values():
                if execution is not first:
                    execution.request_flatten()
                    await execution.flatten(self._last_price.get(execution.symbol))

    # -- helpers -------------------------------------------------------------------------------

    def _costs(self, symbol: str) -> Costs | None:
        costs = self.config.sizing_costs
        if costs is None or isinstance(costs, Costs):
            return costs
        return costs.get(symbol)

    def _any_execution(self) -> ExecutionEngine:
        if not self.executions:
            raise ConfigError("the engine has not started: call `await engine.start()` (or run()) first")
        return self.executions[self.symbol]

    def _oms(self) -> OMS:
        self._any_execution()
        assert self.oms is not None
        return self.oms

    def _account(self) -> SharedAccount:
        self._any_execution()
        assert self.account is not None
        return self.account


def _checked_weight(value: Any, name: str) -> float:
    weight = float(value)
    if math.isnan(weight):
        return 0.0
    if not math.isfinite(weight):
        raise StrategyError(f"{name}: weights must be finite, got {weight}")
    return weight + 0.0
