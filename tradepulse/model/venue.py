"""The venue protocol: what the engine needs from a place that executes orders.

The paper venue (:mod:`tradepulse.adapters.paper.venue`) and exchange adapters (ccxt) both
implement :class:`Venue`. Everything crossing this edge is venue-neutral and exact: quantities,
prices, fees and balances are :class:`~decimal.Decimal`, order answers are :class:`OrderUpdate`
and executions are :class:`VenueFill` with the venue's own trade id (the OMS de-duplicates fills
by it). Adapters translate their exchange's errors into ``tradepulse.errors`` once, here at the
edge: ``OrderRejected`` / ``InsufficientFunds`` mean the order was definitely not placed; any other
error leaves the outcome unknown, and the engine asks :meth:`Venue.fetch_order` by client order id
before sending anything new for it (design decision 4).

Answers arrive two ways, as on real exchanges: the return value of a call (the REST answer) and
the :meth:`Venue.updates` stream (the user-data WebSocket). They may repeat each other and may
arrive in either order; applying them must be idempotent, which the engine and the OMS state
table make it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import ZERO, Fill, Order, Side, payload_of

__all__ = ["Balance", "OrderUpdate", "SimulatedVenue", "UpdateStream", "Venue", "VenueConnection", "VenueFill", "VenueOrderStatus",
           "VenueUpdate"]


class VenueOrderStatus(enum.StrEnum):
    """An order's status as the venue reports it (Binance's names, lowercased)."""

    PENDING_NEW = "pending_new"  # sent, not yet live at the venue (a paper venue's latency)
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"  # IOC/FOK remainder, or a market order the book could not fill whole

    @property
    def is_final(self) -> bool:
        """The venue will not change this order any more."""
        return self in (VenueOrderStatus.FILLED, VenueOrderStatus.CANCELED, VenueOrderStatus.REJECTED, VenueOrderStatus.EXPIRED)


@dataclass(frozen=True)
class OrderUpdate:
    """The venue's view of one order at one moment (a REST answer or a stream message).

    Parameters
    ----------
    client_order_id
        Our id; every venue TradePulse uses echoes it.
    status
        See :class:`VenueOrderStatus`.
    at
        When the venue says this happened (the paper venue: its clock).
    filled_quantity, average_price
        Cumulative over the order's fills so far.
    reason
        Why the order was rejected, expired or cancelled, in the venue's words.
    """

    client_order_id: str
    symbol: str
    status: VenueOrderStatus
    at: datetime
    venue_order_id: str | None = None
    side: Side | None = None
    quantity: Decimal | None = None
    filled_quantity: Decimal = ZERO
    average_price: Decimal | None = None
    reason: str = ""

    def to_payload(self) -> dict[str, object]:
        """Return a JSON-ready dict (Decimals as exact strings)."""
        return payload_of(self)


@dataclass(frozen=True)
class VenueFill:
    """One execution of one of our orders, as the venue reports it.

    Parameters
    ----------
    trade_id
        The venue's trade id; with the symbol it identifies the execution, so a fill reported on
        both the stream and ``my_trades`` is applied once.
    fee, fee_currency
        The fee as charged; ``fee_currency`` is a currency code (the paper venue charges quote).
    is_maker
        Whether our order was resting (maker fee) or crossed the spread (taker fee).
    fee_quote_rate
        Quote per unit of ``fee_currency`` when that is neither base nor quote (BNB): the venue's
        price the adapter valued the fee at, journaled with the fill.
    """

    trade_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    at: datetime
    fee: Decimal = ZERO
    fee_currency: str = ""
    venue_order_id: str | None = None
    is_maker: bool = False
    fee_quote_rate: Decimal | None = None

    def to_fill(self) -> Fill:
        """Return the OMS's :class:`~tradepulse.execution.Fill` for this execution."""
        return Fill(
            trade_id=self.trade_id,
            client_order_id=self.client_order_id,
            fill_quantity=self.quantity,
            fill_price=self.price,
            filled_at=self.at,
            fee=self.fee,
            fee_currency=self.fee_currency,
            venue_order_id=self.venue_order_id,
            is_maker=self.is_maker,
            symbol=self.symbol,
            side=self.side,
            fee_quote_rate=self.fee_quote_rate,
        )

    def to_payload(self) -> dict[str, object]:
        """Return a JSON-ready dict (Decimals as exact strings)."""
        return payload_of(self)


@dataclass(frozen=True)
class Balance:
    """One currency of the account: ``free`` to trade, ``locked`` in open orders.

    A paper margin account may hold a negative ``free`` base balance: a short position.
    """

    currency: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


VenueUpdate = OrderUpdate | VenueFill


