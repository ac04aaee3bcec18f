"""Fixtures for tests that talk to the local Binance-spot venue with ccxt's real binance classes.

Import what a test module needs::

    from emulator_fixtures import VENUE_API_KEY, binance_client, new_account, run, venue  # noqa: F401

- ``venue`` (module scope): a running :class:`~tradepulse.emulator.VenueThread` replaying the
  recordings in real time, with one account (``VENUE_API_KEY``/``VENUE_API_SECRET``).
- ``binance_client(venue, ...)``: an async context manager yielding a ``ccxt.pro.binance`` pointed at
  the venue, closed on exit.
- ``new_account(venue, balances)``: a fresh account (own key and secret) so a test's balances and
  orders are its own.
- ``run(coro)``: run a coroutine to completion with a time limit (ccxt objects live in its loop).
- ``eventually(check)``: poll an async check until it returns a truthy value, bounded in time (the
  asynchronous twin of ``tests/polling.py``: a blocking sleep would stall ccxt's event loop).
- ``user_stream_ready(venue, api_key)``: wait until the venue has the account's user-data subscription,
  so events of what the test does next cannot be missed.
- ``control(venue, method, path, body)`` / ``acontrol(...)``: the venue's control API over HTTP (faults,
  replay, state), as an operator or another process would call it.
- ``no_events()``: an empty market feed, for an engine driven by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import ccxt.pro
import pytest

from tradepulse.emulator import AccountSpec, VenueThread

__all__ = ["VENUE_API_KEY", "VENUE_API_SECRET", "acontrol", "binance_client", "control", "eventually", "make_binance",
           "new_account", "no_events", "run", "user_stream_ready", "venue"]

T = TypeVar("T")

VENUE_API_KEY = "tradepulse-test-key-7Hq2"
VENUE_API_SECRET = "tradepulse-test-secret-b3Kx9"
_account_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    """A venue replaying the recordings in real time, with one funded account."""
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),)) as running:
        yield running


def make_binance(venue: VenueThread, api_key: str | None = VENUE_API_KEY, api_secret: str | None = VENUE_API_SECRET,
                 **overrides: Any) -> ccxt.pro.binance:
    """Return a ``ccxt.pro.binance`` pointed at ``venue`` (create it inside the loop that will use it).

    ccxt applies its spot error table (``exceptions['spot']['exact']``, e.g. ``-1008``, ``-1131``)
    only to requests whose URL is Binance's real spot host; on a local URL it is skipped. Merging it
    into the general table makes errors map exactly as they do against the real venue.
    """
    overrides.setdefault("enableRateLimit", False)  # the venue's own limiter is what tests exercise
    exchange = ccxt.pro.binance(venue.endpoints.ccxt_config(api_key, api_secret, **overrides))
    exchange.exceptions["exact"].update(exchange.exceptions["spot"]["exact"])
    return exchange


@contextlib.asynccontextmanager
async def binance_client(venue: VenueThread, api_key: str | None = VENUE_API_KEY,
                         api_secret: str | None = VENUE_API_SECRET, *, load_markets: bool = True,
                         **overrides: Any) -> AsyncIterator[ccxt.pro.binance]:
    """Yield a ccxt.pro binance client for ``venue`` (markets loaded), always closing it."""
    exchange = make_binance(venue, api_key, api_secret, **overrides)
    try:
        if load_markets:
            await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


def new_account(venue: VenueThread, balances: dict[str, str] | None = None) -> tuple[str, str]:
    """Create an account with its own key and secret on ``venue``; return ``(api_key, api_secret)``."""
    number = next(_account_numbers)
    api_key, api_secret = f"test-account-{number}-key", f"test-account-{number}-secret"
    chosen = balances if balances is not None else {"USDT": "10000", "BTC": "0.5", "ETH": "5"}
    venue.call(lambda v: v.accounts.add(api_key, api_secret, chosen))
    return api_key, api_secret


def run(coroutine: Awaitable[T], timeout_s: float = 60.0) -> T:
    """Run ``coroutine`` in a fresh event loop, failing after ``timeout_s``."""
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout_s)
    return asyncio.run(bounded())


async def eventually(check: Callable[[], Awaitable[T]], timeout_s: float = 10.0, interval_s: float = 0.05) -> T:
    """Await ``check()`` until it returns something truthy; fail with the last value after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s (last value {value!r})")
        await asyncio.sleep(interval_s)


async def user_stream_ready(venue: VenueThread, api_key: str = VENUE_API_KEY, count: int = 1) -> None:
    """Wait until ``api_key`` has ``count`` user-data subscriptions on ``venue`` (after a ``watch_*`` call)."""
    async def subscribed() -> bool:
        return await asyncio.to_thread(venue.call, lambda v: v.user_hub.subscription_count(api_key)) >= count
    await eventually(subscribed)


def control(venue: VenueThread, method: str, path: str, body: dict | None = None) -> dict:
    """Call the venue's control API (``/_control`` + ``path``) over HTTP, as an operator or another process would."""
    request = urllib.request.Request(venue.endpoints.control_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


async def acontrol(venue: VenueThread, method: str, path: str, body: dict | None = None) -> dict:
    """:func:`control` from a coroutine (in a thread, so the event loop keeps serving ccxt)."""
    return await asyncio.to_thread(control, venue, method, path, body)


async def no_events() -> AsyncIterator:
    """An empty market feed: for an engine started and driven by hand."""
    return
    yield  # pragma: no cover - makes this an async generator

