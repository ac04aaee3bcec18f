"""The matching engine: client orders against the replayed book and each other.

Rules (see docs/emulator.md, "Matching"):

- A taker (market order, or the marketable part of a limit order) walks the opposite side best
  price first. At each price, resting client orders come first (oldest first), then the recorded
  book's quantity. Fills are at the resting price (price improvement goes to the taker).
- Client orders are invisible to the recording: they never appear in depth, bookTicker or trade
  streams. Recorded liquidity a client takes is marked consumed at that level until the next
  recorded change of the level, so two quick orders cannot both take the same displayed quantity.
- A resting client order fills when a recorded trade prints at or through its price on the
  opposite aggressor side (a seller-initiated trade at or below a client bid, a buyer-initiated
  trade at or above a client ask), up to the trade's quantity, shared in price-time priority. The
  client order is assumed to be first in its level's queue. Moving the book through a resting
  order without a trade does not fill it.
- Fees: the buyer pays commission in the base asset, the seller in the quote asset. An account
  with a fee asset (Binance's BNB setting, :class:`~tradepulse.emulator.accounts.FeePayment`) pays
  it in that asset instead, discounted, valued at the venue's last trade of ``<asset><quote>`` (or
  the fixed price of a listed fee-asset market, BNBUSDT), while its free balance covers it;
  the traded assets then move by exactly the traded amounts. A negative maker fee is a rebate,
  always paid in the usual asset.
- Self-trade prevention: EXPIRE_MAKER (Binance's default), EXPIRE_TAKER, EXPIRE_BOTH or NONE.
- A listed fee-asset market (BNBUSDT at a fixed price) does not trade: a new order there is
  refused with ``-2010 Market is closed.``
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tradepulse.emulator.accounts import Account
from tradepulse.emulator.clock import VenueClock
from tradepulse.emulator.decimals import ZERO
from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.fee_markets import FixedPriceMarket
from tradepulse.emulator.market import SymbolMarket, TradePrint
from tradepulse.emulator.orders import Fill, Order
from tradepulse.emulator.symbols import SymbolSpec, check_order_filters
from tradepulse.sim.fees import commission as fee_of_fill
from tradepulse.sim.fees import commission_in_other_asset, round_to_eight_places
from tradepulse.sim.fills import resting_fill_quantity, take_levels
from tradepulse.sim.rules import LOCAL_VENUE_RULES

__all__ = ["ExecutionListener", "MatchingEngine", "OrderRequest"]

_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class OrderRequest:
    """A validated new-order request (parameter parsing is the REST layer's job)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None
    stp_mode: str = "EXPIRE_MAKER"


class ExecutionListener(Protocol):
    """Receives every order change and balance change (the user-data stream)."""

    def on_execution(self, order: Order, execution_type: str, fill: Fill | None, event_ms: int) -> None: ...

    def on_balances(self, account: Account, assets: set[str], event_ms: int) -> None: ...

    def on_balance_update(self, account: Account, asset: str, delta: Decimal, event_ms: int) -> None: ...


class _NoListener:
    def on_execution(self, order: Order, execution_type: str, fill: Fill | None, event_ms: int) -> None:
        pass

    def on_balances(self, account: Account, assets: set[str], event_ms: int) -> None:
        pass

    def on_balance_update(self, account: Account, asset: str, delta: Decimal, event_ms: int) -> None:
        pass


@dataclass
class _Match:
    price: Decimal
    qty: Decimal
    maker: Order | None = None
    book_key: float | None = None


class MatchingEngine:
    """Client orders, fills and balances of one venue.

    Parameters
    ----------
    markets, specs
        The replayed markets and instrument specs by symbol.
    clock
        Market time stamps orders and fills.
    maker_fee, taker_fee
        Commission rates as fractions.
    seed
        Seed for generated client order ids (repeatable runs).
    fee_markets
        Listed fee-asset markets by symbol: they price commissions paid in their asset and refuse orders.
    """

    def __init__(self, markets: dict[str, SymbolMarket], specs: dict[str, SymbolSpec], clock: VenueClock,
                 maker_fee: Decimal, taker_fee: Decimal, seed: int = 0,
                 fee_markets: dict[str, FixedPriceMarket] | None = None) -> None:
        self.markets = markets
        self.specs = specs
        self.fee_markets = fee_markets or {}
        self.clock = clock
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.listener: ExecutionListener = _NoListener()
        self._random = random.Random(seed)
        self._next_order_id = 1
        self._next_trade_id = 1
        self._orders: dict[tuple[str, int], Order] = {}
        self._by_client_id: dict[tuple[str, str, str], Order] = {}
        self._orders_by_account: dict[str, list[Order]] = {}
        self._fills_by_account: dict[str, list[Fill]] = {}
        self._resting: dict[str, dict[str, list[Order]]] = {s: {"BUY": [], "SELL": []} for s in markets}

    # --- placing and cancelling -------------------------------------------------------------

    def new_client_order_id(self) -> str:
        """Return a Binance-style 22-character client order id."""
        return "".join(self._random.choice(_ID_ALPHABET) for _ in range(22))

    def place(self, account: Account, request: OrderRequest) -> tuple[Order, list[Fill]]:
        """Accept, match and (if unfilled) rest a new order; return it with its immediate fills.

        Raises
        ------
        ApiError
            Filter failures (-1013), insufficient balance or a taking LIMIT_MAKER (-2010), a
            duplicate open client order id (-2010), an order on a fee-asset market (-2010).
        """
        if request.symbol in self.fee_markets:
            # Its price is a constant and it has no book to match against: it is not trading.
            raise ApiError.market_closed()
        spec, market = self.specs[request.symbol], self.markets[request.symbol]
        now = self.clock.market_ms()
        client_order_id = request.client_order_id or self.new_client_order_id()
        existing = self._by_client_id.get((account.api_key, request.symbol, client_order_id))
        if existing is not None and existing.is_open:
            raise ApiError.duplicate_order()
        open_count = sum(1 for side in self._resting[request.symbol].values() for o in side if o.account is account)
        check_order_filters(spec, order_type=request.type, side=request.side, price=request.price,
                            quantity=request.quantity, quote_order_qty=request.quote_order_qty,
                            avg_price=market.average_price(now), open_orders=open_count)
        order = Order(
            order_id=self._next_order_id, symbol=request.symbol, account=account, client_order_id=client_order_id,
            side=request.side, type=request.type, time_in_force=request.time_in_force or "GTC",
            price=request.price or ZERO, orig_qty=request.quantity or ZERO,
            orig_quote_qty=request.quote_order_qty or ZERO, stp_mode=request.stp_mode, time_ms=now,
            update_time_ms=now,
        )
        changed: dict[str, tuple[Account, set[str]]] = {}
        if order.type == "MARKET":
            matches, stp_makers, stp_taker = self._plan(order, order.orig_qty or None,
                                                        request.quote_order_qty, None)
            self._check_market_funds(order, matches, spec)
            if request.quote_order_qty is not None:
                order.orig_qty = sum((m.qty for m in matches), ZERO)  # Binance reports what was bought
        else:
            if order.type == "LIMIT_MAKER" and next(self._liquidity(order, order.price), None) is not None:
                raise ApiError.would_take()
            lock_asset, lock_amount = self._lock_of(order, spec)
            if not account.lock(lock_asset, lock_amount):
                raise ApiError.insufficient_balance()
            order.locked_remaining = lock_amount
            _mark(changed, account, lock_asset)
            matches, stp_makers, stp_taker = ([], [], False) if order.type == "LIMIT_MAKER" else \
                self._plan(order, order.orig_qty, None, order.price)
            if order.time_in_force == "FOK" and sum((m.qty for m in matches), ZERO) < order.orig_qty:
                matches, stp_makers, stp_taker = [], [], False
        self._register(order)
        self.listener.on_execution(order, "NEW", None, now)
        for maker in stp_makers:
            self._finish(maker, "TRADE_PREVENTION", "EXPIRED_IN_MATCH", now, changed)
        fills = [self._execute(order, match, now, changed, spec, market) for match in matches]
        if order.remaining_qty > 0 or order.orig_qty == 0:
            if stp_taker:
                self._finish(order, "TRADE_PREVENTION", "EXPIRED_IN_MATCH", now, changed)
            elif order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
                self._finish(order, "EXPIRED", "EXPIRED", now, changed)
            else:
                order.working_time_ms = now
                self._rest(order)
        elif order.type != "MARKET":
            self._release(order, spec, changed)  # fully filled: nothing stays locked
        self._notify_balances(changed, now)
        return order, fills

    def cancel(self, account: Account, symbol: str, *, order_id: int | None, client_order_id: str | None,
               cancel_client_order_id: str | None = None) -> Order:
        """Cancel an open order; ``-2011 Unknown order sent.`` if it is unknown or no longer open."""
        order = self.find(account, symbol, order_id=order_id, client_order_id=client_order_id)
        if order is None or not order.is_open:
            raise ApiError.unknown_order_cancel()
        now = self.clock.market_ms()
        order.cancel_client_order_id = cancel_client_order_id or self.new_client_order_id()
        changed: dict[str, tuple[Account, set[str]]] = {}
        self._finish(order, "CANCELED", "CANCELED", now, changed)
        self._notify_balances(changed, now)
        return order

    def cancel_all(self, account: Account, symbol: str) -> list[Order]:
        """Cancel every open order of ``account`` on ``symbol``; ``-2011`` if there is none."""
        open_orders = self.open_orders(account, symbol)
        if not open_orders:
            raise ApiError.unknown_order_cancel()
        return [self.cancel(account, symbol, order_id=o.order_id, client_order_id=None) for o in open_orders]

    def adjust_balance(self, account: Account, asset: str, delta: Decimal) -> None:
        """Deposit (positive) or withdraw (negative) ``delta``; publishes a ``balanceUpdate``."""
        if account.free(asset) + delta < 0:
            raise ApiError.insufficient_balance()
        now = self.clock.market_ms()
        account.credit(asset, delta)
        account.update_time_ms = now
        self.listener.on_balance_update(account, asset, delta, now)
        self.listener.on_balances(account, {asset}, now)

    # --- recorded trades fill resting orders -------------------------------------------------

    def on_trade_print(self, trade: TradePrint) -> None:
        """Fill resting client orders that a recorded trade reached (see the module rules)."""
        symbol, price, qty, buyer_is_maker, _ = trade
        side = "BUY" if buyer_is_maker else "SELL"  # buyer is maker: a seller hit the bids
        resting = self._resting.get(symbol, {}).get(side)
        if not resting:
            return
        now = self.clock.market_ms()
        spec = self.specs[symbol]
        changed: dict[str, tuple[Account, set[str]]] = {}
        pool = qty
        for order in list(resting):
            if pool <= 0:
                break
            fill_qty = resting_fill_quantity(LOCAL_VENUE_RULES.limit_fill, buying=side == "BUY", limit_price=order.price,
                                             remaining=order.remaining_qty, trade_price=price, trade_quantity=pool,
                                             buyer_is_maker=buyer_is_maker)
            if fill_qty <= 0:
                continue
            pool -= fill_qty
            trade_id = self._new_trade_id()
            self._fill(order, order.price, fill_qty, trade_id, True, now, changed, spec)
        self._notify_balances(changed, now)

    # --- queries -----------------------------------------------------------------------------

    def find(self, account: Account, symbol: str, *, order_id: int | None, client_order_id: str | None) -> Order | None:
        """Return the account's order by id or client order id (the latest with that id), or None."""
        if order_id is not None:
            order = self._orders.get((symbol, order_id))
        else:
            order = self._by_client_id.get((account.api_key, symbol, client_order_id or ""))
        if order is None or order.account is not account or order.symbol != symbol:
            return None
        return order

    def open_orders(self, account: Account, symbol: str | None = None) -> list[Order]:
        return [o for o in self._orders_by_account.get(account.api_key, [])
                if o.is_open and (symbol is None or o.symbol == symbol)]

    def orders(self, account: Account, symbol: str) -> list[Order]:
        return [o for o in self._orders_by_account.get(account.api_key, []) if o.symbol == symbol]

    def fills(self, account: Account, symbol: str) -> list[Fill]:
        return [f for f in self._fills_by_account.get(account.api_key, []) if f.symbol == symbol]

    def resting_count(self) -> int:
        return sum(len(side) for sides in self._resting.values() for side in sides.values())

    # --- internals ---------------------------------------------------------------------------

    def _new_trade_id(self) -> int:
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        return trade_id

    def _register(self, order: Order) -> None:
        self._next_order_id += 1
        self._orders[(order.symbol, order.order_id)] = order
        self._by_client_id[(order.account.api_key, order.symbol, order.client_order_id)] = order
        self._orders_by_account.setdefault(order.account.api_key, []).append(order)

    def _rest(self, order: Order) -> None:
        book = self._resting[order.symbol][order.side]
        book.append(order)
        if order.side == "BUY":
            book.sort(key=lambda o: (-o.price, o.order_id))
        else:
            book.sort(key=lambda o: (o.price, o.order_id))

    def _unrest(self, order: Order) -> None:
        book = self._resting[order.symbol][order.side]
        if order in book:
            book.remove(order)

    @staticmethod
    def _lock_of(order: Order, spec: SymbolSpec) -> tuple[str, Decimal]:
        if order.side == "BUY":
            return spec.quote_asset, order.price * order.orig_qty
        return spec.base_asset, order.orig_qty

    def _release(self, order: Order, spec: SymbolSpec, changed: dict) -> None:
        if order.locked_remaining > 0:
            asset = spec.quote_asset if order.side == "BUY" else spec.base_asset
            order.account.unlock(asset, order.locked_remaining)
            order.locked_remaining = ZERO
            _mark(changed, order.account, asset)

    def _finish(self, order: Order, execution_type: str, status: str, now: int, changed: dict) -> None:
        order.status = status
        order.update_time_ms = now
        self._unrest(order)
        self._release(order, self.specs[order.symbol], changed)
        self.listener.on_execution(order, execution_type, None, now)

    def _check_market_funds(self, order: Order, matches: list[_Match], spec: SymbolSpec) -> None:
        account = order.account
        if order.side == "BUY":
            needed = order.orig_quote_qty if order.orig_quote_qty > 0 else sum((m.price * m.qty for m in matches), ZERO)
            if needed > account.free(spec.quote_asset):
                raise ApiError.insufficient_balance()
        else:
            needed = order.orig_qty if order.orig_qty > 0 else sum((m.qty for m in matches), ZERO)
            if needed > account.free(spec.base_asset):
                raise ApiError.insufficient_balance()

    def _liquidity(self, taker: Order, limit_price: Decimal | None) -> Iterator[_Match]:
        """Yield the liquidity ``taker`` can reach, best price first, client orders first at a price."""
        makers = self._resting[taker.symbol]["SELL" if taker.side == "BUY" else "BUY"]
        levels = self.markets[taker.symbol].book.liquidity(taker.side, limit_price)
        level = next(levels, None)
        buying = taker.side == "BUY"
        index = 0
        while True:
            maker = makers[index] if index < len(makers) else None
            if maker is not None and limit_price is not None:
                if (buying and maker.price > limit_price) or (not buying and maker.price < limit_price):
                    maker = None
            if maker is None and level is None:
                return
            if maker is not None and (level is None or (maker.price <= level[0] if buying else maker.price >= level[0])):
                index += 1
                yield _Match(maker.price, maker.remaining_qty, maker=maker)
            else:
                assert level is not None
                yield _Match(level[0], level[1], book_key=level[2])
                level = next(levels, None)

    def _plan(self, taker: Order, qty_limit: Decimal | None, quote_limit: Decimal | None,
              limit_price: Decimal | None) -> tuple[list[_Match], list[Order], bool]:
        """Return the matches a taker would make, the self-trade makers to expire, and whether the taker expires."""
        step = self.specs[taker.symbol].step_size
        stp_makers: list[Order] = []
        reachable: list[_Match] = []
        expire_taker = False

        def levels() -> Iterator[tuple[Decimal, Decimal]]:
            # Self-trade prevention decides what the taker may reach; the shared rule walks it.
            nonlocal expire_taker
            for match in self._liquidity(taker, limit_price):
                if match.maker is not None and match.maker.account is taker.account and taker.stp_mode != "NONE":
                    if taker.stp_mode in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
                        stp_makers.append(match.maker)
                    if taker.stp_mode in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
                        expire_taker = True
                        return
                    continue
                reachable.append(match)
                yield match.price, match.qty

        taken = take_levels(levels(), buying=taker.side == "BUY", quantity=qty_limit, quote_budget=quote_limit, step=step)
        matches = [_Match(price, qty, match.maker, match.book_key) for (price, qty), match in zip(taken, reachable)]
        return matches, stp_makers, expire_taker

    def _execute(self, taker: Order, match: _Match, now: int, changed: dict, spec: SymbolSpec,
                 market: SymbolMarket) -> Fill:
        trade_id = self._new_trade_id()
        if match.maker is not None:
            self._fill(match.maker, match.price, match.qty, trade_id, True, now, changed, spec)
        else:
            assert match.book_key is not None
            market.book.consume(taker.side, match.book_key, match.qty)
        return self._fill(taker, match.price, match.qty, trade_id, False, now, changed, spec)

    def _fill(self, order: Order, price: Decimal, qty: Decimal, trade_id: int, is_maker: bool, now: int,
              changed: dict, spec: SymbolSpec) -> Fill:
        """Record one execution of ``order`` and move its account's balances."""
        account, base, quote = order.account, spec.base_asset, spec.quote_asset
        rate = self.maker_fee if is_maker else self.taker_fee
        cost = price * qty
        buying = order.side == "BUY"
        in_fee_asset = self._in_fee_asset(account, spec, cost, rate)
        if in_fee_asset is not None:
            commission, commission_asset = in_fee_asset
        else:
            commission, in_base = fee_of_fill(price, qty, rate, buying=buying, fee_asset=LOCAL_VENUE_RULES.fee_asset,
                                              round_to=round_to_eight_places)
            commission_asset = base if in_base else quote
        fill = Fill(trade_id=trade_id, order_id=order.order_id, symbol=order.symbol, price=price, qty=qty,
                    commission=commission, commission_asset=commission_asset, time_ms=now,
                    is_buyer=buying, is_maker=is_maker)
        locked = order.type != "MARKET"
        if buying:
            if locked:  # funds were locked at the limit price; any price improvement goes back to free
                reserved = order.price * qty
                account.spend_locked(quote, reserved)
                account.credit(quote, reserved - cost)
                order.locked_remaining -= reserved
            else:
                account.credit(quote, -cost)
            account.credit(base, qty)
        else:
            if locked:
                account.spend_locked(base, qty)
                order.locked_remaining -= qty
            else:
                account.credit(base, -qty)
            account.credit(quote, cost)
        account.credit(commission_asset, -commission)
        _mark(changed, account, base, quote, commission_asset)
        order.record_fill(fill)
        if not order.is_open:
            self._unrest(order)
        self._fills_by_account.setdefault(account.api_key, []).append(fill)
        self.listener.on_execution(order, "TRADE", fill, now)
        return fill

    def _in_fee_asset(self, account: Account, spec: SymbolSpec, cost: Decimal, rate: Decimal) -> tuple[Decimal, str] | None:
        """The commission and its asset when the account pays in its fee asset; ``None``: the usual way.

        The usual way applies to rebates, to trades in the fee asset's own markets, to an asset
        the venue cannot value, and whenever the free balance of the asset falls short (Binance
        then charges the traded asset, as here).
        """
        payment = account.fee_payment
        asset = payment.asset
        if asset is None or rate <= 0 or asset in (spec.base_asset, spec.quote_asset):
            return None
        symbol = asset + spec.quote_asset
        market = self.markets.get(symbol) or self.fee_markets.get(symbol)
        unit_price = market.last_price() if market is not None else None
        if not unit_price:
            return None
        commission = commission_in_other_asset(cost, rate, discount=payment.discount, unit_price=unit_price,
                                               round_to=round_to_eight_places)
        if commission > account.free(asset):
            return None
        return commission, asset

    def _notify_balances(self, changed: dict[str, tuple[Account, set[str]]], now: int) -> None:
        for account, assets in changed.values():
            account.update_time_ms = now
            self.listener.on_balances(account, assets, now)


def _mark(changed: dict[str, tuple[Account, set[str]]], account: Account, *assets: str) -> None:
    changed.setdefault(account.api_key, (account, set()))[1].update(assets)
