"""Two strategies on two symbols in one service, through ccxt, on one venue account.

Each engine has its own journal and venue connection; the API merges them; a kill reaches both;
after a restart both reconcile cleanly against the shared account (each against its own base asset).
"""

from __future__ import annotations

import os
import secrets

import httpx
from polling import eventually

from tradepulse.service.trials import _control, _processes

CONFIG = """
[service]
state_dir = "{state}"
[api]
port = 0
[venue]
kind = "ccxt"
exchange = "binance"
[[strategies]]
id = "btc-fast"
strategy = "sma_cross"
symbol = "BTC/USDT"
params = {{ fast = 2, slow = 3 }}
bar = "1s"
capital = 1000
[[strategies]]
id = "eth-fast"
strategy = "sma_cross"
symbol = "ETH/USDT"
params = {{ fast = 2, slow = 3 }}
bar = "1s"
capital = 1000
[risk]
max_daily_loss_fraction = 0.5
max_drawdown_fraction = 0.5
max_orders_per_window = 1000
"""


def test_two_strategies_trade_side_by_side_and_both_reconcile_after_a_restart(tmp_path):
    state_dir = tmp_path / "state"
    config = tmp_path / "live.toml"
    config.write_text(CONFIG.format(state=state_dir.as_posix()), encoding="utf-8")
    key, secret, token = (f"two-{secrets.token_hex(8)}" for _ in range(3))
    env = {**os.environ, "TRADEPULSE_VENUE_API_KEY": key, "TRADEPULSE_VENUE_API_SECRET": secret,
           "TRADEPULSE_BINANCE_API_KEY": key, "TRADEPULSE_BINANCE_API_SECRET": secret,
           "TRADEPULSE_API_OPERATE_TOKEN": token, "PYTHONWARNINGS": "ignore"}
    with _processes(tmp_path, env) as processes:
        venue = processes.start_venue(10.0, 5)
        env["TRADEPULSE_BINANCE_URL"] = venue["rest"].rsplit("/api/v3", 1)[0]
        info = processes.start_service(config, state_dir)
        with httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            def both_filled() -> bool:
                fills = api.get("/fills", params={"limit": 1000}).json()
                return {fill["strategy_id"] for fill in fills} == {"btc-fast", "eth-fast"}

            eventually(both_filled, timeout_seconds=90)
            assert [row["symbol"] for row in api.get("/strategies").json()] == ["BTC/USDT", "ETH/USDT"]
            assert {row["strategy_id"] for row in api.get("/positions").json()} == {"btc-fast", "eth-fast"}
            eth_orders = api.get("/orders", params={"strategy_id": "eth-fast", "limit": 1000}).json()
            assert eth_orders and {order["symbol"] for order in eth_orders} == {"ETH/USDT"}
            killed = api.post("/actions/kill", json={"reason": "both engines halt"}).json()
            assert killed["trading_state"] == "HALTED"
            assert {engine["trading_state"] for engine in killed["engines"]} == {"HALTED"}
        assert processes.stop_service() == 0

        _control(venue, "faults", method="DELETE")
        info = processes.start_service(config, state_dir)
        with httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            status = api.get("/status").json()
            assert status["service"]["start_mode"] == "warm"
            reconciliations = {entry["strategy_id"]: entry for entry in status["reconciliation"]}
            assert set(reconciliations) == {"btc-fast", "eth-fast"}
            for entry in reconciliations.values():
                assert entry["ok"] is True and entry["balance"]["checked"] is True, entry
            assert reconciliations["eth-fast"]["balance"]["asset"] == "ETH"
            # The operator's halt survived the restart; only an operator resumes.
            assert status["trading_state"] == "HALTED"
            assert api.post("/actions/resume", json={"reason": "checked"}).json()["trading_state"] == "ACTIVE"
        assert processes.stop_service() == 0
