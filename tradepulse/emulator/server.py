"""Starting and stopping a venue: inside a running event loop, or on a background thread.

Examples
--------
In async code::

    async with VenueServer(accounts=(AccountSpec("key", "secret"),)) as endpoints:
        exchange = ccxt.pro.binance(endpoints.ccxt_config("key", "secret"))

From synchronous code (tests, notebooks)::

    with VenueThread(speed=5) as venue:
        print(venue.endpoints.rest_url)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from tradepulse.emulator.app import Venue, make_app
from tradepulse.emulator.config import VenueConfig
from tradepulse.emulator.replay import load_timeline

__all__ = ["VenueEndpoints", "VenueServer", "VenueThread"]

T = TypeVar("T")
_SHUTDOWN_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class VenueEndpoints:
    """The addresses of a running venue."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """REST root, as ccxt's ``urls.api.public``/``private`` expect it (``…/api/v3``)."""
        return f"{self.base_url}/api/v3"

    @property
    def ws_market_url(self) -> str:
        """Raw market streams; ccxt appends ``/<n>``. ``/stream`` in the path marks it as spot for ccxt."""
        return f"ws://{self.host}:{self.port}/stream/ws"

    @property
    def ws_combined_url(self) -> str:
        """Combined streams (``?streams=a/b``), each event wrapped as ``{"stream", "data"}``."""
        return f"ws://{self.host}:{self.port}/stream"

    @property
    def ws_api_url(self) -> str:
        """WebSocket API (user-data subscriptions)."""
        return f"ws://{self.host}:{self.port}/ws-api/v3"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_control"

    def ccxt_config(self, api_key: str | None = None, api_secret: str | None = None, **overrides: Any) -> dict:
        """Return constructor arguments that point ``ccxt.binance``/``ccxt.pro.binance`` at this venue.

        Every URL group a spot client calls is overridden (so nothing reaches the real Binance),
        and the options keep ccxt on spot only (no margin, futures or currency endpoints).
        ``overrides`` are merged in at the top level (``options`` is merged key by key).

        Examples
        --------
        >>> endpoints = VenueEndpoints("127.0.0.1", 8765)
        >>> endpoints.ccxt_config("key", "secret")["urls"]["api"]["public"]
        'http://127.0.0.1:8765/api/v3'
        """
        config: dict[str, Any] = {
            "urls": {"api": {
                "public": self.rest_url,
                "private": self.rest_url,
                "v1": f"{self.base_url}/api/v1",
                "ws": {"spot": self.ws_market_url, "margin": self.ws_market_url,
                       "ws-api": {"spot": self.ws_api_url}},
            }},
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                        "defaultType": "spot"},
        }
        if api_key is not None:
            config["apiKey"] = api_key
        if api_secret is not None:
            config["secret"] = api_secret
        options = overrides.pop("options", None)
        config.update(overrides)
        if options:
            config["options"].update(options)
        return config


class VenueServer:
    """A venue serving on a TCP port inside the running event loop.

    Parameters
    ----------
    config
        The venue configuration (default: :class:`VenueConfig` defaults).
    **overrides
        Fields of :class:`VenueConfig` to replace, e.g. ``speed=10``.
    """

    def __init__(self, config: VenueConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or VenueConfig(), **overrides)
        self.venue: Venue | None = None
        self.endpoints: VenueEndpoints | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> VenueEndpoints:
        """Load the recordings, warm up, start listening; return the addresses."""
        # Parsing the recordings takes a second or two; do it off the loop (Venue then hits the cache).
        await asyncio.to_thread(load_timeline, self.config.symbols, self.config.recordings_dir)
        venue = Venue(self.config)
        await venue.start()
        runner = web.AppRunner(make_app(venue), handle_signals=False, access_log=None,
                               shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            await venue.stop()
            raise
        port = runner.addresses[0][1]
        self.venue, self._runner = venue, runner
        self.endpoints = VenueEndpoints(self.config.host, port)
        return self.endpoints

    async def stop(self) -> None:
        """Close every connection and stop the replay."""
        if self.venue is not None:
            await self.venue.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        self.venue = self._runner = None

    async def __aenter__(self) -> VenueEndpoints:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class VenueThread:
    """A venue running on its own thread and event loop, for synchronous callers.

    Parameters
    ----------
    config, **overrides
        As for :class:`VenueServer`.
    """

    def __init__(self, config: VenueConfig | None = None, **overrides: Any) -> None:
        self.server = VenueServer(config, **overrides)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = concurrent.futures.Future[VenueEndpoints]()
        self._stopped: asyncio.Event | None = None

    @property
    def endpoints(self) -> VenueEndpoints:
        assert self.server.endpoints is not None, "the venue is not running"
        return self.server.endpoints

    @property
    def venue(self) -> Venue:
        """The venue state; touch it only through :meth:`call` while the venue runs."""
        assert self.server.venue is not None, "the venue is not running"
        return self.server.venue

    def start(self, timeout_s: float = 60.0) -> VenueEndpoints:
        """Start the venue thread and wait until it listens."""
        self._thread = threading.Thread(target=self._run, name="tradepulse-venue", daemon=True)
        self._thread.start()
        return self._ready.result(timeout=timeout_s)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        try:
            endpoints = await self.server.start()
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(endpoints)
        await self._stopped.wait()
        await self.server.stop()

    def call(self, function: Callable[[Venue], T], timeout_s: float = 10.0) -> T:
        """Run ``function(venue)`` on the venue's loop (thread-safe) and return its result."""
        assert self._loop is not None, "the venue is not running"

        async def invoke() -> T:
            return function(self.venue)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the venue and join its thread."""
        if self._thread is not None and self._thread.is_alive() and self._loop is not None \
                and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> VenueThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
