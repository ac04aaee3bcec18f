"""Fees charged in BNB (Binance's "pay fees with BNB") and maker rebates, through real ccxt against the local venue.

The engine's order path (the OMS on a SQLite journal, the order execution, the ccxt adapter) trades
BTC/USDT on an account whose commissions are charged in BNB, an asset it does not trade. The venue
lists BNBUSDT at a fixed price (the recordings have no BNB ticks for their dates, so the price is a
configured constant), charges BNB at that price with Binance's 25 % discount, and the adapter values
each fee from the venue's ``BNB/USDT`` ticker: the path a BNB fee takes on Binance. ``tradepulse
venue serve --fee-asset BNB`` (started through ``LocalVenue``) charges BNB as ccxt's
``fetch_my_trades`` sees it. The venue also pays makers a rebate (a negative maker fee), and the
rebate reaches the books as income.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import urlsplit

import ccxt.pro
import pytest
from emulator_fixtures import binance_client, eventually, run
from engine_fixtures import BTC, adapter_for

from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.emulator import DEFAULT_FEE_ASSET_PRICES, AccountSpec, VenueEndpoints, VenueThread
from tradepulse.execution import OMS, Instrument, Order, OrderIntent, OrderStatus, OrderType, Reconciliation, Side, reconcile
from tradepulse.execution.engine import ExecutionEngine
from tradepulse.live.replay import REPLAY_RISK_LIMITS
from tradepulse.risk import RiskControls
from tradepulse.service.processes import LocalVenue, generated_credentials
from tradepulse.store import Journal

STRATEGY = "fees"
MAKER_REBATE = D("-0.0001")
TAKER_FEE = D("0.001")
# Not the default (560), so the tests see the configured price travel to the fee and the journal.
BNB_PRICE = D("587.25")
_numbers = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueThread]:
    """A venue replaying in real time that charges takers 0.1 %, pays makers 0.01 % and lists BNBUSDT at BNB_PRICE."""
    with VenueThread(maker_fee=MAKER_REBATE, taker_fee=TAKER_FEE, fee_asset_prices={"BNB": BNB_PRICE}) as running:
        yield running


def fee_account(venue: VenueThread, balances: dict[str, str], **fee_options: str) -> tuple[str, str]:
    number = next(_numbers)
    spec = AccountSpec(f"fees-{number}-key", f"fees-{number}-secret", balances, **fee_options)
    venue.call(lambda v: v.accounts.add(spec.api_key, spec.api_secret, spec.balances, spec.fee_payment))
    return spec.api_key, spec.api_secret


def utc_now() -> datetime:
    return datetime.now(UTC)



class Life:
    """The engine's order path on ``adapter``: an OMS replayed from the journal at ``path`` and the execution."""

    def __init__(self, path: Path, adapter: CcxtVenue, instrument: Instrument) -> None:
        self.adapter, self.instrument = adapter, instrument
        self.journal = Journal(path)
        self.oms = OMS(self.journal, [instrument])
        self.risk = RiskControls(REPLAY_RISK_LIMITS, clock=utc_now, symbols=[BTC], currency="USDT")
        self.execution = ExecutionEngine(oms=self.oms, venue=adapter, journal=self.journal, risk=self.risk, instrument=instrument,
                                  strategy_id=STRATEGY, capital=D("10000"), clock=utc_now)

    async def last_price(self) -> D:
        ticker = await self.adapter.exchange.fetch_ticker(BTC)
        return self.instrument.round_price(D(repr(ticker["last"])))

    async def trade(self, side: Side, quantity: str) -> Order:
        intent = OrderIntent(STRATEGY, BTC, side, D(quantity), reference_price=await self.last_price())
        order = (await self.execution.submit(intent, intent.reference_price, utc_now())).order
        assert order is not None, f"the engine refused to trade: {self.risk.state.mode} ({self.halt_reasons()})"
        return order

    def halt_reasons(self) -> list[str]:
        return [str(event.payload) for event in self.journal.iter_events() if "refused" in event.kind or "halt" in event.kind]

    def filled_events(self) -> list[dict]:
        return [event.payload for event in self.journal.iter_events(kinds=["order.filled"])]

    async def reconcile(self, since: datetime, baseline: D) -> Reconciliation:
        return await reconcile(oms=self.oms, venue=self.adapter, journal=self.journal, instrument=self.instrument,
                               strategy_id=STRATEGY, baseline_base=baseline, since=since, execution=self.execution)

    def same_state_on_replay(self) -> None:
        replayed = OMS(self.journal, [self.instrument])
        assert replayed.orders == self.oms.orders and replayed.position(BTC) == self.oms.position(BTC)


