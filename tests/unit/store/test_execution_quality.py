"""Execution quality per strategy and symbol, read from a journal a real OMS wrote, against hand-worked numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tradepulse.errors import ConfigError
from tradepulse.execution import OMS, Fill, Instrument, OrderIntent, OrderType, Side
from tradepulse.store import Journal, queries

D = Decimal
T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
BTC = Instrument("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), lot_size=D("0.00001"), min_notional=D("5"))
ETH = Instrument("ETH/USDT", "ETH", "USDT", tick_size=D("0.01"), lot_size=D("0.0001"), min_notional=D("5"))


class ManualClock:
    """Journal and OMS time, set by the test before each step so latencies are known to the millisecond."""

    def __init__(self) -> None:
        self.now = T0

    def at(self, milliseconds: int) -> None:
        self.now = T0 + timedelta(milliseconds=milliseconds)

    def __call__(self) -> datetime:
        return self.now


def ms(milliseconds: int) -> datetime:
    return T0 + timedelta(milliseconds=milliseconds)


@pytest.fixture
def session(journal_at):
    """Two strategies trading, each step at a known time.

    momentum, BTC/USDT:
      1. t=0     buy 0.5 at market, arrival 40000; acked at 120 ms; fills 0.2 @ 40010 and 0.3 @ 40020
                 (fees 8 and 12): paid 20008 for 20000 of arrival value, 8 USDT = 4 bps.
      2. t=1000  sell 0.5, arrival 40000; no ack, filled at 1050 ms 0.5 @ 39980 (fee 10): received
                 19990 instead of 20000, 10 USDT = 5 bps; the fill is its ack (50 ms).
      3. t=2000  buy 0.9 limit 39000 (no arrival price); acked at 2200 ms, never filled, cancelled at 3500.
      4. t=3000  buy 0.1, arrival 40000; rejected at 3030 ms.
      5. t=4000  buy 5 denied by the risk gate (never sent).
    grid, ETH/USDT:
      6. t=5000  buy 2, arrival 3000; acked at 5010 ms; fills 1 @ 2997: 3 USDT better, -10 bps.
    """
    path = journal_at("journal")
    clock = ManualClock()
    with Journal(path, clock=clock, durability="fast") as journal:
        oms = OMS(journal, [BTC, ETH], clock=clock)

        def fill(order_id: str, trade_id: str, quantity: str, price: str, fee: str = "0") -> None:
            oms.apply_fill(Fill(trade_id, order_id, D(quantity), D(price), clock.now, fee=D(fee), fee_currency="USDT"))

        clock.at(0)
        buy = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.BUY, D("0.5"), reference_price=D("40000.00")))
        clock.at(120)
        oms.apply_accept(buy.client_order_id, "V1")
        clock.at(300)
        fill(buy.client_order_id, "T1", "0.2", "40010.00", fee="8")
        clock.at(400)
        fill(buy.client_order_id, "T2", "0.3", "40020.00", fee="12")

        clock.at(1000)
        sell = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.SELL, D("0.5"), reference_price=D("40000.00")))
        clock.at(1050)
        fill(sell.client_order_id, "T3", "0.5", "39980.00", fee="10")

        clock.at(2000)
        resting = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.BUY, D("0.9"), OrderType.LIMIT,
                                                 limit_price=D("39000.00")))
        clock.at(2200)
        oms.apply_accept(resting.client_order_id, "V3")

        clock.at(3000)
        refused = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.BUY, D("0.1"), reference_price=D("40000.00")))
        clock.at(3030)
        oms.apply_reject(refused.client_order_id, "insufficient balance")

        clock.at(3500)
        oms.request_cancel(resting.client_order_id)
        oms.apply_cancel(resting.client_order_id)

        clock.at(4000)
        oms.deny(OrderIntent("momentum", "BTC/USDT", Side.BUY, D("5"), reference_price=D("40000.00")), "max position")

        clock.at(5000)
        grid = oms.prepare_submit(OrderIntent("grid", "ETH/USDT", Side.BUY, D("2"), reference_price=D("3000.00")))
        clock.at(5010)
        oms.apply_accept(grid.client_order_id, "V6")
        clock.at(5100)
        fill(grid.client_order_id, "T6", "1", "2997.00")
    return path


def by_key(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(row["strategy"], row["symbol"]): row for row in rows}


def test_slippage_fill_ratio_latency_fees_and_refusals_per_strategy_and_symbol(session):
    rows = queries.execution_quality(session)
    assert [(row["strategy"], row["symbol"]) for row in rows] == [("grid", "ETH/USDT"), ("momentum", "BTC/USDT")]
    momentum = by_key(rows)[("momentum", "BTC/USDT")]

    assert (momentum["orders"], momentum["orders_with_fills"], momentum["rejects"], momentum["denials"]) == (4, 2, 1, 1)
    # 1.0 filled of 0.5 + 0.5 + 0.9 + 0.1 ordered; the denied 5 was never sent.
    assert D(momentum["ordered_quantity"]) == D("2.0") and D(momentum["filled_quantity"]) == D("1.0")
    assert momentum["fill_ratio"] == 0.5
    # 8 + 10 USDT of cost over 40000 of arrival value; the sell's 5 bps is the worst.
    assert momentum["slippage_orders"] == 2
    assert momentum["slippage_bps_avg"] == pytest.approx(4.5, abs=1e-12)
    assert momentum["slippage_bps_worst"] == pytest.approx(5.0, abs=1e-12)
    assert D(momentum["slippage_quote"]) == D("18")
    # Acks after 120, 50 (the fill) and 200 ms; the rejected order was never live.
    assert momentum["ack_orders"] == 3
    assert (momentum["ack_ms_p50"], momentum["ack_ms_p95"], momentum["ack_ms_max"]) == (120.0, 192.0, 200.0)
    assert D(momentum["fees_quote"]) == D("30")

    grid = by_key(rows)[("grid", "ETH/USDT")]
    assert (grid["orders"], grid["orders_with_fills"], grid["rejects"], grid["denials"]) == (1, 1, 0, 0)
    assert grid["fill_ratio"] == 0.5
    # Bought 3 USDT below the arrival price: a gain, so negative.
    assert grid["slippage_bps_avg"] == pytest.approx(-10.0, abs=1e-12) and grid["slippage_bps_worst"] == grid["slippage_bps_avg"]
    assert (grid["ack_ms_p50"], grid["ack_ms_p95"], grid["ack_ms_max"]) == (10.0, 10.0, 10.0)
    assert D(grid["fees_quote"]) == 0


def test_an_open_journal_and_its_path_give_the_same_answer(session):
    with Journal(session, read_only=True) as journal:
        assert queries.execution_quality(journal) == queries.execution_quality(str(session))


def test_the_window_selects_orders_by_submission_and_keeps_what_happened_to_them_later(session):
    # Order 2 is submitted inside the window and filled after it: the fill still counts.
    first_two = by_key(queries.execution_quality(session, until=ms(1010)))
    assert list(first_two) == [("momentum", "BTC/USDT")]
    assert first_two[("momentum", "BTC/USDT")]["orders"] == 2
    assert first_two[("momentum", "BTC/USDT")]["fill_ratio"] == 1.0
    assert first_two[("momentum", "BTC/USDT")]["slippage_bps_worst"] == pytest.approx(5.0, abs=1e-12)

    # The limit order (submitted at 2000) is cancelled at 3500, inside this window; it is not an order of it.
    later = by_key(queries.execution_quality(session, since=ms(2500)))
    momentum = later[("momentum", "BTC/USDT")]
    assert (momentum["orders"], momentum["rejects"], momentum["denials"], momentum["ack_orders"]) == (1, 1, 1, 0)
    assert momentum["fill_ratio"] == 0.0 and momentum["slippage_bps_avg"] is None and momentum["ack_ms_p50"] is None
    assert later[("grid", "ETH/USDT")]["orders"] == 1

    only_grid = queries.execution_quality(session, since=ms(4500), until=ms(6000))
    assert [(row["strategy"], row["orders"]) for row in only_grid] == [("grid", 1)]
    assert queries.execution_quality(session, since=ms(9000)) == []


def test_bounds_at_the_ends_of_the_calendar_and_naive_bounds(session):
    everything = queries.execution_quality(session)
    # An offset that pushes the instant past year 1 or 9999 is clamped, not an overflow.
    assert queries.execution_quality(session, since=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))) == everything
    assert queries.execution_quality(session, since=datetime(999, 6, 1, tzinfo=UTC)) == everything
    assert queries.execution_quality(session, since=datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5)))) == []
    with pytest.raises(ConfigError, match="timezone-aware"):
        queries.execution_quality(session, since=datetime(2024, 3, 1))


def test_a_journal_without_orders_has_no_rows(journal_at):
    path = journal_at("empty")
    with Journal(path, durability="fast") as journal:
        journal.append("market.bar", {"symbol": "BTC/USDT", "close": "40000"})
    assert queries.execution_quality(path) == []
