"""The matching engine against the real replayed book: taking, resting, fills from recorded trades, funds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradepulse.emulator.accounts import Account
from tradepulse.emulator.app import Venue
from tradepulse.emulator.config import VenueConfig
from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.matching import OrderRequest
from tradepulse.emulator.orders import Fill, Order

FEE = Decimal("0.001")


class EventLog:
    """Records what the engine tells the user-data stream."""

    def __init__(self) -> None:
        self.executions: list[tuple[int, str, str]] = []
        self.balance_events: list[tuple[str, set[str]]] = []

    def on_execution(self, order: Order, execution_type: str, fill: Fill | None, event_ms: int) -> None:
        self.executions.append((order.order_id, execution_type, order.status))

    def on_balances(self, account: Account, assets: set[str], event_ms: int) -> None:
        self.balance_events.append((account.api_key, set(assets)))

    def on_balance_update(self, account: Account, asset: str, delta: Decimal, event_ms: int) -> None:
        pass


@pytest.fixture
def venue() -> Venue:
    """A venue whose book is the real recording 30 s in (the replay task is not started: the book stays put)."""
    built = Venue(VenueConfig(start_offset_s=30))
    built.replayer.warm_up()
    built.engine.listener = EventLog()
    return built


_accounts = iter(range(10**9))


def fund(venue: Venue, **balances: str) -> Account:
    number = next(_accounts)
    return venue.accounts.add(f"key-{number}", f"secret-{number}", balances or {"USDT": "10000000", "BTC": "20"})


def top(venue: Venue, side: str) -> tuple[Decimal, Decimal]:
    level = venue.markets["BTCUSDT"].book.best_ask() if side == "ask" else venue.markets["BTCUSDT"].book.best_bid()
    return Decimal(level[0]), Decimal(level[1])


def order(side: str, type_: str = "LIMIT", qty: str | None = "0.001", price: Decimal | str | None = None,
          **extra) -> OrderRequest:
    tif = extra.pop("time_in_force", "GTC" if type_ == "LIMIT" else None)
    return OrderRequest(symbol="BTCUSDT", side=side, type=type_, quantity=None if qty is None else Decimal(qty),
                        price=None if price is None else Decimal(price), time_in_force=tif, **extra)


def test_market_buy_walks_the_book_and_moves_exact_balances(venue):
    account = fund(venue)
    ask, ask_qty = top(venue, "ask")
    qty = (ask_qty + Decimal("0.01")).quantize(Decimal("0.00001"))
    placed, fills = venue.engine.place(account, order("BUY", "MARKET", str(qty)))
    assert placed.status == "FILLED" and placed.executed_qty == qty
    assert fills[0].price == ask and fills[0].qty == ask_qty and fills[1].price > ask
    cost = sum(f.price * f.qty for f in fills)
    commission = sum(f.commission for f in fills)
    assert all(f.commission_asset == "BTC" and f.commission == (f.qty * FEE).quantize(Decimal("1e-8")) for f in fills)
    assert account.balance("USDT").free == Decimal("10000000") - cost
    assert account.balance("BTC").free == Decimal("20") + qty - commission


def test_liquidity_taken_by_one_client_is_not_available_to_the_next(venue):
    first, second = fund(venue), fund(venue)
    ask, ask_qty = top(venue, "ask")
    venue.engine.place(first, order("BUY", "MARKET", str(ask_qty)))
    _, fills = venue.engine.place(second, order("BUY", "MARKET", "0.0001"))
    assert fills[0].price > ask
    assert top(venue, "ask") == (ask, ask_qty)  # the published book never shows client trading


def test_limit_order_rests_locks_funds_and_cancel_releases_them(venue):
    account = fund(venue)
    bid, _ = top(venue, "bid")
    price = bid - 100
    placed, fills = venue.engine.place(account, order("BUY", price=price))
    assert placed.status == "NEW" and not fills and placed.working_time_ms > 0
    assert account.balance("USDT").locked == price * Decimal("0.001")
    canceled = venue.engine.cancel(account, "BTCUSDT", order_id=placed.order_id, client_order_id=None)
    assert canceled.status == "CANCELED"
    assert account.balance("USDT").locked == 0 and account.balance("USDT").free == Decimal("10000000")
    with pytest.raises(ApiError) as again:
        venue.engine.cancel(account, "BTCUSDT", order_id=placed.order_id, client_order_id=None)
    assert again.value.code == -2011


def test_resting_buy_fills_only_from_seller_initiated_prints_at_or_through_its_price(venue):
    account = fund(venue)
    price = top(venue, "bid")[0] - 50
    placed, _ = venue.engine.place(account, order("BUY", qty="0.003", price=price))
    engine = venue.engine
    engine.on_trade_print(("BTCUSDT", price - 1, Decimal("5"), False, 0))    # buyer-initiated: not a fill
    engine.on_trade_print(("BTCUSDT", price + 1, Decimal("5"), True, 0))     # above our bid: not reached
    assert placed.executed_qty == 0
    engine.on_trade_print(("BTCUSDT", price, Decimal("0.001"), True, 0))     # at our price: partial
    assert placed.status == "PARTIALLY_FILLED" and placed.executed_qty == Decimal("0.001")
    engine.on_trade_print(("BTCUSDT", price - 5, Decimal("1"), True, 0))     # through our price: the rest
    assert placed.status == "FILLED" and [f.price for f in placed.fills] == [price, price]
    assert all(f.is_maker for f in placed.fills)
    assert account.balance("USDT").locked == 0
    assert account.balance("USDT").free == Decimal("10000000") - price * Decimal("0.003")
    assert account.balance("BTC").free == Decimal("20") + Decimal("0.003") - sum(f.commission for f in placed.fills)


def test_one_recorded_trade_is_shared_in_price_then_time_priority(venue):
    early, late, better = fund(venue), fund(venue), fund(venue)
    price = top(venue, "bid")[0] - 100
    first, _ = venue.engine.place(early, order("BUY", qty="0.002", price=price))
    second, _ = venue.engine.place(late, order("BUY", qty="0.002", price=price))
    best, _ = venue.engine.place(better, order("BUY", qty="0.002", price=price + 1))
    venue.engine.on_trade_print(("BTCUSDT", price, Decimal("0.003"), True, 0))
    assert (best.executed_qty, first.executed_qty, second.executed_qty) == (Decimal("0.002"), Decimal("0.001"), 0)


def test_ioc_expires_the_rest_and_fok_is_all_or_nothing(venue):
    account = fund(venue)
    ask, ask_qty = top(venue, "ask")
    too_much = str(ask_qty + 1)
    ioc, fills = venue.engine.place(account, order("BUY", qty=too_much, price=ask, time_in_force="IOC"))
    assert ioc.status == "EXPIRED" and ioc.executed_qty == ask_qty and len(fills) == 1
    assert account.balance("USDT").locked == 0
    before = account.balance("USDT").free
    fresh = fund(venue)
    bid, bid_qty = top(venue, "bid")
    fok, fills = venue.engine.place(fresh, order("SELL", qty=str(bid_qty + 1), price=bid, time_in_force="FOK"))
    assert fok.status == "EXPIRED" and not fills and fresh.balance("BTC").free == 20
    filled, fills = venue.engine.place(fresh, order("SELL", qty=str(bid_qty), price=bid, time_in_force="FOK"))
    assert filled.status == "FILLED" and sum(f.qty for f in fills) == bid_qty
    assert account.balance("USDT").free == before


def test_limit_maker_that_would_take_is_rejected_and_one_that_would_not_rests(venue):
    account = fund(venue)
    ask, _ = top(venue, "ask")
    with pytest.raises(ApiError) as refused:
        venue.engine.place(account, order("BUY", "LIMIT_MAKER", price=ask))
    assert (refused.value.code, refused.value.msg) == (-2010, "Order would immediately match and take.")
    placed, _ = venue.engine.place(account, order("BUY", "LIMIT_MAKER", price=ask - Decimal("0.01") * 100))
    assert placed.status == "NEW"


def test_quote_amount_market_buy_spends_at_most_that_amount(venue):
    account = fund(venue)
    placed, fills = venue.engine.place(account, order("BUY", "MARKET", qty=None, quote_order_qty=Decimal("100")))
    assert placed.status == "FILLED" and placed.orig_qty == placed.executed_qty > 0
    assert Decimal("99") < placed.cumm_quote_qty <= Decimal("100")


def test_orders_the_account_cannot_fund_are_refused_without_side_effects(venue):
    account = fund(venue, USDT="50", BTC="0")
    for request in (order("BUY", "MARKET", qty="0.01"), order("BUY", qty="0.01", price=top(venue, "bid")[0]),
                    order("SELL", "MARKET", qty="0.001")):
        with pytest.raises(ApiError) as refused:
            venue.engine.place(account, request)
        assert refused.value.msg == "Account has insufficient balance for requested action."
    assert account.balance("USDT").free == 50 and not venue.engine.orders(account, "BTCUSDT")


def test_a_resting_client_order_trades_before_the_recorded_quantity_at_its_price(venue):
    seller, buyer = fund(venue), fund(venue)
    ask, _ = top(venue, "ask")
    resting, _ = venue.engine.place(seller, order("SELL", qty="0.001", price=ask))  # joins the best ask
    _, fills = venue.engine.place(buyer, order("BUY", "MARKET", qty="0.002"))
    assert [(f.price, f.qty) for f in fills[:2]] == [(ask, Decimal("0.001")), (ask, Decimal("0.001"))]
    assert resting.status == "FILLED" and resting.fills[0].trade_id == fills[0].trade_id
    assert resting.fills[0].is_maker and not fills[0].is_maker
    assert seller.balance("USDT").free == Decimal("10000000") + ask * Decimal("0.001") - resting.fills[0].commission


def test_self_trade_prevention_expires_the_resting_order_by_default(venue):
    account = fund(venue)
    ask, _ = top(venue, "ask")
    resting, _ = venue.engine.place(account, order("SELL", qty="0.001", price=ask))  # joins the best ask
    taker, fills = venue.engine.place(account, order("BUY", "MARKET", qty="0.001"))
    assert resting.status == "EXPIRED_IN_MATCH" and taker.status == "FILLED"
    assert all(f.order_id == taker.order_id for f in fills)
    assert account.balance("BTC").locked == 0


def test_client_order_ids_are_unique_among_open_orders_and_find_the_latest(venue):
    account = fund(venue)
    price = top(venue, "bid")[0] - 100
    first, _ = venue.engine.place(account, order("BUY", price=price, client_order_id="abc"))
    with pytest.raises(ApiError, match="Duplicate order sent"):
        venue.engine.place(account, order("BUY", price=price, client_order_id="abc"))
    venue.engine.cancel(account, "BTCUSDT", order_id=None, client_order_id="abc")
    second, _ = venue.engine.place(account, order("BUY", price=price, client_order_id="abc"))
    found = venue.engine.find(account, "BTCUSDT", order_id=None, client_order_id="abc")
    assert found is second and second.order_id != first.order_id
    assert venue.engine.find(fund(venue), "BTCUSDT", order_id=second.order_id, client_order_id=None) is None


def test_every_change_is_reported_new_then_trade_then_balances(venue):
    account = fund(venue)
    placed, fills = venue.engine.place(account, order("BUY", "MARKET", qty="0.001"))
    log = venue.engine.listener
    mine = [e for e in log.executions if e[0] == placed.order_id]
    assert mine[0] == (placed.order_id, "NEW", "NEW") and all(e[1] == "TRADE" for e in mine[1:])
    assert len(mine) == 1 + len(fills)
    assert (account.api_key, {"BTC", "USDT"}) in log.balance_events


operations = st.lists(st.tuples(st.sampled_from(["limit_buy", "limit_sell", "market_buy", "market_sell",
                                                 "cancel", "print_sell", "print_buy"]),
                                st.integers(1, 300), st.integers(-40, 40)), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_balances_never_go_negative_and_locked_funds_match_open_orders(venue, ops):
    account = fund(venue, USDT="500", BTC="0.01")
    engine = venue.engine
    mid = top(venue, "bid")[0]
    for action, size, offset in ops:
        qty = Decimal(size) / 100000
        price = mid + offset
        try:
            if action == "limit_buy":
                engine.place(account, order("BUY", qty=str(qty), price=price))
            elif action == "limit_sell":
                engine.place(account, order("SELL", qty=str(qty), price=price))
            elif action == "market_buy":
                engine.place(account, order("BUY", "MARKET", qty=str(qty)))
            elif action == "market_sell":
                engine.place(account, order("SELL", "MARKET", qty=str(qty)))
            elif action == "cancel" and engine.open_orders(account):
                victim = engine.open_orders(account)[size % len(engine.open_orders(account))]
                engine.cancel(account, "BTCUSDT", order_id=victim.order_id, client_order_id=None)
            elif action.startswith("print"):
                engine.on_trade_print(("BTCUSDT", price, qty * 10, action == "print_sell", 0))
        except ApiError as refused:
            assert refused.code in (-1013, -2010)
        for asset in ("USDT", "BTC"):
            balance = account.balance(asset)
            assert balance.free >= 0 and balance.locked >= 0
        open_orders = engine.open_orders(account)
        assert account.balance("USDT").locked == sum(o.locked_remaining for o in open_orders if o.side == "BUY")
        assert account.balance("BTC").locked == sum(o.locked_remaining for o in open_orders if o.side == "SELL")
        assert all(0 <= o.executed_qty <= o.orig_qty for o in engine.orders(account, "BTCUSDT"))