async def venue_balances(venue: VenueThread, key: str, secret: str) -> dict[str, D]:
    async with binance_client(venue, key, secret) as plain:
        raw = await plain.fetch_balance()
    return {asset: D(repr(raw[asset]["total"])) for asset in ("BTC", "USDT", "ETH", "BNB") if asset in raw}


def bnb_commission(quantity: str, price: str, bnb_price: D) -> D:
    """What the venue charges in BNB for a taker fill: 0.1 % of the notional, less 25 %, at its BNB price."""
    return (D(quantity) * D(price) * TAKER_FEE * D("0.75") / bnb_price).quantize(D("1e-8"), ROUND_HALF_UP)


def test_the_engine_keeps_trading_when_its_fees_are_charged_in_bnb(venue, tmp_path):
    key, secret = fee_account(venue, {"USDT": "10000", "BNB": "1"}, fee_asset="BNB")
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        async with adapter_for(venue, key, secret, seed=5) as adapter:
            instrument = (await adapter.instruments())[BTC]
            bnb = await adapter.exchange.fetch_ticker("BNB/USDT")  # what any client reads as BNB's price
            life = Life(path, adapter, instrument)
            orders = [await life.trade(Side.BUY, "0.002"), await life.trade(Side.SELL, "0.001"),
                      await life.trade(Side.BUY, "0.001")]
            # One more filled at the venue whose answer never reaches the OMS: a fill missed in a crash.
            missed = life.oms.prepare_submit(OrderIntent(STRATEGY, BTC, Side.SELL, D("0.001"),
                                                         reference_price=await life.last_price()))
            await adapter.submit_order(missed)
            life.journal.close()
        async with adapter_for(venue, key, secret, seed=5) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.reconcile(since, baseline=D("0"))
            second.same_state_on_replay()
            state = second.risk.state.mode
        return [second.oms.order(o.client_order_id) for o in orders], missed, second, result, state, bnb, \
            await venue_balances(venue, key, secret)

    orders, missed, life, result, state, bnb, balances = run(scenario())
    assert [o.status for o in orders] == [OrderStatus.FILLED] * 3 and str(state).upper().endswith("ACTIVE")
    assert D(repr(bnb["last"])) == BNB_PRICE and bnb["info"]["lastPrice"] == f"{BNB_PRICE:.8f}"

    # Every fee was charged in BNB at the venue's BNB price, and the journal holds that price as the rate.
    filled = life.filled_events()
    fills = [p["fill"] for p in filled]
    assert len(filled) == 4 and all(f["fee_currency"] == "BNB" for f in fills)
    assert [D(f["fee_quote_rate"]) for f in fills] == [BNB_PRICE] * 4
    assert [D(f["fee"]) for f in fills] == [bnb_commission(f["fill_quantity"], f["fill_price"], BNB_PRICE) for f in fills]
    fees_quote = [D(p["fee_quote"]) for p in filled]
    assert fees_quote == [life.instrument.quantize_quote(D(f["fee"]) * BNB_PRICE) for f in fills]

    # The fill missed in the crash came back through reconciliation with the same rate.
    assert result.ok, result.unexplained
    assert [(f["client_order_id"], f["fee_currency"]) for f in result.missed_fills] == [(missed.client_order_id, "BNB")]
    assert D(result.missed_fills[0]["fee_quote_rate"]) == BNB_PRICE

    # BNB fees touch neither BTC nor USDT: the position is the venue's BTC to the last unit, cash to the cent.
    position = life.oms.position(BTC)
    assert position.quantity == D("0.001") == balances["BTC"] and result.balance["difference"] == 0
    signed_cost = sum(D(f["fill_quantity"]) * D(f["fill_price"]) * (1 if f["side"] == "buy" else -1) for f in fills)
    assert balances["USDT"] == D("10000") - signed_cost
    assert balances["BNB"] == D("1") - sum(D(f["fee"]) for f in fills)
    # P&L counts the fees, in USDT.
    assert position.fees_quote == sum(fees_quote) > 0
    assert position.net_pnl == position.realized_pnl + position.unrealized_pnl - sum(fees_quote)


