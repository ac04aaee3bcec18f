"""The OMS journals every intent before the venue hears of it and applies venue answers through the state table."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from execution_helpers import BTC_USDT, INSTRUMENTS, limit, make_fill, market_buy

from tradepulse.errors import OrderRejected, TemporaryVenueError
from tradepulse.execution import (
    OMS,
    FillOutcome,
    InvalidOrder,
    InvalidTransition,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    UnknownOrder,
)
from tradepulse.execution.sizer import intent_for_quantity
from tradepulse.store import Journal, OmsEventKind
from tradepulse.store.journal import segment_rows

D = Decimal
K = OmsEventKind


class JournalReadingVenue:
    """A venue double that, when called, reads the journal file through its own read-only connection."""

    def __init__(self, journal_path, fail_with: Exception | None = None) -> None:
        self.journal_path = journal_path
        self.fail_with = fail_with
        self.seen_at_call: list[list[str]] = []

    def _journaled_kinds(self, client_order_id: str) -> list[str]:
        with Journal(self.journal_path, read_only=True) as reader:
            return [event.kind for event in reader.events(correlation_id=client_order_id)]

    async def create_order(self, order):
        self.seen_at_call.append(self._journaled_kinds(order.client_order_id))
        if self.fail_with:
            raise self.fail_with
        return {"venue_order_id": "V-" + order.client_order_id}

    async def cancel_order(self, order):
        self.seen_at_call.append(self._journaled_kinds(order.client_order_id))
        return {"status": "canceled"}


def intent_for_target(oms, strategy, symbol, target_quantity, **options):
    """The sizer's intent from the OMS's position and open orders (the OMS itself does not size)."""
    working = oms.position(symbol).quantity + sum((order.signed_remaining_quantity for order in oms.open_orders(symbol)), D(0))
    return intent_for_quantity(oms.instrument(symbol), strategy, target_quantity, working, **options)


def kinds(journal: Journal, client_order_id: str | None = None) -> list[str]:
    return [event.kind for event in journal.events(correlation_id=client_order_id)]


def test_submit_intent_is_durable_before_the_venue_is_called(oms, journal_path):
    venue = JournalReadingVenue(journal_path)
    order, answer = asyncio.run(oms.submit(market_buy("0.01"), venue.create_order))
    assert venue.seen_at_call == [[K.ORDER_SUBMITTED]]
    assert order.status is OrderStatus.SUBMITTED and answer == {"venue_order_id": "V-tp-momentum-1"}


def test_prepare_submit_journals_and_returns_a_submitted_order_another_connection_can_read(oms, journal_path):
    order = oms.prepare_submit(market_buy("0.01"))
    with Journal(journal_path, read_only=True) as reader:
        (event,) = reader.events()
    assert (event.kind, event.correlation_id) == (K.ORDER_SUBMITTED, order.client_order_id)
    assert event.payload["order"]["status"] == "SUBMITTED"
    assert event.payload["client_order_sequence"] == 1 and event.payload["intent"]["quantity"] == "0.01"


def test_client_order_ids_follow_the_journaled_sequence_across_strategies(oms):
    first = oms.prepare_submit(market_buy("0.01"))
    second = oms.deny(market_buy("0.01", strategy="mean reversion"), "max position")
    third = oms.prepare_submit(market_buy("0.01"))
    assert [first.client_order_id, second.client_order_id, third.client_order_id] == [
        "tp-momentum-1", "tp-mean_reversion-2", "tp-momentum-3"]
    assert oms.last_client_order_sequence == 3


def test_denied_intent_is_journaled_with_the_gate_decision_and_is_never_open(oms, journal):
    order = oms.deny(market_buy("5"), "max position notional", decision={"check": "max_position_notional", "limit": D("10000")})
    assert order.status is OrderStatus.DENIED and order.status_reason == "max position notional"
    assert not oms.open_orders()
    (event,) = journal.events(kinds=[K.ORDER_DENIED])
    assert event.payload["decision"] == {"check": "max_position_notional", "limit": "10000"}


def test_venue_rejection_raised_by_send_marks_the_order_rejected(oms, journal, journal_path):
    venue = JournalReadingVenue(journal_path, fail_with=OrderRejected("Filter failure: LOT_SIZE"))
    with pytest.raises(OrderRejected):
        asyncio.run(oms.submit(market_buy("0.01"), venue.create_order))
    order = oms.order("tp-momentum-1")
    assert order.status is OrderStatus.REJECTED and "LOT_SIZE" in order.status_reason
    assert kinds(journal) == [K.ORDER_SUBMITTED, K.ORDER_REJECTED]


def test_unknown_submit_outcome_is_journaled_and_the_order_stays_submitted(oms, journal, journal_path):
    venue = JournalReadingVenue(journal_path, fail_with=TemporaryVenueError("read timeout"))
    with pytest.raises(TemporaryVenueError):
        asyncio.run(oms.submit(market_buy("0.01"), venue.create_order))
    assert [order.status for order in oms.open_orders()] == [OrderStatus.SUBMITTED]
    (failure,) = journal.events(kinds=[K.ORDER_SUBMIT_FAILED])
    assert (failure.payload["error"], failure.payload["outcome"]) == ("TemporaryVenueError", "unknown")


def test_fills_move_the_order_to_filled_with_exact_average_price_and_fees(oms):
    order = oms.prepare_submit(market_buy("0.3"))
    oms.apply_accept(order.client_order_id, "V1")
    first = oms.apply_fill(make_fill(order.client_order_id, "11", "0.1", "43000.00", fee="0.0001", fee_currency="BTC"))
    assert first.order.status is OrderStatus.PARTIALLY_FILLED and first.order.fees == D("4.3")
    last = oms.apply_fill(make_fill(order.client_order_id, "12", "0.2", "43000.03", fee="0.5", fee_currency="USDT"))
    assert last.outcome is FillOutcome.APPLIED and last.order.status is OrderStatus.FILLED
    assert last.order.filled_quantity == D("0.3") and last.order.filled_notional == D("12900.006")
    assert last.order.average_fill_price == D("43000.02")  # 43000.02 exactly, on the tick
    # The 0.0001 BTC fee was taken in BTC: it never reached the account, so it is not in the position.
    assert last.position.quantity == D("0.2999") and last.position.fees_quote == D("4.8")
    assert last.order.trade_ids == ("11", "12") and last.order.venue_order_id == "V1"


def test_repeated_fill_is_journaled_as_duplicate_and_changes_nothing(oms, journal):
    order = oms.prepare_submit(market_buy("0.3"))
    oms.apply_fill(make_fill(order.client_order_id, "11", "0.1", "43000.00"))
    before = (oms.order(order.client_order_id), oms.position("BTC/USDT"))
    result = oms.apply_fill(make_fill(order.client_order_id, "11", "0.1", "43000.00"))
    assert result.outcome is FillOutcome.DUPLICATE
    assert (oms.order(order.client_order_id), oms.position("BTC/USDT")) == before
    assert kinds(journal)[-1] == K.FILL_DUPLICATE


def test_fill_for_unknown_order_is_journaled_and_ignored(oms, journal):
    result = oms.apply_fill(make_fill("tp-elsewhere-9", "77", "1", "43000.00", symbol="BTC/USDT"))
    assert result.outcome is FillOutcome.UNKNOWN_ORDER and result.order is None
    assert oms.position("BTC/USDT").is_flat and not oms.orders
    (event,) = journal.events()
    assert (event.kind, event.payload["trade_id"], event.payload["fill"]["fill_quantity"]) == (K.FILL_UNKNOWN_ORDER, "77", "1")


def test_the_same_trade_id_on_another_symbol_is_a_different_trade(oms):
    btc = oms.prepare_submit(market_buy("0.01"))
    eth = oms.prepare_submit(market_buy("0.01", symbol="ETH/USDT", price="3000.00"))
    oms.apply_fill(make_fill(btc.client_order_id, "500", "0.01", "43000.00"))
    assert oms.apply_fill(make_fill(eth.client_order_id, "500", "0.01", "3000.00")).outcome is FillOutcome.APPLIED


def test_fill_for_a_rejected_order_is_journaled_as_refused_and_raises(oms, journal):
    order = oms.prepare_submit(market_buy("0.01"))
    oms.apply_reject(order.client_order_id, "insufficient balance")
    with pytest.raises(InvalidTransition, match="REJECTED"):
        oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "43000.00"))
    refused = journal.events(kinds=[K.VENUE_ANSWER_REFUSED])[0].payload
    assert (refused["answer"], refused["error"]) == (K.ORDER_FILLED, "InvalidTransition")
    assert refused["payload"]["fill"]["trade_id"] == "1"
    assert oms.position("BTC/USDT").is_flat and oms.order(order.client_order_id).status is OrderStatus.REJECTED


def test_fill_whose_symbol_contradicts_its_order_is_refused(oms):
    order = oms.prepare_submit(market_buy("0.01"))
    with pytest.raises(InvalidOrder, match="ETH/USDT"):
        oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "43000.00", symbol="ETH/USDT"))


def test_answer_for_unknown_order_is_journaled_and_ignored(oms, journal):
    assert oms.apply_accept("tp-nobody-1", "V9") is None
    assert oms.apply_cancel("tp-nobody-1") is None
    assert [(event.kind, event.payload["answer"]) for event in journal.events()] == [
        (K.VENUE_UNKNOWN_ORDER, K.ORDER_ACCEPTED), (K.VENUE_UNKNOWN_ORDER, K.ORDER_CANCELED)]


def test_cancel_request_is_journaled_before_the_venue_call(oms, journal_path):
    order = oms.prepare_submit(limit(Side.BUY, "0.01", "42000.00"))
    oms.apply_accept(order.client_order_id, "V1")
    venue = JournalReadingVenue(journal_path)
    pending, _ = asyncio.run(oms.cancel(order.client_order_id, venue.cancel_order))
    assert pending.status is OrderStatus.PENDING_CANCEL
    assert venue.seen_at_call[-1][-1] == K.ORDER_CANCEL_REQUESTED
    assert oms.apply_cancel(order.client_order_id, reason="user").status is OrderStatus.CANCELED


def test_cancel_rejected_after_a_partial_fill_returns_to_partially_filled(oms):
    order = oms.prepare_submit(limit(Side.BUY, "0.02", "42000.00"))
    oms.apply_accept(order.client_order_id, "V1")
    oms.request_cancel(order.client_order_id)
    oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "42000.00"))
    assert oms.apply_cancel_reject(order.client_order_id, "too late").status is OrderStatus.PARTIALLY_FILLED


def test_cancel_of_a_filled_order_raises_and_journals_nothing(oms, journal):
    order = oms.prepare_submit(market_buy("0.01"))
    oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "43000.00"))
    count = journal.count()
    with pytest.raises(InvalidTransition):
        oms.request_cancel(order.client_order_id)
    assert journal.count() == count


def test_cancel_of_an_order_the_oms_never_had_raises_unknown_order(oms):
    with pytest.raises(UnknownOrder, match="tp-x-1"):
        oms.request_cancel("tp-x-1")


def test_late_acknowledgement_after_the_fill_keeps_the_order_filled_and_records_the_venue_id(oms):
    order = oms.prepare_submit(market_buy("0.01"))
    oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "43000.00"))
    acknowledged = oms.apply_accept(order.client_order_id, "V1")
    assert acknowledged.status is OrderStatus.FILLED and acknowledged.venue_order_id == "V1"


def test_fill_reported_after_the_cancel_still_counts_in_the_position(oms):
    order = oms.prepare_submit(limit(Side.BUY, "0.02", "42000.00"))
    oms.request_cancel(order.client_order_id)
    oms.apply_cancel(order.client_order_id)
    result = oms.apply_fill(make_fill(order.client_order_id, "1", "0.01", "42000.00"))
    assert result.order.status is OrderStatus.CANCELED and result.position.quantity == D("0.01")


def test_expired_ioc_order_leaves_no_open_order(oms):
    order = oms.prepare_submit(limit(Side.SELL, "0.01", "44000.00"))
    oms.apply_accept(order.client_order_id, "V1")
    assert oms.apply_expire(order.client_order_id).status is OrderStatus.EXPIRED
    assert not oms.open_orders()


def test_prepare_submit_refuses_intents_off_the_instrument_grid(oms, journal):
    with pytest.raises(InvalidOrder, match="lot size"):
        oms.prepare_submit(market_buy("0.000001"))
    with pytest.raises(InvalidOrder, match="notional"):
        oms.prepare_submit(market_buy("0.0001", price="43000"))
    with pytest.raises(InvalidOrder, match="no instrument"):
        oms.prepare_submit(market_buy("1", symbol="DOGE/USDT"))
    assert journal.count() == 0 and oms.last_client_order_sequence == 0


def test_intent_for_target_trades_the_difference_counting_open_orders(oms):
    intent = intent_for_target(oms, "momentum", "BTC/USDT", D("0.123456789"), reference_price=D("43000.00"))
    assert (intent.side, intent.quantity) == (Side.BUY, D("0.12345"))
    oms.prepare_submit(intent)
    assert intent_for_target(oms, "momentum", "BTC/USDT", D("0.123456789"), reference_price=D("43000.00")) is None
    reverse = intent_for_target(oms, "momentum", "BTC/USDT", D("-0.1"), reference_price=D("43000.00"))
    assert (reverse.side, reverse.quantity) == (Side.SELL, D("0.22345"))


def test_intent_for_target_skips_differences_below_the_minimum_notional(oms):
    assert intent_for_target(oms, "momentum", "BTC/USDT", D("0.0001"), reference_price=D("43000.00")) is None


def test_intent_for_target_rounds_a_limit_price_to_the_safe_side(oms):
    intent = intent_for_target(oms, "m", "BTC/USDT", D("-0.01"), order_type=OrderType.LIMIT, limit_price=D("43000.001"))
    assert (intent.side, intent.limit_price) == (Side.SELL, D("43000.01"))


def test_mark_to_market_journals_positions_and_totals(oms, journal):
    order = oms.prepare_submit(market_buy("0.5"))
    oms.apply_fill(make_fill(order.client_order_id, "1", "0.5", "40000.00", fee="2", fee_currency="USDT"))
    positions = oms.mark_to_market({"BTC/USDT": D("41000.00")})
    assert positions["BTC/USDT"].unrealized_pnl == D("500")
    [event] = journal.events(kinds=[K.PORTFOLIO_MARKS])  # written at once: the journal is not deferring commits
    [payload] = segment_rows(event.payload)
    assert payload["totals"]["USDT"]["net_pnl"] == "498.0000000"
    assert payload["prices"] == {"BTC/USDT": "41000.00"} and payload["positions"]["BTC/USDT"]["quantity"] == "0.5"
    assert oms.portfolio.total("USDT").net_pnl == D("498")


def approved(intent, now):
    from tradepulse.risk import RiskContext, RiskGate, RiskLimits

    gate = RiskGate(RiskLimits(max_order_notional=D("100000")), clock=lambda: now)
    context = RiskContext(last_trades={"BTC/USDT": (D("43000.00"), now)}, instruments={"BTC/USDT": BTC_USDT})
    decision = gate.check(intent, context)
    assert decision.approved, decision.reason
    return decision


def test_order_approved_by_the_real_risk_gate_is_journaled_with_the_decision_id(journal, clock):
    oms = OMS(journal, [BTC_USDT], clock=clock, require_approval=True)
    intent = market_buy("0.01")
    decision = approved(intent, clock())
    oms.prepare_submit(intent, approval=decision.approval)
    assert journal.events(kinds=[K.ORDER_SUBMITTED])[0].payload["risk_decision_id"] == decision.decision_id


def test_an_oms_that_requires_approval_refuses_orders_without_one_or_beyond_it(journal, clock):
    oms = OMS(journal, [BTC_USDT], clock=clock, require_approval=True)
    decision = approved(market_buy("0.01"), clock())
    with pytest.raises(InvalidOrder, match="approved"):
        oms.prepare_submit(market_buy("0.01"))
    with pytest.raises(InvalidOrder, match="does not cover"):
        oms.prepare_submit(market_buy("0.02"), approval=decision.approval)
    assert journal.count() == 0


def test_fills_of_point_one_and_point_two_close_exactly_against_point_three_after_replay(oms, journal):
    buy = oms.prepare_submit(market_buy("0.3"))
    oms.apply_fill(make_fill(buy.client_order_id, "1", "0.1", "43000.00"))
    oms.apply_fill(make_fill(buy.client_order_id, "2", "0.2", "43000.00"))
    sell = oms.prepare_submit(OrderIntent("momentum", "BTC/USDT", Side.SELL, D("0.3"), reference_price=D("43000.00")))
    oms.apply_fill(make_fill(sell.client_order_id, "3", "0.3", "43000.10"))
    rebuilt = OMS.from_journal(journal, [BTC_USDT, *INSTRUMENTS[1:]])
    for state in (oms, rebuilt):
        position = state.position("BTC/USDT")
        assert position.quantity == 0 and position.cost_basis == 0 and position.realized_pnl == D("0.03")
        assert state.order(buy.client_order_id).status is OrderStatus.FILLED


def test_with_commits_grouped_the_intent_and_what_came_before_are_durable_before_the_venue_call(oms, journal_path):
    venue = JournalReadingVenue(journal_path)
    with oms.journal.deferred_commits():
        oms.journal.append("market.bar", {"symbol": "BTC/USDT", "close": "100"})
        with Journal(journal_path, read_only=True) as reader:
            assert reader.count("market.bar") == 0  # waiting in the open transaction
        order, _ = asyncio.run(oms.submit(market_buy("0.01"), venue.create_order))
        with Journal(journal_path, read_only=True) as reader:
            assert reader.count("market.bar") == 1  # committed with the intent, before the call
        cid = order.client_order_id
        asyncio.run(oms.cancel(cid, venue.cancel_order))
    assert venue.seen_at_call == [[K.ORDER_SUBMITTED], [K.ORDER_SUBMITTED, K.ORDER_CANCEL_REQUESTED]]
