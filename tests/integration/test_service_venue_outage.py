"""A venue outage mid-trading: submissions with unknown outcomes must not make the engine sell coins it never bought.

The service trades through ccxt against the local venue; then every REST request fails for a few
seconds (the orders sent meanwhile have unknown outcomes), then the venue recovers. While an
outcome is unknown the engine sends nothing new (``engine.order_deferred``); once the venue has
answered it trades on. The account must end exactly where the journal says: venue balance minus
the baseline equals the position, every venue trade is journaled once, nothing is left open.
"""

from __future__ import annotations

import asyncio

from polling import eventually

from tradepulse.service.processes import Drill
from tradepulse.service.trials import _audit, _config_text
from tradepulse.store import Journal


def test_orders_with_unknown_outcomes_hold_new_orders_until_the_venue_answers(tmp_path):
    state_dir = tmp_path / "state"
    config = tmp_path / "live.toml"
    config.write_text(_config_text(state_dir), encoding="utf-8")
    with Drill(tmp_path, prefix="outage") as drill:
        venue = drill.venue(speed=10.0, seed=11, balances={"USDT": "3000", "BTC": "0.02", "ETH": "0"})
        service = drill.service(config)
        with service.client() as client:
            eventually(lambda: len(client.fills()) >= 2, timeout_seconds=60)
            venue.faults(rest_error_rate=1.0)
            journal = Journal(state_dir / "journals" / "crash.sqlite", read_only=True)
            eventually(lambda: journal.count("order.submit_failed") >= 1, timeout_seconds=60)
            # The strategy changes its mind during the outage: the new order waits for the unknown one.
            eventually(lambda: journal.count("engine.order_deferred") >= 1, timeout_seconds=60)
            venue.clear_faults()
            failed = journal.count("order.submit_failed")
            fills_after_outage = len(client.fills(limit=1000))
            eventually(lambda: len(client.fills(limit=1000)) > fills_after_outage + 2, timeout_seconds=90)
            assert client.status()["trading_state"] == "ACTIVE"
            deferred = journal.count("engine.order_deferred")
            positions = [float(event.payload["position"]["quantity"]) for event in journal.iter_events(kinds=["order.filled"])]
            journal.close()
        assert service.stop() == 0
        audit = asyncio.run(_audit(state_dir, drill.env))
    assert failed >= 1 and deferred >= 1
    # A long-only strategy on a spot account: the position never went short (no coins sold twice).
    assert min(positions) >= 0
    assert audit["problems"] == [], audit
