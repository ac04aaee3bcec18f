"""The order management system: orders, fills and positions, every change journaled first.

The engine creates an intent (:meth:`OMS.intent_for_target`), asks the risk gate, then either
records the denial (:meth:`OMS.deny`) or journals the order (:meth:`OMS.prepare_submit`) and only
then calls the venue; venue answers come back through the ``apply_*`` methods. See
``docs/execution.md`` for the whole flow.

Each state change is computed first (a refused change raises before anything is written), then
appended to the journal as one event, then applied to memory. Replay (``OMS(journal, ...)`` on an
existing file) runs the same computation on the journaled payloads, so the rebuilt OMS equals the
live one: orders, positions, P&L, seen trade ids and the client order id sequence.

The OMS is not thread-safe: one engine task drives it, one process writes a journal.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from tradepulse.errors import ConfigError, InsufficientFunds, OrderRejected
from tradepulse.execution.portfolio import PnlSummary, Portfolio, Position, fee_in_quote, instruments_by_symbol
from tradepulse.model.ids import ClientOrderIds, make_client_order_id
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import (
    ZERO,
    Fill,
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderEvent,
    OrderIntent,
    OrderType,
    Side,
    TimeInForce,
    UnknownOrder,
    parse_decimal,
    parse_time,
    require_decimal,
)
from tradepulse.store.journal import Journal, JournalError, JournalEvent, NewEvent, canonical_payload, encode_value
from tradepulse.store.kinds import MARK_FIELDS
from tradepulse.store.kinds import OmsEventKind as K

T = TypeVar("T")

# Venue errors that mean "the order was definitely not placed"; anything else leaves the outcome unknown.
_DEFINITE_REFUSALS = (OrderRejected, InsufficientFunds)


class FillOutcome(enum.StrEnum):
    """What :meth:`OMS.apply_fill` did with a fill."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN_ORDER = "unknown_order"


@dataclass(frozen=True)
class FillResult:
    """The outcome of one reported fill, with the order and position after it (``None`` if ignored)."""

    outcome: FillOutcome
    order: Order | None
    position: Position | None
    event: JournalEvent


@dataclass(frozen=True)
class Submission:
    """What became of one submission (:meth:`OMS.try_submit`); exactly one of the last three is set.

    ``answer``: the venue answered (apply it). ``refusal``: the venue refused, the order is
    ``REJECTED``. ``unknown``: no definite answer (timeout, dropped connection); the order stays
    ``SUBMITTED``, ``order.submit_failed`` is journaled, and the venue must be asked by client
    order id before anything else is concluded.
    """

    order: Order
    answer: Any = None
    refusal: Exception | None = None
    unknown: Exception | None = None


