"""The execution engine: explicit commands in, results out, venue answers back into the OMS.

For one symbol the engine carries out four commands, each returning a result the caller can act
on without guessing:

* :meth:`ExecutionEngine.submit` gates an intent (the risk decision is journaled; a denial is
  recorded on the OMS), journals the order (``order.submitted``), sends it, and returns a
  :class:`~tradepulse.execution.results.SubmitResult`: sent, denied, refused, or **unknown** (the
  venue call failed without a definite answer) holding its order, which the engine then settles by
  asking the venue (:meth:`fetch_outcomes`, :meth:`apply_outcomes`);
* :meth:`ExecutionEngine.cancel` and :meth:`ExecutionEngine.cancel_all` return a
  :class:`~tradepulse.execution.results.CancelOutcome` per order (cancelled, failed with the
  reason, or pending); a cancel that failed is sent again by the next one;
* :meth:`ExecutionEngine.flatten` closes the position with reduce-only market orders once no order
  is open.

Sizing is the pure :mod:`tradepulse.execution.sizer`; venue updates (acknowledgements, fills,
cancels, expiries, from REST answers and streams, repeated or not) become OMS events in one place,
:meth:`ExecutionEngine.apply_updates`; the risk layer's events are journaled and their actions
carried out in one place, :meth:`ExecutionEngine.carry_out`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from decimal import Decimal

from tradepulse.errors import OrderNotFound, OrderRejected, VenueError
from tradepulse.execution import (
    OMS,
    CancelOutcome,
    CancelResult,
    FillOutcome,
    Instrument,
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderIntent,
    OrderStatus,
    SubmitResult,
    SubmitStatus,
    sizer,
)
from tradepulse.execution.account import SharedAccount
from tradepulse.model.costs import Costs
from tradepulse.model.events import Bar
from tradepulse.model.venue import OrderUpdate, Venue, VenueFill, VenueOrderStatus, VenueUpdate
from tradepulse.risk import CancelOpenOrders, FlattenPositions, LastTrade, RiskContext, RiskControls, StateChange, flatten_intents
from tradepulse.risk.breakers import RiskEvent
from tradepulse.store import Journal

__all__ = ["ExecutionEngine"]

ZERO = Decimal(0)
_ENGINE_ACTOR = "system:engine"
_FINISHED = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.DENIED)


class ExecutionEngine:
    """The risk gate, the OMS and the venue for one symbol, driven by explicit commands.

    Parameters
    ----------
    oms, venue, journal, risk
        The engine's collaborators; the execution engine journals risk decisions and events itself.
    instrument
        The instrument traded (its grid and quote currency).
    strategy_id
        Becomes part of every client order id.
    capital
        Quote currency the strategy trades with; equity is ``capital`` plus the OMS's net P&L.
    clock
        The engine's clock (times of flatten orders).
    sizing_costs
        Fees and slippage the sizing assumes when capping a buy by cash (use the venue's).
    cash_reserve_fraction
        Share of the cash a buy never spends (0 for bar replays, which must match the backtest).
    on_fill
        Called with every fill the OMS applied, and the target it served (for the replay report).
    """

    def __init__(
        self,
        *,
        oms: OMS,
        venue: Venue,
        journal: Journal,
        risk: RiskControls,
        instrument: Instrument,
        strategy_id: str,
        capital: Decimal,
        clock: Callable[[], datetime],
        sizing_costs: Costs | None = None,
        cash_reserve_fraction: Decimal = ZERO,
        on_fill: Callable[[VenueFill, float | None], None] | None = None,
        account: SharedAccount | None = None,
    ) -> None:
        self.oms, self.venue, self.journal, self.risk = oms, venue, journal, risk
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.strategy_id = strategy_id
        self.capital = capital
        self._clock = clock
        self.sizing_costs = sizing_costs or Costs(fees_bps=0.0)
        self.cash_reserve_fraction = cash_reserve_fraction
        self._on_fill = on_fill
        # A portfolio's members share one account: equity, cash and the gate's view span them all.
        self.account = account
        self._targets: dict[str, float] = {}  # client order id -> the target the order serves
        self._flatten_pending = False
        # Orders whose submission outcome is unknown (the venue call failed without a definite
        # answer): nothing new is sent until the venue has said what became of them.
        self._unknown_outcome: set[str] = set()
        # Set when an unknown submission turned out never to have reached the venue: the target it
        # served is not met, and the engine acts on it again.
        self._target_unmet = False

    # -- money -----------------------------------------------------------------------------------

    def equity(self, price: Decimal) -> Decimal:
        """Capital plus net P&L with the position valued at ``price`` (the whole shared account's, if any)."""
        if self.account is not None:
            return self.account.equity({self.symbol: price})
        position = self.oms.position(self.symbol)
        if position.mark_price != price or position.quantity == 0:
            # A bar's mark has just valued the position at this very price; only a different one needs valuing.
            position = self.oms.portfolio.valued(self.symbol, price)
        return self.capital + position.net_pnl

    def cash(self) -> Decimal:
        """Quote currency not in the position: capital plus realised P&L minus cost basis and fees."""
        if self.account is not None:
            return self.account.cash()
        position = self.oms.position(self.symbol)
        return self.capital + position.realized_pnl - position.cost_basis - position.fees_quote

    def intent_for_target(
        self, target: float, price: Decimal, signal_bar: Bar | None, *, best_ask: Decimal | None = None
    ) -> OrderIntent | None:
        """The order that moves the position to ``target`` of equity at ``price``, or ``None`` (see :mod:`.sizer`).

        Open orders count as working; ``cash_reserve_fraction`` of the cash is never spent.
        """
        working = self.oms.position(self.symbol).quantity + sum(
            (order.signed_remaining_quantity for order in self.oms.open_orders(self.symbol)), ZERO
        )
        return sizer.intent_for_target(
            self.instrument, self.strategy_id, target, price, equity=self.equity(price), cash=self.cash(),
            working_quantity=working, sizing_costs=self.sizing_costs, capital=self.capital,
            cash_reserve_fraction=self.cash_reserve_fraction, signal_bar=signal_bar, best_ask=best_ask,
        )

    # -- orders ----------------------------------------------------------------------------------

    async def submit(self, intent: OrderIntent, last_price: Decimal, at: datetime, target: float | None = None) -> SubmitResult:
        """Gate, journal and send ``intent``; say what became of it.

        ``target`` is the exposure the order serves (kept for the replay report). An unknown
        outcome is remembered: :meth:`unknown_orders` lists it until the venue has answered.
        """
        context = self.account.risk_context(self.symbol, last_price, at) if self.account is not None else RiskContext(
            positions={self.symbol: self.oms.position(self.symbol).quantity},
            open_orders=self.oms.open_orders(),
            last_trades={self.symbol: LastTrade(last_price, at)},
            equity=self.equity(last_price),
            instruments={self.symbol: self.instrument},
        )
        decision = self.risk.check(intent, context)
        self.journal.append(decision.kind, decision.to_payload())
        if not decision.approved:
            denied = self.oms.deny(intent, decision.reason, decision={"decision_id": decision.decision_id, "check": decision.check})
            return SubmitResult(SubmitStatus.DENIED, denied, decision.reason)
        try:
            submission = await self.oms.try_submit(intent, self.venue.submit_order, approval=decision.approval)
        except InvalidOrder as error:
            # Refused before the venue call (an approval used, expired or void): the OMS journaled
            # order.denied and nothing was sent, so this is neither a venue error nor an unknown outcome.
            return SubmitResult(SubmitStatus.DENIED, None, str(error))
        order = submission.order
        if submission.refusal is not None:
            # The OMS marked the order rejected; a venue that answers is healthy, a storm of rejects is not.
            # The refused order was still an order message (the order-to-trade ratio counts it).
            reason = str(submission.refusal)
            await self.carry_out(self.risk.on_venue_response(True) + self.risk.on_order_rejected(self.symbol, reason)
                                 + self.risk.on_order_submitted(self.symbol))
            return SubmitResult(SubmitStatus.REFUSED, self.oms.order(order.client_order_id), reason)
        if submission.unknown is not None:
            # The OMS journaled order.submit_failed; nothing new is sent until the venue has been asked.
            reason = str(submission.unknown)
            self._unknown_outcome.add(order.client_order_id)
            await self.carry_out(self.risk.on_venue_response(False, detail=reason) + self.risk.on_order_submitted(self.symbol))
            return SubmitResult(SubmitStatus.UNKNOWN, self.oms.order(order.client_order_id), reason)
        if target is not None:
            self._targets[order.client_order_id] = target
        await self.carry_out(self.risk.on_venue_response(True))
        await self.apply_updates(self.venue.updates().drain_nowait())
        await self.apply_updates([submission.answer])
        # Counted once the venue's answer is applied: a trip here halts with the order's state known.
        await self.carry_out(self.risk.on_order_submitted(self.symbol))
        return SubmitResult(SubmitStatus.SENT, self.oms.order(order.client_order_id))

    def unknown_orders(self) -> list[Order]:
        """Orders whose submission outcome is still unknown (no venue call; see :meth:`fetch_outcomes`).

        Sizing counts open orders as working; counting one that never reached the venue would make
        the next order undo a trade that did not happen (a sell of coins never bought). So while
        any outcome is unknown the engine sends nothing new (design decision 4) and looks the
        orders up in the background, never holding up market data while the venue is slow or down.
        """
        if not self._unknown_outcome:
            return []  # the common case, asked on every market event
        orders = [self.oms.find(cid) for cid in sorted(self._unknown_outcome)]
        unknown = [order for order in orders if order is not None and order.status is OrderStatus.SUBMITTED]
        self._unknown_outcome = {order.client_order_id for order in unknown}
        return unknown

    async def fetch_outcomes(self, orders: Iterable[Order]) -> list[tuple[Order, OrderUpdate | None, list[VenueFill]]]:
        """Ask the venue what became of ``orders`` (venue calls only: safe outside the engine's lock).

        ``None`` in place of an update means the venue has no such order and no request for it can
        land any more. An order not found while its request could still land is left out: it
        stays unknown and is asked about again. Raises the venue's error when it cannot answer
        (the orders stay unknown).
        """
        outcomes: list[tuple[Order, OrderUpdate | None, list[VenueFill]]] = []
        for order in orders:
            try:
                update = await self.venue.fetch_order(order.symbol, order.client_order_id)
            except OrderNotFound:
                if not self.venue.could_still_land(order.client_order_id):
                    outcomes.append((order, None, []))
                continue
            fills = [f for f in await self.venue.my_trades(order.symbol, order.created_at) if f.client_order_id == order.client_order_id]
            outcomes.append((order, update, fills))
        return outcomes

    async def apply_outcomes(self, outcomes: Iterable[tuple[Order, OrderUpdate | None, list[VenueFill]]]) -> None:
        """Apply what :meth:`fetch_outcomes` learned (under the engine's lock)."""
        for order, update, fills in outcomes:
            if self.oms.order(order.client_order_id).status is not OrderStatus.SUBMITTED:
                continue  # settled meanwhile by the venue's stream
            if update is None:
                self.oms.apply_reject(order.client_order_id, "the venue has no such order after a failed submission, "
                                                             "and the request can no longer land")
                self._target_unmet = True
            else:
                await self.apply_updates([update, *fills])
        self.unknown_orders()

    def take_target_unmet(self) -> bool:
        """Whether a submission turned out never to have reached the venue since the last call (then reset)."""
        unmet, self._target_unmet = self._target_unmet, False
        return unmet

    async def cancel(self, order: Order) -> CancelOutcome:
        """Journal a cancel request for ``order``, send it, apply the answer, and say how it went.

        An order already ``PENDING_CANCEL`` is asked again: its earlier cancel failed or got no
        answer, so the venue may still be working it, and a second kill must be able to stop it.
        """
        cid = order.client_order_id

        def send(o: Order) -> Awaitable[OrderUpdate]:
            # The OMS journaled the request (order.cancel_requested) before calling this: an order
            # message, counted for the order-to-trade ratio whatever the venue answers.
            self._journal_risk(self.risk.on_cancel_requested(o.symbol))
            return self.venue.cancel_order(o.symbol, o.client_order_id)

        try:
            _, answer = await self.oms.cancel(cid, send)
        except InvalidTransition:
            return self._cancel_outcome(cid, CancelResult.FAILED, "the order finished before the cancel was sent")
        except OrderNotFound as error:
            self.oms.apply_reject(cid, f"cancel: {error}")
            return self._cancel_outcome(cid, CancelResult.FAILED, f"the venue has no such order ({error})")
        except OrderRejected as error:
            await self.apply_updates(self.venue.updates().drain_nowait())
            if self.oms.order(cid).status is OrderStatus.PENDING_CANCEL:
                self.oms.apply_cancel_reject(cid, str(error))
            return self._cancel_outcome(cid, CancelResult.FAILED, f"the venue refused the cancel: {error}")
        except VenueError as error:
            await self.carry_out(self.risk.on_venue_response(False, detail=str(error)))
            return self._cancel_outcome(cid, CancelResult.FAILED, f"the cancel did not reach the venue ({error}); the next kill or cancel-all sends it again")
        await self.apply_updates(self.venue.updates().drain_nowait())
        await self.apply_updates([answer])
        status = self.oms.order(cid).status
        if status is OrderStatus.CANCELED:
            return self._cancel_outcome(cid, CancelResult.CANCELLED)
        if status is OrderStatus.PENDING_CANCEL:
            return self._cancel_outcome(cid, CancelResult.PENDING, "the venue took the cancel; its confirmation has not arrived yet")
        return self._cancel_outcome(cid, CancelResult.FAILED, f"the order is {status}: it finished before the cancel took effect")

    async def cancel_all(self) -> list[CancelOutcome]:
        """Cancel every open order of this symbol (re-sending cancels that failed); one outcome per order."""
        return [await self.cancel(order) for order in self.oms.open_orders(self.symbol)]

    def _cancel_outcome(self, client_order_id: str, outcome: CancelResult, reason: str = "") -> CancelOutcome:
        order = self.oms.order(client_order_id)
        return CancelOutcome(client_order_id, order.symbol, outcome, reason, str(order.status))

    # -- venue answers -------------------------------------------------------------------------

    async def apply_updates(self, updates: Iterable[VenueUpdate]) -> None:
        """Apply venue answers and stream messages to the OMS, skipping what is already applied."""
        for update in updates:
            try:
                if isinstance(update, VenueFill):
                    self._apply_fill(update)
                else:
                    await self._apply_order_update(update)
            except (InvalidTransition, InvalidOrder) as error:
                # The OMS journaled venue.answer_refused: our state and the venue's disagree.
                await self.carry_out([self.risk.halt(f"reconciliation: venue answer refused ({error})", _ENGINE_ACTOR)])

    def _apply_fill(self, fill: VenueFill) -> None:
        result = self.oms.apply_fill(fill.to_fill())
        if result.outcome is FillOutcome.APPLIED:
            self._journal_risk(self.risk.on_trade(fill.symbol))  # one trade for the order-to-trade ratio
            if self._on_fill is not None:
                self._on_fill(fill, self._targets.get(fill.client_order_id))
            if result.order is not None and result.order.status is OrderStatus.FILLED:
                # No fill can follow a complete one (a repeat is a duplicate, caught above): a long run
                # keeps the targets of working orders only.
                self._targets.pop(fill.client_order_id, None)

    async def _apply_order_update(self, update: OrderUpdate) -> None:
        order = self.oms.find(update.client_order_id)
        status = update.status
        if status is VenueOrderStatus.PENDING_NEW:
            return
        if order is None:
            # Unknown to us: the OMS journals it as venue.unknown_order (with what it would have been) and changes nothing.
            cid = update.client_order_id
            if status is VenueOrderStatus.REJECTED:
                self.oms.apply_reject(cid, update.reason, at=update.at)
            elif status is VenueOrderStatus.CANCELED:
                self.oms.apply_cancel(cid, reason=update.reason, at=update.at)
            elif status is VenueOrderStatus.EXPIRED:
                self.oms.apply_expire(cid, at=update.at)
            else:
                self.oms.apply_accept(cid, update.venue_order_id, at=update.at)
            return
        if status in (VenueOrderStatus.NEW, VenueOrderStatus.PARTIALLY_FILLED, VenueOrderStatus.FILLED):
            if order.venue_order_id is None and order.status not in (OrderStatus.REJECTED, OrderStatus.DENIED):
                self.oms.apply_accept(order.client_order_id, update.venue_order_id, at=update.at)
        elif status is VenueOrderStatus.CANCELED and order.status not in _FINISHED:
            self.oms.apply_cancel(order.client_order_id, reason=update.reason, at=update.at)
        elif status is VenueOrderStatus.EXPIRED and order.status not in _FINISHED:
            self.oms.apply_expire(order.client_order_id, at=update.at)
        elif status is VenueOrderStatus.REJECTED and order.status in (OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL):
            self.oms.apply_reject(order.client_order_id, update.reason or "rejected by the venue", at=update.at)
            await self.carry_out(self.risk.on_order_rejected(order.symbol, update.reason))

    # -- risk events -----------------------------------------------------------------------------

    def _journal_risk(self, events: Iterable[RiskEvent]) -> None:
        """Journal what a record-only risk input returned (its baselines; such inputs never trip)."""
        for event in events:
            self.journal.append(event.kind, event.to_payload())

    async def carry_out(self, events: Iterable[RiskEvent | StateChange]) -> None:
        """Journal each risk event, then carry out the actions of state changes (cancels, flatten).

        The one place risk actions happen: a halt's cancels go through :meth:`cancel` (so a cancel
        that failed before is sent again), a flatten waits in :meth:`flatten` until nothing is open.
        """
        for event in events:
            self.journal.append(event.kind, event.to_payload())
            for action in getattr(event, "actions", ()):
                if isinstance(action, CancelOpenOrders):
                    positions = self.account.positions() if self.account is not None else {self.symbol: self.oms.position(self.symbol).quantity}
                    for order in action.select(self.oms.open_orders(), positions):
                        await self.cancel(order)
                elif isinstance(action, FlattenPositions):
                    self._flatten_pending = True
        await self.flatten()

    @property
    def flatten_pending(self) -> bool:
        """Whether a flatten waits for its moment (asked before awaiting :meth:`flatten` on every price)."""
        return self._flatten_pending

    @property
    def has_unknown_orders(self) -> bool:
        """Whether some submission's outcome may still be unknown (a set's emptiness: cheap on every event)."""
        return bool(self._unknown_outcome)

    def request_flatten(self) -> None:
        """Close this symbol's position at the next :meth:`flatten` (a portfolio halt flattens every member)."""
        self._flatten_pending = True

    async def flatten(self, last_price: Decimal | None = None, at: datetime | None = None) -> list[SubmitResult]:
        """Once a halt's cancels are done, close the position with reduce-only market orders.

        Does nothing unless a flatten was asked for (a kill with flatten); waits, returning ``[]``,
        while any order is open, since the position to close is known only once every submission's
        outcome is. Call it again at the next price: the engine does, on every one.
        """
        if not self._flatten_pending or self.oms.open_orders(self.symbol):
            return []
        self._flatten_pending = False
        price = last_price or self.oms.position(self.symbol).mark_price
        if price is None:
            return []
        positions = {self.symbol: self.oms.position(self.symbol).quantity}
        return [await self.submit(intent, price, at or self._clock())
                for intent in flatten_intents(positions, {self.symbol: self.instrument}, strategy=self.strategy_id)]
