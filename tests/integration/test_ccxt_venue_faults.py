"""The adapter and the feed under the local venue's injected faults, through real ccxt and real sockets.

Lost order answers, server errors, rate limits and bans, clock skew, bad credentials, dropped
sockets and order-book sequence gaps. Venue state is checked with a separate plain ccxt client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from emulator_fixtures import (
    VENUE_API_KEY,
    VENUE_API_SECRET,
    acontrol,
    binance_client,
    control,
    eventually,
    new_account,
    run,
    user_stream_ready,
)

from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.emulator import AccountSpec, VenueThread
from tradepulse.errors import (
    AuthenticationFailed,
    OrderNotFound,
    RateLimited,
    TemporaryVenueError,
)
from tradepulse.model.events import BookTicker, Trade
from tradepulse.model.orders import Order, OrderType, Side
from tradepulse.model.venue import OrderUpdate, VenueFill
from tradepulse.model.venue import VenueOrderStatus as S

BTC = "BTC/USDT"


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),), seed=5) as running:
        yield running


@pytest.fixture(autouse=True)
def clear_faults(venue: VenueThread) -> Iterator[None]:
    control(venue, "DELETE", "/faults")
    yield
    control(venue, "DELETE", "/faults")
    venue.call(lambda v: v.replayer.resume())




@contextlib.asynccontextmanager
async def connected(venue: VenueThread, key: str, secret: str, **options) -> AsyncIterator[CcxtVenue]:
    env = {"TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
           "TRADEPULSE_BINANCE_URL": venue.endpoints.base_url}
    options.setdefault("retry", RetryPolicy(seed=3, base_delay_s=0.05))
    adapter = CcxtVenue.create("binance", environ=env, symbols=[BTC], **options)
    try:
        await adapter.connect()
        yield adapter
    finally:
        await adapter.close()


def count_requests(exchange) -> list[tuple[float, str, str]]:
    """Record every HTTP request the ccxt client sends (time, method, path)."""
    sent: list[tuple[float, str, str]] = []
    original = exchange.fetch

    async def counting(url, method="GET", headers=None, body=None):
        sent.append((time.monotonic(), method, url.split("?")[0].rsplit("/api/v3/", 1)[-1]))
        return await original(url, method, headers, body)

    exchange.fetch = counting
    return sent


def order(client_order_id: str, quantity: str, limit: str | None = None) -> Order:
    kind = OrderType.LIMIT if limit else OrderType.MARKET
    return Order(client_order_id, BTC, Side.BUY, kind, D(quantity), datetime.now(UTC), limit_price=D(limit) if limit else None)


async def resting_price(exchange) -> str:
    bid = (await exchange.fetch_order_book(BTC, 5))["bids"][0][0]
    return format((D(repr(bid)) * D("0.9")).quantize(D("0.01")), "f")


async def orders_at_venue(venue: VenueThread, key: str, secret: str) -> tuple[list[dict], list[dict], list[dict]]:
    async with binance_client(venue, key, secret) as plain:
        return await plain.fetch_orders(BTC), await plain.fetch_open_orders(BTC), await plain.fetch_my_trades(BTC)


def test_a_lost_order_acknowledgement_leaves_exactly_one_order_at_the_venue(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            price = await resting_price(adapter.exchange)
            await acontrol(venue, "POST", "/faults", {"lose_order_response_next": 1})
            resting = await adapter.submit_order(order("tp-lost-1", "0.00100", price))
            await acontrol(venue, "POST", "/faults", {"lose_order_response_next": 1})
            filled = await adapter.submit_order(order("tp-lost-2", "0.00100"))
            published = adapter.updates().drain_nowait()
            stats = dict(adapter.stats)
        return resting, filled, published, stats, await orders_at_venue(venue, key, secret)

    resting, filled, published, stats, (all_orders, open_orders, my_trades) = run(scenario())
    assert resting.status is S.NEW and filled.status is S.FILLED
    assert sorted(o["clientOrderId"] for o in all_orders) == ["tp-lost-1", "tp-lost-2"]  # one each, no duplicate
    assert [o["clientOrderId"] for o in open_orders] == ["tp-lost-1"]
    assert stats["unknown_outcomes"] == 2 and stats["recovered_by_lookup"] == 2 and stats.get("resubmissions", 0) == 0
    # The lost answer's fills were fetched: every venue trade reached the update stream.
    fills = {f.trade_id for f in published if isinstance(f, VenueFill)}
    assert fills == {str(t["id"]) for t in my_trades} and fills


def test_an_order_the_venue_never_received_is_not_sent_again_before_its_receive_window_has_passed(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        # A short recvWindow keeps the test quick; the rule is the same with Binance's 10 s.
        async with connected(venue, key, secret, config={"options": {"recvWindow": 500}}) as adapter:
            price = await resting_price(adapter.exchange)
            sent = count_requests(adapter.exchange)
            await acontrol(venue, "POST", "/faults", {"rest_error_next": 1, "rest_error_status": 502})
            with pytest.raises(TemporaryVenueError, match="could still land"):
                await adapter.submit_order(order("tp-resend-1", "0.00100", price))
            still_landable = adapter.could_still_land("tp-resend-1")
            first_stats = dict(adapter.stats)
            await asyncio.sleep(adapter.submitter.submission_window_s)
            landable_after_window = adapter.could_still_land("tp-resend-1")
            answer = await adapter.submit_order(order("tp-resend-1", "0.00100", price))
        return answer, sent, first_stats, still_landable, landable_after_window, await orders_at_venue(venue, key, secret)

    answer, sent, stats, still_landable, landable_after_window, (all_orders, _, _) = run(scenario())
    assert still_landable and not landable_after_window
    assert stats["unknown_outcomes"] == 1 and stats.get("resubmissions", 0) == 0
    assert answer.status is S.NEW
    assert [o["clientOrderId"] for o in all_orders] == ["tp-resend-1"]
    # create (502) -> ask by client order id (not found, confirmed by open orders) -> nothing more until the window passed
    assert [path for _, method, path in sent] == ["order", "order", "openOrders", "order"]
    assert [method for _, method, _ in sent] == ["POST", "GET", "GET", "POST"]


def test_a_late_order_that_lands_after_its_receive_window_is_dropped_and_the_adapter_calls_it_absent(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret, config={"options": {"recvWindow": 500}}) as adapter:
            price = await resting_price(adapter.exchange)
            await acontrol(venue, "POST", "/faults", {"land_order_late_next": 1, "land_order_late_ms": 1200})
            with pytest.raises(TemporaryVenueError, match="could still land"):
                await adapter.submit_order(order("tp-late-1", "0.00100", price))

            async def landed_or_dropped():
                return (await acontrol(venue, "GET", "/state"))["lateOrders"]["outcomes"]

            outcomes = await eventually(landed_or_dropped, timeout_s=10)
            await eventually(lambda: asyncio.sleep(0, not adapter.could_still_land("tp-late-1")), timeout_s=10)
            with pytest.raises(OrderNotFound):
                await adapter.fetch_order(BTC, "tp-late-1")
        return outcomes, await orders_at_venue(venue, key, secret)

    outcomes, (all_orders, _, _) = run(scenario())
    assert len(outcomes) == 1 and outcomes[0].startswith("dropped") and "recvWindow" in outcomes[0]
    assert all_orders == []


def test_when_the_venue_cannot_be_asked_the_outcome_stays_unknown_and_nothing_is_resent(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret, retry=RetryPolicy(attempts=1)) as adapter:
            price = await resting_price(adapter.exchange)
            await acontrol(venue, "POST", "/faults", {"rest_error_next": 2})
            with pytest.raises(TemporaryVenueError, match="unknown") as raised:
                await adapter.submit_order(order("tp-unknown-1", "0.00100", price))
            with pytest.raises(OrderNotFound):  # later, the engine asks again and learns it was never placed
                await adapter.fetch_order(BTC, "tp-unknown-1")
            return raised.value

    run(scenario())


def test_a_429_is_waited_out_for_its_retry_after_instead_of_hammered_into_a_ban(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            sent = count_requests(adapter.exchange)
            await acontrol(venue, "POST", "/faults", {"rate_limit_next": 1})
            started = time.monotonic()
            balances = await adapter.balances()
            elapsed = time.monotonic() - started
            again = await adapter.open_orders(BTC)  # no 418: the venue was not provoked
            return balances, again, elapsed, sent, dict(adapter.stats)

    balances, again, elapsed, sent, stats = run(scenario())
    assert balances["USDT"].free == D("1000") and again == []
    assert [path for _, _, path in sent] == ["account", "account", "openOrders"]
    assert sent[1][0] - sent[0][0] >= 0.9 and elapsed >= 0.9  # Retry-After: 1
    assert stats["rate_limited"] == 1 and stats.get("refused_locally", 0) == 0


def test_during_a_418_ban_no_request_is_sent_and_trading_resumes_after_it(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret, retry=RetryPolicy(max_rate_limit_wait_s=0.5)) as adapter:
            sent = count_requests(adapter.exchange)
            await acontrol(venue, "POST", "/ban", {"seconds": 3})
            with pytest.raises(RateLimited) as first:
                await adapter.balances()
            refusals = 0
            during_ban = time.monotonic() + 1.5
            while time.monotonic() < during_ban:  # an impatient caller: every attempt fails fast, locally
                with pytest.raises(RateLimited):
                    await adapter.open_orders(BTC)
                refusals += 1
                await asyncio.sleep(0.1)
            requests_during_ban = len(sent)

            async def balances_after_ban():
                try:
                    return await adapter.balances()
                except RateLimited:
                    return None

            after = await eventually(balances_after_ban, timeout_s=8)
            return first.value, refusals, requests_during_ban, after, sent

    first, refusals, requests_during_ban, after, sent = run(scenario())
    assert "418" in str(first) or "wait" in str(first)
    assert 2 <= first.retry_after_s <= 3
    assert refusals >= 5 and requests_during_ban == 1  # only the request that discovered the ban
    assert after["USDT"].free == D("1000") and len(sent) == 2


def test_clock_skew_is_resynced_and_an_order_refused_for_it_is_placed_once(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret) as adapter:
            price = await resting_price(adapter.exchange)
            await acontrol(venue, "POST", "/faults", {"clock_skew_ms": -30_000})
            placed = await adapter.submit_order(order("tp-skew-1", "0.00100", price))
            balances = await adapter.balances()
            return placed, balances, dict(adapter.stats)

    placed, balances, stats = run(scenario())
    assert placed.status is S.NEW and "USDT" in balances
    assert stats["clock_resyncs"] >= 2 and stats["resubmissions"] == 1  # connect, then the -1021
    control(venue, "DELETE", "/faults")  # the plain client below does not resync its clock
    all_orders, _, _ = run(orders_at_venue(venue, key, secret))
    assert [o["clientOrderId"] for o in all_orders] == ["tp-skew-1"]


@pytest.mark.parametrize("bad", ["wrong-secret", "unknown-key"])
def test_bad_credentials_fail_once_at_connect_with_a_clear_error(venue, bad):
    key, secret = new_account(venue)
    key, secret = (key, "definitely-wrong-secret-77") if bad == "wrong-secret" else ("unknown-key-1234", "some-secret-5678")

    async def scenario():
        adapter = CcxtVenue.create("binance", environ={"TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
                                                       "TRADEPULSE_BINANCE_URL": venue.endpoints.base_url})
        sent = count_requests(adapter.exchange)
        try:
            with pytest.raises(AuthenticationFailed) as raised:
                await adapter.connect()
            return raised.value, sent
        finally:
            await adapter.close()

    error, sent = run(scenario())
    assert "TRADEPULSE_BINANCE_API_KEY" in str(error) and ("-1022" in str(error) or "-2015" in str(error))
    for shown in (str(error), repr(error)):
        assert secret not in shown and key not in shown
    assert error.__cause__ is None and error.__suppress_context__
    assert sum(1 for _, _, path in sent if path == "account") == 1  # not retried: retrying cannot fix a key


def test_a_dropped_user_socket_reconnects_and_backfills_what_happened_meanwhile(venue):
    key, secret = new_account(venue, {"USDT": "1000"})

    async def scenario():
        async with connected(venue, key, secret, settle_s=0.3) as adapter:
            await user_stream_ready(venue, key)
            await adapter.submit_order(order("tp-drop-1", "0.00100", await resting_price(adapter.exchange)))
            adapter.updates().drain_nowait()
            await acontrol(venue, "POST", "/ws/drop", {"target": "user"})
            async with binance_client(venue, key, secret) as plain:  # happens while the adapter's socket is down
                await plain.cancel_order(None, BTC, params={"origClientOrderId": "tp-drop-1"})

            async def cancelled():
                return [u for u in adapter.updates().drain_nowait() if isinstance(u, OrderUpdate) and u.status is S.CANCELED]

            updates = await eventually(cancelled)
            await user_stream_ready(venue, key)  # resubscribed
            return updates, dict(adapter.stats)

    updates, stats = run(scenario())
    assert updates[0].client_order_id == "tp-drop-1"
    assert stats["user_stream_reconnects"] >= 1 and stats["user_stream_errors"] >= 1


async def book_matches_rest(venue: VenueThread, feed: CcxtFeed) -> tuple[list, list]:
    """Pause the replay, wait until the feed's book has every published diff, compare with REST depth."""
    venue.call(lambda v: v.replayer.pause())
    try:
        target = venue.call(lambda v: v.markets["BTCUSDT"].book.last_update_id)

        async def caught_up():
            await asyncio.sleep(0)
            return feed.book_nonce == target

        await eventually(caught_up)
        async with binance_client(venue, load_markets=True) as plain:
            rest = await plain.fetch_order_book(BTC, limit=1000)
        bids, asks = feed.book_levels(100)
    finally:
        venue.call(lambda v: v.replayer.resume())
    expected_bids = [(D(repr(p)), D(repr(q))) for p, q in rest["bids"][:100]]
    expected_asks = [(D(repr(p)), D(repr(q))) for p, q in rest["asks"][:100]]
    return (bids, asks), (expected_bids, expected_asks)