class UpdateStream:
    """The stream of order updates and fills of one venue connection.

    An async iterator (``async for update in venue.updates()``) backed by a queue the venue
    publishes into. :meth:`drain_nowait` takes everything already published without waiting: a
    replaying engine calls it after each market event, so fills land between the same two market
    events on every run.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[VenueUpdate | None] = asyncio.Queue()
        self._closed = False

    def publish(self, update: VenueUpdate) -> None:
        """Add ``update`` to the stream (venues call this)."""
        if not self._closed:
            self._queue.put_nowait(update)

    def close(self) -> None:
        """End the stream; iterators stop after what was published before."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    def drain_nowait(self) -> list[VenueUpdate]:
        """Return every update published so far, oldest first, without waiting."""
        drained: list[VenueUpdate] = []
        while not self._queue.empty():
            update = self._queue.get_nowait()
            if update is None:
                self._queue.put_nowait(None)  # keep the end marker for iterators
                break
            drained.append(update)
        return drained

    def __aiter__(self) -> AsyncIterator[VenueUpdate]:
        return self

    async def __anext__(self) -> VenueUpdate:
        update = await self._queue.get()
        if update is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return update


@dataclass(frozen=True)
class VenueConnection:
    """How a venue connection stands, for status pages: no secrets, no raw exceptions.

    ``user_stream`` says how our own orders are followed (``"websocket"``, ``"polling"``, or
    ``None`` for a venue in the engine's process); ``last_error`` is the user stream's last error
    as text (the caller redacts it); ``stats`` are the adapter's counters.
    """

    connected: bool
    user_stream: str | None = None
    last_error: str | None = None
    stats: Mapping[str, int] = field(default_factory=dict)


@runtime_checkable
class Venue(Protocol):
    """A place that executes orders: the paper venue, or an exchange through an adapter.

    Every method is a coroutine except :meth:`updates`. Methods raise
    :class:`~tradepulse.errors.VenueError` subclasses: ``OrderRejected`` and ``InsufficientFunds``
    when the venue refused (the order does not exist there), ``OrderNotFound`` when it does not
    know an order, ``TemporaryVenueError`` (and ``RateLimited``) when the call may be retried,
    ``AuthenticationFailed`` for bad credentials.
    """

    name: str

    async def connect(self) -> None:
        """Open connections and the update stream; call before anything else."""

    async def close(self) -> None:
        """Close connections; the update stream ends."""

    async def instruments(self) -> dict[str, Instrument]:
        """Every tradable instrument by symbol, with the venue's tick, lot and minimums."""

    async def submit_order(self, order: Order) -> OrderUpdate:
        """Place ``order`` under its ``client_order_id`` and return the venue's first answer.

        A second submission with the same client order id is refused (``OrderRejected``): ids
        are idempotency keys. The answer may be ``PENDING_NEW`` when the venue has not processed
        the order yet; the stream says what happened next.
        """

    @property
    def submission_window_s(self) -> float:
        """How long after a request left an order could still reach the venue (0: at once or never).

        A process that restarts knows when it journaled a submission but not whether its request is
        still on the way; until this long after the journal time, absence is no proof.
        """

    def could_still_land(self, client_order_id: str) -> bool:
        """Whether an unanswered submission of ``client_order_id`` could still be accepted by the venue.

        While true, "the venue has no such order" is not proof of absence: the request may still
        be on its way to the matching engine, and sending the order again could fill it twice.
        """

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Ask the venue to cancel; return its answer (``CANCELED``, or the current status while in flight)."""

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Return the venue's view of an order by client order id; ``OrderNotFound`` if it never saw it."""

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Orders working at the venue (all symbols when ``symbol`` is omitted)."""

    async def my_trades(self, symbol: str, since: datetime | None = None) -> list[VenueFill]:
        """Our executions in ``symbol`` (from ``since``, inclusive), oldest first."""

    async def balances(self) -> dict[str, Balance]:
        """Account balances by currency."""

    def updates(self) -> UpdateStream:
        """The stream of :class:`OrderUpdate` and :class:`VenueFill` for this connection."""

    def connection_status(self) -> VenueConnection:
        """How the connection stands (for the service's status and metrics)."""


@runtime_checkable
class SimulatedVenue(Venue, Protocol):
    """A venue that lives in the engine's process and sees the market through the engine.

    The paper venue matches against the market the engine replays, so the engine hands it each
    market event before acting on it (:meth:`on_market`) and, on a wall clock, runs its delayed
    requests when time alone passes (:meth:`process_due`). A venue at an exchange has neither:
    it sees its own market.
    """

    def on_market(self, event: Any) -> None:
        """Take one market event: run requests due by then, update the market, fill resting orders."""

    def process_due(self, now: datetime) -> None:
        """Carry out every delayed request due at or before ``now``."""

