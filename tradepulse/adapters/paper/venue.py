"""The paper venue: a simulated exchange behind the :class:`~tradepulse.execution.venues.Venue` protocol.

It is fed the same market events as the engine (``venue.on_market(event)``, before the engine
sees the event) and fills orders against them:

* **Market orders** walk the order book when depth is known (a snapshot plus in-sequence diffs,
  or at least the best quote), level by level, and expire what the book cannot fill (a partial
  fill). Without depth (bar data) they fill whole at the last price moved by the backtest's
  slippage model (:func:`~tradepulse.sim.market.slippage_fraction`), which is
  what makes a replay reproduce the backtest's fills.
* **Limit orders** take what crosses on arrival (taker), then rest (GTC) or expire (IOC; FOK
  fills whole or not at all). A resting order fills at its limit price as maker when the market
  trades *through* it (a trade, or a bar's low/high, strictly beyond the limit: a touch proves
  nothing about queue position) or when the book crosses it.
* **Fees**: maker/taker basis points of notional, charged in the quote currency.
* **Latency**: each request takes effect ``LatencyModel`` later on the venue's clock (simulated
  time in a replay, so it costs no wall time). Requests due by a market event are processed
  before that event, against the market as it was.
* **Balances** in base and quote move with every fill; resting orders lock what they may spend.
  With ``allow_short`` the account is a margin account: the base balance may go negative (a short
  position), as in the backtest. Buys never spend more quote than is free.
* **History**: like an exchange, which answers order and trade queries for a limited lookback,
  the venue remembers every open order but only the latest ``keep_finished_orders`` finished
  ones and the latest ``keep_trades`` trades per symbol (1,000 each by default, the most one
  Binance ``allOrders`` or ``myTrades`` request returns), so a long replay or paper session holds
  the same amount however many orders it makes. Asking after an order it has forgotten is
  ``OrderNotFound``; the journal keeps every order and fill.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tradepulse.errors import ConfigError, InsufficientFunds, OrderNotFound, OrderRejected, VenueError
from tradepulse.model.costs import SlippageModel
from tradepulse.model.events import BarClose, BarOpen, MarketEvent, PriceLevel, Trade
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import ZERO, Order, OrderType, Side, TimeInForce
from tradepulse.model.venue import Balance, OrderUpdate, UpdateStream, VenueConnection, VenueFill, VenueOrderStatus
from tradepulse.sim.fees import commission, round_to_eight_places
from tradepulse.sim.fills import resting_fill_quantity, take_levels
from tradepulse.sim.market import FeeSchedule, LatencyModel, MarketState, slippage_fraction
from tradepulse.sim.rules import PAPER_RULES, FeeRounding, VenueRules

__all__ = ["FeeSchedule", "LatencyModel", "PaperVenue"]

S = VenueOrderStatus
_LIVE = (S.NEW, S.PARTIALLY_FILLED)


@dataclass
class _PaperOrder:
    """The venue's own record of an order (mutable: the venue owns it)."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    created_at: datetime
    status: VenueOrderStatus = S.NEW
    filled_quantity: Decimal = ZERO
    filled_notional: Decimal = ZERO
    reason: str = ""
    updated_at: datetime | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity

    def update(self, instrument: Instrument) -> OrderUpdate:
        average = instrument.round_price(self.filled_notional / self.filled_quantity) if self.filled_quantity else None
        return OrderUpdate(
            self.client_order_id, self.symbol, self.status, self.updated_at or self.created_at, self.venue_order_id,
            self.side, self.quantity, self.filled_quantity, average, self.reason,
        )


