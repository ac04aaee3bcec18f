"""kill -9 a process trading through the OMS at random moments: the journal it leaves is always consistent.

The writer is this file run as a script: it opens the journal with the default (durable) settings,
rebuilds the OMS from it, finishes the orders a previous run left open, and then trades in a loop
(orders, acknowledgements, partial fills, repeated fills, cancels, unknown fills, marks, risk
events) until it is killed. The test kills it several times at seeded random points and checks,
after each kill, what a restart relies on.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tradepulse.execution import OMS, Fill, Instrument, OrderIntent, OrderStatus, OrderType, Side
from tradepulse.store import KIND_PATTERN, Journal, OmsEventKind
from polling import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = (
    Instrument("BTC/USDT", "BTC", "USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001")),
    Instrument("ETH/USDT", "ETH", "USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.0001")),
)
PRICES = {"BTC/USDT": Decimal("43000.00"), "ETH/USDT": Decimal("3000.00")}
K = OmsEventKind
WRITER_LIFETIME_SECONDS = 120  # a writer orphaned by a crashed test run ends on its own




# -- the writer (runs in the subprocess) ------------------------------------------------------


def run_writer(path: Path, run: int) -> None:
    rng = random.Random(run)
    journal = Journal(path)  # durability="full", the default under test
    oms = OMS(journal, INSTRUMENTS)
    trade_number = 0

    def fill(order, quantity: Decimal) -> None:
        nonlocal trade_number
        trade_number += 1
        price = PRICES[order.symbol] + Decimal(rng.randint(-300, 300)) * Decimal("0.01")
        trade_id = f"{run}-{trade_number}"
        oms.apply_fill(Fill(trade_id, order.client_order_id, quantity, price, datetime.now(UTC), fee=Decimal("0.01")))
        if rng.random() < 0.2:  # the venue repeats itself
            oms.apply_fill(Fill(trade_id, order.client_order_id, quantity, price, datetime.now(UTC)))

    for order in oms.open_orders():  # what reconciliation would find: the venue filled them meanwhile
        if order.remaining_quantity > 0 and order.status is not OrderStatus.PENDING_CANCEL:
            fill(order, order.remaining_quantity)
        elif order.status is OrderStatus.PENDING_CANCEL:
            oms.apply_cancel(order.client_order_id, reason="found cancelled after restart")

    deadline = time.monotonic() + WRITER_LIFETIME_SECONDS
    while time.monotonic() < deadline:
        for order in oms.open_orders():  # resting orders live a few rounds, so kills often find some open
            if rng.random() < 0.3:
                oms.request_cancel(order.client_order_id)
                oms.apply_cancel(order.client_order_id)
        symbol = rng.choice(list(PRICES))
        instrument = next(i for i in INSTRUMENTS if i.symbol == symbol)
        quantity = instrument.lot_size * rng.randint(1, 20000)
        side = rng.choice([Side.BUY, Side.SELL])
        resting = rng.random() < 0.3
        if resting:
            intent = OrderIntent("crash test", symbol, side, quantity, OrderType.LIMIT, limit_price=PRICES[symbol])
        else:
            intent = OrderIntent("crash test", symbol, side, quantity)
        journal.append("risk.decision", {"allowed": True, "symbol": symbol, "notional": quantity * PRICES[symbol]})
        order = oms.prepare_submit(intent)
        oms.apply_accept(order.client_order_id, f"V{order.client_order_id}")
        if resting:
            fill(order, instrument.round_quantity(quantity / 3) or instrument.lot_size)
        else:
            first = instrument.round_quantity(quantity * Decimal("0.4"))
            if first > 0:
                fill(order, first)
            fill(oms.order(order.client_order_id), oms.order(order.client_order_id).remaining_quantity)
        if rng.random() < 0.1:
            oms.apply_fill(Fill(f"ghost-{run}-{trade_number}", "tp-ghost-1", quantity, PRICES[symbol], datetime.now(UTC)))
        if rng.random() < 0.2:
            oms.mark_to_market(PRICES)


# -- the test -------------------------------------------------------------------------------


def journal_length(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with Journal(path, read_only=True) as reader:
            return reader.last_seq()
    except Exception:  # not created or not migrated yet: the writer is still starting
        return 0


def check_consistency(path: Path) -> dict:
    """Check everything a restart relies on and return a summary for the next round."""
    with Journal(path) as journal:  # a writable open runs SQLite's crash recovery, as a restart would
        assert journal.integrity_check() == "ok"
        events = list(journal.iter_events())
        assert [event.seq for event in events] == list(range(1, len(events) + 1)), "sequence has holes"
        assert all(KIND_PATTERN.match(event.kind) for event in events)
        raw = journal.select("SELECT payload FROM events ORDER BY seq")
        assert all(isinstance(json.loads(text), dict) for (text,) in raw), "half-written payload"

        opened: dict[str, dict] = {}
        sequences: list[int] = []
        fills_by_order: dict[str, Decimal] = defaultdict(Decimal)
        position_from_fills: dict[str, Decimal] = defaultdict(Decimal)
        for event in events:
            if event.kind in (K.ORDER_SUBMITTED, K.ORDER_DENIED):
                assert event.correlation_id not in opened, f"client order id {event.correlation_id} reused"
                opened[event.correlation_id] = event.payload["intent"]
                sequences.append(event.payload["client_order_sequence"])
            elif event.kind == K.ORDER_FILLED:
                assert event.correlation_id in opened, f"fill for an order never journaled: {event.correlation_id}"
                quantity = Decimal(event.payload["fill"]["fill_quantity"])
                intent = opened[event.correlation_id]
                fills_by_order[event.correlation_id] += quantity
                position_from_fills[intent["symbol"]] += quantity * Side(intent["side"]).sign
        assert sequences == list(range(1, len(sequences) + 1)), "client order id sequence has holes or repeats"

        oms = OMS.from_journal(journal, INSTRUMENTS)
        for symbol in PRICES:
            assert oms.position(symbol).quantity == position_from_fills[symbol]
        for client_order_id, order in oms.orders.items():
            assert order.filled_quantity == fills_by_order[client_order_id]
        summary = [(event.seq, event.kind, event.payload) for event in events]
        return {"events": summary, "last_sequence": oms.last_client_order_sequence}


def test_kill_9_at_random_moments_leaves_a_consistent_journal_and_the_ids_continue(tmp_path):
    path = tmp_path / "journal.sqlite"
    rng = random.Random(20240301)
    # The writer runs this file as a script: it needs the repository and tests/ (for polling) on its path.
    search_path = [str(REPO_ROOT), str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(search_path)}
    before = {"events": [], "last_sequence": 0}
    for run in range(1, 7):
        kill_after = len(before["events"]) + rng.randint(30, 400)
        writer = subprocess.Popen([sys.executable, __file__, str(path), str(run)], env=environment, stderr=subprocess.PIPE)
        try:
            eventually(lambda: journal_length(path) >= kill_after or writer.poll() is not None)
        finally:
            writer.kill()  # SIGKILL: no cleanup, no flush, mid-transaction if that is where it is
            _, stderr = writer.communicate()
        assert writer.returncode == -9, f"writer ended on its own: {stderr.decode(errors='replace')[-2000:]}"

        after = check_consistency(path)
        assert after["events"][: len(before["events"])] == before["events"], "a committed event changed or vanished"
        new_events = after["events"][len(before["events"]):]
        first_new_order = next(payload for _, kind, payload in new_events if kind in (K.ORDER_SUBMITTED, K.ORDER_DENIED))
        assert first_new_order["client_order_sequence"] == before["last_sequence"] + 1, "the id sequence did not continue"
        assert len(after["events"]) >= kill_after
        before = after


if __name__ == "__main__":
    run_writer(Path(sys.argv[1]), int(sys.argv[2]))
