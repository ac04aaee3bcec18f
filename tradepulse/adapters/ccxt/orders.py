"""Orders through ccxt: requests, answers as OrderUpdate/VenueFill, and idempotent submission.

Idempotent submission (design decision 4) is :class:`OrderSubmitter`. An order goes out once,
under TradePulse's client order id (ccxt's ``clientOrderId`` parameter, Binance's
``newClientOrderId``), and is **never retried blindly**:

1. the venue answers: done (its fills, if the answer carries them, are published too);
2. the venue refuses (invalid order, funds, credentials, rate limit): the order does not exist,
   the refusal is raised as ``OrderRejected``/``InsufficientFunds``;
3. a ``-1021`` timestamp refusal: the venue refused this very request, so after the clock is
   resynced the order is sent again with the **same** client order id (at most ``resubmissions``
   times);
4. anything else (timeout, dropped connection, 5xx): the outcome is unknown. The venue is asked by
   client order id (``fetch_order`` with the id, confirmed against ``fetch_open_orders``). Found:
   that is the answer. Not found is **not** proof of absence while the request could still reach
   the matching engine: Binance accepts a request until its ``timestamp`` plus ``recvWindow``, and
   refuses a duplicate id only while the first order is open, so a market order sent again too
   early fills twice when the first lands late. Within that window (:attr:`submission_window_s`)
   the submitter raises ``TemporaryVenueError`` and the engine keeps asking in the background
   (``ExecutionEngine.fetch_outcomes``), calling the order absent only once
   :meth:`OrderSubmitter.could_still_land` is false. After the window an absent order is sent
   again under the same id (safe: the first can no longer land).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradepulse.adapters.ccxt.errors import is_clock_skew, is_definite_refusal
from tradepulse.adapters.ccxt.exchange import to_datetime, to_decimal
from tradepulse.adapters.ccxt.retry import CcxtCaller
from tradepulse.errors import OrderNotFound, OrderRejected, TemporaryVenueError, VenueError
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import ZERO, Order, OrderType, Side
from tradepulse.model.venue import OrderUpdate, UpdateStream, VenueFill, VenueOrderStatus

__all__ = ["OrderBook", "OrderSubmitter", "fill_from_trade", "fills_in_answer", "order_request", "update_from_order"]

S = VenueOrderStatus
_STATUSES = {
    "closed": S.FILLED,
    "canceled": S.CANCELED,
    "cancelled": S.CANCELED,
    "expired": S.EXPIRED,
    "rejected": S.REJECTED,
}


def _now() -> datetime:
    return datetime.now(UTC)


def order_request(order: Order, client_order_id_param: str = "clientOrderId") -> dict[str, Any]:
    """The ``create_order`` arguments for ``order``: amounts as exact decimal text, our client order id."""
    params: dict[str, Any] = {client_order_id_param: order.client_order_id}
    price = None
    if order.order_type is OrderType.LIMIT:
        price = format(order.limit_price, "f")
        params["timeInForce"] = str(order.time_in_force)
    return {
        "symbol": order.symbol,
        "type": "limit" if order.order_type is OrderType.LIMIT else "market",
        "side": str(order.side),
        "amount": format(order.quantity, "f"),
        "price": price,
        "params": params,
    }


def update_from_order(raw: Mapping[str, Any], instrument: Instrument | None = None, client_order_id: str | None = None) -> OrderUpdate:
    """An :class:`OrderUpdate` from a ccxt order structure (``client_order_id``, when given, is ours).

    ccxt's unified status is ``open``/``closed``/``canceled``/``expired``/``rejected``; an open order
    with fills is ``partially_filled``, and ``closed`` with less than the full quantity (a venue
    that closes cancelled orders) is ``canceled``.
    """
    filled = to_decimal(raw.get("filled")) or ZERO
    quantity = to_decimal(raw.get("amount"))
    status_text = str(raw.get("status") or "open").lower()
    status = _STATUSES.get(status_text)
    reason = ""
    if status is None:  # open, canceling (the cancel is still travelling), or a status we do not know
        status = S.PARTIALLY_FILLED if filled > 0 else S.NEW
    elif status is S.FILLED and quantity is not None and filled < quantity:
        status, reason = S.CANCELED, f"closed with {filled} of {quantity} filled"
    if status in (S.EXPIRED, S.REJECTED, S.CANCELED) and not reason:
        reason = f"{status_text} at the venue"
    average = None
    if filled > 0:
        cost = to_decimal(raw.get("cost"))
        average = cost / filled if cost else to_decimal(raw.get("average"))
        if average is not None and instrument is not None:
            average = instrument.round_price(average)
    side = raw.get("side")
    return OrderUpdate(
        # Ours wins when known: Binance's cancel answer puts the cancel request's own id in clientOrderId.
        client_order_id=str(client_order_id or raw.get("clientOrderId") or ""),
        symbol=str(raw.get("symbol") or (instrument.symbol if instrument else "")),
        status=status,
        at=to_datetime(raw.get("lastUpdateTimestamp")) or to_datetime(raw.get("timestamp")) or _now(),
        venue_order_id=str(raw["id"]) if raw.get("id") is not None else None,
        side=Side(side) if side in ("buy", "sell") else None,
        quantity=quantity,
        filled_quantity=filled,
        average_price=average,
        reason=reason,
    )


def fill_from_trade(raw: Mapping[str, Any], client_order_id: str, *, at: datetime | None = None) -> VenueFill | None:
    """A :class:`VenueFill` from a ccxt trade structure (``None`` without a trade id, price or amount)."""
    trade_id, price, quantity = raw.get("id"), to_decimal(raw.get("price")), to_decimal(raw.get("amount"))
    if trade_id is None or price is None or not quantity:
        return None
    fee = raw.get("fee") or {}
    side = raw.get("side")
    return VenueFill(
        trade_id=str(trade_id),
        client_order_id=client_order_id,
        symbol=str(raw.get("symbol") or ""),
        side=Side(side) if side in ("buy", "sell") else Side.BUY,
        quantity=quantity,
        price=price,
        at=to_datetime(raw.get("timestamp")) or at or _now(),
        fee=to_decimal(fee.get("cost")) or ZERO,
        fee_currency=str(fee.get("currency") or ""),
        venue_order_id=str(raw["order"]) if raw.get("order") is not None else None,
        is_maker=raw.get("takerOrMaker") == "maker",
    )


def fills_in_answer(raw: Mapping[str, Any], update: OrderUpdate) -> list[VenueFill]:
    """Fills carried by an order answer (Binance ``newOrderRespType=FULL`` lists them): taker fills."""
    fills = []
    for trade in raw.get("trades") or []:
        enriched = {**trade, "symbol": update.symbol, "order": update.venue_order_id,
                    "side": trade.get("side") or (str(update.side) if update.side else None),
                    "takerOrMaker": trade.get("takerOrMaker") or "taker"}
        fill = fill_from_trade(enriched, update.client_order_id, at=update.at)
        if fill is not None:
            fills.append(fill)
    return fills


@dataclass
class _Tracked:
    symbol: str
    venue_order_id: str | None
    final: bool = False


class OrderBook:
    """What the adapter knows of its orders: client order id <-> venue order id, and which are live.

    ``my_trades`` answers carry the venue's order id only (Binance's ``myTrades`` has no client id);
    this map puts our id on them. Orders placed by an earlier run are learned on first sight.
    """

    def __init__(self) -> None:
        self._orders: dict[str, _Tracked] = {}
        self._by_venue_id: dict[tuple[str, str], str] = {}

    def learn(self, update: OrderUpdate) -> None:
        """Record what ``update`` says about its order."""
        if not update.client_order_id:
            return
        tracked = self._orders.setdefault(update.client_order_id, _Tracked(update.symbol, update.venue_order_id))
        if update.venue_order_id:
            tracked.venue_order_id = update.venue_order_id
            self._by_venue_id[(update.symbol, update.venue_order_id)] = update.client_order_id
        tracked.final = update.status.is_final

    def client_order_id(self, symbol: str, venue_order_id: str | None) -> str | None:
        """Our id for the venue's order id, if known."""
        return self._by_venue_id.get((symbol, venue_order_id)) if venue_order_id else None

    def venue_order_id(self, client_order_id: str) -> str | None:
        tracked = self._orders.get(client_order_id)
        return tracked.venue_order_id if tracked else None

    def live(self) -> dict[str, str]:
        """Client order id -> symbol of every order not known to be final."""
        return {cid: tracked.symbol for cid, tracked in self._orders.items() if not tracked.final}

    def symbols(self) -> set[str]:
        return {tracked.symbol for tracked in self._orders.values()}


