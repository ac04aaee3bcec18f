"""The venue's own account of our orders: ``watch_orders``/``watch_my_trades``, polling, and gap backfill.

ccxt.pro's ``watch_*`` calls deliver the user-data stream (Binance: ``executionReport`` events over
the WebSocket API). When the socket drops, the pending ``watch_*`` fails with a ``NetworkError``
and the next call reconnects and subscribes again; that much ccxt does. What it does not do:

* keep calling after a failure, with a backoff that does not hammer a venue that is down;
* recover what happened while the socket was down. Events are not replayed on resubscription,
  so after every reconnect (and once the new subscription has had ``settle_s`` to take effect) this
  module **backfills**: it fetches every order still live in our books and our trades since the
  gap began, and publishes them. The OMS drops what it has already seen (fills by trade id,
  status updates by the state table), so overlap is harmless; a missed fill is not;
* fall back when there is no stream: exchanges without ``watchOrders`` (or ``use_websocket=False``)
  are polled every ``poll_interval_s`` with the same backfill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import ccxt

from tradepulse.adapters.ccxt.errors import ccxt_cause, is_clock_skew
from tradepulse.errors import AuthenticationFailed, VenueError

if TYPE_CHECKING:
    from tradepulse.adapters.ccxt.venue import CcxtVenue

__all__ = ["UserStream"]

_log = logging.getLogger(__name__)
# Trades are fetched from a little before the gap began: venue and local clocks differ by a few ms.
_BACKFILL_MARGIN = timedelta(seconds=2)


class UserStream:
    """Runs the user-data tasks of one :class:`~.ccxt_venue.CcxtVenue`.

    Parameters
    ----------
    venue
        The adapter: its exchange, caller, order book, stream and conversions are used.
    use_websocket
        Watch the stream when the exchange can; ``False`` polls.
    poll_interval_s
        Polling period without a stream.
    settle_s
        Wait after re-calling ``watch_*`` before backfilling, so the new subscription is live and no
        event falls between the backfill and the stream.

    Attributes
    ----------
    stats
        ``errors``, ``reconnects``, ``backfills``, ``polls``, ``backfilled_updates``.
    mode
        ``"websocket"`` or ``"polling"``.
    """

    def __init__(self, venue: CcxtVenue, *, use_websocket: bool = True, poll_interval_s: float = 1.0, settle_s: float = 1.0,
                 rng: random.Random | None = None) -> None:
        self.venue = venue
        has = venue.exchange.has
        self.mode = "websocket" if use_websocket and has.get("watchOrders") else "polling"
        self.poll_interval_s = poll_interval_s
        self.settle_s = settle_s
        self.stats: Counter[str] = Counter()
        self.last_error: VenueError | None = None
        self._rng = rng or random.Random(venue.caller.policy.seed)
        self._tasks: list[asyncio.Task[None]] = []
        self._backfill_task: asyncio.Task[None] | None = None
        self._backfill_lock = asyncio.Lock()
        self._gap_since: datetime | None = None
        self._started_at = datetime.now(UTC)

    def start(self) -> None:
        """Start the watch loops (or the polling loop)."""
        self._started_at = datetime.now(UTC)
        if self.mode == "websocket":
            self._tasks.append(asyncio.create_task(self._watch("orders"), name="tradepulse-watch-orders"))
            if self.venue.exchange.has.get("watchMyTrades"):
                self._tasks.append(asyncio.create_task(self._watch("trades"), name="tradepulse-watch-my-trades"))
            else:
                # Orders alone carry no trade ids: poll for fills beside the order stream.
                self._tasks.append(asyncio.create_task(self._poll(), name="tradepulse-poll-user-data"))
        else:
            self._tasks.append(asyncio.create_task(self._poll(), name="tradepulse-poll-user-data"))

    async def stop(self) -> None:
        """Cancel the loops and wait for them."""
        tasks = [*self._tasks, *([self._backfill_task] if self._backfill_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _watch(self, kind: str) -> None:
        exchange = self.venue.exchange
        failures = 0
        while True:
            try:
                items = await (exchange.watch_orders() if kind == "orders" else exchange.watch_my_trades())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - every stream failure is handled the same way
                if isinstance(ccxt_cause(error), ccxt.NotSupported):
                    _log.warning("%s: watch_%s is not supported; polling instead", self.venue.name, kind)
                    self.mode = "polling"
                    await self._poll()
                    return
                translated = self.venue.caller.translate(error, f"watch_{kind}")
                self.last_error = translated
                self.stats["errors"] += 1
                if is_clock_skew(error):
                    await self.venue.caller.resync_clock()
                if isinstance(translated, AuthenticationFailed):
                    _log.error("%s", translated)
                else:
                    _log.warning("%s: user stream (%s) failed, reconnecting: %s", self.venue.name, kind, translated)
                self._gap_since = self._gap_since or datetime.now(UTC)
                delay = self.venue.caller.policy.delay(min(failures, 8), self._rng)
                failures += 1
                await asyncio.sleep(delay)
                if kind == "orders":
                    self.stats["reconnects"] += 1
                    self._schedule_backfill()
                continue
            failures = 0
            if kind == "orders":
                for raw in items:
                    self.venue.publish_order(raw)
            else:
                for fill in await self.venue.fills_from_trades(items):
                    self.venue.updates().publish(fill)

    def _schedule_backfill(self) -> None:
        if self._backfill_task is None or self._backfill_task.done():
            self._backfill_task = asyncio.create_task(self._backfill_after_settle(), name="tradepulse-user-backfill")

    async def _backfill_after_settle(self) -> None:
        # Give the watch call just re-issued time to reconnect and subscribe; events from then on
        # arrive on the stream, everything before is fetched now.
        await asyncio.sleep(self.settle_s)
        since, self._gap_since = self._gap_since, None
        try:
            await self.backfill(since)
        except VenueError as error:
            _log.warning("%s: backfill after reconnect failed (%s); retrying on the next reconnect", self.venue.name, error)
            self._gap_since = since

    async def _poll(self) -> None:
        since = self._started_at
        while True:
            started = datetime.now(UTC)
            try:
                await self.backfill(since)
                since = started
                self.stats["polls"] += 1
            except VenueError as error:
                self.last_error = error
                _log.warning("%s: polling user data failed: %s", self.venue.name, error)
            await asyncio.sleep(self.poll_interval_s)

    async def backfill(self, since: datetime | None) -> int:
        """Fetch and publish every live order's state and our trades since ``since``; return how many.

        Symbols are those of orders this adapter has seen (submitted, streamed or fetched).
        """
        async with self._backfill_lock:
            self.stats["backfills"] += 1
            published = 0
            start = (since or self._started_at) - _BACKFILL_MARGIN
            for symbol in sorted(self.venue.order_book.symbols()):
                for fill in await self.venue.my_trades(symbol, start):
                    self.venue.updates().publish(fill)
                    published += 1
            for client_order_id, symbol in sorted(self.venue.order_book.live().items()):
                update = await self.venue.submitter.lookup(symbol, client_order_id, publish=True)
                published += update is not None
            self.stats["backfilled_updates"] += published
            return published

