"""Parity: replaying history through the live engine reproduces the backtest's trades.

The backtest fills float fractional sizes; the live path rounds each order down to the paper
instrument's lot (1e-8 for the research samples), so quantities agree to a couple of lots (the
rounding compounds a little through equity), times and sides exactly, and prices to the tick:
both apply the same cost model to the same bar.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradepulse.backtest import Costs, FixedSlippage, RangeSlippage, run_backtest
from tradepulse.data import load_bars
from tradepulse.adapters.paper.feeds import FINE_STEP
from tradepulse.live.replay import run_replay

HOURLY = "sample:binance:BTC/USDT:1h"
FIVE_MINUTE = "sample:binance:BTC/USDT-PERP:5m"
LOT = float(FINE_STEP)

CASES = [
    pytest.param(HOURLY, "sma_cross", {"fast": 10, "slow": 30}, Costs(fees_bps=10, slippage=FixedSlippage(5)), id="1h-sma_cross-fixed"),
    pytest.param(HOURLY, "mean_reversion", {}, Costs(fees_bps=10, slippage=RangeSlippage()), id="1h-mean_reversion-range"),
    pytest.param(HOURLY, "composite", {}, Costs(fees_bps=10), id="1h-composite"),
    pytest.param(FIVE_MINUTE, "sma_cross", {"fast": 12, "slow": 48, "allow_short": True}, Costs(fees_bps=10, slippage=RangeSlippage()), id="5m-sma_cross-range"),
]


def assert_same_fills(backtest_fills: list[dict], live_fills: list[dict]) -> None:
    """Fill by fill: same time and side, quantity within lot rounding, price within the cost model's rounding."""
    assert len(live_fills) == len(backtest_fills) > 0
    for expected, got in zip(backtest_fills, live_fills, strict=True):
        assert (str(got["time"]), got["side"]) == (str(expected["time"]), expected["side"])
        assert abs(got["quantity"] - expected["quantity"]) <= 2 * LOT + 1e-7 * expected["quantity"], (expected, got)
        assert abs(got["price"] - expected["price"]) <= LOT / 2 + 1e-12 * expected["price"], (expected, got)
        assert got["fee"] == pytest.approx(expected["fee"], rel=1e-6)
        assert got["target"] == expected["target"]


@pytest.mark.parametrize(("source", "strategy", "params", "costs"), CASES)
def test_replaying_through_the_live_engine_gives_the_backtests_fills(source, strategy, params, costs):
    backtest = run_backtest(load_bars(source), strategy, params, costs=costs)
    live = run_replay(source, strategy, params=params, costs=costs).to_dict()
    backtest_fills = [
        {"time": row.time, "side": row.side, "quantity": row.quantity, "price": row.price, "fee": row.fee, "target": row.target}
        for row in backtest.fills.itertuples()
    ]
    assert_same_fills(backtest_fills, live["fills"])
    stats = backtest.stats
    assert live["trades"] == stats["trades"] and live["bars"] == stats["bars"]
    assert (live["start"], live["end"]) == (stats["start"].to_pydatetime(), stats["end"].to_pydatetime())
    assert live["final_equity"] == pytest.approx(stats["final_equity"], rel=1e-6)
    assert live["total_return"] == pytest.approx(stats["total_return"], rel=1e-5, abs=1e-9)


def test_the_replay_and_backtest_commands_print_the_same_fills(cli):
    common = [HOURLY, "--strategy", "mean_reversion", "-p", "window=24", "--fees-bps", "8", "--slippage-model", "range", "--json"]
    backtest = cli("backtest", *common)
    live = cli("live", "replay", *common)
    assert backtest.returncode == 0, backtest.stderr
    assert live.returncode == 0, live.stderr
    expected, got = backtest.json(), live.json()
    assert_same_fills(expected["fills"], got["fills"])
    assert got["trades"] == expected["trades"] and got["bars"] == expected["bars"]
    assert (got["start"], got["end"]) == (expected["start"], expected["end"])
    assert got["final_equity"] == pytest.approx(expected["final_equity"], rel=1e-6)
    assert Decimal(str(got["pnl"])) == pytest.approx(Decimal(str(got["final_equity"])) - Decimal("10000"), abs=Decimal("1e-6"))