class PaperVenue:
    """A simulated venue with a book-walking, fee-charging, latency-aware matching model.

    Parameters
    ----------
    instruments
        What may be traded; orders off the tick/lot grid or below the minimums are rejected.
    clock
        Returns the venue's current time (the engine's clock: simulated time in a replay).
    balances
        Starting balances by currency, e.g. ``{"USDT": Decimal("10000")}``.
    fees
        Maker/taker fees in bps (default 10/10).
    slippage
        The backtest's slippage model, used when no depth is known (bar data).
    slippage_notional
        Order notional the range slippage model assumes; the backtest passes its initial cash,
        which is the default here (the starting quote balance of the first instrument).
    latency
        Delay between a request and its effect (default none).
    allow_short
        Let sells take the base balance below zero (a margin account).
    rules
        Where simulated venues differ on purpose (:mod:`tradepulse.sim.rules`): the fee asset and
        its rounding, and when a recorded trade fills a resting limit. The paper venue's own by
        default; ``LOCAL_VENUE_RULES`` makes it fill as the local venue does.
    keep_finished_orders, keep_trades
        How many finished orders (filled, canceled, expired) and how many trades per symbol the
        venue remembers for :meth:`fetch_order` and :meth:`my_trades`, the latest first kept.
        Open orders are always remembered.

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> from datetime import datetime, timezone
    >>> from tradepulse.adapters.paper.feeds import fine_instrument
    >>> now = datetime(2024, 8, 9, tzinfo=timezone.utc)
    >>> venue = PaperVenue([fine_instrument("BTC/USDT")], clock=lambda: now, balances={"USDT": D("1000")})
    """

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        clock: Callable[[], datetime],
        balances: Mapping[str, Decimal],
        fees: FeeSchedule | None = None,
        slippage: SlippageModel | None = None,
        slippage_notional: float | None = None,
        latency: LatencyModel | None = None,
        allow_short: bool = False,
        name: str = "paper",
        rules: VenueRules = PAPER_RULES,
        keep_finished_orders: int = 1_000,
        keep_trades: int = 1_000,
    ) -> None:
        if keep_finished_orders < 1 or keep_trades < 1:
            raise ConfigError(f"a paper venue keeps at least one finished order and trade, got {keep_finished_orders} and {keep_trades}")
        self.name = name
        self.rules = rules
        self._instruments = {instrument.symbol: instrument for instrument in instruments}
        if not self._instruments:
            raise ConfigError("a paper venue needs at least one instrument")
        self._clock = clock
        self._balances: dict[str, Decimal] = {currency: Decimal(amount) for currency, amount in balances.items()}
        self.fees = fees or FeeSchedule()
        self.slippage = slippage
        first_quote = next(iter(self._instruments.values())).quote
        self._slippage_notional = float(slippage_notional or self._balances.get(first_quote, ZERO) or 1)
        self.latency = latency or LatencyModel()
        self._delay = self.latency.sampler()
        self.allow_short = allow_short
        self._markets = {symbol: MarketState(symbol) for symbol in self._instruments}
        self._orders: dict[str, _PaperOrder] = {}  # open orders and the latest finished ones
        self._finished: deque[str] = deque()  # the finished orders still in ``_orders``, oldest first
        self._keep_finished = keep_finished_orders
        self._resting: dict[str, _PaperOrder] = {}  # live limit orders, the only ones events can fill
        self._trades: dict[str, deque[VenueFill]] = {symbol: deque(maxlen=keep_trades) for symbol in self._instruments}
        self._inflight: list[tuple[datetime, int, str, object]] = []
        self._inflight_ids: dict[str, datetime] = {}
        self._sequence = itertools.count(1)
        self._stream = UpdateStream()
        self._connected = False

    # -- connection ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the venue (a paper venue has nothing to connect to; the update stream opens)."""
        self._connected = True

    async def close(self) -> None:
        """Close the venue and end the update stream."""
        self._connected = False
        self._stream.close()

    def updates(self) -> UpdateStream:
        """The stream of order updates and fills."""
        return self._stream

    def connection_status(self) -> VenueConnection:
        """Connected between :meth:`connect` and :meth:`close`; no user stream (updates are in process)."""
        return VenueConnection(connected=self._connected)

    async def instruments(self) -> dict[str, Instrument]:
        """The tradable instruments by symbol."""
        return dict(self._instruments)

    # -- market data ---------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> None:
        """Feed one market event: run requests due by then, update the market, fill resting orders."""
        self.process_due(event.at)
        market = self._markets.get(event.symbol)
        if market is None:
            return
        market.on_event(event)
        self._match_resting(market, event)

    def process_due(self, now: datetime) -> None:
        """Carry out every delayed request due at or before ``now``, in the order they fall due."""
        while self._inflight and self._inflight[0][0] <= now:
            due, _, action, payload = heapq.heappop(self._inflight)
            if action == "submit":
                assert isinstance(payload, Order)
                self._inflight_ids.pop(payload.client_order_id, None)
                self._arrive(payload, due, raise_refusal=False)
            else:
                assert isinstance(payload, str)
                self._cancel_now(payload, due, raise_refusal=False)

    def market(self, symbol: str) -> MarketState:
        """What the venue knows about ``symbol``'s market (book, quote, last price, last bar)."""
        return self._markets[symbol]

    # -- requests --------------------------------------------------------------------------------

    @property
    def submission_window_s(self) -> float:
        """Zero: a request reaches the paper venue at once or never."""
        return 0.0

    def could_still_land(self, client_order_id: str) -> bool:
        """Always false: a request reaches the paper venue at once or never (see :class:`Venue`)."""
        return False

    async def submit_order(self, order: Order) -> OrderUpdate:
        """Place ``order``; see :meth:`Venue.submit_order <tradepulse.execution.venues.Venue.submit_order>`."""
        self._require_connected()
        if order.client_order_id in self._orders or order.client_order_id in self._inflight_ids:
            raise OrderRejected(f"duplicate client order id {order.client_order_id}: the venue already has that order")
        now = self._clock()
        delay = self._delay()
        if delay <= timedelta(0):
            return self._arrive(order, now, raise_refusal=True)
        due = now + delay
        self._inflight_ids[order.client_order_id] = due
        heapq.heappush(self._inflight, (due, next(self._sequence), "submit", order))
        return OrderUpdate(order.client_order_id, order.symbol, S.PENDING_NEW, now, side=order.side, quantity=order.quantity)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel an order; the answer is ``CANCELED``, or the current status while the cancel travels."""
        self._require_connected()
        now = self._clock()
        if client_order_id not in self._orders and client_order_id not in self._inflight_ids:
            raise OrderNotFound(f"{self.name}: no order {client_order_id} to cancel")
        delay = self._delay()
        if delay <= timedelta(0) and client_order_id in self._orders:
            return self._cancel_now(client_order_id, now, raise_refusal=True)
        # A cancel never overtakes the submission it cancels, whatever the jitter.
        due = max(now + delay, self._inflight_ids.get(client_order_id, now))
        heapq.heappush(self._inflight, (due, next(self._sequence), "cancel", client_order_id))
        if client_order_id in self._orders:
            return self._update(self._orders[client_order_id])
        return OrderUpdate(client_order_id, symbol, S.PENDING_NEW, now)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """The venue's view of an order; ``OrderNotFound`` while it is still travelling or if never sent."""
        self._require_connected()
        record = self._orders.get(client_order_id)
        if record is None or record.symbol != symbol:
            raise OrderNotFound(f"{self.name}: no order {client_order_id} for {symbol}")
        return self._update(record)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Orders working at the venue, oldest first."""
        self._require_connected()
        return [self._update(r) for r in self._orders.values() if r.status in _LIVE and (symbol is None or r.symbol == symbol)]

    async def my_trades(self, symbol: str, since: datetime | None = None) -> list[VenueFill]:
        """Our fills in ``symbol`` from ``since`` (inclusive), oldest first (of the latest ``keep_trades``)."""
        self._require_connected()
        return [t for t in self._trades.get(symbol, ()) if since is None or t.at >= since]

    async def balances(self) -> dict[str, Balance]:
        """Balances by currency: free and locked in resting orders."""
        self._require_connected()
        return {currency: Balance(currency, total - self._locked(currency), self._locked(currency)) for currency, total in self._balances.items()}

    # -- matching ------------------------------------------------------------------------------

    def _arrive(self, order: Order, at: datetime, *, raise_refusal: bool) -> OrderUpdate:
        """The order reaches the matching engine at ``at``: check it, take liquidity, rest or expire."""
        instrument = self._instruments.get(order.symbol)
        plan: list[PriceLevel] = []
        refusal: VenueError | None = None
        if instrument is None:
            refusal = OrderRejected(f"{self.name}: {order.symbol} is not traded here")
        else:
            plan = self._taker_plan(order.symbol, order.side, order.quantity, order.limit_price)
            refusal = self._refusal(order, instrument, plan)
        if refusal is not None:
            if raise_refusal:
                raise refusal
            rejected = OrderUpdate(order.client_order_id, order.symbol, S.REJECTED, at, side=order.side, quantity=order.quantity, reason=str(refusal))
            self._stream.publish(rejected)
            return rejected
        assert instrument is not None
        record = _PaperOrder(
            order.client_order_id, str(next(self._sequence)), order.symbol, order.side, order.order_type,
            order.time_in_force, order.quantity, order.limit_price, at, updated_at=at,
        )
        self._orders[record.client_order_id] = record
        self._stream.publish(self._update(record))
        fillable = sum((quantity for _, quantity in plan), ZERO)
        if record.time_in_force is TimeInForce.FOK and fillable < record.quantity:
            self._finish(record, S.EXPIRED, at, f"fill-or-kill: only {fillable} of {record.quantity} available")
            return self._update(record)
        market = self._markets[record.symbol]
        depth_priced = market.has_depth()
        for price, quantity in plan:
            if depth_priced:
                market.take(record.side, price, quantity)
            self._fill(record, price, quantity, at, is_maker=False)
        if record.remaining > 0 and (record.order_type is OrderType.MARKET or record.time_in_force is not TimeInForce.GTC):
            why = "the book could not fill the rest" if record.order_type is OrderType.MARKET else f"{record.time_in_force} remainder"
            self._finish(record, S.EXPIRED, at, f"{why}: {record.remaining} of {record.quantity} unfilled")
        elif record.status in _LIVE:
            self._resting[record.client_order_id] = record
        return self._update(record)

    def _taker_plan(self, symbol: str, side: Side, quantity: Decimal, limit_price: Decimal | None) -> list[PriceLevel]:
        """The fills a taker order would get now: ``(price, quantity)`` per level, best first."""
        market = self._markets[symbol]
        instrument = self._instruments[symbol]
        if market.has_depth():
            return take_levels(market.liquidity(side), buying=side is Side.BUY, quantity=quantity, limit_price=limit_price)
        if market.last_price is None:
            return []
        if limit_price is not None and (market.last_price > limit_price if side is Side.BUY else market.last_price < limit_price):
            return []  # not marketable: it rests
        slip = slippage_fraction(self.slippage, market.last_bar, self._slippage_notional)
        price = instrument.round_price(market.last_price * (1 + side.sign * slip))
        if limit_price is not None:
            price = min(price, limit_price) if side is Side.BUY else max(price, limit_price)
        return [(price, quantity)]

    def _refusal(self, order: Order, instrument: Instrument, plan: list[PriceLevel]) -> VenueError | None:
        """Why the venue refuses ``order`` (grid, minimums, no price, funds), or ``None``."""
        market = self._markets[order.symbol]
        reference = order.limit_price or (plan[0][0] if plan else market.last_price)
        problem = instrument.order_problem(order.quantity, order.limit_price, reference)
        if problem:
            return OrderRejected(f"{self.name}: {problem}")
        if order.order_type is OrderType.MARKET and not plan:
            return OrderRejected(f"{self.name}: no liquidity or price for {order.symbol} yet")
        taker_rate = self.fees.rate(is_maker=False)
        if order.side is Side.BUY:
            cost = sum((price * quantity for price, quantity in plan), ZERO)
            resting = order.quantity - sum((quantity for _, quantity in plan), ZERO)
            if order.order_type is OrderType.LIMIT and order.time_in_force is TimeInForce.GTC and resting > 0:
                cost += resting * order.limit_price  # type: ignore[operator]
            needed = cost * (1 + taker_rate)
            free = self._free(instrument.quote)
            if needed > free:
                return InsufficientFunds(f"{self.name}: buying {order.quantity} {order.symbol} needs {needed} {instrument.quote}, {free} is free")
        elif not self.allow_short and order.quantity > self._free(instrument.base):
            return InsufficientFunds(f"{self.name}: selling {order.quantity} {instrument.base} but {self._free(instrument.base)} is free")
        return None

    def _match_resting(self, market: MarketState, event: MarketEvent) -> None:
        """Fill resting limit orders of ``market`` that ``event`` trades through or crosses."""
        if not self._resting:
            return  # the common case on every market event: nothing rests
        for record in [r for r in self._resting.values() if r.symbol == market.symbol]:
            limit = record.limit_price
            assert limit is not None
            buy = record.side is Side.BUY
            if isinstance(event, Trade):
                quantity = resting_fill_quantity(
                    self.rules.limit_fill, buying=buy, limit_price=limit, remaining=record.remaining, trade_price=event.price,
                    trade_quantity=event.quantity, buyer_is_maker=event.buyer_is_maker)
            elif isinstance(event, (BarOpen, BarClose)):
                low, high = (event.price, event.price) if isinstance(event, BarOpen) else (event.bar.low, event.bar.high)
                through = float(limit) > low if buy else float(limit) < high
                quantity = record.remaining if through else ZERO
            else:
                # The book moved onto our price: the other side would have traded with us.
                crossing = ZERO
                for price, available in market.liquidity(Side.BUY if buy else Side.SELL):
                    if price > limit if buy else price < limit:
                        break
                    take = min(available, record.remaining - crossing)
                    market.take(Side.BUY if buy else Side.SELL, price, take)
                    crossing += take
                    if crossing == record.remaining:
                        break
                quantity = crossing
            if quantity > 0:
                self._fill(record, limit, quantity, event.at, is_maker=True)

    def _fill(self, record: _PaperOrder, price: Decimal, quantity: Decimal, at: datetime, *, is_maker: bool) -> None:
        instrument = self._instruments[record.symbol]
        round_fee = round_to_eight_places if self.rules.fee_rounding is FeeRounding.EIGHT_PLACES else instrument.quantize_quote
        fee, fee_in_base = commission(price, quantity, self.fees.rate(is_maker), buying=record.side is Side.BUY,
                                      fee_asset=self.rules.fee_asset, round_to=round_fee)
        sign = record.side.sign
        self._balances[instrument.base] = self._balances.get(instrument.base, ZERO) + sign * quantity - (fee if fee_in_base else ZERO)
        self._balances[instrument.quote] = (self._balances.get(instrument.quote, ZERO) - sign * price * quantity
                                            - (ZERO if fee_in_base else fee))
        record.filled_quantity += quantity
        record.filled_notional += price * quantity
        record.status = S.FILLED if record.filled_quantity >= record.quantity else S.PARTIALLY_FILLED
        record.updated_at = at
        if record.status is S.FILLED:
            self._resting.pop(record.client_order_id, None)
            self._retire(record)
        fill = VenueFill(
            f"{self.name}-{next(self._sequence)}", record.client_order_id, record.symbol, record.side, quantity, price, at,
            fee, instrument.base if fee_in_base else instrument.quote, record.venue_order_id, is_maker,
        )
        self._trades[record.symbol].append(fill)
        self._stream.publish(fill)
        self._stream.publish(self._update(record))

    def _cancel_now(self, client_order_id: str, at: datetime, *, raise_refusal: bool) -> OrderUpdate:
        record = self._orders.get(client_order_id)
        if record is None or record.status not in _LIVE:
            # Too late: the order finished (or was refused) first. Its fills and final status are
            # on the stream already, which is all the engine needs to settle the cancel.
            if raise_refusal:
                state = record.status if record is not None else "unknown"
                raise OrderRejected(f"{self.name}: cannot cancel {client_order_id}: order is {state}")
            return self._update(record) if record else OrderUpdate(client_order_id, "", S.REJECTED, at)
        self._finish(record, S.CANCELED, at, "canceled on request")
        return self._update(record)

    def _finish(self, record: _PaperOrder, status: VenueOrderStatus, at: datetime, reason: str) -> None:
        record.status, record.reason, record.updated_at = status, reason, at
        self._resting.pop(record.client_order_id, None)
        self._retire(record)
        self._stream.publish(self._update(record))

    def _retire(self, record: _PaperOrder) -> None:
        """``record`` has finished: remember it among the latest finished orders, forgetting the oldest."""
        self._finished.append(record.client_order_id)
        if len(self._finished) > self._keep_finished:
            self._orders.pop(self._finished.popleft(), None)

    # -- balances ---------------------------------------------------------------------------------

    def _locked(self, currency: str) -> Decimal:
        locked = ZERO
        taker_rate = self.fees.rate(is_maker=False)
        for record in self._resting.values():
            instrument = self._instruments[record.symbol]
            if record.side is Side.BUY and currency == instrument.quote:
                locked += record.remaining * record.limit_price * (1 + taker_rate)  # type: ignore[operator]
            elif record.side is Side.SELL and currency == instrument.base and not self.allow_short:
                locked += record.remaining
        return locked

    def _free(self, currency: str) -> Decimal:
        return self._balances.get(currency, ZERO) - self._locked(currency)

    def _update(self, record: _PaperOrder) -> OrderUpdate:
        return record.update(self._instruments[record.symbol])

    def _require_connected(self) -> None:
        if not self._connected:
            raise VenueError(f"{self.name}: not connected; call `await venue.connect()` first")