def test_venue_serve_with_fee_asset_bnb_charges_commissions_in_bnb_as_ccxt_sees_them(tmp_path):
    credentials = generated_credentials("bnb")
    with LocalVenue(tmp_path, credentials.environ(), fee_asset="BNB") as local:
        banner = local.urls
        address = urlsplit(local.base_url)

        async def scenario():
            exchange = ccxt.pro.binance(VenueEndpoints(address.hostname, address.port).ccxt_config(
                credentials.venue_key, credentials.venue_secret, enableRateLimit=False))
            try:
                await exchange.load_markets()
                bnb = await exchange.fetch_ticker("BNB/USDT")
                before = await exchange.fetch_balance()
                order = await exchange.create_order(BTC, "market", "buy", 0.002)
                trades = await exchange.fetch_my_trades(BTC)
                after = await exchange.fetch_balance()
                return exchange.markets["BNB/USDT"], bnb, before, order, trades, after
            finally:
                await exchange.close()

        market, bnb, before, order, trades, after = run(scenario())
    price = DEFAULT_FEE_ASSET_PRICES["BNB"]
    assert banner["fee_asset"] == "BNB" and banner["fixed_price_markets"] == {"BNBUSDT": str(price)}
    # Listed, not trading (ccxt: inactive), at the default price; the default balances gained one BNB.
    assert market["active"] is False and D(repr(bnb["last"])) == price
    assert before["BNB"]["total"] == 1 and before["BTC"]["total"] == 0.5
    mine = [t for t in trades if t["order"] == order["id"]]
    assert mine and all(t["fee"]["currency"] == "BNB" for t in mine)
    charged = [D(repr(t["fee"]["cost"])) for t in mine]
    assert charged == [bnb_commission(t["info"]["qty"], t["info"]["price"], price) for t in mine]
    assert all(D(t["info"]["commission"]) == c for t, c in zip(mine, charged))
    # The BTC bought arrives whole; only BNB paid.
    assert D(repr(after["BTC"]["total"])) == D("0.502")
    assert D(repr(after["BNB"]["total"])) == D(1) - sum(charged)


def test_a_maker_rebate_in_the_base_asset_is_income_in_the_books_and_in_reconciliation(venue, tmp_path):
    key, secret = fee_account(venue, {"USDT": "10000"})
    taker_key, taker_secret = fee_account(venue, {"USDT": "0", "BTC": "1"})
    path = tmp_path / "journal.sqlite"

    async def scenario():
        since = utc_now()
        # Freeze the replayed market so our bid is the best one when the other client sells into it.
        await asyncio.to_thread(venue.call, lambda v: v.replayer.pause())
        try:
            async with adapter_for(venue, key, secret, seed=5) as adapter:
                instrument = (await adapter.instruments())[BTC]
                life = Life(path, adapter, instrument)
                book = await adapter.exchange.fetch_order_book(BTC, limit=5)
                best_bid = instrument.round_price(D(repr(book["bids"][0][0])))
                intent = OrderIntent(STRATEGY, BTC, Side.BUY, D("0.01"), OrderType.LIMIT, limit_price=best_bid)
                resting = (await life.execution.submit(intent, best_bid, utc_now())).order
                assert resting is not None
                async with binance_client(venue, taker_key, taker_secret) as taker:
                    await taker.create_order(BTC, "market", "sell", 0.01)  # our bid first at its price

                async def filled() -> bool:
                    await life.execution.apply_updates(adapter.updates().drain_nowait())
                    return life.oms.order(resting.client_order_id).status is OrderStatus.FILLED
                await eventually(filled)
                life.journal.close()
        finally:
            await asyncio.to_thread(venue.call, lambda v: v.replayer.resume())
        async with adapter_for(venue, key, secret, seed=5) as adapter:
            second = Life(path, adapter, instrument)
            result = await second.reconcile(since, baseline=D("0"))
            second.same_state_on_replay()
        return best_bid, second, result, await venue_balances(venue, key, secret)

    best_bid, life, result, balances = run(scenario())
    rebate = -(D("0.01") * -MAKER_REBATE).quantize(D("1e-8"))  # the venue pays 0.000001 BTC
    [payload] = life.filled_events()
    assert D(payload["fill"]["fee"]) == rebate and payload["fill"]["fee_currency"] == "BTC" and payload["fill"]["is_maker"]
    position = life.oms.position(BTC)
    # The rebate is in the account, so in the position; valued at the fill price it is income.
    assert balances["BTC"] == D("0.01") - rebate == position.quantity
    assert balances["USDT"] == D("10000") - best_bid * D("0.01")
    assert position.fees_quote == life.instrument.quantize_quote(rebate * best_bid) < 0
    assert position.net_pnl == position.unrealized_pnl - position.fees_quote > position.unrealized_pnl
    assert result.ok, result.unexplained
    assert result.balance["difference"] == 0 and result.balance["base_fees"] == rebate
