"""A real exchange behind the :class:`~tradepulse.execution.venues.Venue` protocol, through ccxt.

:class:`CcxtVenue` works with any ccxt exchange whose ``has`` table offers what trading needs
(``createOrder``, ``cancelOrder``, ``fetchOrder``, ``fetchOpenOrders``, ``fetchMyTrades``,
``fetchBalance``; ``watchOrders``/``watchMyTrades`` when available, polling otherwise). Binance spot
is the one tested end to end, against the local venue (``tradepulse.emulator``).

* **Start** (:meth:`CcxtVenue.connect`): check capabilities (one ``ConfigError`` listing every gap),
  sync the clock (``load_time_difference``), load markets into :class:`Instrument` objects (tick,
  lot, minimum quantity and notional from ccxt's ``precision`` and ``limits``), prove the
  credentials with ``fetch_balance`` (a bad key fails here, once, with an ``AuthenticationFailed``
  naming the variables to check), start the user-data stream.
* **Orders** go out under TradePulse's client order id and are idempotent; see
  :mod:`.ccxt_orders`. Cancels and every read are retried with backoff and jitter (:mod:`.ccxt_retry`).
* **Updates**: ``watch_orders``/``watch_my_trades`` become :class:`OrderUpdate`/:class:`VenueFill`
  (with the venue's trade ids) on :meth:`updates`; reconnects are backfilled; see
  :mod:`.ccxt_user_stream`.
* **Errors** are translated once (:mod:`.ccxt_errors`); credentials never appear in messages or
  logs (:mod:`.credentials`, :class:`~.ccxt_exchange.RedactingLogger`).
* **Fees** charged in a third currency (Binance's BNB) are valued from the venue's own ticker for
  that currency, and the rate travels on the fill into the journal; see :mod:`.ccxt_fees`.

Examples
--------
>>> venue = CcxtVenue.create("binance", symbols=["BTC/USDT"])  # doctest: +SKIP
>>> await venue.connect()                                      # doctest: +SKIP
>>> (await venue.instruments())["BTC/USDT"].tick_size           # doctest: +SKIP
Decimal('0.01')
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tradepulse.adapters.ccxt.exchange import (
    TRADING_CAPABILITIES,
    RedactingLogger,
    create_exchange,
    instrument_from_market,
    require_capabilities,
    to_decimal,
    to_milliseconds,
)
from tradepulse.adapters.ccxt.fees import FeeRates, FeeValuingOutbox
from tradepulse.adapters.ccxt.orders import OrderBook, OrderSubmitter, fill_from_trade, update_from_order
from tradepulse.adapters.ccxt.retry import CcxtCaller, RetryPolicy
from tradepulse.adapters.ccxt.user_stream import UserStream
from tradepulse.adapters.credentials import Credentials, load_credentials
from tradepulse.errors import ConfigError, OrderNotFound, OrderRejected, VenueError
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import ZERO, Order
from tradepulse.model.venue import Balance, OrderUpdate, UpdateStream, VenueConnection, VenueFill

__all__ = ["CcxtVenue"]

# The parameter fetch_order/cancel_order take a client order id in; ccxt's common name otherwise.
_CLIENT_ORDER_ID_PARAMS = {"binance": "origClientOrderId", "binanceus": "origClientOrderId"}
_MY_TRADES_PAGE = 500
_CLOCK_MARGIN = timedelta(seconds=5)


class CcxtVenue:
    """An exchange, through a ccxt(.pro) client, as a TradePulse venue.

    Parameters
    ----------
    exchange
        A ccxt async/pro exchange instance with credentials (build one with :meth:`create`). The
        venue closes it on :meth:`close` unless ``owns_exchange`` is false.
    credentials
        The credentials the exchange was built with; their values are redacted from every message.
    symbols
        Limit :meth:`instruments` to these (all active spot markets with a fixed grid otherwise).
    retry
        Backoff for reads and cancels (:class:`~.ccxt_retry.RetryPolicy`); its seed makes jitter repeatable.
    use_websocket
        Use ``watch_orders``/``watch_my_trades`` when the exchange has them; ``False`` polls.
    poll_interval_s
        Polling period without a user-data stream.
    resubmissions
        Times an order the venue definitely does not have may be sent again after a lost answer.
    confirm_delay_s
        Pause before looking up an order whose submission outcome is unknown.
    settle_s
        Pause after a user-stream reconnect before backfilling.
    fee_rate_ttl_s
        How long the price of a third fee currency (BNB) is reused once fetched.
    sleep, rng
        Injectable ``asyncio.sleep`` and random generator (tests).
    """

    def __init__(
        self,
        exchange: Any,
        *,
        credentials: Credentials | None = None,
        symbols: Sequence[str] | None = None,
        retry: RetryPolicy | None = None,
        use_websocket: bool = True,
        poll_interval_s: float = 1.0,
        resubmissions: int = 1,
        confirm_delay_s: float = 0.2,
        settle_s: float = 1.0,
        fee_rate_ttl_s: float = 30.0,
        owns_exchange: bool = True,
        sleep: Callable[[float], Any] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.exchange = exchange
        self.name: str = exchange.id
        if getattr(exchange, "verbose", False):
            raise ConfigError("ccxt verbose mode prints request headers, API keys included; build the client without it")
        # Whatever the client was built with is redacted, also for a client not made by create_exchange.
        held = (getattr(exchange, name, None) for name in ("apiKey", "secret", "password"))
        self._secrets = tuple({*(credentials.secrets() if credentials is not None else ()), *(v for v in held if isinstance(v, str) and v)})
        if not isinstance(exchange.logger, RedactingLogger):
            exchange.logger = RedactingLogger(logging.getLogger(f"tradepulse.ccxt.{self.name}"), self._secrets)
        self._symbols = tuple(symbols) if symbols else None
        self._owns_exchange = owns_exchange
        self.caller = CcxtCaller(exchange, venue=self.name, secrets=self._secrets, policy=retry, sleep=sleep, rng=rng)
        self._stream = UpdateStream()
        self.order_book = OrderBook()
        self._instruments: dict[str, Instrument] = {}
        self.fee_rates = FeeRates(exchange, self.caller, ttl_s=fee_rate_ttl_s)
        # Order answers are published synchronously; a fee needing a rate waits there until it is fetched.
        self._outbox = FeeValuingOutbox(self._stream, self.fee_rates, self._assets_of)
        self.submitter = OrderSubmitter(
            exchange, self.caller, instruments=lambda: self._instruments, book=self.order_book, stream=self._outbox,
            client_order_id_param=_CLIENT_ORDER_ID_PARAMS.get(self.name, "clientOrderId"),
            resubmissions=resubmissions, confirm_delay_s=confirm_delay_s, sleep=sleep, fills_for_order=self._fills_for_order,
        )
        self.user_stream = UserStream(self, use_websocket=use_websocket, poll_interval_s=poll_interval_s, settle_s=settle_s, rng=rng)
        self._connected = False
        self._closed = False

    @classmethod
    def create(
        cls,
        exchange_id: str,
        *,
        credentials: Credentials | None = None,
        exchange_url: str | None = None,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> CcxtVenue:
        """Build the venue for a ccxt exchange id, with credentials from ``TRADEPULSE_<EXCHANGE>_API_*``.

        Parameters
        ----------
        exchange_id
            ``"binance"``, or any ccxt id with the capabilities (checked on :meth:`connect`).
        credentials
            Read with :func:`~.credentials.load_credentials` when omitted (required).
        exchange_url, config, environ
            See :func:`~.ccxt_exchange.create_exchange` (``exchange_url`` or
            ``TRADEPULSE_<EXCHANGE>_URL`` points a Binance client at a local venue, for testing).
        **options
            The constructor's keyword options (``symbols``, ``retry``, ...).
        """
        credentials = credentials or load_credentials(exchange_id, environ)
        exchange = create_exchange(exchange_id, credentials=credentials, exchange_url=exchange_url, config=config, environ=environ)
        return cls(exchange, credentials=credentials, **options)

    @property
    def connected(self) -> bool:
        """Between a successful :meth:`connect` and :meth:`close`."""
        return self._connected

    @property
    def stats(self) -> dict[str, int]:
        """Counters of requests, retries, rate limits, unknown outcomes, reconnects and backfills."""
        return {**self.caller.stats, **{f"user_stream_{k}": v for k, v in self.user_stream.stats.items()}}

    # -- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Check capabilities, sync the clock, load markets, verify credentials, start the user stream.

        A failed connect closes the ccxt client (its sockets and sessions) before the error propagates.
        """
        if self._connected:
            return
        try:
            await self._connect()
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> None:
        require_capabilities(self.exchange, TRADING_CAPABILITIES, "trading")
        if not getattr(self.exchange, "apiKey", None):
            raise ConfigError(f"{self.name}: trading needs credentials; set the TRADEPULSE_{self.name.upper()}_API_KEY/_SECRET variables")
        await self.caller.resync_clock()
        markets = await self.caller.call("load_markets", lambda: self.exchange.load_markets())
        self._instruments = self._instruments_from(markets)
        if self._symbols:
            missing = [symbol for symbol in self._symbols if symbol not in self._instruments]
            if missing:
                raise ConfigError(f"{self.name} does not list {', '.join(missing)} as a tradable spot market with a fixed price/amount grid")
        # A private call proves the credentials now, once, instead of at the first order.
        await self.caller.call("fetch_balance (credential check)", lambda: self.exchange.fetch_balance())
        self.user_stream.start()
        self._connected = True

    async def close(self) -> None:
        """Stop the user stream, close the ccxt client (if owned), end the update stream."""
        if self._closed:
            return
        self._closed = True
        self._connected = False
        await self.user_stream.stop()
        await self._outbox.close()
        if self._owns_exchange:
            await self.exchange.close()
        self._stream.close()

    def updates(self) -> UpdateStream:
        """Order updates and fills: answers, the user-data stream, and backfills after reconnects."""
        return self._stream

    def connection_status(self) -> VenueConnection:
        """Connected or not, how the user stream follows our orders, its last error (as text), the counters."""
        error = self.user_stream.last_error
        return VenueConnection(connected=self.connected, user_stream=self.user_stream.mode,
                               last_error=str(error) if error is not None else None, stats=self.stats)

    async def instruments(self) -> dict[str, Instrument]:
        """Tradable instruments by symbol (loaded on connect)."""
        self._require_connected()
        return dict(self._instruments)

    def _instruments_from(self, markets: Mapping[str, Mapping[str, Any]]) -> dict[str, Instrument]:
        wanted = set(self._symbols) if self._symbols else None
        found = {}
        for symbol, market in markets.items():
            if wanted is not None and symbol not in wanted:
                continue
            if wanted is None and (not market.get("spot") or market.get("active") is False):
                continue
            instrument = instrument_from_market(market, self.exchange.precisionMode)
            if instrument is not None:
                found[symbol] = instrument
        return found

    # -- orders ----------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderUpdate:
        """Place ``order`` under its client order id; see :mod:`.ccxt_orders` for lost answers."""
        self._require_connected()
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            raise OrderRejected(f"{self.name}: {order.symbol} is not traded here (or not loaded); known: {', '.join(sorted(self._instruments))}")
        # ccxt would silently truncate an off-grid amount or price to the venue's precision and send
        # a different order than the one journaled; refuse it instead, as the venue itself would.
        problem = instrument.order_problem(order.quantity, order.limit_price)
        if problem:
            raise OrderRejected(f"{self.name}: {problem}")
        try:
            return await self.submitter.submit(order)
        finally:
            # The answer's fills are on the stream when this returns, as they are without a fee rate to fetch.
            await self._outbox.flush()

    @property
    def submission_window_s(self) -> float:
        """The exchange's receive window plus a margin (see :attr:`OrderSubmitter.submission_window_s`)."""
        return self.submitter.submission_window_s

    def could_still_land(self, client_order_id: str) -> bool:
        """Whether a lost request for ``client_order_id`` is still inside the venue's receive window."""
        return self.submitter.could_still_land(client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel by client order id; ``OrderNotFound`` if the venue never had it, ``OrderRejected`` if it is finished."""
        self._require_connected()
        return await self.submitter.cancel(symbol, client_order_id)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """The venue's view of an order by client order id; ``OrderNotFound`` if it does not have it."""
        self._require_connected()
        update = await self.submitter.lookup(symbol, client_order_id)
        if update is None:
            raise OrderNotFound(f"{self.name}: no order {client_order_id} for {symbol}")
        return update

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Orders working at the venue (every symbol when ``symbol`` is omitted)."""
        self._require_connected()
        raws = await self.caller.call(f"fetch_open_orders {symbol or '(all)'}", lambda: self.exchange.fetch_open_orders(symbol))
        updates = []
        for raw in raws:
            update = update_from_order(raw, self._instruments.get(raw.get("symbol", "")))
            self.order_book.learn(update)
            updates.append(update)
        return updates

    async def my_trades(self, symbol: str, since: datetime | None = None) -> list[VenueFill]:
        """Our fills in ``symbol`` from ``since`` (inclusive), oldest first, paging through ``fetch_my_trades``."""
        self._require_connected()
        cursor = to_milliseconds(since) if since is not None else None
        seen: dict[str, Any] = {}
        while True:
            page = await self.caller.call(
                f"fetch_my_trades {symbol}", lambda c=cursor: self.exchange.fetch_my_trades(symbol, c, _MY_TRADES_PAGE),
            )
            fresh = [raw for raw in page if str(raw.get("id")) not in seen]
            for raw in fresh:
                seen[str(raw.get("id"))] = raw
            if len(page) < _MY_TRADES_PAGE or not fresh or cursor is None:
                break
            cursor = max(int(raw.get("timestamp") or 0) for raw in page)
        trades = sorted(seen.values(), key=lambda raw: (raw.get("timestamp") or 0, str(raw.get("id"))))
        return await self.fills_from_trades(trades)

    async def balances(self) -> dict[str, Balance]:
        """Balances by currency (free and locked in open orders), non-zero ones."""
        self._require_connected()
        raw = await self.caller.call("fetch_balance", lambda: self.exchange.fetch_balance())
        found = {}
        for currency in (raw.get("total") or {}):
            entry = raw.get(currency) or {}
            free, used = to_decimal(entry.get("free")) or ZERO, to_decimal(entry.get("used")) or ZERO
            if free or used:
                found[currency] = Balance(currency, free, used)
        return found

    # -- conversions shared with the user stream -------------------------------------------------

    def publish_order(self, raw: Mapping[str, Any]) -> OrderUpdate | None:
        """Publish a streamed ccxt order as an :class:`OrderUpdate` (orders without any client id are skipped)."""
        symbol = str(raw.get("symbol") or "")
        client_order_id = raw.get("clientOrderId") or self.order_book.client_order_id(symbol, _text(raw.get("id")))
        if not client_order_id:
            return None
        update = update_from_order(raw, self._instruments.get(symbol), client_order_id)
        self.order_book.learn(update)
        self._stream.publish(update)
        return update

    async def fills_from_trades(self, raws: Iterable[Mapping[str, Any]]) -> list[VenueFill]:
        """Our client order ids on ccxt trades (looking up orders we have not seen), as fills."""
        fills = []
        for raw in raws:
            symbol, venue_order_id = str(raw.get("symbol") or ""), _text(raw.get("order"))
            info = raw.get("info") or {}
            client_order_id = self.order_book.client_order_id(symbol, venue_order_id)
            if client_order_id is None and isinstance(info, Mapping) and info.get("c"):
                client_order_id = str(info.get("C") or info["c"])  # Binance executionReport: C on cancels, else c
            if client_order_id is None and venue_order_id is not None:
                client_order_id = await self._client_order_id_of(symbol, venue_order_id)
            fill = fill_from_trade(raw, client_order_id or "")
            if fill is not None:
                fills.append(await self._outbox.valued(fill))
        return fills

    def _assets_of(self, symbol: str) -> tuple[str, str] | None:
        instrument = self._instruments.get(symbol)
        if instrument is not None:
            return instrument.base, instrument.quote
        market = (getattr(self.exchange, "markets", None) or {}).get(symbol)
        return (str(market["base"]), str(market["quote"])) if market and market.get("base") and market.get("quote") else None

    async def _client_order_id_of(self, symbol: str, venue_order_id: str) -> str | None:
        try:
            raw = await self.caller.call(f"fetch_order {symbol} #{venue_order_id}", lambda: self.exchange.fetch_order(venue_order_id, symbol))
        except VenueError:
            return None
        update = update_from_order(raw, self._instruments.get(symbol))
        self.order_book.learn(update)
        return update.client_order_id or None

    async def _fills_for_order(self, symbol: str, client_order_id: str, since: datetime) -> list[VenueFill]:
        # From a little before the order was made: our clock and the venue's differ by some ms.
        trades = await self.my_trades(symbol, since - _CLOCK_MARGIN)
        return [fill for fill in trades if fill.client_order_id == client_order_id]

    def _require_connected(self) -> None:
        if not self._connected:
            raise VenueError(f"{self.name}: not connected; call `await venue.connect()` first")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
