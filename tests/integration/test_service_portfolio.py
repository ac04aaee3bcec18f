"""A portfolio strategy hosted by the service: one engine over BTC and ETH on one ccxt account.

The API shows positions, orders and fills per symbol; a kill halts the engine; after a restart the
warm start reconciles every member against its own base asset's balance.
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
id = "majors"
strategy = "sma_cross"
symbols = ["BTC/USDT", "ETH/USDT"]
params = {{ fast = 2, slow = 3 }}
bar = "1s"
capital = 2000
[risk]
max_daily_loss_fraction = 0.5
max_drawdown_fraction = 0.5
max_orders_per_window = 1000
"""


def test_a_portfolio_engine_in_the_service_trades_both_members_and_reconciles_each_after_a_restart(tmp_path):
    state_dir = tmp_path / "state"
    config = tmp_path / "live.toml"
    config.write_text(CONFIG.format(state=state_dir.as_posix()), encoding="utf-8")
    with Drill(tmp_path, prefix="book") as drill:
        venue = drill.venue(speed=10.0, seed=5, balances={"USDT": "3000", "BTC": "0", "ETH": "0"})
        service = drill.service(config)
        with service.client() as client:
            def both_filled() -> bool:
                return {fill["symbol"] for fill in client.fills(limit=1000)} == {"BTC/USDT", "ETH/USDT"}

            eventually(both_filled, timeout_seconds=90)
            (row,) = client.strategies()
            assert row["symbols"] == ["BTC/USDT", "ETH/USDT"] and set(row["positions"]) == {"BTC/USDT", "ETH/USDT"}
            assert {position["symbol"] for position in client.positions()} == {"BTC/USDT", "ETH/USDT"}
            eth_orders = client.orders(symbol="ETH/USDT", limit=1000)
            assert eth_orders and {order["symbol"] for order in eth_orders} == {"ETH/USDT"}
            assert {fill["symbol"] for fill in client.fills(symbol="BTC/USDT", limit=1000)} == {"BTC/USDT"}
            killed = client.kill("portfolio halts")
            assert killed["trading_state"] == "HALTED"
        assert service.stop() == 0

        service.start()
        with service.client() as client:
            status = client.status()
            assert status["service"]["start_mode"] == "warm"
            (entry,) = status["reconciliation"]
            assert entry["strategy_id"] == "majors" and entry["ok"] is True, entry
            balances = {member["symbol"]: member["balance"] for member in entry["members"]}
            assert set(balances) == {"BTC/USDT", "ETH/USDT"}
            assert all(balance["checked"] is True for balance in balances.values()), balances
            assert balances["ETH/USDT"]["asset"] == "ETH" and balances["BTC/USDT"]["asset"] == "BTC"
            assert status["trading_state"] == "HALTED"
        assert service.stop() == 0
