"""One simulation core: the paper venue under the local venue's rules fills the same orders exactly as the local venue.

The local venue replays the recorded BTCUSDT book; it is paused, and its book, read through ccxt's
real ``binance`` client (``fetch_order_book``), becomes the paper venue's depth snapshot. Then the
same orders go to both — market orders walking several levels (the second into liquidity the
first already took), a sell, a marketable limit order — and the fills must be identical: prices,
quantities, fees and the asset each fee is charged in. Both walk books with
``tradepulse.sim.fills.take_levels`` and charge with ``tradepulse.sim.fees.commission``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from emulator_fixtures import VENUE_API_KEY, VENUE_API_SECRET, new_account, run

from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.paper import PaperVenue
from tradepulse.emulator import AccountSpec, VenueThread
from tradepulse.model.events import DepthSnapshot
from tradepulse.model.orders import Order, OrderType, Side, TimeInForce
from tradepulse.sim.market import FeeSchedule
from tradepulse.sim.rules import LOCAL_VENUE_RULES

BTC = "BTC/USDT"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    with VenueThread(accounts=(AccountSpec(VENUE_API_KEY, VENUE_API_SECRET),), seed=21) as running:
        running.call(lambda v: v.replayer.pause())  # one book, for both venues
        yield running


def order(side: Side, quantity: str, limit: D | None = None) -> Order:
    kind = OrderType.LIMIT if limit is not None else OrderType.MARKET
    return Order(f"tp-parity-{next(_ids)}", BTC, side, kind, D(quantity), datetime.now(UTC), limit_price=limit,
                 time_in_force=TimeInForce.IOC if limit is not None else TimeInForce.GTC)


def test_the_paper_venue_under_local_venue_rules_fills_like_the_local_venue(venue):
    key, secret = new_account(venue, {"USDT": "500000", "BTC": "20"})
    env = {"TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
           "TRADEPULSE_BINANCE_URL": venue.endpoints.base_url}
    maker_bps, taker_bps = venue.call(lambda v: (v.config.maker_fee * 10_000, v.config.taker_fee * 10_000))

    async def scenario():
        local = CcxtVenue.create("binance", environ=env, symbols=[BTC], retry=RetryPolicy(seed=1), use_websocket=False)
        await local.connect()
        try:
            instrument = (await local.instruments())[BTC]
            book = await local.exchange.fetch_order_book(BTC, limit=5000)
            levels = lambda rows: tuple((D(repr(price)), D(repr(amount))) for price, amount, *_ in rows)  # noqa: E731
            now = datetime.now(UTC)
            paper = PaperVenue([instrument], clock=lambda: now, balances={"USDT": D("500000"), "BTC": D("20")},
                               fees=FeeSchedule(maker_bps=maker_bps, taker_bps=taker_bps), rules=LOCAL_VENUE_RULES)
            await paper.connect()
            paper.on_market(DepthSnapshot(BTC, now, int(book["nonce"]), levels(book["bids"]), levels(book["asks"])))
            best_ask = levels(book["asks"])[0][0]
            orders = [
                order(Side.BUY, "1.5"),     # walks several ask levels
                order(Side.BUY, "0.8"),     # into what the first one left
                order(Side.SELL, "2.1"),    # walks the bids; fee in quote
                order(Side.BUY, "3", instrument.round_price(best_ask * D("1.0002"))),  # marketable IOC limit, capped by its price
            ]
            compared = []
            for sent in orders:
                local_answer = await local.submit_order(sent)
                paper_answer = await paper.submit_order(sent)
                compared.append((sent.client_order_id, local_answer.status, paper_answer.status))
            local_fills = await local.my_trades(BTC)
            paper_fills = await paper.my_trades(BTC)
        finally:
            await local.close()
        return compared, local_fills, paper_fills

    compared, local_fills, paper_fills = run(scenario(), timeout_s=60)
    assert all(local_status == paper_status for _, local_status, paper_status in compared), compared

    def shape(fills):
        return sorted((fill.client_order_id, fill.side, fill.price, fill.quantity, fill.fee, fill.fee_currency)
                      for fill in fills)

    assert len(local_fills) > len(compared)  # more than one level per order: the walk is exercised
    assert shape(paper_fills) == shape(local_fills)
    assert {fill.fee_currency for fill in local_fills} == {"BTC", "USDT"}  # buyers pay in base, sellers in quote
