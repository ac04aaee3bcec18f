"""Warm start: reconcile one engine's journaled state with the venue before it trades again.

After a restart the OMS has replayed its journal (``OMS(journal, ...)``), but the process may have
died at any point: after journaling an order and before the venue heard of it, after the venue
acknowledged it and before the answer was journaled, or while orders kept filling. The venue is
the truth about what happened; the journal is the truth about what we meant. :func:`reconcile`
asks the venue, applies what it says through the OMS (so every correction is journaled like a
live answer), and reports whatever it cannot explain. It never places or cancels an order and
never changes the trading state: the host reads :attr:`Reconciliation.ok` and, when it is false,
keeps the engine out of normal trading (``REDUCING`` or ``HALTED``) and alerts someone.

Steps, for one engine (one strategy id) on one symbol:

1. **Our unfinished orders.** Every order the OMS holds open (``SUBMITTED`` with an unknown
   outcome, ``ACCEPTED``, ``PARTIALLY_FILLED``, ``PENDING_CANCEL``) is looked up by client order
   id and the answer applied: acknowledged, cancelled, expired, rejected. An order the venue does
   not know and never acknowledged is marked ``REJECTED`` (``"not at the venue after restart"``):
   the submission never arrived. One it had acknowledged (or that had fills) but no longer knows is
   unexplained. A pending cancel the venue never carried out (the order is still working) becomes
   a rejected cancel: the order keeps working, and the host decides whether to cancel it again.
2. **Orders working at the venue.** Ours and known: fine (one the journal has as finished is
   unexplained). Ours but unknown to the journal (the id is one this OMS would give this strategy:
   same prefix, same strategy part, a sequence number) are *adopted*: journaled as
   ``order.adopted`` and tracked from then on, their sequence number counted as used so the id is
   never handed out again. Adoption needs the side and quantity from the venue; the venue protocol's
   answer carries no limit price, so an adopted order is recorded as a ``GTC`` limit order with
   ``limit_price`` ``None`` (only market orders never rest, and the OMS uses the price of an open
   order for nothing but display). An order whose side or quantity the venue did not report cannot
   be adopted safely and is unexplained instead. Anything else on the symbol is *foreign* (another
   client on the account, or another strategy under our prefix): listed, never touched, and
   unexplained, because its fills would move the balance behind the engine's back.
3. **Trades.** The venue's trades on the symbol since ``since`` (reaching back to the oldest
   unfinished order, minus :data:`TRADE_WINDOW_MARGIN` for clock differences) are applied when the
   OMS has not seen their trade id; those are the fills missed while the process was down. A trade
   of an order the journal does not know is unexplained. Afterwards each order the venue described
   must have at least the filled quantity the venue reported, and none the venue calls finished may
   still be open in the OMS. Any answer the OMS refused (``venue.answer_refused``, e.g. a fill for
   an order we marked rejected) is unexplained.
4. **Balance.** The venue's total of the base asset, minus ``baseline_base`` (the total journaled
   at cold start, before the first order), must equal the OMS position within ``tolerance``
   (default: one lot). Nothing is added back for fees: Binance (and the local venue) take a
   buyer's commission in the base asset, so the balance grows by ``quantity - fee``, and the
   position does the same because a base-asset fee leaves the position
   (:func:`~tradepulse.execution.portfolio.position_after_fill`). Buy 0.010 BTC with a fee of
   0.00001 BTC: the venue's total rises by 0.00999 and so does the position (the worked example
   in ``docs/execution.md``). The base fees are reported (``base_fees``) to help read a mismatch.
   The balance is read before and after the trades, and again if it moved meanwhile, so a fill
   landing during reconciliation is not mistaken for a discrepancy. Without a baseline the check
   is skipped and the payload says so. It assumes the base asset moves only through this
   engine's symbol.

The outcome is journaled as one ``reconcile.completed`` event (:meth:`Reconciliation.to_payload`).

With a ``execution``, venue answers and fills go through :meth:`ExecutionEngine.apply_updates
<tradepulse.execution.engine.ExecutionEngine.apply_updates>`, the path live answers take (its fill hook sees
the missed fills; a refused answer halts there as it would live). Without one they are applied to
the OMS with the same mapping.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradepulse.errors import OrderNotFound, VenueError
from tradepulse.execution.oms import OMS
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import TERMINAL_STATES, ZERO, InvalidOrder, InvalidTransition, Order, OrderStatus
from tradepulse.store.journal import Journal
from tradepulse.store.kinds import RECONCILE_COMPLETED
from tradepulse.store.kinds import OmsEventKind as K

if TYPE_CHECKING:
    from tradepulse.execution.engine import ExecutionEngine
    from tradepulse.model.venue import OrderUpdate, Venue, VenueFill

__all__ = ["NOT_AT_VENUE", "TRADE_WINDOW_MARGIN", "Reconciliation", "reconcile"]

TRADE_WINDOW_MARGIN = timedelta(minutes=1)
"""How far before ``since`` (and the oldest unfinished order) trades are read: venue and host clocks differ."""
NOT_AT_VENUE = "not at the venue after restart"
"""The reason an order is rejected when the venue never received its submission."""
_BALANCE_READS = 3
# Venue statuses by value (``VenueOrderStatus`` is a StrEnum); this module stays free of venue imports.
_LIVE = frozenset({"new", "partially_filled"})
_FINAL = frozenset({"filled", "canceled", "rejected", "expired"})
_STILL_WORKING = "the cancel did not reach the venue before the restart; the order is still working"


@dataclass(frozen=True)
class Reconciliation:
    """What a warm-start reconciliation found and did, for one strategy on one symbol.

    Attributes
    ----------
    ok
        Nothing is unexplained: the engine may trade normally.
    resolved
        Our orders whose status changed: ``client_order_id``, ``before``, ``after``,
        ``venue_status`` (``"not_found"`` when the venue did not know it) and ``reason``.
    missed_fills
        Fills applied that happened while we were down: ``trade_id``, ``client_order_id``,
        ``side``, ``qty``, ``price``, ``fee`` (negative: a rebate), ``fee_currency``,
        ``fee_quote_rate`` (quote per unit of a third fee currency, else ``None``), ``at``.
    adopted
        Venue orders under our id that the journal lacked, now tracked by the OMS.
    foreign
        Orders working on the symbol that are not ours (flagged, never touched).
    unexplained
        One sentence per problem; non-empty means ``ok`` is false.
    balance
        ``asset``, ``venue_total``, ``baseline``, ``expected_position`` (the position the venue's
        balance implies: total minus baseline; base-asset fees are already out of both),
        ``journal_position``, ``difference`` (expected minus journal), ``base_fees`` (the base-asset
        fees of the applied fills, for reading only), ``tolerance``, ``checked`` and ``note``.
    trades_since
        Start of the window of venue trades read (``None``: all of them).
    """

    strategy_id: str
    symbol: str
    ok: bool
    resolved: list[dict] = field(default_factory=list)
    missed_fills: list[dict] = field(default_factory=list)
    adopted: list[dict] = field(default_factory=list)
    foreign: list[dict] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    balance: dict = field(default_factory=dict)
    trades_since: datetime | None = None

    def to_payload(self) -> dict:
        """Return a JSON-ready dict (Decimals as exact strings, times as ISO-8601)."""
        return {
            "strategy_id": self.strategy_id,
            "symbol": self.symbol,
            "ok": self.ok,
            "resolved": _jsonable(self.resolved),
            "missed_fills": _jsonable(self.missed_fills),
            "adopted": _jsonable(self.adopted),
            "foreign": _jsonable(self.foreign),
            "unexplained": list(self.unexplained),
            "balance": _jsonable(self.balance),
            "trades_since": _jsonable(self.trades_since),
        }


async def reconcile(
    *,
    oms: OMS,
    venue: Venue,
    journal: Journal,
    instrument: Instrument,
    strategy_id: str,
    baseline_base: Decimal | None,
    since: datetime | None,
    tolerance: Decimal | None = None,
    execution: ExecutionEngine | None = None,
) -> Reconciliation:
    """Reconcile ``oms`` (rebuilt from ``journal``) with ``venue`` for ``instrument``; see the module docstring.

    Parameters
    ----------
    oms, journal
        The engine's OMS, already replayed from its journal, and that journal.
    venue
        The connected venue.
    instrument
        The symbol the engine trades (its base asset is the one whose balance is checked).
    strategy_id
        The engine's strategy id: the part of our client order ids that says an order is ours.
    baseline_base
        Total of the base asset at the venue when the journal began (before the first order);
        ``None`` skips the balance check.
    since
        Read venue trades from here (minus a margin), e.g. the time of the previous run's last
        journaled event; ``None`` reads every trade the venue returns.
    tolerance
        Largest balance difference that passes (default: the instrument's lot size).
    execution
        The engine's order execution; when given, venue answers are applied through it.

    Returns
    -------
    Reconciliation
        Also journaled as ``reconcile.completed`` (correlation id: ``strategy_id``).
    """
    run = _Run(oms, venue, journal, instrument, strategy_id, execution)
    await run.go(baseline_base, since, instrument.lot_size if tolerance is None else tolerance)
    result = run.result()
    journal.append(RECONCILE_COMPLETED, result.to_payload(), correlation_id=strategy_id)
    return result


class _Run:
    """One reconciliation: reads the venue first, then applies what it said, then checks."""

    def __init__(
        self, oms: OMS, venue: Venue, journal: Journal, instrument: Instrument, strategy_id: str, execution: ExecutionEngine | None
    ) -> None:
        self.oms, self.venue, self.journal, self.execution = oms, venue, journal, execution
        self.instrument, self.symbol, self.strategy_id = instrument, instrument.symbol, strategy_id
        self.first_seq = journal.last_seq()
        self.before = {cid: order.status for cid, order in oms.orders.items() if order.symbol == self.symbol}
        self.answers: dict[str, OrderUpdate] = {}
        self.not_found: set[str] = set()
        self.missed_fills: list[dict] = []
        self.adopted: list[dict] = []
        self.adopted_updates: list[OrderUpdate] = []
        self.foreign: list[dict] = []
        self.unexplained: list[str] = []
        self.balance: dict[str, Any] = {}
        self.window: datetime | None = None

    # -- the steps -------------------------------------------------------------------------------

    async def go(self, baseline: Decimal | None, since: datetime | None, tolerance: Decimal) -> None:
        pending = self.oms.open_orders(self.symbol)
        for order in pending:
            await self._ask(order)
        await self._ask_again_once_nothing_can_land(pending)
        try:
            working = await self.venue.open_orders(self.symbol)
        except VenueError as error:
            working = []
            self.unexplained.append(f"could not read the venue's open orders on {self.symbol}: {error}")
        if since is not None:
            self.window = min([since, *(order.created_at for order in pending)]) - TRADE_WINDOW_MARGIN
        trades, venue_total = await self._read_trades(baseline is not None)

        for order in pending:
            if order.client_order_id in self.not_found:
                self._not_at_venue(order)
            elif order.client_order_id in self.answers:
                await self._apply_answer(self.answers[order.client_order_id])
        for update in working:
            if self._sort_working(update):
                self._adopt(update)
        for fill in trades:
            await self._apply_trade(fill)
        for cid, update in self.answers.items():
            self._check_answered(cid, update)
        for update in self.adopted_updates:
            self._check_filled(update.client_order_id, update.filled_quantity)
        self._report_refusals()
        self._check_balance(baseline, venue_total, tolerance)

    def result(self) -> Reconciliation:
        resolved = []
        for cid, before in self.before.items():
            after = self.oms.order(cid)
            if after.status is not before:
                venue_status = "not_found" if cid in self.not_found else str(self.answers[cid].status) if cid in self.answers else None
                resolved.append({"client_order_id": cid, "before": str(before), "after": str(after.status),
                                 "venue_status": venue_status, "reason": after.status_reason})
        return Reconciliation(
            strategy_id=self.strategy_id, symbol=self.symbol, ok=not self.unexplained, resolved=resolved,
            missed_fills=self.missed_fills, adopted=self.adopted, foreign=self.foreign, unexplained=self.unexplained,
            balance=self.balance, trades_since=self.window,
        )

    async def _ask_again_once_nothing_can_land(self, pending: list[Order]) -> None:
        """Wait out the receive window of orders not found, then ask again: absence is proof only then.

        The previous process may have died with a request on its way (a slow network, a venue
        queue): it can still reach the matching engine until its receive window has passed, counted
        here from the journaled submission (the request left after that). Rejecting it earlier would
        refuse its fill when it lands.
        """
        window = timedelta(seconds=self.venue.submission_window_s)
        missing = [order for order in pending if order.client_order_id in self.not_found and order.status is OrderStatus.SUBMITTED]
        if not missing or window <= timedelta(0):
            return
        wait_s = (max(order.created_at for order in missing) + window - datetime.now(UTC)).total_seconds()
        if wait_s <= 0:
            return
        await asyncio.sleep(wait_s)
        for order in missing:
            self.not_found.discard(order.client_order_id)
            await self._ask(order)

    async def _ask(self, order: Order) -> None:
        cid = order.client_order_id
        try:
            self.answers[cid] = await self.venue.fetch_order(self.symbol, cid)
        except OrderNotFound:
            self.not_found.add(cid)
        except VenueError as error:
            self.unexplained.append(f"could not ask the venue about order {cid} ({order.status}): {error}")

    async def _read_trades(self, with_balance: bool) -> tuple[list[VenueFill], Decimal | None]:
        """The venue's trades in the window and, if wanted, its base total read around them until it holds still."""
        base = self.instrument.base
        total: Decimal | None = None
        trades: list[VenueFill] = []
        try:
            if not with_balance:
                return await self.venue.my_trades(self.symbol, self.window), None
            for _ in range(_BALANCE_READS):
                first = await self._base_total()
                trades = await self.venue.my_trades(self.symbol, self.window)
                total = await self._base_total()
                if first == total:
                    return trades, total
        except VenueError as error:
            self.unexplained.append(f"could not read the venue's trades and balances for {self.symbol}: {error}")
            return trades, None
        self.unexplained.append(f"the venue's {base} balance kept changing while its trades were read ({_BALANCE_READS} attempts)")
        return trades, total

    async def _base_total(self) -> Decimal:
        balance = (await self.venue.balances()).get(self.instrument.base)
        return balance.total if balance is not None else ZERO

    def _not_at_venue(self, order: Order) -> None:
        cid = order.client_order_id
        if order.venue_order_id is None and order.filled_quantity == 0:
            self._guarded(lambda: self.oms.apply_reject(cid, NOT_AT_VENUE))
        else:
            self.unexplained.append(
                f"the venue no longer knows order {cid} ({order.status}, venue id {order.venue_order_id}, "
                f"{order.filled_quantity} of {order.quantity} filled), which it had acknowledged"
            )

    def _sort_working(self, update: OrderUpdate) -> bool:
        """Classify one open venue order: fine, flagged, or to adopt (``True``)."""
        cid = update.client_order_id
        known = self.oms.find(cid)
        if known is not None:
            if known.status in TERMINAL_STATES:
                self.unexplained.append(
                    f"order {cid} is working at the venue ({update.status}, {update.filled_quantity} of "
                    f"{update.quantity} filled) but the journal has it {known.status}"
                )
            return False
        if cid and self.oms.client_order_sequence_of(cid, self.strategy_id) is not None:
            if update.side is not None and update.quantity is not None and update.quantity > 0:
                return True
            self.unexplained.append(f"order {cid} carries our id but the venue did not report its side and quantity, so it cannot be adopted")
            return False
        ours_prefix = cid.startswith(f"{self.oms.client_order_id_prefix}-")
        why = "our prefix but another strategy's id" if ours_prefix else "not one of ours"
        self.foreign.append({**_describe(update), "why": why})
        self.unexplained.append(
            f"foreign order {cid or '(no client order id)'} ({why}) is working on {self.symbol}: "
            f"{update.side} {update.quantity}, {update.filled_quantity} filled; left untouched"
        )
        return False

    def _adopt(self, update: OrderUpdate) -> None:
        cid = update.client_order_id
        try:
            order = self.oms.adopt(
                cid, strategy=self.strategy_id, symbol=self.symbol, side=update.side, quantity=update.quantity,
                venue_order_id=update.venue_order_id, reason="adopted on warm start: working at the venue, missing from the journal",
                at=update.at,
            )
        except InvalidOrder as error:
            self.unexplained.append(f"order {cid} carries our id but cannot be adopted: {error}")
            return
        self.adopted.append({**_describe(update), "status": str(order.status)})
        self.adopted_updates.append(update)

    async def _apply_trade(self, fill: VenueFill) -> None:
        if self.oms.seen_trade(self.symbol, fill.trade_id):
            return
        cid = fill.client_order_id
        if self.oms.find(cid) is None:
            self.unexplained.append(
                f"trade {fill.trade_id} ({fill.side} {fill.quantity} {self.symbol} at {fill.price}) belongs to order "
                f"{cid or '(no client order id)'}, which the journal does not know"
            )
            return
        if self.execution is not None:
            await self.execution.apply_updates([fill])
        else:
            self._guarded(lambda: self.oms.apply_fill(fill.to_fill()))
        if self.oms.seen_trade(self.symbol, fill.trade_id):
            self.missed_fills.append({
                "trade_id": fill.trade_id, "client_order_id": cid, "side": str(fill.side), "qty": fill.quantity,
                "price": fill.price, "fee": fill.fee, "fee_currency": fill.fee_currency,
                # The rate rides on the OMS fill (an adapter adds it for a fee in a third currency).
                "fee_quote_rate": fill.to_fill().fee_quote_rate, "at": fill.at,
            })

    async def _apply_answer(self, update: OrderUpdate) -> None:
        """Apply the venue's view of one of our orders (the mapping :class:`ExecutionEngine` uses for live answers)."""
        if self.execution is not None:
            await self.execution.apply_updates([update])
            return
        cid, status = update.client_order_id, str(update.status)
        order = self.oms.order(cid)
        if status in _LIVE or status == "filled":
            if order.venue_order_id is None and order.status not in (OrderStatus.REJECTED, OrderStatus.DENIED):
                self._guarded(lambda: self.oms.apply_accept(cid, update.venue_order_id, at=update.at))
        elif status == "canceled" and order.status not in TERMINAL_STATES:
            self._guarded(lambda: self.oms.apply_cancel(cid, reason=update.reason, at=update.at))
        elif status == "expired" and order.status not in TERMINAL_STATES:
            self._guarded(lambda: self.oms.apply_expire(cid, at=update.at))
        elif status == "rejected" and order.status in (OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL):
            self._guarded(lambda: self.oms.apply_reject(cid, update.reason or "rejected by the venue", at=update.at))

    def _check_answered(self, cid: str, update: OrderUpdate) -> None:
        order = self.oms.order(cid)
        status = str(update.status)
        if order.status is OrderStatus.PENDING_CANCEL and status in _LIVE:
            self._guarded(lambda: self.oms.apply_cancel_reject(cid, _STILL_WORKING, at=update.at))
            order = self.oms.order(cid)
        if self._check_filled(cid, update.filled_quantity) and status in _FINAL and order.status.is_open:
            self.unexplained.append(f"the venue has order {cid} {status}, the journal still has it {order.status}")

    def _check_filled(self, cid: str, venue_filled: Decimal) -> bool:
        order = self.oms.order(cid)
        if order.filled_quantity >= venue_filled:
            return True
        window = f"since {self.window.isoformat()}" if self.window is not None else "the venue returned"
        self.unexplained.append(
            f"the venue reports {venue_filled} of order {cid} filled, but the trades {window} account for only {order.filled_quantity}"
        )
        return False

    def _report_refusals(self) -> None:
        for event in self.journal.events(after_seq=self.first_seq, kinds=[str(K.VENUE_ANSWER_REFUSED)]):
            payload = event.payload
            self.unexplained.append(
                f"the venue's {payload.get('answer')} for order {payload.get('client_order_id')} contradicts the journal: {payload.get('message')}"
            )

    def _check_balance(self, baseline: Decimal | None, venue_total: Decimal | None, tolerance: Decimal) -> None:
        base = self.instrument.base
        position = self.oms.position(self.symbol).quantity
        fees = _base_fees(self.journal, self.symbol, base)
        self.balance = {
            "asset": base, "venue_total": venue_total, "baseline": baseline, "expected_position": None,
            "journal_position": position, "difference": None, "base_fees": fees, "tolerance": tolerance, "checked": False,
        }
        if baseline is None:
            self.balance["note"] = "no baseline for the base asset was journaled at cold start: balance not checked"
            return
        if venue_total is None:
            self.balance["note"] = "the venue's balance could not be read: balance not checked"
            return
        # Fees taken in the base asset already left the position (portfolio.position_after_fill).
        expected = venue_total - baseline
        difference = expected - position
        self.balance.update(expected_position=expected, difference=difference, checked=True,
                            note="expected_position = venue_total - baseline (base-asset fees are already out of the position)")
        if abs(difference) > tolerance:
            self.unexplained.append(
                f"the venue holds {venue_total} {base}: {expected} more than the baseline {baseline} (after {fees} {base} of fees), "
                f"but the journal's position is {position}; {difference} {base} unexplained (tolerance {tolerance})"
            )

    def _guarded(self, apply: Any) -> None:
        """Apply one answer; a refusal is journaled by the OMS (``venue.answer_refused``) and reported from there."""
        try:
            apply()
        except (InvalidTransition, InvalidOrder):
            pass


def _describe(update: OrderUpdate) -> dict[str, Any]:
    return {
        "client_order_id": update.client_order_id, "venue_order_id": update.venue_order_id,
        "side": str(update.side) if update.side is not None else None, "quantity": update.quantity,
        "filled_quantity": update.filled_quantity, "venue_status": str(update.status),
    }


def _base_fees(journal: Journal, symbol: str, base: str) -> Decimal:
    """Fees the applied fills of ``symbol`` paid in the base asset (they never reached the balance and left the position)."""
    total = ZERO
    for event in journal.iter_events(kinds=[str(K.ORDER_FILLED)], symbol=symbol):
        fill = event.payload["fill"]
        if fill.get("fee_currency") == base:
            total += Decimal(fill["fee"])
    return total


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str):
        return [_jsonable(item) for item in value]
    return value