@dataclass(frozen=True)
class _Change:
    """A state change computed from one event payload, applied to memory after it is journaled."""

    order: Order | None = None
    positions: tuple[Position, ...] = ()
    sequence: int | None = None
    trade_key: tuple[str, str] | None = None
    fee_quote: Decimal | None = None
    totals: tuple[PnlSummary, ...] = ()

    def snapshot(self) -> dict[str, Any]:
        """The derived state added to the journaled payload, for queries (replay recomputes it)."""
        extra: dict[str, Any] = {}
        if self.order is not None:
            extra["order"] = self.order.to_payload()
        if self.fee_quote is not None:
            extra["fee_quote"] = self.fee_quote
        if len(self.positions) == 1 and self.order is not None:
            extra["position"] = self.positions[0].to_payload()
        elif self.positions:
            extra["positions"] = {position.symbol: position.to_payload() for position in self.positions}
        if self.totals:
            extra["totals"] = {summary.quote: summary.to_payload() for summary in self.totals}
        return extra


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OMS:
    """Orders, fills and positions for one journal.

    Parameters
    ----------
    journal
        The event journal. If it already holds events, they are replayed: the OMS continues where
        the previous process stopped (same orders, positions and id sequence).
    instruments
        Every instrument the OMS may trade (and every one the journal mentions).
    client_order_id_prefix
        First segment of client order ids (``tp``); see :class:`~tradepulse.model.ids.ClientOrderIds`.
    clock
        Returns the current UTC time for changes made without an explicit ``at``.
    require_approval
        Refuse :meth:`prepare_submit` without a risk-gate approval (the live engine sets this).
    """

    def __init__(
        self,
        journal: Journal,
        instruments: Iterable[Instrument] | Mapping[str, Instrument],
        *,
        client_order_id_prefix: str = "tp",
        clock: Callable[[], datetime] | None = None,
        require_approval: bool = False,
        keep_finished: int = 1_000,
    ) -> None:
        if keep_finished < 1:
            raise ConfigError(f"keep_finished must be at least 1, got {keep_finished}")
        self.journal = journal
        self._require_approval = require_approval
        self._instruments = instruments_by_symbol(instruments)
        self._ids = ClientOrderIds(client_order_id_prefix)
        self._clock = clock or _utc_now
        # Every open order and the most recent ``keep_finished`` finished ones; older finished
        # orders are read back from the journal when an event names them (a late fill), so a
        # service that has placed a million orders holds a thousand, not a million.
        self._orders: dict[str, Order] = {}
        self._finished: dict[str, None] = {}  # finished ids held in memory, oldest first
        self._keep_finished = keep_finished
        self._evicted = False
        self._replaying_seq: int | None = None  # while replaying: the event being applied
        # Client order ids of the open orders, in the order they were opened: a long-running
        # service holds thousands of finished orders, and sizing asks for the open ones per order.
        self._open_ids: dict[str, None] = {}
        self._portfolio = Portfolio(self._instruments)
        self._seen_trades: set[tuple[str, str]] = set()
        self._symbol_texts: dict[str, str] = {}  # each symbol as the journal encodes it (a JSON string)
        self._last_applied_seq = 0
        for event in journal.iter_events():
            self._replay(event)
        self._replaying_seq = None

    @classmethod
    def from_journal(cls, journal: Journal, instruments: Iterable[Instrument] | Mapping[str, Instrument], **options: Any) -> OMS:
        """Rebuild the OMS from everything in ``journal`` (same as the constructor; the name says why)."""
        return cls(journal, instruments, **options)

    # -- reading ---------------------------------------------------------------------------

    @property
    def orders(self) -> dict[str, Order]:
        """The orders held in memory, by client order id (a copy): every open order and the most
        recent ``keep_finished`` finished ones. :meth:`order` finds any order; the journal has all
        of them (:func:`tradepulse.store.queries.orders`)."""
        return dict(self._orders)

    def find(self, client_order_id: str) -> Order | None:
        """Return one order (held, or read back from the journal), or ``None`` if there is none."""
        return self._known(client_order_id)

    def status_counts(self) -> dict[str, int]:
        """How many orders the journal holds in each status (held or not), e.g. ``{"FILLED": 46992}``."""
        rows = self.journal.select(
            "SELECT json_extract(last.payload, '$.order.status') AS status, COUNT(*) FROM order_index AS span "
            "JOIN events AS last ON last.seq = span.last_seq GROUP BY status ORDER BY status")
        return {str(status): int(count) for status, count in rows if status is not None}

    def order(self, client_order_id: str) -> Order:
        """Return one order, read back from the journal if it is no longer held; raise :class:`UnknownOrder` if there is none."""
        order = self._known(client_order_id)
        if order is None:
            raise UnknownOrder(f"the OMS has no order {client_order_id!r}")
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders live (or possibly live) at the venue, oldest first.

        After a restart, ``SUBMITTED`` ones have an unknown outcome: ask the venue by client order
        id before sending anything new for them.
        """
        orders = (self._orders[cid] for cid in self._open_ids)
        return [order for order in orders if symbol is None or order.symbol == symbol]

    @property
    def portfolio(self) -> Portfolio:
        return self._portfolio

    def position(self, symbol: str) -> Position:
        """The position in ``symbol`` (flat if never traded)."""
        return self._portfolio.position(symbol)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise InvalidOrder(f"no instrument definition for {symbol}; add it to the OMS instruments") from None

    @property
    def client_order_id_prefix(self) -> str:
        """First segment of this OMS's client order ids (``tp``)."""
        return self._ids.prefix

    def client_order_sequence_of(self, client_order_id: str, strategy: str) -> int | None:
        """The sequence number of ``client_order_id`` if it is an id this OMS would give ``strategy``, else ``None``."""
        head, _, tail = client_order_id.rpartition("-")
        if not head or not (tail.isascii() and tail.isdigit()) or int(tail) < 1:
            return None
        sequence = int(tail)
        try:
            expected = make_client_order_id(strategy, sequence, self._ids.prefix)
        except (ValueError, ConfigError):  # a sequence too long to fit: not an id this OMS makes
            return None
        return sequence if expected == client_order_id else None

    @property
    def last_client_order_sequence(self) -> int:
        """The highest client order id sequence number used so far."""
        return self._ids.last_sequence

    @property
    def last_applied_seq(self) -> int:
        """Sequence number of the last journal event this OMS has applied.

        A mark still gathering in a segment (a replay deferring commits) counts once it is written
        and another OMS event follows, or at once in a live journal.
        """
        return self._last_applied_seq

    def seen_trade(self, symbol: str, trade_id: str) -> bool:
        """Whether a fill with this venue trade id was already applied."""
        return (symbol, trade_id) in self._seen_trades

    # -- intents and our own decisions -------------------------------------------------------

    def prepare_submit(self, intent: OrderIntent, *, approval: Any = None, at: datetime | None = None) -> Order:
        """Give ``intent`` a client order id, journal it as submitted, and return the order.

        Call the venue only after this returns: the intent is durable by then (``order.submitted``).

        Parameters
        ----------
        approval
            The risk gate's ``decision.approval``; the OMS checks ``approval.covers(intent)``, then
            ``approval.redeem()`` (one use, within its time to live, in an unchanged trading state),
            and journals its ``decision_id``. Required when the OMS was built with ``require_approval``.

        Raises
        ------
        InvalidOrder
            The quantity is off the lot grid or below the minimum, the limit price off the tick
            grid, the notional below the minimum (build intents with :meth:`intent_for_target` or
            the instrument's rounding helpers), or the approval is missing or does not cover it.
            An approval the risk layer refuses at redemption (``ApprovalRefused``, a subclass) is
            journaled first as ``order.denied`` with the refusal's ``check``.
        """
        problem = self.instrument(intent.symbol).order_problem(intent.quantity, intent.limit_price, intent.reference_price)
        if problem:
            raise InvalidOrder(problem)
        if approval is None and self._require_approval:
            raise InvalidOrder("this OMS sends only orders the risk gate approved: pass approval=decision.approval")
        if approval is not None and not approval.covers(intent):
            order = f"{intent.side} {intent.quantity} {intent.symbol}"
            raise InvalidOrder(f"the risk approval does not cover this order ({order}); ask the gate again")
        if approval is not None:
            try:
                approval.redeem()
            except InvalidOrder as refusal:
                # The risk layer decides whether an approval is still good; the OMS only keeps the
                # refusal on record (a denied order, never sent) before passing it on.
                decision = {"decision_id": getattr(approval, "decision_id", None), "check": getattr(refusal, "check", "approval")}
                self.deny(intent, str(refusal), decision=decision, at=at)
                raise
        return self._new_order(K.ORDER_SUBMITTED, intent, at, {"risk_decision_id": getattr(approval, "decision_id", None)})

    def deny(
        self, intent: OrderIntent, reason: str, *, decision: Mapping[str, Any] | None = None, at: datetime | None = None
    ) -> Order:
        """Record that the risk gate refused ``intent`` (``order.denied``, with the gate's ``decision`` payload)."""
        return self._new_order(K.ORDER_DENIED, intent, at, {"reason": reason, "decision": dict(decision) if decision else None})

    async def submit(
        self, intent: OrderIntent, send: Callable[[Order], Awaitable[T]], *, approval: Any = None, at: datetime | None = None
    ) -> tuple[Order, T]:
        """Journal ``intent`` (:meth:`prepare_submit`), then ``await send(order)``; return the order and the venue's answer.

        If ``send`` raises ``OrderRejected`` or ``InsufficientFunds`` the order is marked rejected;
        any other error (timeout, dropped connection) is journaled as ``order.submit_failed`` and the
        order stays ``SUBMITTED``: its outcome is unknown until the venue is asked by client order
        id. The error is re-raised either way; applying the answer (ack, fills) is the caller's job.
        """
        submission = await self.try_submit(intent, send, approval=approval, at=at)
        problem = submission.refusal or submission.unknown
        if problem is not None:
            raise problem
        return submission.order, submission.answer

    async def try_submit(
        self, intent: OrderIntent, send: Callable[[Order], Awaitable[T]], *, approval: Any = None, at: datetime | None = None
    ) -> Submission:
        """As :meth:`submit`, but the venue's refusal or an unknown outcome is a result holding the order, not an exception.

        Raises only what :meth:`prepare_submit` raises (nothing was sent) and a cancellation of the
        call itself (journaled as an unknown outcome first, then re-raised).
        """
        order = self.prepare_submit(intent, approval=approval, at=at)
        # The intent, and everything journaled before it, is durable before the venue hears of it
        # (a journal grouping commits holds them in one open transaction until now).
        self.journal.sync()
        try:
            answer = await send(order)
        except _DEFINITE_REFUSALS as error:
            self.apply_reject(order.client_order_id, f"{type(error).__name__}: {error}")
            return Submission(self._orders[order.client_order_id], refusal=error)
        except (Exception, asyncio.CancelledError) as error:
            failure = self._answer_payload(order, None, error=type(error).__name__, message=str(error), outcome="unknown")
            self._record(K.ORDER_SUBMIT_FAILED, failure, order.client_order_id)
            if isinstance(error, asyncio.CancelledError):
                raise
            return Submission(self._orders[order.client_order_id], unknown=error)
        # The venue has answered and nothing waits on the journal: the moment for its housekeeping.
        self.journal.maintain()
        return Submission(self._orders[order.client_order_id], answer=answer)

    def request_cancel(self, client_order_id: str, *, at: datetime | None = None) -> Order:
        """Journal a cancel request (``order.cancel_requested``) and return the order, now ``PENDING_CANCEL``.

        An order already ``PENDING_CANCEL`` may be asked again: an earlier cancel that failed or got
        no answer leaves the order possibly working at the venue, and only a new request stops it.
        Raises :class:`~tradepulse.model.orders.InvalidTransition` for an order that cannot be
        cancelled (already done), without journaling anything.
        """
        order = self.order(client_order_id)
        return self._record(K.ORDER_CANCEL_REQUESTED, self._answer_payload(order, at), client_order_id)[0].order

    async def cancel(
        self, client_order_id: str, send: Callable[[Order], Awaitable[T]], *, at: datetime | None = None
    ) -> tuple[Order, T]:
        """Journal the cancel request (:meth:`request_cancel`), then ``await send(order)``; the caller applies the answer."""
        order = self.request_cancel(client_order_id, at=at)
        self.journal.sync()  # the cancel request is durable before the venue hears of it
        return order, await send(order)

    def adopt(
        self,
        client_order_id: str,
        *,
        strategy: str,
        symbol: str,
        side: Side,
        quantity: Decimal,
        venue_order_id: str | None,
        order_type: OrderType = OrderType.LIMIT,
        limit_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reason: str = "",
        at: datetime | None = None,
    ) -> Order:
        """Start tracking a venue order that carries one of our ids but is missing from the journal (``order.adopted``).

        Reconciliation calls this for an order working at the venue under an id this OMS would
        give ``strategy`` (a journal that lost its last commits, or one restored from a backup).
        The order is ``ACCEPTED`` with nothing filled; apply its fills with :meth:`apply_fill`
        afterwards. Its sequence number counts as used, so the id is never handed out again.
        ``limit_price`` may be ``None`` when the venue's answer does not carry it.

        Raises
        ------
        InvalidOrder
            The id is not one this OMS would give ``strategy``, is already tracked, the symbol has
            no instrument, or the quantity is not positive.
        """
        require_decimal("quantity", quantity)
        require_decimal("limit_price", limit_price, optional=True)
        sequence = self.client_order_sequence_of(client_order_id, strategy)
        if sequence is None:
            raise InvalidOrder(f"{client_order_id} is not a client order id this OMS gives strategy {strategy!r}")
        self.instrument(symbol)
        adopted = {
            "strategy": strategy, "side": Side(side), "quantity": quantity, "order_type": OrderType(order_type),
            "limit_price": limit_price, "time_in_force": TimeInForce(time_in_force), "reason": reason,
        }
        payload = {
            "symbol": symbol, "client_order_id": client_order_id, "client_order_sequence": sequence,
            "adopted": adopted, "venue_order_id": venue_order_id, "at": at or self._clock(),
        }
        return self._record(K.ORDER_ADOPTED, payload, client_order_id)[0].order

    def mark_to_market(self, prices: Mapping[str, Decimal], *, at: datetime | None = None) -> dict[str, Position]:
        """Value positions at ``prices`` (symbol -> price) and journal the mark; call it on each bar close.

        The mark is a row (:data:`~tradepulse.model.kinds.MARK_FIELDS`) of a ``portfolio.marks``
        segment: a bar's row the engine added just before it is written with it, in one
        transaction, and both are written at once unless the journal is deferring commits (a
        replay), where they wait for the next commit.
        """
        for symbol, price in prices.items():
            if type(price) is not Decimal:
                require_decimal(f"price of {symbol}", price)
            if symbol not in self._instruments:
                self.instrument(symbol)  # raises: no such instrument
        # Written straight in the form it reads back (exact decimal text, ISO time), which is what a
        # JSON round trip would give: a mark is made on every bar, and the round trip was its cost.
        # Decimal texts are digits, sign and point: only the symbols need encoding (done once each).
        texts = {symbol: format(price, "f") for symbol, price in prices.items()}
        prices_json = ",".join(f'{self._encoded_symbol(symbol)}:"{text}"' for symbol, text in texts.items())
        # Valued at the prices as they read back from the journal (what a restart's replay computes),
        # with the positions and totals already as the journal encodes them (Portfolio.marked keeps
        # what only a fill changes as text, so a mark between fills encodes a few numbers).
        marked = self._portfolio.marked({symbol: Decimal(text) for symbol, text in texts.items()})
        when = at or self._clock()
        row = f'["{when.isoformat()}",{{{prices_json}}},{marked.positions_json},{marked.totals_json}]'
        self.journal.append_encoded_row(K.PORTFOLIO_MARKS, MARK_FIELDS, row, ts=when)
        written = self.journal.write_rows()  # [] while the journal defers commits: the rows wait for the next one
        self._commit(_Change(positions=marked.positions), written[-1] if written else None)
        if written:
            self.journal.maintain()  # a live bar is written and nothing waits on the journal
        return {position.symbol: position for position in marked.positions}

    def _encoded_symbol(self, symbol: str) -> str:
        try:
            return self._symbol_texts[symbol]
        except KeyError:
            text = self._symbol_texts[symbol] = encode_value(symbol)
            return text

    # -- venue answers -------------------------------------------------------------------------

    def apply_accept(
        self, client_order_id: str, venue_order_id: str | None = None, *, at: datetime | None = None
    ) -> Order | None:
        """Apply the venue's acknowledgement (``order.accepted``); ``None`` if the order is unknown (journaled, ignored)."""
        return self._venue_answer(K.ORDER_ACCEPTED, client_order_id, at, {"venue_order_id": venue_order_id})

    def apply_reject(self, client_order_id: str, reason: str, *, at: datetime | None = None) -> Order | None:
        """Apply the venue's refusal of an order (``order.rejected``)."""
        return self._venue_answer(K.ORDER_REJECTED, client_order_id, at, {"reason": reason})

    def apply_cancel(self, client_order_id: str, *, reason: str = "", at: datetime | None = None) -> Order | None:
        """Apply a confirmed cancel (``order.canceled``), requested by us or done by the venue (IOC remainder)."""
        return self._venue_answer(K.ORDER_CANCELED, client_order_id, at, {"reason": reason})

    def apply_cancel_reject(self, client_order_id: str, reason: str, *, at: datetime | None = None) -> Order | None:
        """Apply a failed cancel (``order.cancel_rejected``): the order keeps working, or is already done."""
        return self._venue_answer(K.ORDER_CANCEL_REJECTED, client_order_id, at, {"reason": reason})

    def apply_expire(self, client_order_id: str, *, at: datetime | None = None) -> Order | None:
        """Apply an expiry (``order.expired``): the time in force ran out."""
        return self._venue_answer(K.ORDER_EXPIRED, client_order_id, at, {})

    def apply_fill(self, fill: Fill) -> FillResult:
        """Apply one fill reported by the venue.

        A fill whose ``(symbol, trade_id)`` was seen before is journaled as ``fill.duplicate``; one
        for an unknown client order id as ``fill.unknown_order``: both change nothing. A fill the
        state table refuses (for a rejected order) is journaled as ``venue.answer_refused`` and
        raises :class:`~tradepulse.model.orders.InvalidTransition`.
        """
        order = self._known(fill.client_order_id)
        fill_payload = fill.to_payload()
        if order is None:
            payload = {"symbol": fill.symbol, "client_order_id": fill.client_order_id, "trade_id": fill.trade_id}
            payload["fill"] = fill_payload
            event = self.journal.append(K.FILL_UNKNOWN_ORDER, payload, correlation_id=fill.client_order_id)
            self._last_applied_seq = event.seq
            return FillResult(FillOutcome.UNKNOWN_ORDER, None, None, event)
        if (order.symbol, fill.trade_id) in self._seen_trades:
            payload = {"symbol": order.symbol, "client_order_id": order.client_order_id, "trade_id": fill.trade_id}
            payload["fill"] = fill_payload
            event = self.journal.append(K.FILL_DUPLICATE, payload, correlation_id=order.client_order_id)
            self._last_applied_seq = event.seq
            return FillResult(FillOutcome.DUPLICATE, order, self.position(order.symbol), event)
        payload = {"symbol": order.symbol, "client_order_id": order.client_order_id, "fill": fill_payload}
        change, event = self._record(K.ORDER_FILLED, payload, order.client_order_id, venue_answer=True)
        return FillResult(FillOutcome.APPLIED, change.order, change.positions[0], event)

    # -- journaling and state changes ---------------------------------------------------------

    def _new_order(self, kind: K, intent: OrderIntent, at: datetime | None, extra: dict[str, Any]) -> Order:
        sequence, client_order_id = self._ids.peek(intent.strategy)
        payload = {
            "symbol": intent.symbol,
            "client_order_id": client_order_id,
            "client_order_sequence": sequence,
            "intent": intent.to_payload(),
            "at": at or self._clock(),
            **extra,
        }
        return self._record(kind, payload, client_order_id)[0].order

    def _answer_payload(self, order: Order, at: datetime | None, **fields: Any) -> dict[str, Any]:
        return {"symbol": order.symbol, "client_order_id": order.client_order_id, "at": at or self._clock(), **fields}

    def _venue_answer(self, kind: K, client_order_id: str, at: datetime | None, fields: dict[str, Any]) -> Order | None:
        order = self._known(client_order_id)
        if order is None:
            payload = {"answer": str(kind), "client_order_id": client_order_id, "at": at or self._clock(), **fields}
            self._last_applied_seq = self.journal.append(K.VENUE_UNKNOWN_ORDER, payload, correlation_id=client_order_id).seq
            return None
        return self._record(kind, self._answer_payload(order, at, **fields), client_order_id, venue_answer=True)[0].order

    def _record(
        self, kind: K, payload: Mapping[str, Any], correlation_id: str | None, *, venue_answer: bool = False,
        along: Sequence[NewEvent] = (), canonical: bool = False,
    ) -> tuple[_Change, JournalEvent]:
        """Compute the change ``payload`` makes, journal it, then apply it to memory.

        The change is computed from the payload as it will read back (what a replay sees);
        ``canonical=True`` says the caller built it in that form already.
        """
        canonical = dict(payload) if canonical else canonical_payload(payload)
        try:
            change = self._change_for(kind, canonical)
        except (InvalidTransition, InvalidOrder) as error:
            if venue_answer:
                # The venue said something we cannot apply; keep it on record for reconciliation.
                refused = {"symbol": canonical.get("symbol"), "client_order_id": canonical.get("client_order_id")}
                refused |= {"answer": str(kind), "error": type(error).__name__, "message": str(error), "payload": canonical}
                self._last_applied_seq = self.journal.append(K.VENUE_ANSWER_REFUSED, refused, correlation_id=correlation_id).seq
            raise
        recorded = NewEvent(kind, {**canonical, **change.snapshot()}, correlation_id)
        event = self.journal.append_many([*along, recorded])[-1] if along else self.journal.append(
            recorded.kind, recorded.payload, correlation_id=correlation_id)
        self._commit(change, event)
        return change, event

    def _replay(self, event: JournalEvent) -> None:
        try:
            kind = K(event.kind)
        except ValueError:
            return  # not an OMS event (risk decisions, engine events, ...)
        self._replaying_seq = event.seq
        try:
            change = self._change_for(kind, event.payload)
        except (InvalidTransition, InvalidOrder, KeyError) as error:
            raise JournalError(f"journal event {event.seq} ({event.kind}) cannot be replayed: {error}") from error
        self._commit(change, event)

    def _commit(self, change: _Change, event: JournalEvent | None) -> None:
        if change.order is not None:
            order = change.order
            client_order_id = order.client_order_id
            self._orders[client_order_id] = order
            if order.status.is_open:
                self._open_ids.setdefault(client_order_id, None)
            else:
                self._open_ids.pop(client_order_id, None)
                self._finished.pop(client_order_id, None)
                self._finished[client_order_id] = None
                if len(self._finished) > self._keep_finished:
                    oldest = next(iter(self._finished))
                    del self._finished[oldest]
                    del self._orders[oldest]
                    self._evicted = True
        for position in change.positions:
            self._portfolio.restore(position)
        if change.sequence is not None:
            self._ids.observe(change.sequence)
        if change.trade_key is not None:
            self._seen_trades.add(change.trade_key)
        if event is not None:  # a mark still gathering in a segment has no seq yet (it only revalues)
            self._last_applied_seq = event.seq

    def _change_for(self, kind: K, payload: Mapping[str, Any]) -> _Change:
        """The pure heart of the OMS: the change one journaled payload makes to the current state."""
        if kind in (K.ORDER_SUBMITTED, K.ORDER_DENIED, K.ORDER_ADOPTED):
            return self._opened(kind, payload)
        if kind is K.PORTFOLIO_MARKS:
            # Each mark only revalues the positions: the segment's newest one is where they stand.
            payload = dict(zip(payload["fields"], payload["rows"][-1], strict=True))
        if kind is K.PORTFOLIO_MARKS or kind is K.PORTFOLIO_MARKED:
            prices = {symbol: parse_decimal(price) for symbol, price in payload["prices"].items()}
            positions = tuple(self._portfolio.valued(symbol, price) for symbol, price in prices.items())
            return _Change(positions=positions, totals=tuple(self._portfolio.totals(positions).values()))
        if kind in (K.FILL_DUPLICATE, K.FILL_UNKNOWN_ORDER, K.VENUE_UNKNOWN_ORDER, K.VENUE_ANSWER_REFUSED):
            return _Change()  # recorded for people and reconciliation; by definition they change nothing
        order = self._known(payload["client_order_id"])
        if order is None:
            raise KeyError(f"no order {payload['client_order_id']!r} was journaled before this event")
        if kind is K.ORDER_FILLED:
            return self._filled(order, Fill.from_payload(payload["fill"]))
        at = parse_time(payload["at"])
        reason = payload.get("reason") or ""
        if kind is K.ORDER_SUBMIT_FAILED:
            return _Change(order=order)
        if kind is K.ORDER_ACCEPTED:
            venue_order_id = order.venue_order_id or payload.get("venue_order_id")
            return _Change(order=order.apply(OrderEvent.ACCEPT, at, venue_order_id=venue_order_id))
        if kind is K.ORDER_CANCEL_REQUESTED:
            return _Change(order=order.apply(OrderEvent.CANCEL_REQUEST, at))
        event = {
            K.ORDER_REJECTED: OrderEvent.REJECT,
            K.ORDER_CANCELED: OrderEvent.CANCEL,
            K.ORDER_CANCEL_REJECTED: OrderEvent.CANCEL_REJECT,
            K.ORDER_EXPIRED: OrderEvent.EXPIRE,
        }[kind]
        return _Change(order=order.apply(event, at, status_reason=reason or order.status_reason))

    def _opened(self, kind: K, payload: Mapping[str, Any]) -> _Change:
        client_order_id = payload["client_order_id"]
        if client_order_id in self._orders or self._journaled_elsewhere(client_order_id):
            raise InvalidOrder(f"client order id {client_order_id} is already in use")
        at = parse_time(payload["at"])
        if kind is K.ORDER_ADOPTED:
            adopted = payload["adopted"]
            if parse_decimal(adopted["quantity"]) <= 0:
                raise InvalidOrder(f"adopted order {client_order_id} needs a positive quantity (got {adopted['quantity']})")
            order = Order(
                client_order_id=client_order_id, symbol=payload["symbol"], side=Side(adopted["side"]),
                order_type=OrderType(adopted["order_type"]), quantity=parse_decimal(adopted["quantity"]), created_at=at,
                limit_price=parse_decimal(adopted.get("limit_price")), time_in_force=TimeInForce(adopted["time_in_force"]),
                strategy=adopted["strategy"], reason=adopted.get("reason") or "",
            )
            order = order.apply(OrderEvent.SUBMIT, at).apply(OrderEvent.ACCEPT, at, venue_order_id=payload.get("venue_order_id"))
            return _Change(order=order, sequence=int(payload["client_order_sequence"]))
        order = Order.from_intent(client_order_id, OrderIntent.from_payload(payload["intent"]), at)
        if kind is K.ORDER_DENIED:
            order = order.apply(OrderEvent.DENY, at, status_reason=payload.get("reason") or "")
        else:
            order = order.apply(OrderEvent.SUBMIT, at)
        return _Change(order=order, sequence=int(payload["client_order_sequence"]))

    def _known(self, client_order_id: str) -> Order | None:
        """The order as it stands (before the event being replayed, in a replay), held or read back from the journal."""
        order = self._orders.get(client_order_id)
        if order is not None or not self._evicted:
            return order
        before = self._replaying_seq if self._replaying_seq is not None else self._last_applied_seq + 1
        # Every order.* event carries the order as it became; the newest one before now is the order.
        rows = self.journal.select(
            "SELECT payload FROM events WHERE correlation_id = ? AND kind >= 'order.' AND kind < 'order/' AND seq < ? "
            "ORDER BY seq DESC LIMIT 1", (client_order_id, before))
        if not rows:
            return None
        snapshot = json.loads(rows[0][0]).get("order")
        return Order.from_payload(snapshot) if snapshot else None

    def _journaled_elsewhere(self, client_order_id: str) -> bool:
        """Whether a finished order no longer held used this id (outside replays, which the check guarded when written)."""
        if not self._evicted or self._replaying_seq is not None:
            return False
        return bool(self.journal.select("SELECT 1 FROM order_index WHERE client_order_id = ?", (client_order_id,)))

    def _filled(self, order: Order, fill: Fill) -> _Change:
        trade_key = (order.symbol, fill.trade_id)
        if trade_key in self._seen_trades:
            raise InvalidOrder(f"trade {fill.trade_id} on {order.symbol} was already applied")
        if fill.symbol is not None and fill.symbol != order.symbol:
            raise InvalidOrder(f"fill {fill.trade_id} is for {fill.symbol}; order {order.client_order_id} trades {order.symbol}")
        if fill.side is not None and fill.side is not order.side:
            raise InvalidOrder(f"fill {fill.trade_id} is a {fill.side} but order {order.client_order_id} is a {order.side}")
        instrument = self.instrument(order.symbol)
        fee_quote = fee_in_quote(instrument, fill)
        filled_quantity = order.filled_quantity + fill.fill_quantity
        filled_notional = order.filled_notional + fill.fill_quantity * fill.fill_price
        event = OrderEvent.FILL if filled_quantity >= order.quantity else OrderEvent.PARTIAL_FILL
        updated = order.apply(
            event,
            fill.filled_at,
            filled_quantity=filled_quantity,
            filled_notional=filled_notional,
            average_fill_price=instrument.round_price(filled_notional / filled_quantity),
            fees=order.fees + fee_quote,
            trade_ids=(*order.trade_ids, fill.trade_id),
            venue_order_id=order.venue_order_id or fill.venue_order_id,
        )
        fee_base = fill.fee if fill.fee_currency == instrument.base else ZERO
        position = self._portfolio.after_fill(order.symbol, order.side, fill.fill_quantity, fill.fill_price, fee_quote, fee_base)
        return _Change(order=updated, positions=(position,), trade_key=trade_key, fee_quote=fee_quote)

