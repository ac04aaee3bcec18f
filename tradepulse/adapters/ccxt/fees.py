"""Fees charged in a third currency (Binance's "pay fees with BNB"): valued from the venue's own prices.

A fill's fee in the base or quote currency needs nothing more (``fee_in_quote`` converts a base fee
at the fill price). A fee in any other currency (BNB) needs the quote value of that currency, and
Binance does not say which rate it used, so the adapter asks the venue:

* **Route**: the last price of the venue's ``<fee>/<quote>`` market (``BNB/USDT``), the market
  Binance lists for every quote currency it charges BNB fees on. Without that market the rate is
  a :class:`~tradepulse.errors.VenueError`; the fill then goes on without a rate, the OMS refuses it
  (an unvalued fee would make P&L wrong) and the engine halts, with the reason logged. Routes
  through other markets (inverse pairs, a bridge currency) are not attempted: each would need a
  second price at a second moment, and a halt that says why is better than a guessed cost.
* **Cache**: a rate is reused for ``ttl_s`` (30 s by default), so a burst of fills costs one request.
* **Journal**: the rate travels on the fill (``VenueFill.fee_quote_rate``, then ``Fill.fee_quote_rate``), so
  the ``order.filled`` event records the rate each fee was valued at and replay needs no prices.

Fills from order answers are published synchronously by the order submitter; :class:`FeeValuingOutbox`
holds one whose rate is not cached (and everything published after it, to keep the order) until
the rate is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tradepulse.adapters.ccxt.exchange import to_decimal
from tradepulse.adapters.ccxt.retry import CcxtCaller
from tradepulse.errors import VenueError
from tradepulse.model.venue import UpdateStream, VenueFill, VenueUpdate

__all__ = ["FeeRates", "FeeValuingOutbox"]

_log = logging.getLogger(__name__)


class FeeRates:
    """Quote per unit of a fee currency, from the venue's tickers (see the module docstring).

    Parameters
    ----------
    exchange, caller
        The ccxt client (its loaded ``markets`` say which route exists) and its caller (retries).
    ttl_s
        How long a fetched rate is reused.
    clock
        Monotonic seconds (injectable for tests).
    """

    def __init__(self, exchange: Any, caller: CcxtCaller, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.exchange, self.caller, self.ttl_s = exchange, caller, ttl_s
        self._clock = clock
        self._cached: dict[tuple[str, str], tuple[Decimal, float]] = {}

    def cached(self, currency: str, quote: str) -> Decimal | None:
        """The rate fetched less than ``ttl_s`` ago, if any."""
        entry = self._cached.get((currency, quote))
        if entry is None or self._clock() - entry[1] >= self.ttl_s:
            return None
        return entry[0]

    async def rate(self, currency: str, quote: str) -> Decimal:
        """``quote`` per unit of ``currency``; raises ``VenueError`` when the venue has no market to tell."""
        known = self.cached(currency, quote)
        if known is not None:
            return known
        markets: Mapping[str, Any] = getattr(self.exchange, "markets", None) or {}
        symbol = f"{currency}/{quote}"
        if symbol not in markets:
            raise VenueError(
                f"{self.caller.venue}: no {symbol} market to value a fee charged in {currency}; "
                f"stop paying fees in {currency} on this account, or trade where {symbol} is listed"
            )
        ticker = await self.caller.call(f"fetch_ticker {symbol} (fee rate)", lambda: self.exchange.fetch_ticker(symbol))
        price = to_decimal(ticker.get("last")) or to_decimal(ticker.get("close"))
        if price is None or price <= 0:
            raise VenueError(f"{self.caller.venue}: the {symbol} ticker has no last price to value a fee with")
        self._cached[(currency, quote)] = (price, self._clock())
        return price


class FeeValuingOutbox:
    """Where the order submitter publishes; passes updates on to ``stream`` with third-currency fees valued.

    An update is passed on at once unless it is a fill whose rate is not cached, or something is
    already waiting: then it waits, in order, until :meth:`flush` (started in the background, and
    awaited by the adapter after each submission) has fetched the rate.

    Parameters
    ----------
    stream
        The adapter's update stream.
    rates
        The adapter's :class:`FeeRates`.
    assets_of
        ``symbol -> (base, quote)`` (``None`` for a symbol the adapter does not know).
    """

    def __init__(self, stream: UpdateStream, rates: FeeRates, assets_of: Callable[[str], tuple[str, str] | None]) -> None:
        self.stream, self.rates = stream, rates
        self._assets_of = assets_of
        self._held: deque[VenueUpdate] = deque()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def publish(self, update: VenueUpdate) -> None:
        if not self._held:
            ready = self._valued_now(update)
            if ready is not None:
                self.stream.publish(ready)
                return
        self._held.append(update)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.flush(), name="tradepulse-fee-rates")

    async def flush(self) -> None:
        """Value and pass on everything waiting, oldest first."""
        async with self._lock:
            while self._held:
                update = self._held[0]
                if isinstance(update, VenueFill):
                    update = await self.valued(update)
                self._held.popleft()
                self.stream.publish(update)

    async def close(self) -> None:
        """Stop a background flush (what still waits is lost, as an unread stream message would be)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def valued(self, fill: VenueFill) -> VenueFill:
        """``fill`` with its fee's rate when the fee is in a third currency (unchanged otherwise, or if it cannot be valued)."""
        pair = self._needs_rate(fill)
        if pair is None:
            return fill
        try:
            rate = await self.rates.rate(*pair)
        except VenueError as error:
            _log.error("trade %s of %s: its fee of %s %s cannot be valued in %s, so the fill will be refused: %s",
                       fill.trade_id, fill.client_order_id, fill.fee, fill.fee_currency, pair[1], error)
            return fill
        return _with_rate(fill, rate)

    def _valued_now(self, update: VenueUpdate) -> VenueUpdate | None:
        if not isinstance(update, VenueFill):
            return update
        pair = self._needs_rate(update)
        if pair is None:
            return update
        rate = self.rates.cached(*pair)
        return None if rate is None else _with_rate(update, rate)

    def _needs_rate(self, fill: VenueFill) -> tuple[str, str] | None:
        if not fill.fee or not fill.fee_currency or fill.fee_quote_rate is not None:
            return None
        assets = self._assets_of(fill.symbol)
        if assets is None or fill.fee_currency in assets:
            return None
        return fill.fee_currency, assets[1]


def _with_rate(fill: VenueFill, rate: Decimal) -> VenueFill:
    return replace(fill, fee_quote_rate=rate)
