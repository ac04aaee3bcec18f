"""Live market data from an exchange through ccxt.pro, as the engine's market events.

:class:`CcxtFeed` watches one symbol and yields :class:`~tradepulse.model.events.Trade` (from
``watch_trades``), :class:`~tradepulse.model.events.BookTicker` (the top of ccxt's locally maintained
order book, from ``watch_order_book``; optionally a :class:`~tradepulse.model.events.DepthSnapshot`
of the top levels) and :class:`~tradepulse.model.events.BarClose` (closed candles from
``watch_ohlcv``). What it adds to ccxt.pro:

* **Reconnects.** A dropped socket fails the pending ``watch_*`` with a ``NetworkError``; ccxt
  reconnects and resubscribes on the next call, which the feed makes after a backoff with jitter.
  Trades missed while the socket was down are fetched over REST (``fetch_trades`` from the last
  trade seen) before the stream resumes, so the trade sequence has no hole and no repeat.
* **Book resync.** ccxt checks Binance's diff sequence and raises ``ChecksumError`` (an
  ``InvalidNonce``) on a gap, dropping its book and subscription; the feed counts it and watches
  again, which fetches a fresh REST snapshot and replays the buffered diffs.
* **REST fallback.** After ``max_watch_failures`` failures in a row (or when the exchange has no
  ``watch_*`` for a stream, or ``use_websocket=False``) the stream is polled over REST every
  ``poll_interval_s``; watching is tried again after ``rewatch_after_s``.
* **Order.** Event times never go backwards (a late event is stamped with the latest time seen, as
  the replay feeds do), trades are de-duplicated by id, and candles are emitted once, when closed.

The feed runs until :meth:`CcxtFeed.stop` (or the consumer stops iterating).

Examples
--------
>>> feed = CcxtFeed.create("binance", "BTC/USDT")                       # doctest: +SKIP
>>> async for event in feed:                                            # doctest: +SKIP
...     print(event)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import ccxt

from tradepulse.adapters.ccxt.errors import ccxt_cause
from tradepulse.adapters.ccxt.exchange import create_exchange, require_capabilities, to_datetime, to_decimal
from tradepulse.adapters.ccxt.retry import CcxtCaller, RetryPolicy
from tradepulse.errors import ConfigError, VenueError
from tradepulse.model.events import Bar, BarClose, BookTicker, DepthSnapshot, MarketEvent, PriceLevel, Trade

__all__ = ["CcxtFeed"]

_log = logging.getLogger(__name__)
_END = object()
_RECENT_TRADE_IDS = 5000
# Exchanges whose REST trades are fetched as "the most recent page" with these params (see _fetch_trades).
_RECENT_TRADES_PARAMS: dict[str, dict[str, str]] = {
    "binance": {"fetchTradesMethod": "publicGetTrades"},
    "binanceus": {"fetchTradesMethod": "publicGetTrades"},
}


class _Stream:
    """One watched stream: how to watch it, how to poll it, and what to emit from what arrives."""

    def __init__(self, name: str, watch: Callable[[], Awaitable[Any]], poll: Callable[[], Awaitable[Any]],
                 emit: Callable[[Any], None], *, can_watch: bool, backfill_on_reconnect: bool) -> None:
        self.name, self.watch, self.poll, self.emit = name, watch, poll, emit
        self.can_watch = can_watch
        self.backfill_on_reconnect = backfill_on_reconnect
        self.polling_until = 0.0  # monotonic time until which the stream is polled instead of watched
        self.needs_backfill = False
        self.resyncs_in_a_row = 0


class CcxtFeed:
    """Market events for one symbol from a ccxt(.pro) exchange client.

    Parameters
    ----------
    exchange
        A ccxt.pro (or async) exchange instance; closed by the feed only if ``owns_exchange``.
    symbol
        The unified symbol (``"BTC/USDT"``).
    trades
        Yield :class:`Trade` events (the engine builds time bars from them).
    order_book
        Yield :class:`BookTicker` events from the top of the maintained order book.
    depth_levels
        Also yield a :class:`DepthSnapshot` of this many levels per side on every book change (for a
        paper venue trading against live depth); ``None`` for none.
    ohlcv_timeframe
        Yield :class:`BarClose` events for the exchange's candles of this timeframe (``"1m"``); run
        the engine without ``bar_period`` then.
    use_websocket
        Watch when the exchange can; ``False`` polls over REST only.
    poll_interval_s, max_watch_failures, rewatch_after_s
        The REST fallback: period, failures in a row that trigger it, and how long it lasts before
        watching is tried again.
    retry
        Backoff policy for reconnects and REST calls.
    owns_exchange
        Close the exchange client when the feed stops.

    Attributes
    ----------
    stats
        Counters: ``<stream>_events``, ``<stream>_errors``, ``reconnects``, ``book_resyncs``,
        ``fallbacks`` (switches to polling), ``polls``, ``backfilled_trades``, ``trades_missed``
        (a gap longer than one REST page; logged as a warning).
    """

    kind = "ticks"

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        *,
        trades: bool = True,
        order_book: bool = True,
        depth_levels: int | None = None,
        ohlcv_timeframe: str | None = None,
        use_websocket: bool = True,
        poll_interval_s: float = 1.0,
        max_watch_failures: int = 3,
        rewatch_after_s: float = 30.0,
        retry: RetryPolicy | None = None,
        owns_exchange: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        if not (trades or order_book or ohlcv_timeframe):
            raise ConfigError("a ccxt feed needs at least one of trades, order_book or ohlcv_timeframe")
        if depth_levels is not None and depth_levels < 1:
            raise ConfigError(f"depth_levels must be at least 1, got {depth_levels}")
        self.exchange = exchange
        self.symbol = symbol
        self.depth_levels = depth_levels
        self.ohlcv_timeframe = ohlcv_timeframe
        self.use_websocket = use_websocket
        self.poll_interval_s = poll_interval_s
        self.max_watch_failures = max(1, max_watch_failures)
        self.rewatch_after_s = rewatch_after_s
        self.caller = CcxtCaller(exchange, venue=exchange.id, policy=retry)
        self._rng = rng or random.Random(self.caller.policy.seed)
        self._owns_exchange = owns_exchange
        self.stats: Counter[str] = Counter()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._stopped = False
        self._last_at: datetime | None = None
        self._last_trade_id: int | None = None
        self._last_trade_ms: int | None = None
        self._recent_trade_ids: deque[str] = deque(maxlen=_RECENT_TRADE_IDS)
        self._top: tuple[Any, ...] | None = None
        self._open_candle: list[Any] | None = None
        self._last_closed_candle_ms: int | None = None
        self._streams = self._build_streams(trades, order_book, ohlcv_timeframe)

    @classmethod
    def create(cls, exchange_id: str, symbol: str, *, exchange_url: str | None = None, config: Mapping[str, Any] | None = None,
               environ: Mapping[str, str] | None = None, **options: Any) -> CcxtFeed:
        """A feed with its own credential-less ccxt client (see :func:`~tradepulse.adapters.ccxt.exchange.create_exchange`)."""
        exchange = create_exchange(exchange_id, exchange_url=exchange_url, config=config, environ=environ)
        return cls(exchange, symbol, owns_exchange=True, **options)

    def _build_streams(self, trades: bool, order_book: bool, timeframe: str | None) -> list[_Stream]:
        exchange, symbol, has = self.exchange, self.symbol, self.exchange.has
        needs: list[str | tuple[str, ...]] = []
        streams = []
        if trades:
            needs.append(("watchTrades", "fetchTrades"))
            streams.append(_Stream("trades", lambda: exchange.watch_trades(symbol), lambda: self._fetch_trades(),
                                   self._emit_trades, can_watch=bool(has.get("watchTrades")), backfill_on_reconnect=True))
        if order_book:
            needs.append(("watchOrderBook", "fetchOrderBook"))
            streams.append(_Stream("book", lambda: exchange.watch_order_book(symbol),
                                   lambda: exchange.fetch_order_book(symbol, max(self.depth_levels or 5, 5)),
                                   self._emit_book, can_watch=bool(has.get("watchOrderBook")), backfill_on_reconnect=False))
        if timeframe:
            needs.append(("watchOHLCV", "fetchOHLCV"))
            streams.append(_Stream("ohlcv", lambda: exchange.watch_ohlcv(symbol, timeframe),
                                   lambda: exchange.fetch_ohlcv(symbol, timeframe, limit=10),
                                   self._emit_candles, can_watch=bool(has.get("watchOHLCV")), backfill_on_reconnect=False))
        require_capabilities(exchange, needs, f"market data of {symbol}")
        return streams

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load markets and start the stream tasks (iteration does this on first use)."""
        if self._started:
            return
        self._started = True
        await self.caller.call("load_markets", lambda: self.exchange.load_markets())
        if self.symbol not in self.exchange.markets:
            raise ConfigError(f"{self.exchange.id} does not list {self.symbol}")
        for stream in self._streams:
            self._tasks.append(asyncio.create_task(self._guarded(stream), name=f"tradepulse-feed-{stream.name}"))

    def stop(self) -> None:
        """End the iteration after the events already queued."""
        if not self._stopped:
            self._stopped = True
            self._queue.put_nowait(_END)

    async def aclose(self) -> None:
        """Stop, cancel the stream tasks, and close the exchange client if the feed owns it."""
        self.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._owns_exchange:
            await self.exchange.close()
            self._owns_exchange = False

    async def __aiter__(self) -> AsyncIterator[MarketEvent]:
        await self.start()
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self.aclose()

    # -- the loop of one stream --------------------------------------------------------------------

    async def _guarded(self, stream: _Stream) -> None:
        try:
            await self._run(stream)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a dead stream must end the iteration loudly, not stall it
            _log.exception("%s %s: the %s stream failed", self.exchange.id, self.symbol, stream.name)
            self._queue.put_nowait(error)

    async def _run(self, stream: _Stream) -> None:
        failures = 0
        while not self._stopped:
            watching = self.use_websocket and stream.can_watch and time.monotonic() >= stream.polling_until
            if watching:
                try:
                    data = await stream.watch()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - every watch failure is handled below
                    failures = await self._watch_failed(stream, error, failures)
                    continue
                failures = 0
                stream.resyncs_in_a_row = 0
                if stream.needs_backfill:
                    stream.needs_backfill = False
                    await self._poll_once(stream, backfill=True)
                stream.emit(data)
                continue
            await self._poll_once(stream)
            await asyncio.sleep(self.poll_interval_s)

    async def _watch_failed(self, stream: _Stream, error: BaseException, failures: int) -> int:
        cause = ccxt_cause(error)
        if stream.name == "book" and isinstance(cause, ccxt.InvalidNonce):
            # A sequence gap: ccxt dropped its book and subscription; watching again resubscribes
            # and rebuilds the book from a fresh snapshot.
            self.stats["book_resyncs"] += 1
            stream.resyncs_in_a_row += 1
            _log.info("%s %s: order book sequence gap, resyncing (%s)", self.exchange.id, self.symbol, cause)
            if stream.resyncs_in_a_row > 1:
                # Gaps again and again (a lossy link): each resync fetches a snapshot, so slow down.
                await asyncio.sleep(self.caller.policy.delay(stream.resyncs_in_a_row - 2, self._rng))
            return failures
        if isinstance(cause, ccxt.NotSupported):
            stream.can_watch = False
            return failures
        translated = self.caller.translate(error, f"watch_{stream.name} {self.symbol}")
        self.stats[f"{stream.name}_errors"] += 1
        failures += 1
        stream.needs_backfill = stream.backfill_on_reconnect
        if failures >= self.max_watch_failures:
            self.stats["fallbacks"] += 1
            stream.polling_until = time.monotonic() + self.rewatch_after_s
            _log.warning("%s %s: watching %s failed %d times (%s); polling REST for %g s",
                         self.exchange.id, self.symbol, stream.name, failures, translated, self.rewatch_after_s)
            return 0
        self.stats["reconnects"] += 1
        _log.info("%s %s: %s stream failed (%s); reconnecting", self.exchange.id, self.symbol, stream.name, translated)
        await asyncio.sleep(self.caller.policy.delay(failures - 1, self._rng))
        return failures

    async def _poll_once(self, stream: _Stream, *, backfill: bool = False) -> None:
        try:
            data = await self.caller.call(f"fetch_{stream.name} {self.symbol}", stream.poll)
        except VenueError as error:
            self.stats[f"{stream.name}_errors"] += 1
            _log.warning("%s %s: polling %s failed: %s", self.exchange.id, self.symbol, stream.name, error)
            return
        self.stats["polls"] += 1
        before = self.stats["trades_events"]
        stream.emit(data)
        if backfill:
            self.stats["backfilled_trades"] += self.stats["trades_events"] - before

    async def _fetch_trades(self) -> list[dict[str, Any]]:
        recent_only = _RECENT_TRADES_PARAMS.get(self.exchange.id)
        if recent_only is not None:
            # Binance's REST default (aggTrades) numbers trades differently from the @trade stream;
            # /trades shares the stream's ids (the most recent 1000, no time filter).
            trades = await self.exchange.fetch_trades(self.symbol, None, 1000, dict(recent_only))
        else:
            trades = await self.exchange.fetch_trades(self.symbol, self._last_trade_ms, 1000)
        oldest = min((_numeric_id(t.get("id")) or 0 for t in trades), default=None)
        if self._last_trade_id is not None and oldest is not None and oldest > self._last_trade_id + 1:
            missed = oldest - self._last_trade_id - 1
            self.stats["trades_missed"] += missed
            _log.warning("%s %s: %d trade(s) could not be backfilled (more than one REST page was missed)",
                         self.exchange.id, self.symbol, missed)
        return trades

    # -- events ----------------------------------------------------------------------------------

    def _put(self, event: MarketEvent) -> None:
        if isinstance(event, BarClose):
            # A bar's time is its end and cannot be moved; it never moves the feed's clock back either.
            self._queue.put_nowait(event)
            return
        if self._last_at is not None and event.at < self._last_at:
            event = replace(event, at=self._last_at)  # type: ignore[type-var]
        self._last_at = event.at
        self._queue.put_nowait(event)

    def _emit_trades(self, trades: list[dict[str, Any]]) -> None:
        for raw in sorted(trades, key=lambda t: (t.get("timestamp") or 0, _numeric_id(t.get("id")) or 0)):
            trade_id = str(raw.get("id"))
            numeric = _numeric_id(raw.get("id"))
            if numeric is not None and self._last_trade_id is not None:
                if numeric <= self._last_trade_id:
                    continue
            elif trade_id in self._recent_trade_ids:
                continue
            price, quantity = to_decimal(raw.get("price")), to_decimal(raw.get("amount"))
            at = to_datetime(raw.get("timestamp"))
            if price is None or quantity is None or at is None:
                continue
            self._recent_trade_ids.append(trade_id)
            if numeric is not None:
                self._last_trade_id = numeric
            self._last_trade_ms = int(raw["timestamp"])
            # ccxt's side of a public trade is the taker's: a sell taker hit a resting buyer.
            buyer_is_maker = {"sell": True, "buy": False}.get(raw.get("side"))
            self.stats["trades_events"] += 1
            self._put(Trade(self.symbol, at, price, quantity, trade_id, buyer_is_maker))

    def _emit_book(self, book: Mapping[str, Any]) -> None:
        bids, asks = book.get("bids") or [], book.get("asks") or []
        if not bids or not asks:
            return
        at = to_datetime(book.get("timestamp")) or self._last_at or datetime.now(UTC)
        top = (bids[0][0], bids[0][1], asks[0][0], asks[0][1])
        nonce = int(book.get("nonce") or 0)
        if top != self._top:
            self._top = top
            self.stats["book_events"] += 1
            self._put(BookTicker(self.symbol, at, *(to_decimal(v) for v in top), update_id=nonce))  # type: ignore[arg-type]
        if self.depth_levels:
            self._put(DepthSnapshot(self.symbol, at, nonce, _levels(bids, self.depth_levels), _levels(asks, self.depth_levels)))

    def _emit_candles(self, candles: list[list[Any]]) -> None:
        period = timedelta(seconds=self.exchange.parse_timeframe(self.ohlcv_timeframe))
        for row in sorted(candles, key=lambda r: r[0]):
            start_ms = int(row[0])
            if self._last_closed_candle_ms is not None and start_ms <= self._last_closed_candle_ms:
                continue
            if self._open_candle is not None and start_ms > int(self._open_candle[0]):
                self._close_candle(self._open_candle, period)
            self._open_candle = list(row)

    def _close_candle(self, row: list[Any], period: timedelta) -> None:
        start = to_datetime(row[0])
        if start is None:
            return
        self._last_closed_candle_ms = int(row[0])
        self.stats["ohlcv_events"] += 1
        values = [float(value) if value is not None else 0.0 for value in row[1:6]]
        self._put(BarClose(Bar(self.symbol, start, start + period, *values)))

    # -- inspection ------------------------------------------------------------------------------

    def book_levels(self, depth: int = 100) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """The top ``depth`` levels of ccxt's maintained book as ``(bids, asks)`` in Decimal."""
        book = getattr(self.exchange, "orderbooks", {}).get(self.symbol)
        if book is None:
            return [], []
        return list(_levels(book["bids"], depth)), list(_levels(book["asks"], depth))

    @property
    def book_nonce(self) -> int | None:
        """The update id the maintained book has reached (Binance ``lastUpdateId``), if any."""
        book = getattr(self.exchange, "orderbooks", {}).get(self.symbol)
        return None if book is None else book.get("nonce")


def _levels(rows: Any, depth: int) -> tuple[PriceLevel, ...]:
    return tuple((to_decimal(row[0]) or Decimal(0), to_decimal(row[1]) or Decimal(0)) for row in list(rows)[:depth])


def _numeric_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
