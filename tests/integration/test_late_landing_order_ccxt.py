"""An order whose answer was lost and that lands late is never sent a second time while it still could land.

Binance, like the local venue, refuses a duplicate client order id only while the first order is
still open, so a market order looked up too early (not there yet), sent again under the same id,
and then landing after all would fill twice. The local venue's ``land_order_late`` fault cuts the
connection at once and lets the order reach the matching engine later, within its recvWindow.
The engine (through ccxt's real ``binance`` class) must wait for the venue's answer, or for the
window to pass, before it calls the order absent; the account must hold one order and one fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from emulator_fixtures import VENUE_API_KEY, VENUE_API_SECRET, binance_client, control, eventually, new_account, run
from engine_fixtures import BTC, started_engine

from tradepulse.emulator import AccountSpec, VenueThread
from tradepulse.execution import OrderIntent, OrderStatus, OrderType, Side, SubmitStatus
from tradepulse.store import Journal


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),), seed=13) as running:
        yield running




@pytest.mark.parametrize("late_ms", [1500, 4000])
def test_a_late_landing_market_order_fills_once(venue, tmp_path: Path, late_ms: int):
    key, secret = new_account(venue, {"USDT": "1000", "BTC": "0"})

    async def scenario() -> None:
        with Journal(tmp_path / "journal.sqlite") as journal:
            engine = await started_engine(venue, key, secret, journal)
            adapter, clock, execution = engine.venue, engine.clock, engine.execution
            try:
                async with binance_client(venue, key, secret) as exchange:
                    ask = D(repr((await exchange.fetch_order_book(BTC, 5))["asks"][0][0]))
                    await asyncio.to_thread(control, venue, "POST", "/faults",
                                            {"land_order_late_next": 1, "land_order_late_ms": late_ms})
                    intent = OrderIntent(engine.strategy_id, BTC, Side.BUY, D("0.001"), OrderType.MARKET, reference_price=ask)
                    result = await execution.submit(intent, ask, clock.now())
                    # The answer was lost: the result says so and holds the order, nothing to guess.
                    assert result.status is SubmitStatus.UNKNOWN and result.order.status is OrderStatus.SUBMITTED
                    client_order_id = result.order.client_order_id
                    assert [order.client_order_id for order in execution.unknown_orders()] == [client_order_id]

                    async def settled() -> bool:
                        pending = execution.unknown_orders()
                        if pending:
                            await execution.apply_outcomes(await execution.fetch_outcomes(pending))
                        return not execution.unknown_orders()

                    await eventually(settled, timeout_s=30, interval_s=0.2)
                    await eventually(lambda: asyncio.to_thread(lambda: not control(venue, "GET", "/state")["lateOrders"]["inFlight"]))
                    await asyncio.sleep(0)  # let the stream deliver what the landing published
                    trades = await exchange.fetch_my_trades(BTC)
                    orders = [order for order in await exchange.fetch_orders(BTC) if order["clientOrderId"] == client_order_id]
                    bought = sum((D(repr(trade["amount"])) for trade in trades), D(0))
                    assert len(orders) == 1, f"the venue holds {len(orders)} orders under {client_order_id}"
                    assert bought == D("0.001")
                    order = engine.oms.order(client_order_id)
                    assert order.status is OrderStatus.FILLED and order.filled_quantity == D("0.001")
            finally:
                await adapter.close()

    run(scenario(), timeout_s=90)
