"""A cancel that failed is sent again by the next kill or cancel-all, and each cancel is reported as it went.

The engine trades through ccxt's real ``binance`` class against the local venue. A resting limit
order is working at the venue; every REST request then fails, so the kill switch's cancel cannot
reach the venue and the order stays PENDING_CANCEL (the venue may still be working it). Once the
venue is back, a second kill (or a cancel-all) must send that cancel again, and the order must
end CANCELED at the venue. Each cancel-all reports per order: cancelled, failed (with the
reason), or still pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from emulator_fixtures import VENUE_API_KEY, VENUE_API_SECRET, binance_client, control, new_account, run
from engine_fixtures import BTC, started_engine

from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.emulator import AccountSpec, VenueThread
from tradepulse.execution import OrderIntent, OrderStatus, OrderType, Side
from tradepulse.live.engine import LiveEngine
from tradepulse.store import Journal

# The first kill's cancel must fail quickly during the outage (two attempts, tiny delays).
FAST_GIVE_UP = RetryPolicy(attempts=2, seed=3, base_delay_s=0.01, max_delay_s=0.02)


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),), seed=9) as running:
        yield running


async def resting_buy(engine: LiveEngine, exchange) -> str:
    bid = D(repr((await exchange.fetch_order_book(BTC, 5))["bids"][0][0]))
    limit = (bid * D("0.97")).quantize(D("0.01"))  # below the market, inside the price band
    intent = OrderIntent(engine.strategy_id, BTC, Side.BUY, D("0.001"), OrderType.LIMIT, limit_price=limit, reference_price=bid)
    order = (await engine.execution.submit(intent, bid, engine.clock.now())).order
    assert order is not None and order.status is OrderStatus.ACCEPTED
    return order.client_order_id


async def open_ids(exchange) -> set[str]:
    return {order["clientOrderId"] for order in await exchange.fetch_open_orders(BTC)}


@pytest.mark.parametrize("second_press", ["kill", "cancel_all"])
def test_a_cancel_that_failed_is_sent_again_by_the_next_kill_or_cancel_all(venue, tmp_path: Path, second_press: str):
    key, secret = new_account(venue, {"USDT": "1000", "BTC": "0"})

    async def scenario() -> None:
        with Journal(tmp_path / "journal.sqlite") as journal:
            engine = await started_engine(venue, key, secret, journal, retry=FAST_GIVE_UP)
            try:
                async with binance_client(venue, key, secret) as exchange:
                    client_order_id = await resting_buy(engine, exchange)
                    await asyncio.to_thread(control, venue, "POST", "/faults", {"rest_error_rate": 1.0})
                    await engine.halt("operator test: first kill during an outage", "operator:test")
                    assert engine.oms.order(client_order_id).status is OrderStatus.PENDING_CANCEL
                    await asyncio.to_thread(control, venue, "DELETE", "/faults")
                    assert client_order_id in await open_ids(exchange)  # the venue is still working it
                    if second_press == "kill":
                        await engine.halt("operator test: second kill", "operator:test")
                    else:
                        report = await engine.cancel_open_orders()
                        assert [(outcome.client_order_id, outcome.outcome) for outcome in report] == [(client_order_id, "cancelled")]
                    assert engine.oms.order(client_order_id).status is OrderStatus.CANCELED
                    assert client_order_id not in await open_ids(exchange)
                    requests = [event for event in journal.iter_events(kinds=["order.cancel_requested"])]
                    assert len(requests) == 2  # the first (failed) request and the one sent again
            finally:
                await engine.venue.close()

    run(scenario(), timeout_s=90)


def test_cancel_all_reports_each_order_as_cancelled_failed_or_pending(venue, tmp_path: Path):
    key, secret = new_account(venue, {"USDT": "1000", "BTC": "0"})

    async def scenario() -> None:
        with Journal(tmp_path / "journal.sqlite") as journal:
            engine = await started_engine(venue, key, secret, journal, retry=FAST_GIVE_UP)
            try:
                async with binance_client(venue, key, secret) as exchange:
                    first = await resting_buy(engine, exchange)
                    second = await resting_buy(engine, exchange)
                    await asyncio.to_thread(control, venue, "POST", "/faults", {"rest_error_rate": 1.0})
                    during_outage = await engine.cancel_open_orders()
                    await asyncio.to_thread(control, venue, "DELETE", "/faults")
                    assert sorted(outcome.client_order_id for outcome in during_outage) == sorted([first, second])
                    assert {outcome.outcome for outcome in during_outage} == {"failed"}
                    assert all(outcome.reason for outcome in during_outage)  # says why
                    assert {first, second} <= await open_ids(exchange)
                    after = await engine.cancel_open_orders()
                    assert {(outcome.client_order_id, outcome.outcome) for outcome in after} == {(first, "cancelled"), (second, "cancelled")}
                    assert not ({first, second} & await open_ids(exchange))
                    assert await engine.cancel_open_orders() == []  # nothing left to cancel
            finally:
                await engine.venue.close()

    run(scenario(), timeout_s=90)
