"""The venue: all parts wired together, and the aiohttp application serving REST and WebSockets.

:class:`Venue` owns the state (clock, replay, markets, accounts, matching engine, stream hubs,
rate limiter, faults). :func:`make_app` exposes it: ``/api/v3/*`` (REST), ``/ws``, ``/stream``,
``/stream/ws/<n>`` (market streams), ``/ws-api/v3`` (WebSocket API) and ``/_control/*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tradepulse.emulator.accounts import AccountRegistry
from tradepulse.emulator.appkeys import VENUE_KEY
from tradepulse.emulator.auth import Authenticator
from tradepulse.emulator.clock import VenueClock
from tradepulse.emulator.config import VenueConfig
from tradepulse.emulator.control import add_control_routes
from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.faults import FaultInjector
from tradepulse.emulator.fee_markets import FixedPriceMarket, fee_asset_markets
from tradepulse.emulator.market import MarketData, SymbolMarket
from tradepulse.emulator.matching import MatchingEngine
from tradepulse.emulator.params import RequestContext
from tradepulse.emulator.replay import Replayer, load_timeline
from tradepulse.emulator.rest_market import PUBLIC_ROUTES
from tradepulse.emulator.rest_trading import SIGNED_ROUTES, OrderRateCounter
from tradepulse.emulator.symbols import SYMBOLS, SymbolSpec
from tradepulse.emulator.weights import WeightLimiter, endpoint_weight
from tradepulse.emulator.ws_api import UserStreamHub, add_ws_api_routes
from tradepulse.emulator.ws_market import MarketStreamHub, add_market_routes

__all__ = ["VENUE_KEY", "Venue", "make_app"]

log = logging.getLogger(__name__)

_SERVER_ERROR_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                      504: "Gateway Timeout"}


class Venue:
    """The state of one emulated venue (one event loop, no locks needed).

    Parameters
    ----------
    config
        How to set the venue up; see :class:`~tradepulse.emulator.config.VenueConfig`.
    """

    def __init__(self, config: VenueConfig) -> None:
        self.config = config
        self.clock = VenueClock(config.speed)
        self.faults = FaultInjector(config.faults, config.seed)
        replayed = {symbol: SYMBOLS[symbol] for symbol in config.symbols}
        self.timeline = load_timeline(config.symbols, config.recordings_dir)
        # Streams only for replayed markets: a fixed-price market has nothing to publish.
        self.market_hub = MarketStreamHub({s.stream_name for s in replayed.values()}, config.ws_heartbeat_s)
        self.market_data = MarketData(self.timeline, replayed, self.market_hub)
        self.fee_markets = fee_asset_markets(config.fee_asset_prices)
        # Every listed market, as REST serves them: the replayed ones, then the fixed-price ones (BNBUSDT).
        self.specs: dict[str, SymbolSpec] = {**replayed, **{s: m.spec for s, m in self.fee_markets.items()}}
        self.markets: dict[str, SymbolMarket | FixedPriceMarket] = {**self.market_data.by_symbol, **self.fee_markets}
        self.accounts = AccountRegistry()
        for spec in config.accounts:
            self.accounts.add(spec.api_key, spec.api_secret, spec.balances, spec.fee_payment)
        self.authenticator = Authenticator(self.accounts)
        self.engine = MatchingEngine(self.market_data.by_symbol, self.specs, self.clock, config.maker_fee,
                                     config.taker_fee, seed=config.seed, fee_markets=self.fee_markets)
        self.user_hub = UserStreamHub(self.authenticator, self.clock, lambda: self.faults.settings.latency_ms,
                                      config.ws_heartbeat_s)
        self.engine.listener = self.user_hub
        self.market_data.on_trade_print = self.engine.on_trade_print
        self.limiter = WeightLimiter(config.weight_limit_per_minute, config.ban_seconds)
        self.order_rate = OrderRateCounter(config.orders_per_10s)
        self.replayer = Replayer(self.timeline, self.clock, self.market_data, int(config.start_offset_s * 1000))
        self.apply_fault_settings()
        self._fault_task: asyncio.Task | None = None
        # Orders of the land-late fault still on their way to the matching engine, and what became of each.
        self.late_orders: set[asyncio.Future] = set()
        self.late_order_outcomes: list[str] = []

    def apply_fault_settings(self) -> None:
        """Push the fault settings that live in other parts (the clock skew) to them."""
        self.clock.skew_ms = self.faults.settings.clock_skew_ms

    async def start(self) -> None:
        """Replay the warm-up part of the recording, then start the replay and fault timers."""
        self.replayer.warm_up()
        self.replayer.start()
        self._fault_task = asyncio.get_running_loop().create_task(self._scheduled_drops(), name="venue-faults")

    async def stop(self) -> None:
        await self.replayer.stop()
        if self._fault_task is not None:
            self._fault_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fault_task
        await self.market_hub.close_all()
        await self.user_hub.close_all()

    async def _scheduled_drops(self) -> None:
        """Cut WebSocket connections on the intervals the fault settings ask for."""
        last_market = last_user = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            settings, now = self.faults.settings, time.monotonic()
            if settings.ws_drop_every_s and now - last_market >= settings.ws_drop_every_s:
                self.market_hub.drop_all()
                last_market = now
            elif not settings.ws_drop_every_s:
                last_market = now
            if settings.user_ws_drop_every_s and now - last_user >= settings.user_ws_drop_every_s:
                self.user_hub.drop_all()
                last_user = now
            elif not settings.user_ws_drop_every_s:
                last_user = now

    def state(self) -> dict[str, Any]:
        """Return what a test or an operator wants to know about the running venue."""
        replayer = self.replayer
        markets = {}
        for symbol, market in self.markets.items():
            bid, ask = market.book.best_bid(), market.book.best_ask()
            markets[symbol] = {"lastUpdateId": market.book.last_update_id, "bestBid": bid and bid[0],
                               "bestAsk": ask and ask[0], "lastTradeId": market.recent_trades[-1][0]
                               if market.recent_trades else None}
        return {
            "serverTime": self.clock.server_ms(), "marketTime": self.clock.market_ms(), "speed": self.clock.speed,
            "paused": replayer.paused, "loop": replayer.loop, "position": replayer.position,
            "events": len(self.timeline.events), "loopMs": self.timeline.loop_ms, "markets": markets,
            "connections": {"market": len(self.market_hub.connections), "user": len(self.user_hub.connections)},
            "connectionsOpened": {"market": self.market_hub.connections_opened,
                                  "user": self.user_hub.connections_opened},
            "restingOrders": self.engine.resting_count(), "accounts": len(self.accounts),
            "lateOrders": {"inFlight": len(self.late_orders), "outcomes": list(self.late_order_outcomes)},
        }


def _json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(payload, separators=(",", ":")), status=status,
                        content_type="application/json", headers=headers)


async def _handle_rest(request: web.Request) -> web.StreamResponse:
    venue = request.app[VENUE_KEY]
    path, method = request.match_info["path"], request.method
    handler = PUBLIC_ROUTES.get((method, path))
    signed = SIGNED_ROUTES.get((method, path))
    if handler is None and signed is None:
        return web.Response(status=404, text="Not Found")
    body = await request.text() if request.can_read_body else ""
    # Signatures cover the text as sent, so keep the raw query; parse_qsl decodes for the handlers.
    raw_query = request.rel_url.raw_query_string
    params = dict(parse_qsl(raw_query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True))
    latency_ms = venue.faults.settings.latency_ms
    if latency_ms:
        await asyncio.sleep(latency_ms / 1000)
    ip = request.remote or "unknown"
    now_s = time.time()
    headers: dict[str, str] = {}
    ctx = RequestContext(venue, request, params, headers=headers)
    try:
        force_429 = venue.faults.take_forced_rate_limit()
        used = venue.limiter.admit(ip, endpoint_weight(method, path, params), now_s, force_429=force_429)
        headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        failing_status = venue.faults.rest_error_status()
        if failing_status is not None:
            return web.Response(status=failing_status, text=_SERVER_ERROR_TEXT[failing_status], headers=headers)
        if signed is not None and method == "POST" and path == "order":
            late_ms = venue.faults.take_late_order_ms()
            if late_ms is not None and request.transport is not None:
                # The request is in; the client hears nothing and the order lands later (or never).
                landing = asyncio.ensure_future(_land_late(venue, request, ctx, signed, raw_query, body, late_ms))
                venue.late_orders.add(landing)
                landing.add_done_callback(venue.late_orders.discard)
                request.transport.abort()
                raise asyncio.CancelledError
        if signed is not None:
            ctx.account = venue.authenticator.verify_rest(
                api_key=request.headers.get("X-MBX-APIKEY"), query_string=raw_query, body=body, params=params,
                server_ms=venue.clock.server_ms())
            result = signed(ctx)
        else:
            result = handler(ctx)  # type: ignore[misc]
    except ApiError as error:
        headers.setdefault("X-MBX-USED-WEIGHT-1M", str(venue.limiter.used(ip, now_s)))
        headers.update(error.headers)
        return _json_response(error.body(), status=error.status, headers=headers)
    if ctx.lose_response and request.transport is not None:
        # The order was placed; the client never hears about it (a dropped connection).
        request.transport.abort()
        raise asyncio.CancelledError
    return _json_response(result, headers=headers)


async def _land_late(venue: Venue, request: web.Request, ctx: RequestContext, signed: Any, raw_query: str, body: str,
                     late_ms: int) -> None:
    """Run an order request ``late_ms`` after it arrived, as a matching engine behind a slow queue would.

    The signature and the recvWindow are checked when the order reaches the engine: one that arrives
    after its window is dropped (Binance answers -1021; here nobody is left to hear it).
    """
    await asyncio.sleep(late_ms / 1000)
    try:
        ctx.account = venue.authenticator.verify_rest(
            api_key=request.headers.get("X-MBX-APIKEY"), query_string=raw_query, body=body, params=ctx.params,
            server_ms=venue.clock.server_ms())
        signed(ctx)
        venue.late_order_outcomes.append("placed")
    except ApiError as error:
        venue.late_order_outcomes.append(f"dropped: {error.body().get('msg', error)}")


def make_app(venue: Venue) -> web.Application:
    """Return the aiohttp application serving ``venue`` (REST, streams, WebSocket API, control)."""
    app = web.Application()
    app[VENUE_KEY] = venue
    app.router.add_route("*", "/api/v3/{path:.*}", _handle_rest)
    add_market_routes(app, venue.market_hub)
    add_ws_api_routes(app, venue.user_hub)
    add_control_routes(app)

    async def on_shutdown(app: web.Application) -> None:
        await venue.market_hub.close_all()
        await venue.user_hub.close_all()

    app.on_shutdown.append(on_shutdown)
    return app
