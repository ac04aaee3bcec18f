"""Warm-start reconciliation through real ccxt (``CcxtVenue``) against the local Binance-compatible venue.

Each test trades in a first life (a journal file, the OMS and the engine's order execution on a
connected adapter), "crashes" at a chosen moment (the adapter and the journal are dropped while
the venue keeps its orders), lets things happen at the venue, then starts a second life on the same
journal file with a new adapter and reconciles. The venue charges a buyer's commission in BTC, so
every balance check here also proves base-asset fees are accounted for rather than tolerated.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from emulator_fixtures import acontrol, binance_client, new_account, run, venue  # noqa: F401
from engine_fixtures import BTC, adapter_for

from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.emulator import VenueThread
from tradepulse.errors import TemporaryVenueError
from tradepulse.execution import OMS, Instrument, Order, OrderIntent, OrderStatus, OrderType, Reconciliation, Side, reconcile
from tradepulse.execution.engine import ExecutionEngine
from tradepulse.execution.reconcile import NOT_AT_VENUE
from tradepulse.live.replay import REPLAY_RISK_LIMITS
from tradepulse.risk import RiskControls
from tradepulse.store import Journal

STRATEGY = "rc"
BALANCES = {"USDT": "10000", "BTC": "0.5"}
BASELINE = D("0.5")


def utc_now() -> datetime:
    return datetime.now(UTC)



class Life:
    """One process lifetime on ``path``: the OMS replayed from the journal, the execution on ``adapter``."""

    def __init__(self, path: Path, adapter: CcxtVenue, instrument: Instrument) -> None:
        self.adapter, self.instrument = adapter, instrument
        self.journal = Journal(path)
        self.oms = OMS(self.journal, [instrument])
        risk = RiskControls(REPLAY_RISK_LIMITS, clock=utc_now, symbols=[BTC], currency="USDT")
        self.execution = ExecutionEngine(oms=self.oms, venue=adapter, journal=self.journal, risk=risk, instrument=instrument,
                                  strategy_id=STRATEGY, capital=D("10000"), clock=utc_now)

    async def last_price(self) -> D:
        ticker = await self.adapter.exchange.fetch_ticker(BTC)
        return self.instrument.round_price(D(repr(ticker["last"])))

    async def trade(self, intent: OrderIntent) -> Order:
        order = (await self.execution.submit(intent, await self.last_price(), utc_now())).order
        assert order is not None, "the risk gate refused a test order"
        return order

    async def below_market(self) -> D:
        return self.instrument.round_price(await self.last_price() * D("0.98"))

    async def warm_start(self, since: datetime, *, execution: bool = False) -> Reconciliation:
        return await reconcile(oms=self.oms, venue=self.adapter, journal=self.journal, instrument=self.instrument,
                               strategy_id=STRATEGY, baseline_base=BASELINE, since=since,
                               execution=self.execution if execution else None)

    def crash(self) -> None:
        self.journal.close()


def market(side: Side, quantity: str, price: D) -> OrderIntent:
    return OrderIntent(STRATEGY, BTC, side, D(quantity), reference_price=price)


def limit(side: Side, quantity: str, price: D) -> OrderIntent:
    return OrderIntent(STRATEGY, BTC, side, D(quantity), OrderType.LIMIT, limit_price=price)


def same_state(oms: OMS, journal: Journal, instrument: Instrument) -> None:
    replayed = OMS(journal, [instrument])
    assert replayed.orders == oms.orders
    assert replayed.position(BTC) == oms.position(BTC)
    assert replayed.last_client_order_sequence == oms.last_client_order_sequence


async def cancel_everything(venue: VenueThread, key: str, secret: str) -> None:
    async with binance_client(venue, key, secret) as plain:
        for raw in await plain.fetch_open_orders(BTC):
            await plain.cancel_order(raw["id"], BTC)


def test_a_clean_restart_after_trading_through_ccxt_is_ok_with_base_fees_accounted(venue, tmp_path):
    key, secret = new_account(venue, BALANCES)
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        async with adapter_for(venue, key, secret) as adapter:
            instrument = (await adapter.instruments())[BTC]
            first = Life(path, adapter, instrument)
            bought = await first.trade(market(Side.BUY, "0.002", await first.last_price()))
            sold = await first.trade(market(Side.SELL, "0.0005", await first.last_price()))
            resting = await first.trade(limit(Side.BUY, "0.001", await first.below_market()))
            first.crash()
        async with adapter_for(venue, key, secret) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.warm_start(since)
            same_state(second.oms, second.journal, instrument)
        await cancel_everything(venue, key, secret)
        return bought, sold, resting, second, result

    bought, sold, resting, second, result = run(scenario())
    assert (bought.status, sold.status, resting.status) == (OrderStatus.FILLED, OrderStatus.FILLED, OrderStatus.ACCEPTED)
    assert result.ok, result.unexplained
    assert (result.resolved, result.missed_fills, result.adopted, result.foreign) == ([], [], [], [])
    balance = result.balance
    # 0.0015 BTC bought, 0.000002 of it taken as the fee: the position is what the account holds.
    assert balance["journal_position"] == D("0.001498") and balance["difference"] == 0
    assert balance["base_fees"] == D("0.000002")  # 0.1% of the 0.002 BTC bought, charged in BTC
    assert balance["venue_total"] == BASELINE + D("0.0015") - D("0.000002")


def test_a_crash_between_journal_and_venue_answer_is_settled_from_the_venue(venue, tmp_path):
    key, secret = new_account(venue, BALANCES)
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        async with adapter_for(venue, key, secret) as adapter:
            instrument = (await adapter.instruments())[BTC]
            first = Life(path, adapter, instrument)
            cancelled = await first.trade(limit(Side.BUY, "0.001", await first.below_market()))
            first.oms.request_cancel(cancelled.client_order_id)
            await adapter.cancel_order(BTC, cancelled.client_order_id)  # done at the venue; the answer is lost
            filled = first.oms.prepare_submit(market(Side.BUY, "0.001", await first.last_price()))
            await adapter.submit_order(filled)  # filled at the venue; the process dies before applying it
            never_sent = first.oms.prepare_submit(limit(Side.BUY, "0.001", await first.below_market()))
            first.crash()
        async with adapter_for(venue, key, secret) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.warm_start(since, execution=True)
            same_state(second.oms, second.journal, instrument)
            next_order = await second.trade(market(Side.SELL, "0.0005", await second.last_price()))
        async with binance_client(venue, key, secret) as plain:
            venue_orders = await plain.fetch_orders(BTC)
        return cancelled, filled, never_sent, next_order, second, result, venue_orders

    cancelled, filled, never_sent, next_order, second, result, venue_orders = run(scenario())
    assert result.ok, result.unexplained
    resolved = {r["client_order_id"]: (r["before"], r["after"], r["venue_status"]) for r in result.resolved}
    assert resolved == {
        cancelled.client_order_id: ("PENDING_CANCEL", "CANCELED", "canceled"),
        filled.client_order_id: ("SUBMITTED", "FILLED", "filled"),
        never_sent.client_order_id: ("SUBMITTED", "REJECTED", "not_found"),
    }
    assert second.oms.order(never_sent.client_order_id).status_reason == NOT_AT_VENUE
    assert {f["client_order_id"] for f in result.missed_fills} == {filled.client_order_id}
    assert sum(f["qty"] for f in result.missed_fills) == D("0.001")
    assert result.balance["difference"] == 0 and result.balance["base_fees"] == D("0.000001")
    # No duplicate at the venue: each client order id once, the never-sent one absent, the next id fresh.
    ids = [raw["clientOrderId"] for raw in venue_orders]
    assert sorted(ids) == sorted({cancelled.client_order_id, filled.client_order_id, next_order.client_order_id})
    assert next_order.client_order_id == f"tp-{STRATEGY}-4"


def test_an_order_filled_while_the_service_was_down_is_applied(venue, tmp_path):
    key, secret = new_account(venue, BALANCES)
    other_key, other_secret = new_account(venue, BALANCES)
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        # Freeze the replayed market so our ask is the best one when another client buys.
        await asyncio.to_thread(venue.call, lambda v: v.replayer.pause())
        try:
            async with adapter_for(venue, key, secret) as adapter:
                instrument = (await adapter.instruments())[BTC]
                first = Life(path, adapter, instrument)
                book = await adapter.exchange.fetch_order_book(BTC, limit=5)
                best_ask = instrument.round_price(D(repr(book["asks"][0][0])))
                resting = await first.trade(limit(Side.SELL, "0.001", best_ask))
                first.crash()
            async with binance_client(venue, other_key, other_secret) as other:
                await other.create_order(BTC, "market", "buy", 0.001)  # takes our ask first
        finally:
            await asyncio.to_thread(venue.call, lambda v: v.replayer.resume())
        async with adapter_for(venue, key, secret) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.warm_start(since, execution=True)
            same_state(second.oms, second.journal, instrument)
        return resting, best_ask, second, result

    resting, best_ask, second, result = run(scenario())
    assert resting.status is OrderStatus.ACCEPTED
    assert result.ok, result.unexplained
    assert [(r["client_order_id"], r["before"], r["after"]) for r in result.resolved] == [
        (resting.client_order_id, "ACCEPTED", "FILLED")]
    assert [(f["client_order_id"], f["qty"], f["price"]) for f in result.missed_fills] == [
        (resting.client_order_id, D("0.001"), best_ask)]
    assert second.oms.position(BTC).quantity == D("-0.001")
    assert result.balance["venue_total"] == BASELINE - D("0.001") and result.balance["difference"] == 0


def test_a_foreign_open_order_on_the_account_is_flagged_and_left_alone(venue, tmp_path):
    key, secret = new_account(venue, BALANCES)
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        async with adapter_for(venue, key, secret) as adapter:
            instrument = (await adapter.instruments())[BTC]
            first = Life(path, adapter, instrument)
            await first.trade(market(Side.BUY, "0.001", await first.last_price()))
            price = float(await first.below_market())
            first.crash()
        async with binance_client(venue, key, secret) as plain:  # someone else on the same account
            manual = await plain.create_order(BTC, "limit", "buy", 0.001, price, params={"clientOrderId": "manual-limit-1"})
        async with adapter_for(venue, key, secret) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.warm_start(since)
        async with binance_client(venue, key, secret) as plain:
            still_open = await plain.fetch_open_orders(BTC)
        await cancel_everything(venue, key, secret)
        return manual, second, result, still_open

    manual, second, result, still_open = run(scenario())
    assert not result.ok
    assert [(f["client_order_id"], f["why"], f["venue_order_id"]) for f in result.foreign] == [
        ("manual-limit-1", "not one of ours", str(manual["id"]))]
    assert len(result.unexplained) == 1 and "foreign order manual-limit-1" in result.unexplained[0]
    assert result.balance["difference"] == 0 and result.adopted == []
    assert [raw["clientOrderId"] for raw in still_open] == ["manual-limit-1"]  # never touched
    assert "manual-limit-1" not in second.oms.orders


def test_a_manual_trade_with_another_client_on_the_same_account_is_unexplained(venue, tmp_path):
    key, secret = new_account(venue, BALANCES)
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        async with adapter_for(venue, key, secret) as adapter:
            instrument = (await adapter.instruments())[BTC]
            first = Life(path, adapter, instrument)
            await first.trade(market(Side.BUY, "0.001", await first.last_price()))
            first.crash()
        async with binance_client(venue, key, secret) as plain:
            manual = await plain.create_order(BTC, "market", "buy", 0.0005)
        async with adapter_for(venue, key, secret) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.warm_start(since)
        return manual, second, result

    manual, second, result = run(scenario())
    assert not result.ok
    # The manual buy added 0.0005 BTC minus its 0.1% commission (in BTC) that no journaled fill explains.
    assert result.balance["difference"] == D("0.0004995")
    assert result.balance["journal_position"] == D("0.000999") and result.balance["base_fees"] == D("0.000001")
    assert any("unexplained" in sentence and "BTC" in sentence for sentence in result.unexplained)
    assert any(manual["clientOrderId"] in sentence and "does not know" in sentence for sentence in result.unexplained)
    assert second.oms.position(BTC).quantity == D("0.000999")  # 0.001 bought less its fee in BTC


def test_an_order_still_on_its_way_at_restart_is_waited_for_not_rejected(venue, tmp_path):
    """A crash right after a request left, and a restart before it reached the venue (the crash trials found this).

    The order is journaled, its request is cut off and lands 2.5 s later; the process dies and a new
    one reconciles at once. "Not at the venue" is no proof of absence while the request could still
    land (its receive window): the warm start waits that out and finds the order filled, instead of
    rejecting it and then refusing its fill.
    """
    key, secret = new_account(venue, BALANCES)
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        async with adapter_for(venue, key, secret) as adapter:
            instrument = (await adapter.instruments())[BTC]
            first = Life(path, adapter, instrument)
            price = await first.last_price()
            await acontrol(venue, "POST", "/faults", {"land_order_late_next": 1, "land_order_late_ms": 2500})
            order = first.oms.prepare_submit(market(Side.BUY, "0.001", price))  # journaled, then the crash
            with pytest.raises(TemporaryVenueError, match="could still land"):
                await adapter.submit_order(order)
            first.journal.close()
        async with adapter_for(venue, key, secret) as adapter:  # a new process: no memory of the request
            second = Life(path, adapter, instrument)
            result = await second.warm_start(since, execution=True)
            second.journal.close()
        return order, second, result

    order, second, result = run(scenario(), timeout_s=90)
    assert result.ok, result.unexplained
    assert second.oms.order(order.client_order_id).status is OrderStatus.FILLED
    assert [r["venue_status"] for r in result.resolved] == ["filled"]
