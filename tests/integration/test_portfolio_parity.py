"""Parity for portfolio strategies: replaying a universe through the portfolio engine reproduces the
portfolio backtest's trades (times, symbols, sides, quantities; prices within the cost model).

Both sides share one cash account; the engine values equity once at every member's next open,
sends sells before buys and caps buys by the cash left, as vectorbt's grouped ``targetpercent``
simulation does. Quantities agree to lot rounding (1e-8, compounded a little through equity).
"""

from __future__ import annotations

import pytest

from tradepulse.adapters.paper.feeds import FINE_STEP
from tradepulse.backtest import Costs, FixedSlippage, RangeSlippage
from tradepulse.backtest.portfolio import run_portfolio_backtest
from tradepulse.data.universe import load_universe
from tradepulse.live.portfolio_replay import run_portfolio_replay

LOT = float(FINE_STEP)
MAJORS = "universe:binance-usdt-4h"


CASES = [
    pytest.param([MAJORS], "sma_cross", {"fast": 10, "slow": 30}, Costs(fees_bps=10, slippage=FixedSlippage(5)), id="majors-equal_share-sma_cross"),
    pytest.param([MAJORS], "mean_reversion", {"window": 24}, Costs(fees_bps=10, slippage=RangeSlippage()), id="majors-equal_share-mean_reversion"),
]


def assert_same_fills(backtest_fills: list[dict], live_fills: list[dict]) -> None:
    assert len(live_fills) == len(backtest_fills) > 0
    for expected, got in zip(backtest_fills, live_fills, strict=True):
        assert (str(got["time"]), got["symbol"], got["side"]) == (str(expected["time"]), expected["symbol"], expected["side"]), (expected, got)
        assert abs(got["quantity"] - expected["quantity"]) <= 4 * LOT + 1e-6 * expected["quantity"], (expected, got)
        assert abs(got["price"] - expected["price"]) <= LOT / 2 + 1e-12 * expected["price"], (expected, got)
        # The fee follows the quantity: it may differ by the fee on the lot rounding.
        assert abs(got["fee"] - expected["fee"]) <= 1e-3 * expected["price"] * 4 * LOT + 1e-6 * expected["fee"], (expected, got)
        assert got["target"] == pytest.approx(expected["target"], abs=1e-12)


def check_parity(sources, strategy, params, costs) -> dict:
    universe = load_universe(sources)
    backtest = run_portfolio_backtest(universe, strategy, params, costs=costs)
    live = run_portfolio_replay(universe, strategy, params=params, costs=costs).to_dict()
    backtest_fills = [
        {"time": r.time, "symbol": r.symbol, "side": r.side, "quantity": r.quantity, "price": r.price, "fee": r.fee, "target": r.target}
        for r in backtest.fills.itertuples()
    ]
    assert_same_fills(backtest_fills, live["fills"])
    stats = backtest.stats
    assert live["symbols"] == list(universe.symbols)
    assert live["trades"] == stats["trades"] and live["bars"] == stats["bars"]
    assert live["final_equity"] == pytest.approx(stats["final_equity"], rel=1e-6)
    for symbol, row in backtest.per_symbol.iterrows():
        assert live["per_symbol"][symbol]["trades"] == row["trades"]
    return live


@pytest.mark.parametrize(("sources", "strategy", "params", "costs"), CASES)
def test_a_universe_replayed_through_the_portfolio_engine_gives_the_backtests_fills(sources, strategy, params, costs):
    check_parity(sources, strategy, params, costs)


BUILTINS = [
    pytest.param([MAJORS], "momentum", {}, Costs(fees_bps=10), id="majors-momentum"),
    pytest.param(["sample:binance:BTC/USDT:4h", "sample:binance:ETH/USDT:4h"], "pairs", {}, Costs(fees_bps=10), id="btc-eth-pairs"),
    pytest.param([MAJORS], "synchrony", {}, Costs(fees_bps=10, slippage=FixedSlippage(2)), id="majors-synchrony"),
]


@pytest.mark.parametrize(("sources", "strategy", "params", "costs"), BUILTINS)
def test_each_portfolio_builtin_replays_to_its_backtest(sources, strategy, params, costs):
    check_parity(sources, strategy, params, costs)


def test_a_one_member_universe_replays_like_the_single_symbol_engine():
    from tradepulse.live.replay import run_replay

    single = run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 10, "slow": 30}).to_dict()
    portfolio = run_portfolio_replay(["sample:binance:BTC/USDT:1h"], "sma_cross", params={"fast": 10, "slow": 30}).to_dict()
    assert [(f["time"], f["side"], f["quantity"], f["price"]) for f in portfolio["fills"]] == [
        (f["time"], f["side"], f["quantity"], f["price"]) for f in single["fills"]
    ]
    assert portfolio["final_equity"] == single["final_equity"]