def test_a_dropped_market_socket_resubscribes_with_no_trade_missed_and_a_book_equal_to_rest_depth(venue):
    async def scenario():
        feed = CcxtFeed.create("binance", BTC, exchange_url=venue.endpoints.base_url, retry=RetryPolicy(seed=2, base_delay_s=0.05))
        trades: list[Trade] = []
        dropped_at = None
        try:
            async for event in feed:
                if isinstance(event, Trade):
                    trades.append(event)
                if dropped_at is None and len(trades) >= 20:
                    dropped_at = len(trades)
                    await acontrol(venue, "POST", "/ws/drop", {"target": "market"})
                # Both streams failed and came back; the trade stream fetched its gap over REST first.
                stats = feed.stats
                if dropped_at is not None and stats["trades_errors"] and stats["book_errors"] and stats["polls"] \
                        and len(trades) >= dropped_at + 20 and isinstance(event, BookTicker):
                    break
            comparison = await book_matches_rest(venue, feed)
        finally:
            await feed.aclose()
        return trades, comparison, dict(feed.stats)

    trades, (ours, rest), stats = run(scenario())
    ids = [int(t.trade_id) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive: nothing lost, nothing repeated
    assert stats["reconnects"] >= 2 and stats.get("trades_missed", 0) == 0
    assert ours == rest


def test_an_order_book_sequence_gap_is_detected_and_the_book_rebuilt_from_a_new_snapshot(venue):
    async def scenario():
        feed = CcxtFeed.create("binance", BTC, exchange_url=venue.endpoints.base_url, trades=False)
        exchange = feed.exchange
        original = exchange.handle_order_book
        lost: list[dict] = []

        def losing_one_diff(client, message):
            # The network loses one depth diff once the book is live: ccxt must notice the hole.
            if not lost and feed.stats["book_events"] >= 3:
                lost.append(message)
                return None
            return original(client, message)

        exchange.handle_order_book = losing_one_diff
        try:
            async for _ in feed:
                if feed.stats["book_resyncs"] >= 1 and feed.book_nonce:
                    break
            comparison = await book_matches_rest(venue, feed)
        finally:
            await feed.aclose()
        return lost, comparison, dict(feed.stats)

    lost, (ours, rest), stats = run(scenario())
    assert len(lost) == 1 and stats["book_resyncs"] >= 1
    assert ours == rest


def test_when_watching_keeps_failing_the_feed_falls_back_to_rest_polling(venue):
    async def scenario():
        # A WebSocket address where nothing listens: every watch fails with a real connection error.
        feed = CcxtFeed.create("binance", BTC, exchange_url=venue.endpoints.base_url, order_book=False, poll_interval_s=0.2,
                               max_watch_failures=2, retry=RetryPolicy(seed=4, base_delay_s=0.05))
        feed.exchange.urls["api"]["ws"]["spot"] = "ws://127.0.0.1:9/stream/ws"
        trades = []
        try:
            async for event in feed:
                trades.append(event)
                if len(trades) >= 5:
                    break
        finally:
            await feed.aclose()
        return trades, dict(feed.stats)

    trades, stats = run(scenario())
    assert stats["fallbacks"] == 1 and stats["trades_errors"] == 2 and stats["polls"] >= 1
    assert all(isinstance(t, Trade) for t in trades)