class OrderSubmitter:
    """Submits orders idempotently through ccxt (see the module docstring).

    Parameters
    ----------
    exchange, caller
        The ccxt client and its :class:`~.ccxt_retry.CcxtCaller`.
    instruments
        By symbol, for rounding average prices.
    book, stream
        Where answers are recorded and published (the adapter's :class:`OrderBook` and update stream).
    client_order_id_param
        The ``fetch_order``/``cancel_order`` parameter carrying a client order id (Binance:
        ``origClientOrderId``; most ccxt exchanges: ``clientOrderId``).
    resubmissions
        How often an order the venue definitely does not have may be sent again (same id).
    confirm_delay_s
        Pause before asking about an unknown outcome, so an order still in the venue's pipeline
        has landed (Binance documents a "status unknown" window).
    window_margin_s
        Added to the exchange's ``recvWindow`` when deciding how long a lost request could still
        land: the venue accepts timestamps up to a second ahead of its clock, and our clock offset
        is only an estimate.
    sleep
        Injectable ``asyncio.sleep``.
    fills_for_order
        ``(symbol, client_order_id, since) -> fills``: fetches the fills of an order recovered by a
        lookup, whose answer (with its fills) was lost.
    """

    def __init__(
        self,
        exchange: Any,
        caller: CcxtCaller,
        *,
        instruments: Callable[[], Mapping[str, Instrument]],
        book: OrderBook,
        stream: UpdateStream,
        client_order_id_param: str = "clientOrderId",
        resubmissions: int = 1,
        confirm_delay_s: float = 0.2,
        sleep: Callable[[float], Any] = asyncio.sleep,
        fills_for_order: Callable[[str, str, datetime], Awaitable[list[VenueFill]]] | None = None,
        window_margin_s: float = 1.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exchange, self.caller = exchange, caller
        self.window_margin_s = window_margin_s
        self._monotonic = monotonic
        # client order id -> when its latest unanswered request was given up on (monotonic seconds).
        self._unanswered_since: dict[str, float] = {}
        self._fills_for_order = fills_for_order
        self._instruments = instruments
        self.book, self.stream = book, stream
        self.client_order_id_param = client_order_id_param
        self.resubmissions = resubmissions
        self.confirm_delay_s = confirm_delay_s
        self._sleep = sleep
        self.stats = caller.stats

    def accept(self, raw: Mapping[str, Any], client_order_id: str, symbol: str, *, publish: bool = True) -> OrderUpdate:
        """Turn a ccxt order answer into an update, record it, publish it and any fills it carries."""
        instrument = self._instruments().get(symbol)
        update = update_from_order({**raw, "symbol": raw.get("symbol") or symbol}, instrument, client_order_id)
        self.book.learn(update)
        if publish:
            for fill in fills_in_answer(raw, update):
                self.stream.publish(fill)
            self.stream.publish(update)
        return update

    @property
    def submission_window_s(self) -> float:
        """How long after an unanswered order request the venue might still accept it (seconds).

        The exchange's ``recvWindow`` option (Binance: a request is processed only until its
        timestamp plus this) plus :attr:`window_margin_s`; a minute, Binance's largest window,
        when the client names none.
        """
        window_ms = (getattr(self.exchange, "options", None) or {}).get("recvWindow")
        window_s = float(window_ms) / 1000 if window_ms else 60.0
        return window_s + self.window_margin_s

    def could_still_land(self, client_order_id: str) -> bool:
        """Whether an unanswered request for ``client_order_id`` could still reach the matching engine."""
        since = self._unanswered_since.get(client_order_id)
        if since is None:
            return False
        if self._monotonic() - since < self.submission_window_s:
            return True
        del self._unanswered_since[client_order_id]
        return False

    async def submit(self, order: Order) -> OrderUpdate:
        """Place ``order`` once (see the module docstring); return the venue's answer."""
        request = order_request(order)
        cid = order.client_order_id
        operation = f"create_order {order.symbol} {cid}"
        last_problem = ""
        for attempt in range(self.resubmissions + 1):
            if attempt:
                self.stats["resubmissions"] += 1
            try:
                raw = await self.caller.call(operation, lambda: self.exchange.create_order(**request), retry=False, order_request=True)
                self._unanswered_since.pop(cid, None)
                return self.accept(raw, cid, order.symbol)
            except VenueError as error:
                if is_definite_refusal(error):
                    self._unanswered_since.pop(cid, None)
                    raise
                last_problem = str(error)
                refused_for_its_timestamp = is_clock_skew(error)
            if not refused_for_its_timestamp:
                # Marked after the failure, so never earlier than the request's own timestamp.
                self._unanswered_since[cid] = self._monotonic()
            self.stats["unknown_outcomes"] += 1
            found = await self.lookup(order.symbol, cid, after_unknown=True, publish=True)
            if found is not None:
                self.stats["recovered_by_lookup"] += 1
                self._unanswered_since.pop(cid, None)
                if found.filled_quantity > 0 and self._fills_for_order is not None:
                    # A looked-up order carries no fills (the lost answer did): fetch them.
                    for fill in await self._fills_for_order(order.symbol, cid, order.created_at):
                        self.stream.publish(fill)
                return found
            if self.could_still_land(cid):
                self.stats["awaiting_late_landing"] += 1
                raise TemporaryVenueError(
                    f"{self.caller.venue}: order {cid} is not at the venue yet, but its request could still land for "
                    f"{self.submission_window_s:g} s ({last_problem}); it is not sent again before then"
                )
            # Absent, and no earlier request can land any more: the same id cannot create a second order.
        raise TemporaryVenueError(
            f"{self.caller.venue}: order {cid} was not placed after {self.resubmissions + 1} attempt(s) "
            f"whose answers were lost ({last_problem}); the venue does not have it"
        )

    async def lookup(
        self, symbol: str, client_order_id: str, *, after_unknown: bool = False, publish: bool = False
    ) -> OrderUpdate | None:
        """Ask the venue for an order by client order id; ``None`` when it definitely does not have it.

        With ``after_unknown`` (settling a submission whose answer was lost) a venue that cannot be
        asked raises ``TemporaryVenueError``: the outcome stays unknown. ``publish`` also puts the
        answer on the update stream (backfills do; a plain query just returns it).
        """
        if after_unknown and self.confirm_delay_s > 0:
            await self._sleep(self.confirm_delay_s)
        operation = f"fetch_order {symbol} {client_order_id}"
        try:
            raw = await self.caller.call(operation, lambda: self._fetch_by_client_id(symbol, client_order_id))
            return self.accept(raw, client_order_id, symbol, publish=publish)
        except OrderNotFound:
            pass
        except VenueError as error:
            if not after_unknown:
                raise
            raise TemporaryVenueError(f"outcome of order {client_order_id} is unknown: the venue could not be asked ({error})") from None
        # Some venues index client ids lazily; an order still working shows in the open orders.
        try:
            opens = await self.caller.call(f"fetch_open_orders {symbol}", lambda: self.exchange.fetch_open_orders(symbol))
        except VenueError as error:
            if not after_unknown:
                raise
            raise TemporaryVenueError(f"outcome of order {client_order_id} is unknown: the venue could not be asked ({error})") from None
        for raw in opens:
            if raw.get("clientOrderId") == client_order_id:
                return self.accept(raw, client_order_id, symbol, publish=publish)
        return None

    async def _fetch_by_client_id(self, symbol: str, client_order_id: str) -> Any:
        venue_order_id = self.book.venue_order_id(client_order_id)
        if venue_order_id is not None:
            return await self.exchange.fetch_order(venue_order_id, symbol)
        return await self.exchange.fetch_order(None, symbol, {self.client_order_id_param: client_order_id})

    async def cancel(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel by client order id (retried: a cancel is safe to repeat); settle "already gone" by a lookup."""
        venue_order_id = self.book.venue_order_id(client_order_id)
        params = {} if venue_order_id else {self.client_order_id_param: client_order_id}
        operation = f"cancel_order {symbol} {client_order_id}"
        try:
            raw = await self.caller.call(operation, lambda: self.exchange.cancel_order(venue_order_id, symbol, params))
        except OrderNotFound:
            # Unknown to the venue, or no longer open (Binance -2011 says both), perhaps because an
            # earlier attempt of this very cancel succeeded: the order's state says which.
            current = await self.lookup(symbol, client_order_id)
            if current is None:
                raise OrderNotFound(f"{self.caller.venue}: no order {client_order_id} for {symbol} to cancel") from None
            if current.status is S.CANCELED:
                return current
            raise OrderRejected(f"{self.caller.venue}: cannot cancel {client_order_id}: order is {current.status}") from None
        update = self.accept(raw, client_order_id, symbol, publish=False)
        if update.status in (S.NEW, S.PARTIALLY_FILLED) and not raw.get("status"):
            # Some venues answer a cancel with the id only; the stream or a lookup gives the state.
            return update
        self.stream.publish(update)
        return update
