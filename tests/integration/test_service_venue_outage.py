"""A venue outage mid-trading: submissions with unknown outcomes must not make the engine sell coins it never bought.

The service trades through ccxt against the local venue; then every REST request fails for a few
seconds (the orders sent meanwhile have unknown outcomes), then the venue recovers. While an
outcome is unknown the engine sends nothing new (``engine.order_deferred``); once the venue has
answered it trades on. The account must end exactly where the journal says: venue balance minus
the baseline equals the position, every venue trade is journaled once, nothing is left open.
"""

from __future__ import annotations

import asyncio
import os
import secrets

import httpx
from polling import eventually

from tradepulse.service.trials import _audit, _config_text, _control, _processes
from tradepulse.store import Journal


def test_orders_with_unknown_outcomes_hold_new_orders_until_the_venue_answers(tmp_path):
    state_dir = tmp_path / "state"
    config = tmp_path / "live.toml"
    config.write_text(_config_text(state_dir), encoding="utf-8")
    key, secret, token = (f"outage-{secrets.token_hex(8)}" for _ in range(3))
    env = {**os.environ, "TRADEPULSE_VENUE_API_KEY": key, "TRADEPULSE_VENUE_API_SECRET": secret,
           "TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
           "TRADEPULSE_API_OPERATE_TOKEN": token, "PYTHONWARNINGS": "ignore"}
    with _processes(tmp_path, env) as processes:
        venue = processes.start_venue(10.0, 11)
        env["TRADEPULSE_BINANCE_URL"] = venue["rest"].rsplit("/api/v3", 1)[0]
        info = processes.start_service(config, state_dir)
        api = httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10)
        with api:
            eventually(lambda: len(api.get("/fills").json()) >= 2, timeout_seconds=60)
            _control(venue, "faults", {"rest_error_rate": 1.0})
            journal = Journal(state_dir / "journals" / "crash.sqlite", read_only=True)
            eventually(lambda: journal.count("order.submit_failed") >= 1, timeout_seconds=60)
            # The strategy changes its mind during the outage: the new order waits for the unknown one.
            eventually(lambda: journal.count("engine.order_deferred") >= 1, timeout_seconds=60)
            _control(venue, "faults", method="DELETE")
            failed = journal.count("order.submit_failed")
            fills_after_outage = len(api.get("/fills", params={"limit": 1000}).json())
            eventually(lambda: len(api.get("/fills", params={"limit": 1000}).json()) > fills_after_outage + 2, timeout_seconds=90)
            assert api.get("/status").json()["trading_state"] == "ACTIVE"
            deferred = journal.count("engine.order_deferred")
            positions = [float(event.payload["position"]["quantity"]) for event in journal.iter_events(kinds=["order.filled"])]
            journal.close()
        assert processes.stop_service() == 0
        audit = asyncio.run(_audit(state_dir, env))
    assert failed >= 1 and deferred >= 1
    # A long-only strategy on a spot account: the position never went short (no coins sold twice).
    assert min(positions) >= 0
    assert audit["problems"] == [], audit
