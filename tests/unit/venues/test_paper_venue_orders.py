"""The paper venue priced from bars and trades: fills, fees, balances, limit orders, latency, ids."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pandas as pd
import pytest
from venue_helpers import BTC, START, D, ManualClock, bar_events, make_order, paper_venue

from tradepulse.model.costs import FixedSlippage, RangeSlippage
from tradepulse.errors import ConfigError, InsufficientFunds, OrderNotFound, OrderRejected
from tradepulse.adapters.paper import FeeSchedule, LatencyModel, OrderUpdate, Venue, VenueFill, VenueOrderStatus
from tradepulse.model.events import Trade


def run(coroutine):
    return asyncio.run(coroutine)


def test_paper_venue_implements_the_venue_protocol():
    assert isinstance(paper_venue(ManualClock()), Venue)


def test_market_buy_on_bars_fills_at_the_open_moved_by_fixed_slippage_and_pays_the_taker_fee():
    async def scenario():
        clock = ManualClock()
        venue = paper_venue(clock, quote="10000", fees=FeeSchedule(maker_bps=2, taker_bps=10), slippage=FixedSlippage(5))
        await venue.connect()
        opened, _ = bar_events(100.0, 101.0, 99.0, 100.5)
        venue.on_market(opened)
        answer = await venue.submit_order(make_order("tp-t-1", "buy", "10"))
        balances = await venue.balances()
        return answer, balances, venue.updates().drain_nowait()

    answer, balances, stream = run(scenario())
    price = D("100") * (1 + D("0.0005"))
    fee = price * 10 * D("0.001")
    assert answer.status is VenueOrderStatus.FILLED and answer.average_price == price
    assert balances["BTC"].free == D("10")
    assert balances["USDT"].free == D("10000") - price * 10 - fee
    fills = [u for u in stream if isinstance(u, VenueFill)]
    assert [(f.price, f.quantity, f.fee, f.is_maker) for f in fills] == [(price, D("10"), fee, False)]
    assert [u.status for u in stream if isinstance(u, OrderUpdate)] == [VenueOrderStatus.NEW, VenueOrderStatus.FILLED]


def test_range_slippage_uses_the_signal_bar_exactly_as_the_backtest_does():
    model = RangeSlippage(base_bps=1.0, impact=1.0)

    async def scenario():
        clock = ManualClock()
        venue = paper_venue(clock, quote="10000", base="1", slippage=model, slippage_notional=10_000.0)
        await venue.connect()
        _, signal_close = bar_events(100.0, 104.0, 98.0, 102.0, volume=50.0)
        next_open, _ = bar_events(103.0, 104.0, 102.0, 103.5, at=START + timedelta(hours=1))
        venue.on_market(signal_close)
        venue.on_market(next_open)
        return await venue.submit_order(make_order("tp-t-1", "sell", "1")), venue

    answer, _ = run(scenario())
    bars = pd.DataFrame({"open": [100.0, 103.0], "high": [104.0, 104.0], "low": [98.0, 102.0], "close": [102.0, 103.5], "volume": [50.0, 1.0]})
    backtest_fraction = model.fractions(bars, 10_000.0)[1]
    assert float(answer.average_price) == pytest.approx(103.0 * (1 - backtest_fraction), rel=1e-12)


def test_buy_beyond_the_free_quote_balance_is_refused_and_changes_nothing():
    async def scenario():
        venue = paper_venue(ManualClock(), quote="500")
        await venue.connect()
        venue.on_market(bar_events(100.0, 101.0, 99.0, 100.0)[0])
        with pytest.raises(InsufficientFunds):
            await venue.submit_order(make_order("tp-t-1", "buy", "5"))
        return await venue.balances(), venue.updates().drain_nowait(), await venue.open_orders()

    balances, stream, open_orders = run(scenario())
    assert balances["USDT"].free == D("500") and stream == [] and open_orders == []


def test_a_cash_account_cannot_sell_what_it_does_not_hold_but_a_margin_account_goes_short():
    async def scenario(allow_short: bool):
        venue = paper_venue(ManualClock(), quote="1000", allow_short=allow_short)
        await venue.connect()
        venue.on_market(bar_events(100.0, 101.0, 99.0, 100.0)[0])
        await venue.submit_order(make_order("tp-t-1", "sell", "2"))
        return await venue.balances()

    with pytest.raises(InsufficientFunds):
        run(scenario(allow_short=False))
    balances = run(scenario(allow_short=True))
    assert balances["BTC"].free == D("-2")
    assert balances["USDT"].free == D("1000") + D("200") - D("0.2")  # proceeds minus the 10 bps fee


def test_a_resting_limit_buy_locks_quote_and_fills_at_its_price_as_maker_only_when_the_bar_trades_through():
    async def scenario():
        venue = paper_venue(ManualClock(), quote="10000", fees=FeeSchedule(maker_bps=1, taker_bps=10))
        await venue.connect()
        first_open, first_close = bar_events(100.0, 101.0, 98.0, 99.0)
        venue.on_market(first_open)
        placed = await venue.submit_order(make_order("tp-t-1", "buy", "10", limit="98"))
        locked = (await venue.balances())["USDT"].locked
        venue.on_market(first_close)  # the low touches 98 but never trades below it
        touched = await venue.fetch_order("BTC/USDT", "tp-t-1")
        second_open, second_close = bar_events(99.0, 99.5, 97.5, 98.5, at=START + timedelta(hours=1))
        venue.on_market(second_open)
        venue.on_market(second_close)
        done = await venue.fetch_order("BTC/USDT", "tp-t-1")
        return placed, locked, touched, done, await venue.my_trades("BTC/USDT"), await venue.balances()

    placed, locked, touched, done, trades, balances = run(scenario())
    assert placed.status is VenueOrderStatus.NEW and locked == D("10") * D("98") * D("1.001")
    assert touched.status is VenueOrderStatus.NEW
    assert done.status is VenueOrderStatus.FILLED and done.average_price == D("98")
    assert [(t.price, t.is_maker, t.fee) for t in trades] == [(D("98"), True, D("0.098"))]
    assert balances["USDT"].locked == 0 and balances["USDT"].free == D("10000") - D("980") - D("0.098")


def test_a_resting_limit_sell_fills_partially_from_trades_printed_through_its_price():
    async def scenario():
        clock = ManualClock()
        venue = paper_venue(clock, quote="0", base="5")
        await venue.connect()
        venue.on_market(Trade("BTC/USDT", START, D("100"), D("1"), "1"))
        await venue.submit_order(make_order("tp-t-1", "sell", "3", limit="101"))
        for number, (price, quantity) in enumerate([("101", "4"), ("101.5", "1"), ("102", "5")], start=2):
            venue.on_market(Trade("BTC/USDT", clock.advance(1), D(price), D(quantity), str(number)))
        return await venue.my_trades("BTC/USDT"), await venue.fetch_order("BTC/USDT", "tp-t-1")

    trades, order = run(scenario())
    # 101 only touches the limit; 101.5 trades 1 through it; 102 fills the remaining 2.
    assert [(t.quantity, t.price) for t in trades] == [(D("1"), D("101")), (D("2"), D("101"))]
    assert order.status is VenueOrderStatus.FILLED and order.filled_quantity == D("3")


def test_client_order_ids_are_idempotency_keys_and_orders_are_found_by_them():
    async def scenario():
        venue = paper_venue(ManualClock())
        await venue.connect()
        venue.on_market(bar_events(100.0, 101.0, 99.0, 100.0)[0])
        await venue.submit_order(make_order("tp-t-1", "buy", "1"))
        with pytest.raises(OrderRejected, match="duplicate"):
            await venue.submit_order(make_order("tp-t-1", "buy", "1"))
        found = await venue.fetch_order("BTC/USDT", "tp-t-1")
        with pytest.raises(OrderNotFound):
            await venue.fetch_order("BTC/USDT", "tp-t-2")
        return found, await venue.my_trades("BTC/USDT")

    found, trades = run(scenario())
    assert found.status is VenueOrderStatus.FILLED and found.filled_quantity == D("1")
    assert len(trades) == 1  # the duplicate never traded


def test_cancelling_a_resting_order_unlocks_its_balance_and_a_finished_order_cannot_be_cancelled():
    async def scenario():
        venue = paper_venue(ManualClock(), quote="10000")
        await venue.connect()
        venue.on_market(bar_events(100.0, 101.0, 99.0, 100.0)[0])
        await venue.submit_order(make_order("tp-t-1", "buy", "1", limit="90"))
        await venue.submit_order(make_order("tp-t-2", "buy", "1"))
        canceled = await venue.cancel_order("BTC/USDT", "tp-t-1")
        with pytest.raises(OrderRejected, match="filled"):
            await venue.cancel_order("BTC/USDT", "tp-t-2")
        with pytest.raises(OrderNotFound):
            await venue.cancel_order("BTC/USDT", "tp-t-3")
        return canceled, await venue.balances(), await venue.open_orders()

    canceled, balances, open_orders = run(scenario())
    assert canceled.status is VenueOrderStatus.CANCELED
    assert balances["USDT"].locked == 0 and open_orders == []


def test_latency_delays_the_order_in_simulated_time_and_it_fills_at_the_market_it_arrives_in():
    async def scenario():
        clock = ManualClock()
        venue = paper_venue(clock, quote="10000", latency=LatencyModel(fixed_ms=250))
        await venue.connect()
        venue.on_market(Trade("BTC/USDT", START, D("100"), D("1"), "1"))
        answer = await venue.submit_order(make_order("tp-t-1", "buy", "1"))
        with pytest.raises(OrderNotFound):
            await venue.fetch_order("BTC/USDT", "tp-t-1")  # still on its way
        venue.on_market(Trade("BTC/USDT", clock.advance(0.2), D("101"), D("1"), "2"))
        before = venue.updates().drain_nowait()
        venue.on_market(Trade("BTC/USDT", clock.advance(0.1), D("105"), D("1"), "3"))
        return answer, before, await venue.my_trades("BTC/USDT")

    answer, before, trades = run(scenario())
    assert answer.status is VenueOrderStatus.PENDING_NEW and before == []
    # Due at +250 ms: it arrives after the 101 trade (+200 ms), before the 105 trade (+300 ms).
    assert [(t.price, t.at) for t in trades] == [(D("101"), START + timedelta(milliseconds=250))]


def test_seeded_latency_jitter_is_reproducible():
    delays = [LatencyModel(fixed_ms=10, jitter_ms=40, seed=3).sampler() for _ in range(2)]
    first, second = ([sample() for _ in range(20)] for sample in delays)
    assert first == second and all(timedelta(milliseconds=10) <= d <= timedelta(milliseconds=50) for d in first)
    assert len(set(first)) > 1


def test_a_market_order_before_any_price_is_rejected():
    async def scenario():
        venue = paper_venue(ManualClock())
        await venue.connect()
        await venue.submit_order(make_order("tp-t-1", "buy", "1"))

    with pytest.raises(OrderRejected, match="no liquidity or price"):
        run(scenario())


def test_orders_off_the_instrument_grid_are_rejected():
    from tradepulse.adapters.paper.feeds import get_recording

    spot = get_recording("binance:BTC/USDT").instrument

    async def scenario():
        venue = paper_venue(ManualClock(), instrument=spot)
        await venue.connect()
        venue.on_market(Trade("BTC/USDT", START, D("60000"), D("1"), "1"))
        await venue.submit_order(make_order("tp-t-1", "buy", "0.000001"))

    with pytest.raises(OrderRejected, match="lot size"):
        run(scenario())
    assert BTC.lot_size == D("0.00000001")


def test_the_venue_remembers_open_orders_and_only_the_latest_finished_orders_and_trades_as_an_exchange_does():
    async def scenario():
        clock = ManualClock()
        venue = paper_venue(clock, quote="100000", keep_finished_orders=3, keep_trades=4)
        await venue.connect()
        venue.on_market(bar_events(100.0, 101.0, 99.0, 100.0)[0])
        resting = await venue.submit_order(make_order("tp-rest", "buy", "1", limit="50"))  # open the whole time
        for number in range(1, 7):
            clock.advance(60)
            await venue.submit_order(make_order(f"tp-{number}", "buy" if number % 2 else "sell", "1"))
        await venue.submit_order(make_order("tp-cancel", "buy", "1", limit="60"))
        await venue.cancel_order("BTC/USDT", "tp-cancel")
        found = {cid: (await venue.fetch_order("BTC/USDT", cid)).status for cid in ("tp-rest", "tp-5", "tp-6", "tp-cancel")}
        forgotten = []
        for cid in ("tp-1", "tp-4"):
            with pytest.raises(OrderNotFound):
                await venue.fetch_order("BTC/USDT", cid)
            forgotten.append(cid)
        with pytest.raises(OrderNotFound):
            await venue.cancel_order("BTC/USDT", "tp-2")
        trades = await venue.my_trades("BTC/USDT")
        since = await venue.my_trades("BTC/USDT", START + timedelta(minutes=5))
        opened = await venue.open_orders("BTC/USDT")
        return resting, found, forgotten, trades, since, opened

    resting, found, forgotten, trades, since, opened = run(scenario())
    assert resting.status is VenueOrderStatus.NEW and [o.client_order_id for o in opened] == ["tp-rest"]
    S = VenueOrderStatus
    assert found == {"tp-rest": S.NEW, "tp-5": S.FILLED, "tp-6": S.FILLED, "tp-cancel": S.CANCELED}
    assert forgotten == ["tp-1", "tp-4"]
    assert [t.client_order_id for t in trades] == ["tp-3", "tp-4", "tp-5", "tp-6"]  # the latest 4, oldest first
    assert [t.client_order_id for t in since] == ["tp-5", "tp-6"]


def test_by_default_the_venue_keeps_a_thousand_finished_orders_and_trades_and_refuses_to_keep_none():
    async def scenario():
        clock = ManualClock()
        venue = paper_venue(clock, quote="10000000")
        await venue.connect()
        venue.on_market(bar_events(100.0, 101.0, 99.0, 100.0)[0])
        for number in range(1, 1_006):
            await venue.submit_order(make_order(f"tp-{number}", "buy" if number % 2 else "sell", "0.01"))
        with pytest.raises(OrderNotFound):
            await venue.fetch_order("BTC/USDT", "tp-5")
        return await venue.fetch_order("BTC/USDT", "tp-6"), await venue.my_trades("BTC/USDT")

    oldest_kept, trades = run(scenario())
    assert oldest_kept.status is VenueOrderStatus.FILLED
    assert len(trades) == 1_000 and trades[0].client_order_id == "tp-6" and trades[-1].client_order_id == "tp-1005"
    with pytest.raises(ConfigError, match="at least one"):
        paper_venue(ManualClock(), keep_trades=0)
