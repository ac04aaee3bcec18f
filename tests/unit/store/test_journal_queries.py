"""Dashboard and API queries read orders, fills, positions, P&L and risk events straight from the journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tradepulse.errors import ConfigError
from tradepulse.execution import OMS, Fill, Instrument, OrderIntent, OrderType, Side
from tradepulse.store import Journal, queries

D = Decimal
START = datetime(2024, 3, 1, tzinfo=UTC)
BTC = Instrument("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), lot_size=D("0.00001"), min_notional=D("5"))
ETH = Instrument("ETH/USDT", "ETH", "USDT", tick_size=D("0.01"), lot_size=D("0.0001"), min_notional=D("5"))
ETH_BTC = Instrument("ETH/BTC", "ETH", "BTC", tick_size=D("0.00001"), lot_size=D("0.0001"))


class MinuteClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def fill(client_order_id: str, trade_id: str, quantity: str, price: str, fee: str = "0") -> Fill:
    return Fill(trade_id, client_order_id, D(quantity), D(price), START, fee=D(fee), fee_currency="USDT")


@pytest.fixture
def trading_day(journal_at):
    """A journal with a small but complete day: fills, a cancel, a denial, marks and risk events."""
    path = journal_at("journal")
    clock = MinuteClock()
    with Journal(path, clock=clock, durability="fast") as journal:
        oms = OMS(journal, [BTC, ETH, ETH_BTC], clock=clock)
        buy = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.BUY, D("0.2"), reference_price=D("40000.00")))
        oms.apply_accept(buy.client_order_id, "V1")
        oms.apply_fill(fill(buy.client_order_id, "1", "0.1", "40000.00", fee="4"))
        oms.apply_fill(fill(buy.client_order_id, "2", "0.1", "40100.00", fee="4"))
        oms.mark_to_market({"BTC/USDT": D("40200.00")})
        resting = oms.prepare_submit(OrderIntent("grid", "ETH/USDT", Side.BUY, D("1"), OrderType.LIMIT, limit_price=D("2900.00")))
        oms.apply_accept(resting.client_order_id, "V2")
        oms.request_cancel(resting.client_order_id)
        oms.apply_cancel(resting.client_order_id)
        journal.append("risk.decision", {"allowed": False, "reason": "max position", "symbol": "BTC/USDT"})
        oms.deny(OrderIntent("momentum", "BTC/USDT", Side.BUY, D("5")), "max position")
        journal.append("risk.state_changed", {"from": "ACTIVE", "to": "REDUCING"})
        sell = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.SELL, D("0.2"), reference_price=D("40300.00")))
        oms.apply_fill(fill(sell.client_order_id, "3", "0.2", "40300.00", fee="8"))
        oms.apply_fill(fill(sell.client_order_id, "3", "0.2", "40300.00", fee="8"))  # duplicate: not a fill
        oms.mark_to_market({"BTC/USDT": D("40400.00"), "ETH/USDT": D("3000.00")})
        still_open = OrderIntent("grid", "ETH/USDT", Side.BUY, D("1"), OrderType.LIMIT, limit_price=D("2800.00"))
        open_order = oms.prepare_submit(still_open)
        oms.apply_accept(open_order.client_order_id, "V5")
    return path


def test_orders_are_listed_newest_first_with_their_current_status(trading_day):
    rows = queries.orders(trading_day)
    assert [(row["client_order_id"], row["status"]) for row in rows] == [
        ("tp-grid-5", "ACCEPTED"), ("tp-momentum-4", "FILLED"), ("tp-momentum-3", "DENIED"), ("tp-grid-2", "CANCELED"),
        ("tp-momentum-1", "FILLED")]
    assert rows[-1]["average_fill_price"] == "40050.00" and rows[-1]["fees"] == "8.0000000"


def test_orders_filter_by_status_symbol_strategy_and_time_and_page(trading_day):
    assert [row["client_order_id"] for row in queries.orders(trading_day, status="FILLED")] == ["tp-momentum-4", "tp-momentum-1"]
    finished = queries.orders(trading_day, status=["DENIED", "CANCELED"])
    assert [row["client_order_id"] for row in finished] == ["tp-momentum-3", "tp-grid-2"]
    assert [row["client_order_id"] for row in queries.orders(trading_day, symbol="ETH/USDT")] == ["tp-grid-5", "tp-grid-2"]
    assert [row["client_order_id"] for row in queries.orders(trading_day, strategy="grid", status="ACCEPTED")] == ["tp-grid-5"]
    second_page = queries.orders(trading_day, limit=2, offset=1)
    assert [row["client_order_id"] for row in second_page] == ["tp-momentum-4", "tp-momentum-3"]
    denied_at = datetime.fromisoformat(queries.orders(trading_day, status="DENIED")[0]["journaled_at"])
    later = queries.orders(trading_day, since=denied_at)
    assert [row["client_order_id"] for row in later] == ["tp-grid-5", "tp-momentum-4", "tp-momentum-3"]
    assert [row["client_order_id"] for row in queries.orders(trading_day, until=denied_at)] == ["tp-grid-2", "tp-momentum-1"]


def test_fills_exclude_duplicates_and_carry_order_context(trading_day):
    rows = queries.fills(trading_day)
    assert [(row["trade_id"], row["side"], row["fill_quantity"], row["fee_quote"]) for row in rows] == [
        ("3", "sell", "0.2", "8.0000000"), ("2", "buy", "0.1", "4.0000000"), ("1", "buy", "0.1", "4.0000000")]
    assert [row["trade_id"] for row in queries.fills(trading_day, client_order_id="tp-momentum-1")] == ["2", "1"]
    assert queries.fills(trading_day, symbol="ETH/USDT") == []
    assert rows[-1]["venue_order_id"] == "V1" and rows[0]["strategy"] == "momentum"


def test_positions_over_time_records_every_fill_and_mark_as_decimals(trading_day):
    frame = queries.positions_over_time(trading_day, symbol="BTC/USDT")
    assert list(frame["source"]) == ["fill", "fill", "mark", "fill", "mark"]
    assert list(frame["quantity"]) == [D("0.1"), D("0.2"), D("0.2"), D("0"), D("0")]
    assert frame["realized_pnl"].iloc[-1] == D("50")  # sold 0.2 at 40300 against an average of 40050
    assert isinstance(frame["ts"].iloc[0], datetime) and frame["ts"].is_monotonic_increasing
    assert set(queries.positions_over_time(trading_day)["symbol"]) == {"BTC/USDT", "ETH/USDT"}


def test_pnl_series_gives_totals_and_equity_at_each_mark(trading_day):
    frame = queries.pnl_series(trading_day, initial_equity=D("10000"))
    assert list(frame.columns) == ["realized_pnl", "unrealized_pnl", "fees_quote", "net_pnl", "gross_exposure", "equity"]
    assert list(frame["net_pnl"]) == [D("22"), D("34")]  # (0.2*40200 - 8010) - 8; then 50 - 16
    assert frame["equity"].iloc[-1] == D("10034")
    assert isinstance(frame.index, pd.DatetimeIndex)
    marks = queries.positions_over_time(trading_day)
    marks = marks[(marks["source"] == "mark") & marks["symbol"].str.endswith("/USDT")]
    for ts, exposure in frame["gross_exposure"].items():
        at = marks[marks["ts"] == ts]
        assert exposure == sum((abs(q) * m for q, m in zip(at["quantity"], at["mark_price"], strict=True)), D(0))
    assert frame["gross_exposure"].iloc[0] > 0  # long BTC at the first mark (flat again at the last)


def test_pnl_series_asks_which_quote_when_there_are_several(journal_at):
    path = journal_at("j")
    with Journal(path) as journal:
        oms = OMS(journal, [BTC, ETH_BTC])
        for symbol, price in (("BTC/USDT", "40000.00"), ("ETH/BTC", "0.05000")):
            order = oms.prepare_submit(OrderIntent("s", symbol, Side.BUY, D("1")))
            oms.apply_fill(fill(order.client_order_id, "1", "1", price))
        oms.mark_to_market({"BTC/USDT": D("40001.00"), "ETH/BTC": D("0.05001")})
    with pytest.raises(ConfigError, match="quote="):
        queries.pnl_series(path)
    assert list(queries.pnl_series(path, quote="BTC")["unrealized_pnl"]) == [D("0.00001")]


def test_risk_events_are_every_risk_kind_newest_first(trading_day):
    rows = queries.risk_events(trading_day)
    assert [row["kind"] for row in rows] == ["risk.state_changed", "risk.decision"]
    assert queries.risk_events(trading_day, kind="risk.decision")[0]["payload"]["reason"] == "max position"


def test_events_page_forward_by_sequence(trading_day):
    first_page = queries.events(trading_day, limit=5)
    second_page = queries.events(trading_day, after_seq=first_page[-1]["seq"], limit=5)
    assert [event["seq"] for event in first_page + second_page] == list(range(1, 11))
    assert {event["kind"] for event in queries.events(trading_day, kind_prefix="fill.")} == {"fill.duplicate"}
    assert all(event["correlation_id"] == "tp-grid-2" for event in queries.events(trading_day, correlation_id="tp-grid-2"))


def test_queries_accept_an_open_journal_too(trading_day):
    with Journal(trading_day, read_only=True) as journal:
        assert len(queries.orders(journal)) == 5 and len(queries.fills(journal)) == 3
