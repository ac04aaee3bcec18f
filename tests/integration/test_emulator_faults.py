"""Injected venue faults, seen through ccxt's real binance classes: what a TradePulse adapter must survive."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import ccxt
import pytest
from emulator_fixtures import (
    VENUE_API_KEY,
    VENUE_API_SECRET,
    binance_client,
    control,
    new_account,
    run,
    user_stream_ready,
)

from tradepulse.emulator import AccountSpec, VenueThread

SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    """A venue with a small weight budget (so 429 comes after a few calls) and a fixed seed."""
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),), weight_limit_per_minute=400,
                     seed=11) as running:
        yield running


@pytest.fixture(autouse=True)
def clear_faults(venue: VenueThread) -> Iterator[None]:
    control(venue, "DELETE", "/faults")
    yield
    control(venue, "DELETE", "/faults")



def test_wrong_secret_and_unknown_key_are_authentication_errors(venue):
    key, _ = new_account(venue)

    async def attempt(api_key, api_secret):
        async with binance_client(venue, api_key, api_secret) as exchange:
            await exchange.fetch_balance()

    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        run(attempt(key, "wrong-secret"))
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        run(attempt("no-such-key", "whatever"))


def test_clock_skew_gives_invalid_nonce_until_the_client_resyncs(venue):
    control(venue, "POST", "/faults", {"clock_skew_ms": -30_000})

    async def scenario():
        async with binance_client(venue) as exchange:
            with pytest.raises(ccxt.InvalidNonce, match="-1021"):
                await exchange.fetch_balance()
            await exchange.load_time_difference()  # what adjustForTimeDifference does
            return await exchange.fetch_balance()

    assert "USDT" in run(scenario())


def test_weight_exhaustion_gives_429_then_418_for_a_client_that_keeps_going(venue):
    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            with pytest.raises(ccxt.DDoSProtection, match="429") as throttled:
                for _ in range(20):
                    await exchange.fetch_order_book(SYMBOL, limit=1000)  # weight 50 each
            retry_after = exchange.last_response_headers.get("Retry-After")
            with pytest.raises(ccxt.DDoSProtection, match="418") as banned:
                await exchange.fetch_time()
            return throttled.value, retry_after, banned.value, exchange.last_response_headers.get("Retry-After")

    throttled, retry_after, banned, ban_retry_after = run(scenario())
    assert "-1003" in str(throttled) and int(retry_after) >= 1
    assert "banned until" in str(banned) and int(ban_retry_after) >= 60


def test_a_client_that_honours_retry_after_is_not_banned(venue):
    control(venue, "POST", "/faults", {"rate_limit_next": 1})

    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            with pytest.raises(ccxt.DDoSProtection):
                await exchange.fetch_time()
            await asyncio.sleep(float(exchange.last_response_headers["Retry-After"]))
            return await exchange.fetch_time()

    assert run(scenario()) > 0


def test_control_ban_answers_418_with_retry_after(venue):
    control(venue, "POST", "/ban", {"seconds": 30})

    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            with pytest.raises(ccxt.DDoSProtection, match="418"):
                await exchange.fetch_time()
            return int(exchange.last_response_headers["Retry-After"])

    assert 1 <= run(scenario()) <= 30


def test_injected_server_errors_are_network_errors_and_then_stop(venue):
    control(venue, "POST", "/faults", {"rest_error_next": 2, "rest_error_status": 503})

    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            failures = []
            for _ in range(2):
                with pytest.raises(ccxt.NetworkError) as failed:
                    await exchange.fetch_time()
                failures.append(failed.value)
            return failures, await exchange.fetch_time()

    failures, server_time = run(scenario())
    assert all(isinstance(f, ccxt.ExchangeNotAvailable) for f in failures) and server_time > 0


def test_random_server_errors_repeat_exactly_for_the_same_seed(venue):
    async def pattern():
        async with binance_client(venue, load_markets=False) as exchange:
            outcome = []
            for _ in range(16):
                try:
                    await exchange.fetch_time()
                    outcome.append("ok")
                except ccxt.ExchangeNotAvailable:
                    outcome.append("5xx")
            return outcome

    control(venue, "POST", "/faults", {"rest_error_rate": 0.5})
    first = run(pattern())
    control(venue, "DELETE", "/faults")  # restarts the random sequence from the seed
    control(venue, "POST", "/faults", {"rest_error_rate": 0.5})
    second = run(pattern())
    assert first == second and "ok" in first and "5xx" in first


def test_added_latency_delays_every_answer(venue):
    control(venue, "POST", "/faults", {"latency_ms": 300})

    async def scenario():
        async with binance_client(venue, load_markets=False) as exchange:
            started = time.monotonic()
            await exchange.fetch_time()
            return time.monotonic() - started

    assert run(scenario()) >= 0.3


def test_lost_order_answer_leaves_exactly_one_order_found_by_client_order_id(venue):
    key, secret = new_account(venue)
    control(venue, "POST", "/faults", {"lose_order_response_next": 1})

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            bid = (await exchange.fetch_order_book(SYMBOL, limit=5))["bids"][0][0]
            price = round(bid * 0.97, 2)
            with pytest.raises(ccxt.NetworkError):
                await exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, params={"clientOrderId": "lost-1"})
            found = await exchange.fetch_order(None, SYMBOL, params={"origClientOrderId": "lost-1"})
            open_orders = await exchange.fetch_open_orders(SYMBOL)
            all_orders = await exchange.fetch_orders(SYMBOL)
            return found, open_orders, all_orders

    found, open_orders, all_orders = run(scenario())
    assert found["clientOrderId"] == "lost-1" and found["status"] == "open"
    assert [o["clientOrderId"] for o in open_orders] == ["lost-1"]
    assert [o["id"] for o in all_orders] == [found["id"]]


def test_dropped_market_socket_makes_ccxt_reconnect_and_data_flows_again(venue):
    def opened() -> int:
        return control(venue, "GET", "/state")["connectionsOpened"]["market"]

    async def scenario():
        async with binance_client(venue) as exchange:
            await exchange.watch_trades(SYMBOL)
            before = await asyncio.to_thread(opened)
            dropped = await asyncio.to_thread(control, venue, "POST", "/ws/drop", {"target": "market"})
            failures, trades = 0, []
            # ccxt fails a watch that was pending when the socket died (NetworkError); a watch made
            # after it noticed the close simply opens a new socket. Either way data must come back
            # over a new connection.
            while not trades or await asyncio.to_thread(opened) == before:
                try:
                    trades = await exchange.watch_trades(SYMBOL)
                except ccxt.NetworkError:
                    failures += 1
            return dropped, failures, trades

    dropped, failures, trades = run(scenario(), timeout_s=30)
    assert dropped["dropped"] >= 1 and trades[-1]["symbol"] == SYMBOL and failures <= 1


def test_dropped_user_socket_reconnects_and_reports_new_orders(venue):
    key, secret = new_account(venue)

    async def scenario():
        async with binance_client(venue, key, secret) as exchange:
            watcher = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
            await user_stream_ready(venue, key)
            await asyncio.to_thread(control, venue, "POST", "/ws/drop", {"target": "user"})
            with pytest.raises(ccxt.NetworkError):
                await watcher
            watcher = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
            await user_stream_ready(venue, key)
            order = await exchange.create_order(SYMBOL, "market", "buy", 0.0002)
            return order, await asyncio.wait_for(watcher, 10)

    order, updates = run(scenario())
    assert updates[-1]["id"] == order["id"]


def test_scheduled_socket_drops_keep_happening_and_data_keeps_coming(venue):
    opened_before = control(venue, "GET", "/state")["connectionsOpened"]["market"]
    control(venue, "POST", "/faults", {"ws_drop_every_s": 1.0})

    async def scenario():
        async with binance_client(venue) as exchange:
            batches = 0
            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:
                try:
                    await exchange.watch_trades(SYMBOL)
                    batches += 1
                except ccxt.NetworkError:
                    pass  # the socket was cut under a pending watch; the next call reconnects
            return batches

    batches = run(scenario())
    reconnects = control(venue, "GET", "/state")["connectionsOpened"]["market"] - opened_before
    assert reconnects >= 3 and batches >= 3


def test_control_api_reads_and_validates_fault_settings(venue):
    changed = control(venue, "POST", "/faults", {"latency_ms": 5, "rest_error_rate": 0.25})
    assert changed["latency_ms"] == 5 and changed["rest_error_rate"] == 0.25
    assert control(venue, "GET", "/faults") == changed
    with pytest.raises(urllib.error.HTTPError) as refused:
        control(venue, "POST", "/faults", {"no_such_fault": 1})
    assert refused.value.code == 400
    assert "no_such_fault" in json.loads(refused.value.read())["error"]
    state = control(venue, "GET", "/state")
    assert set(state["markets"]) == {"BTCUSDT", "ETHUSDT"} and state["markets"]["BTCUSDT"]["lastUpdateId"] > 0


def test_control_api_adds_accounts_moves_balances_and_steers_the_replay(venue):
    control(venue, "POST", "/accounts", {"apiKey": "ctl-key", "apiSecret": "ctl-secret", "balances": {"USDT": "70"}})

    async def scenario():
        async with binance_client(venue, "ctl-key", "ctl-secret") as exchange:
            watcher = asyncio.ensure_future(exchange.watch_balance())
            await user_stream_ready(venue, "ctl-key")
            await asyncio.to_thread(control, venue, "POST", "/balances",
                                    {"apiKey": "ctl-key", "asset": "USDT", "delta": "30"})
            pushed = await asyncio.wait_for(watcher, 10)
            return pushed, await exchange.fetch_balance()

    pushed, fetched = run(scenario())
    assert pushed["USDT"]["free"] == 100 and fetched["USDT"]["total"] == 100
    paused = control(venue, "POST", "/replay", {"paused": True, "speed": 2})
    try:
        assert paused["paused"] is True and paused["speed"] == 2
        position = paused["position"]
        time.sleep(0.3)  # a deliberate wait: nothing may happen during it (at 2x, ~150 events would)
        assert control(venue, "GET", "/state")["position"] == position
    finally:
        resumed = control(venue, "POST", "/replay", {"paused": False, "speed": 1})
    assert resumed["paused"] is False and resumed["speed"] == 1
    with pytest.raises(urllib.error.HTTPError):
        control(venue, "POST", "/replay", {"speed": "fast"})
