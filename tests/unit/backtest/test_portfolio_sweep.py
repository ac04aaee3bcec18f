"""Sweeps over a universe: every combination a portfolio with its own shared cash account, in bounded chunks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from portfolio_test_strategies import AboveAverage, Rotation

from tradepulse.backtest import Costs, RangeSlippage, run_portfolio_backtest, run_portfolio_sweep, run_sweep, simulate_portfolio
from tradepulse.backtest.portfolio import member_costs
from tradepulse.backtest.portfolio_sweep import (
    PORTFOLIO_BYTES_PER_CELL,
    PORTFOLIO_BYTES_PER_MEMBER_BAR,
    PORTFOLIO_STAT_NAMES,
    group_equity,
    portfolio_chunk_size,
)
from tradepulse.backtest.search import CACHE_SHARE
from tradepulse.data.universe import load_universe
from tradepulse.errors import ConfigError, StrategyError

STATS = [name for name in PORTFOLIO_STAT_NAMES if name != "trades"]


@pytest.fixture(scope="module")
def universe():
    return load_universe(["universe:binance-usdt-4h"])


def assert_rows_equal_single_runs(sweep, universe, strategy, costs):
    for _, row in sweep.table.iterrows():
        params = {name: row[name].item() if hasattr(row[name], "item") else row[name] for name in sweep.param_names}
        single = run_portfolio_backtest(universe, strategy, params, costs=costs).stats
        assert row["trades"] == single["trades"], params
        for name in STATS:
            assert row[name] == pytest.approx(single[name], rel=1e-9, abs=1e-12, nan_ok=True), (name, params)


def test_each_row_of_a_portfolio_strategy_sweep_equals_its_portfolio_backtest(universe):
    costs = {"BTC/USDT": Costs(fees_bps=5), "SOL/USDT": Costs(fees_bps=20, slippage=RangeSlippage(base_bps=1, impact=0.5))}
    sweep = run_portfolio_sweep(universe, Rotation, {"lookback": [3, 6, 24], "weight_pct": [50, 100]}, costs=costs)
    assert len(sweep.table) == 6 and sweep.symbols == universe.symbols
    assert list(sweep.table.columns) == ["lookback", "weight_pct", *PORTFOLIO_STAT_NAMES]
    assert_rows_equal_single_runs(sweep, universe, Rotation, costs)


def test_a_single_symbol_strategy_sweeps_each_member_on_an_equal_share(universe):
    costs = Costs(fees_bps=10, slippage=RangeSlippage())
    sweep = run_sweep(universe, "sma_cross", {"fast": [5, 10, 20], "slow": [30, 60]}, fixed_params={"allow_short": True}, costs=costs)
    assert len(sweep.table) == 6 and sweep.symbols == universe.symbols
    assert_rows_equal_single_runs(sweep, universe, "sma_cross", costs)
    assert sweep.best_strategy().params == sweep.best_params


@pytest.mark.parametrize(
    ("strategy", "grid", "members"),
    [
        ("momentum", {"lookback": [6, 24], "top": [1, 2], "allow_short": [False, True]}, None),
        ("pairs", {"window": [40, 80], "entry_z": [1.5, 2.0]}, ("BTC/USDT", "ETH/USDT")),
    ],
)
def test_rows_of_the_built_in_portfolio_strategies_equal_their_backtests(universe, strategy, grid, members):
    if members:
        universe = load_universe([f"sample:binance:{symbol}:4h" for symbol in members])
    costs = Costs(fees_bps=7.5, slippage=RangeSlippage())
    sweep = run_sweep(universe, strategy, grid, costs=costs)
    assert len(sweep.table) == np.prod([len(values) for values in grid.values()])
    assert_rows_equal_single_runs(sweep, universe, strategy, costs)


def test_a_portfolio_strategys_signals_grid_is_used_and_agrees(universe):
    AboveAverage.grid_calls = 0
    sweep = run_sweep(universe, AboveAverage, {"window": [10, 40], "members": [1, 3]}, memory_budget_bytes=64 * 1024**2)
    assert AboveAverage.grid_calls == 1
    assert_rows_equal_single_runs(sweep, universe, AboveAverage, None)


def test_combinations_the_universe_cannot_hold_are_skipped_and_counted(universe):
    sweep = run_sweep(universe, AboveAverage, {"window": [10, 20], "members": [2, 4, 6]})
    assert sweep.skipped == 2 and sorted(sweep.table["members"].unique()) == [2, 4]
    with pytest.raises(StrategyError, match="no combination in the grid can run over this universe .*members=7 needs 7 members, the universe has 4"):
        run_sweep(universe, AboveAverage, {"members": [6, 7]})


def test_gross_exposure_over_the_limit_names_the_combination(universe):
    with pytest.raises(StrategyError, match=r"rotation \(lookback=6, weight_pct=150\): gross exposure 1\.5 at"):
        run_sweep(universe, Rotation, {"lookback": [6], "weight_pct": [90, 150]})


def test_chunking_does_not_change_results(universe):
    grid = {"lookback": [2, 4, 8, 16, 32], "weight_pct": [40, 80]}
    whole = run_sweep(universe, Rotation, grid)
    cells = len(universe) * len(universe.symbols)
    two_at_a_time = int((cells * (PORTFOLIO_BYTES_PER_MEMBER_BAR + PORTFOLIO_BYTES_PER_CELL * 2)) / (1 - CACHE_SHARE)) + 1
    assert portfolio_chunk_size(len(universe), len(universe.symbols), two_at_a_time - int(two_at_a_time * CACHE_SHARE)) == 2
    chunked = run_sweep(universe, Rotation, grid, memory_budget_bytes=two_at_a_time)
    pd.testing.assert_frame_equal(whole.table, chunked.table)


def test_chunk_size_counts_bars_times_members_times_combinations():
    budget = 1_000 * 10 * (PORTFOLIO_BYTES_PER_MEMBER_BAR + PORTFOLIO_BYTES_PER_CELL * 50)
    assert portfolio_chunk_size(1_000, 10, budget) == 50
    assert portfolio_chunk_size(1_000, 5, budget) > 2 * 50  # half the cells per combination
    assert portfolio_chunk_size(1_000, 10, 1) == 1


def test_peak_memory_of_a_chunked_portfolio_sweep_stays_within_its_budget():
    universe = load_universe(["universe:bittrex-btc-5m"])
    grid = {"lookback": list(range(2, 62, 2)), "weight_pct": [50, 90]}  # 60 combinations x 57,070 cells
    budget = 32 * 1024**2  # an unchunked run would hold about 60 x 57,070 x 76 bytes = 260 MB
    run_sweep(universe.slice(0, 300), Rotation, {"lookback": [2]})  # load compiled kernels first
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        result = run_sweep(universe, Rotation, grid, memory_budget_bytes=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.table) == 60
    assert peak - baseline < budget


def test_group_equity_replays_the_grouped_portfolio_value(universe):
    first = Rotation(lookback=6).signals(universe.bars).to_numpy()
    second = AboveAverage(window=10, members=3).signals(universe.bars).to_numpy()
    portfolio = simulate_portfolio(universe, np.hstack([first, second]), costs=member_costs(universe.symbols, None), groups=2)
    value, held = group_equity(portfolio.orders.values, universe.field("close").to_numpy(), 2, 10_000.0)
    np.testing.assert_allclose(value, np.asarray(portfolio.value()), rtol=1e-12)
    np.testing.assert_array_equal(held, np.asarray(portfolio.assets()).reshape(len(universe), 2, 4).any(axis=2))


def test_costs_per_symbol_need_a_universe(hourly_bars):
    with pytest.raises(ConfigError, match="costs per symbol need a universe"):
        run_sweep(hourly_bars, "sma_cross", {"fast": [5]}, costs={"BTC/USDT": Costs()})


def test_to_dict_names_the_members_and_their_costs(universe):
    sweep = run_sweep(universe, Rotation, {"lookback": [3, 6]}, costs={"ETH/USDT": Costs(fees_bps=2)})
    payload = sweep.to_dict(top=1)
    assert payload["symbols"] == list(universe.symbols)
    assert payload["fees_bps"] == {"BTC/USDT": 10.0, "ETH/USDT": 2.0, "SOL/USDT": 10.0, "BNB/USDT": 10.0}
    assert payload["results"][0]["params"] == payload["best_params"]
    assert set(payload["results"][0]) >= {"sharpe", "trades", "turnover", "fees_paid", "exposure"}
