"""Account fee options: commissions paid in a separate asset (Binance's BNB setting) and maker rebates.

With ``fee_asset`` an account pays each commission in that asset, out of its own balance, valued
at the venue's price for it and with the discount (Binance: 25 % with BNB); the traded assets move
by exactly the traded amounts. An account short of the asset pays the usual way. BNB is valued at
the fixed price of the venue's listed BNBUSDT market (the recordings have no BNB ticks); ETH at the
replayed ETHUSDT price. A negative maker fee pays makers a rebate in the usual commission asset.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tradepulse.emulator import DEFAULT_FEE_ASSET_PRICES, AccountSpec, FeePayment, VenueConfig
from tradepulse.emulator.accounts import Account
from tradepulse.emulator.app import Venue, make_app
from tradepulse.emulator.matching import OrderRequest
from tradepulse.emulator.orders import execution_report, new_order_json, trade_json
from tradepulse.errors import ConfigError

D = Decimal
EIGHT = D("1e-8")
USUAL = D("0.001")


@pytest.fixture(scope="module")
def venue() -> Venue:
    """A venue whose books are the real recording 30 s in (the replay is not started: prices stay put); BNB at 500."""
    built = Venue(VenueConfig(start_offset_s=30, fee_asset_prices={"BNB": D("500")}))
    built.replayer.warm_up()
    return built


_numbers = iter(range(10**9))


def account(venue: Venue, balances: dict[str, str], **fee_options: str) -> Account:
    number = next(_numbers)
    spec = AccountSpec(f"fee-key-{number}", f"fee-secret-{number}", balances, **fee_options)
    return venue.accounts.add(spec.api_key, spec.api_secret, spec.balances, spec.fee_payment)


def market(side: str, qty: str) -> OrderRequest:
    return OrderRequest(symbol="BTCUSDT", side=side, type="MARKET", quantity=D(qty))


def eth_price(venue: Venue) -> Decimal:
    price = venue.markets["ETHUSDT"].last_price()
    assert price is not None and price > 0
    return price


def test_a_buy_pays_its_commission_in_the_fee_asset_at_the_venues_price_with_the_discount(venue):
    payer = account(venue, {"USDT": "10000", "ETH": "1"}, fee_asset="ETH")
    placed, fills = venue.engine.place(payer, market("BUY", "0.01"))
    cost = sum((f.price * f.qty for f in fills), D(0))
    expected = sum(((f.price * f.qty * USUAL * D("0.75") / eth_price(venue)).quantize(EIGHT) for f in fills), D(0))
    assert placed.status == "FILLED" and all(f.commission_asset == "ETH" for f in fills)
    assert sum(f.commission for f in fills) == expected > 0
    # The traded assets move by exactly what was traded; only ETH pays.
    assert payer.balance("BTC").free == D("0.01")
    assert payer.balance("USDT").free == D("10000") - cost
    assert payer.balance("ETH").free == D("1") - expected
    # Every view of the fill says so, as Binance's do.
    fill = fills[0]
    assert new_order_json(placed, "FULL", fills)["fills"][0]["commissionAsset"] == "ETH"
    assert trade_json(fill)["commissionAsset"] == "ETH" and D(trade_json(fill)["commission"]) == fill.commission
    report = execution_report(placed, "TRADE", fill.time_ms, fill)
    assert report["N"] == "ETH" and D(report["n"]) == fill.commission


def test_a_sell_pays_in_the_fee_asset_too_and_receives_the_whole_proceeds(venue):
    payer = account(venue, {"BTC": "0.01", "ETH": "1"}, fee_asset="ETH", fee_asset_discount="0")
    _, fills = venue.engine.place(payer, market("SELL", "0.01"))
    proceeds = sum((f.price * f.qty for f in fills), D(0))
    expected = sum(((f.price * f.qty * USUAL / eth_price(venue)).quantize(EIGHT) for f in fills), D(0))
    assert all(f.commission_asset == "ETH" for f in fills)
    assert payer.balance("USDT").free == proceeds and payer.balance("BTC").free == 0
    assert payer.balance("ETH").free == D("1") - expected


def test_an_account_short_of_the_fee_asset_pays_the_usual_way(venue):
    payer = account(venue, {"USDT": "10000", "ETH": "0.00000001"}, fee_asset="ETH")
    _, fills = venue.engine.place(payer, market("BUY", "0.01"))
    assert all(f.commission_asset == "BTC" and f.commission == (f.qty * USUAL).quantize(EIGHT) for f in fills)
    assert payer.balance("ETH").free == D("0.00000001")
    assert payer.balance("BTC").free == D("0.01") - sum(f.commission for f in fills)


def test_bnb_is_valued_at_the_fixed_price_of_the_venues_bnbusdt_market(venue):
    payer = account(venue, {"USDT": "10000", "BNB": "1"}, fee_asset="BNB")
    assert venue.markets["BNBUSDT"].last_price() == 500
    _, fills = venue.engine.place(payer, market("BUY", "0.01"))
    expected = sum(((f.price * f.qty * USUAL * D("0.75") / 500).quantize(EIGHT) for f in fills), D(0))
    assert all(f.commission_asset == "BNB" for f in fills)
    assert payer.balance("BNB").free == D("1") - expected and payer.balance("BTC").free == D("0.01")


def test_a_bnb_paying_account_lists_bnbusdt_at_the_default_price_unless_one_is_given():
    config = VenueConfig(accounts=(AccountSpec("k", "s", fee_asset="BNB"),))
    assert config.fee_asset_prices == {"BNB": D("560")} == DEFAULT_FEE_ASSET_PRICES
    assert VenueConfig(accounts=config.accounts, fee_asset_prices={"BNB": "612.5"}).fee_asset_prices == {"BNB": D("612.5")}
    assert VenueConfig().fee_asset_prices == {}  # nothing asks for it: the venue lists only what it replays
    assert VenueConfig(accounts=(AccountSpec("k", "s", fee_asset="ETH"),)).fee_asset_prices == {}


def test_fee_asset_options_are_checked_when_the_venue_is_configured():
    with pytest.raises(ConfigError, match="no XRPUSDT market"):
        VenueConfig(accounts=(AccountSpec("k", "s", fee_asset="XRP"),))
    with pytest.raises(ConfigError, match="no ETHUSDT market"):
        VenueConfig(symbols=("BTCUSDT",), accounts=(AccountSpec("k", "s", fee_asset="ETH"),))
    with pytest.raises(ConfigError, match="discount"):
        AccountSpec("k", "s", fee_asset="ETH", fee_asset_discount="1")
    with pytest.raises(ConfigError, match="fee asset"):
        AccountSpec("k", "s", fee_asset="bnb usd")
    with pytest.raises(ConfigError, match="only for BNB; not for ETH"):
        VenueConfig(fee_asset_prices={"ETH": "3000"})  # ETH has its recorded prices
    with pytest.raises(ConfigError, match="only for BNB; not for XRP"):
        VenueConfig(fee_asset_prices={"XRP": "1"})
    for price in ("-1", "0.01", "560.001", "lots", "100000"):  # off the tick, or no room for the book's bid/ask
        with pytest.raises(ConfigError, match="BNB price must be between"):
            VenueConfig(fee_asset_prices={"BNB": price})
    config = VenueConfig(accounts=(AccountSpec("k", "s", fee_asset="BNB", fee_asset_discount="0.1"),))
    assert config.accounts[0].fee_payment == FeePayment("BNB", D("0.1"))


def test_accounts_of_the_configuration_and_of_the_control_api_get_their_fee_option():
    built = Venue(VenueConfig(start_offset_s=5, accounts=(AccountSpec("cfg", "s", fee_asset="ETH"),),
                              fee_asset_prices={"BNB": "480"}))
    assert built.accounts.by_api_key("cfg").fee_payment == FeePayment("ETH", D("0.25"))
    plain = Venue(VenueConfig(start_offset_s=5))

    async def add_over_http(venue: Venue, body: dict) -> tuple[int, dict]:
        async with TestClient(TestServer(make_app(venue))) as client:
            answer = await client.post("/_control/accounts", json=body)
            return answer.status, await answer.json()

    status, body = asyncio.run(add_over_http(built, {
        "apiKey": "ctl", "apiSecret": "s", "balances": {"BNB": "2"}, "feeAsset": "BNB"}))
    assert status == 200 and body["feeAsset"] == "BNB" and body["feeAssetDiscount"] == "0.25"
    assert built.accounts.by_api_key("ctl").fee_payment == FeePayment("BNB", D("0.25"))
    # A price of the account's own is refused: commissions are charged at the venue's one price.
    status, body = asyncio.run(add_over_http(built, {
        "apiKey": "ctl2", "apiSecret": "s", "feeAsset": "BNB", "feeAssetPrice": "700"}))
    assert status == 400 and "no fee asset price of its own" in body["error"]
    # A venue started without BNBUSDT cannot value BNB, so it takes no BNB payer.
    status, body = asyncio.run(add_over_http(plain, {"apiKey": "ctl3", "apiSecret": "s", "feeAsset": "BNB"}))
    assert status == 400 and "no BNBUSDT market" in body["error"]
    assert built.accounts.by_api_key("ctl2") is None and plain.accounts.by_api_key("ctl3") is None


def test_a_negative_maker_fee_pays_the_maker_a_rebate_in_the_usual_asset():
    rebating = Venue(VenueConfig(start_offset_s=30, maker_fee=D("-0.0001")))
    rebating.replayer.warm_up()
    maker = account(rebating, {"USDT": "0", "BTC": "0.01", "ETH": "1"}, fee_asset="ETH")
    taker = account(rebating, {"USDT": "100000"})
    ask = D(rebating.markets["BTCUSDT"].book.best_ask()[0])
    resting, _ = rebating.engine.place(maker, OrderRequest("BTCUSDT", "SELL", "LIMIT", D("0.01"), price=ask,
                                                           time_in_force="GTC"))
    rebating.engine.place(taker, market("BUY", "0.01"))
    fill = resting.fills[0]
    assert fill.is_maker and fill.commission == -(ask * D("0.01") * D("0.0001")).quantize(EIGHT)
    assert fill.commission_asset == "USDT"  # a rebate is paid, not charged in the fee asset
    assert maker.balance("USDT").free == ask * D("0.01") - fill.commission
    assert maker.balance("ETH").free == D("1")
    assert D(trade_json(fill)["commission"]) == fill.commission < 0


def test_a_rebate_may_not_exceed_the_taker_fee():
    with pytest.raises(ConfigError, match="maker fee"):
        VenueConfig(maker_fee=D("-0.002"), taker_fee=D("0.001"))
