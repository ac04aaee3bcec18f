"""Two strategies on two symbols in one service, through ccxt, on one venue account.

Each engine has its own journal and venue connection; the API merges them; a kill reaches both;
after a restart both reconcile cleanly against the shared account (each against its own base asset).
"""

from __future__ import annotations

from polling import eventually

from tradepulse.service.processes import Drill

CONFIG = """
[service]
state_dir = "{state}"
[api]
port = 0
[venue]
kind = "ccxt"
exchange = "binance"
[governance]
require_versions = false  # built-in strategies against the local venue
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
    with Drill(tmp_path, prefix="two") as drill:
        venue = drill.venue(speed=10.0, seed=5, balances={"USDT": "3000", "BTC": "0.02", "ETH": "0"})
        service = drill.service(config)
        with service.client() as client:
            def both_filled() -> bool:
                fills = client.fills(limit=1000)
                return {fill["strategy_id"] for fill in fills} == {"btc-fast", "eth-fast"}

            eventually(both_filled, timeout_seconds=90)
            assert [row["symbol"] for row in client.strategies()] == ["BTC/USDT", "ETH/USDT"]
            assert {row["strategy_id"] for row in client.positions()} == {"btc-fast", "eth-fast"}
            eth_orders = client.orders(strategy_id="eth-fast", limit=1000)
            assert eth_orders and {order["symbol"] for order in eth_orders} == {"ETH/USDT"}
            killed = client.kill("both engines halt")
            assert killed["trading_state"] == "HALTED"
            assert {engine["trading_state"] for engine in killed["engines"]} == {"HALTED"}
        assert service.stop() == 0

        venue.clear_faults()
        service.start()
        with service.client() as client:
            status = client.status()
            assert status["service"]["start_mode"] == "warm"
            reconciliations = {entry["strategy_id"]: entry for entry in status["reconciliation"]}
            assert set(reconciliations) == {"btc-fast", "eth-fast"}
            for entry in reconciliations.values():
                assert entry["ok"] is True and entry["balance"]["checked"] is True, entry
            assert reconciliations["eth-fast"]["balance"]["asset"] == "ETH"
            # The operator's halt survived the restart; only an operator resumes.
            assert status["trading_state"] == "HALTED"
            assert client.resume("checked")["trading_state"] == "ACTIVE"
        assert service.stop() == 0
