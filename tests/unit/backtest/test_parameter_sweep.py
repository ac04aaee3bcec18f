"""Parameter sweeps: grids, limits, agreement with single backtests, chunking and bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from tradepulse.backtest import Costs, RangeSlippage, expand_grid, parse_grid, run_backtest, run_sweep
from tradepulse.backtest.sweep import BYTES_PER_BAR, BYTES_PER_CELL, chunk_size
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.strategy import FloatParam, MeanReversion, SmaCross, Strategy

STAT_COLUMNS = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "profit_factor", "exposure", "trades"]


def random_walk_bars(n_bars: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.003, n_bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    index = pd.date_range("2022-01-01", periods=n_bars, freq="5min", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": rng.uniform(10, 100, n_bars),
        },
        index=index,
    )


def test_parse_grid_reads_lists_and_ranges():
    grid = parse_grid("sma_cross", {"fast": "5:20:5", "slow": "50,100", "allow_short": "true,false"})
    assert grid == {"fast": [5, 10, 15, 20], "slow": [50, 100], "allow_short": [True, False]}


def test_parse_grid_names_the_strategy_and_parameter_in_errors():
    with pytest.raises(StrategyError, match="sma_cross: parameter 'fast' must be in"):
        parse_grid("sma_cross", {"fast": "1:5:1"})
    with pytest.raises(StrategyError, match="sma_cross: unknown parameter 'fats'"):
        parse_grid("sma_cross", {"fats": "5"})


def test_combinations_breaking_a_strategy_rule_are_skipped_and_counted():
    combos, skipped = expand_grid("sma_cross", {"fast": [5, 20, 40], "slow": [10, 30]})
    assert [(c["fast"], c["slow"]) for c in combos] == [(5, 10), (5, 30), (20, 30)]
    assert skipped == 3
    assert all(c["allow_short"] is False for c in combos)


def test_fixed_parameters_apply_to_every_combination():
    combos, _ = expand_grid("sma_cross", {"fast": [5, 10]}, fixed_params={"slow": 40, "allow_short": True})
    assert combos == [{"fast": 5, "slow": 40, "allow_short": True}, {"fast": 10, "slow": 40, "allow_short": True}]


def test_a_grid_over_the_limit_is_refused_before_any_work():
    with pytest.raises(ConfigError, match=r"the grid has 1,000,000 combinations, more than the limit of 100,000"):
        expand_grid("sma_cross", {"fast": list(range(2, 1002)), "slow": list(range(3, 1003))})
    with pytest.raises(ConfigError, match="more than the limit of 5"):
        expand_grid("sma_cross", {"fast": [2, 3, 4], "slow": [10, 20]}, max_combinations=5)


@pytest.mark.parametrize(
    ("grid", "fixed", "error", "message"),
    [
        ({"fast": [30], "slow": [10]}, None, StrategyError, "no combination in the grid is valid"),
        ({"fast": [5]}, {"fast": 6}, ConfigError, "both fixed"),
        ({"fast": []}, None, ConfigError, "has no values"),
        ({}, None, ConfigError, "the grid is empty"),
        ({"fast": [1]}, None, StrategyError, "must be in"),
    ],
)
def test_bad_grids_fail_clearly(grid, fixed, error, message):
    with pytest.raises(error, match=message):
        expand_grid("sma_cross", grid, fixed_params=fixed)


def test_each_sweep_row_equals_a_single_backtest_of_its_parameters(five_minute_bars):
    bars = five_minute_bars.iloc[:5000]
    costs = Costs(fees_bps=5, slippage=RangeSlippage(base_bps=1, impact=0.5))
    sweep = run_sweep(bars, "sma_cross", {"fast": [5, 12], "slow": [30, 90]}, fixed_params={"allow_short": True}, costs=costs)
    assert len(sweep.table) == 4
    for _, row in sweep.table.iterrows():
        single = run_backtest(bars, SmaCross(fast=int(row["fast"]), slow=int(row["slow"]), allow_short=True), costs=costs)
        for name in STAT_COLUMNS:
            assert row[name] == pytest.approx(single.stats[name], rel=1e-9, nan_ok=True), name


def test_sweep_ranks_best_first_by_the_metric(five_minute_bars):
    sweep = run_sweep(five_minute_bars.iloc[:3000], "sma_cross", {"fast": [4, 8, 16], "slow": [32, 64]}, metric="calmar")
    calmar = sweep.table["calmar"].to_numpy()
    finite = calmar[~np.isnan(calmar)]
    assert (np.diff(finite) <= 0).all()
    assert sweep.best_params == {k: sweep.table.iloc[0][k] for k in ("fast", "slow", "allow_short")}
    assert isinstance(sweep.best_strategy(), SmaCross)


def test_combinations_without_a_defined_metric_rank_last():
    class NeverTrades(Strategy):
        level = FloatParam(1.0, min=0.0, max=1e9)

        def signals(self, bars):
            return (bars["close"] > self.level).astype(float)

    bars = random_walk_bars(500)
    sweep = run_sweep(bars, NeverTrades, {"level": [1e9, 1.0]})
    assert sweep.table["level"].tolist() == [1.0, 1e9]  # the flat one has no sharpe: last
    assert np.isnan(sweep.table["sharpe"].iloc[-1])


def test_unknown_metric_is_refused(hourly_bars):
    with pytest.raises(ConfigError, match="unknown metric 'alpha'; choose one of total_return"):
        run_sweep(hourly_bars, "sma_cross", {"fast": [5]}, metric="alpha")


def test_chunk_size_follows_the_memory_budget():
    assert chunk_size(100_000, 100_000 * (BYTES_PER_BAR + BYTES_PER_CELL * 50)) == 50
    assert chunk_size(100_000, 1) == 1


def test_chunking_does_not_change_results(five_minute_bars):
    bars = five_minute_bars.iloc[:2000]
    grid = {"window": [20, 40], "entry_z": [1.5, 2.0, 2.5], "max_hold_bars": [20, 80]}
    whole = run_sweep(bars, MeanReversion, grid)
    one_by_one = run_sweep(bars, MeanReversion, grid, memory_budget_bytes=len(bars) * (BYTES_PER_BAR + BYTES_PER_CELL * 2))
    pd.testing.assert_frame_equal(whole.table, one_by_one.table)


def test_peak_memory_of_a_chunked_sweep_stays_within_its_budget():
    bars = random_walk_bars(20_000)
    grid = {"fast": list(range(2, 42, 2)), "slow": [60, 80, 100, 120, 140, 160, 180, 200, 220, 240]}  # 200 combinations
    budget = 8 * 1024**2  # an unchunked run would hold about 200 x 20,000 x 45 bytes = 180 MB
    run_sweep(bars.iloc[:300], "sma_cross", {"fast": [2], "slow": [60]})  # load compiled kernels first
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        result = run_sweep(bars, "sma_cross", grid, memory_budget_bytes=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.table) == 200
    assert peak - baseline < budget


def test_strategies_overriding_signals_grid_without_a_cache_still_sweep(hourly_bars):
    class Vectorised(Strategy):
        level = FloatParam(0.0, min=-1.0, max=1.0)

        def signals(self, bars):
            return pd.Series(self.level, index=bars.index)

        @classmethod
        def signals_grid(cls, bars, combos):
            return np.tile([c["level"] for c in combos], (len(bars), 1))

    sweep = run_sweep(hourly_bars, Vectorised, {"level": [0.0, 0.5, 1.0]})
    assert sorted(sweep.table["exposure"].round(6).unique()) == [0.0, pytest.approx(582 / 583)]


def test_signals_grid_of_the_wrong_shape_is_reported(hourly_bars):
    class Broken(Strategy):
        level = FloatParam(0.0, min=-1.0, max=1.0)

        @classmethod
        def signals_grid(cls, bars, combos, cache=None):
            return np.zeros((len(bars), 1))

    with pytest.raises(StrategyError, match=r"signals_grid must return shape \(583, 2\)"):
        run_sweep(hourly_bars, Broken, {"level": [0.1, 0.2]})


def test_to_dict_lists_the_top_combinations_with_params_and_stats(hourly_bars):
    sweep = run_sweep(hourly_bars, "sma_cross", {"fast": [4, 8, 12], "slow": [40]})
    payload = sweep.to_dict(top=2)
    assert payload["combinations"] == 3 and payload["metric"] == "sharpe"
    assert len(payload["results"]) == 2
    assert payload["results"][0]["params"] == payload["best_params"]
    assert set(payload["results"][0]) >= {"params", "sharpe", "total_return", "max_drawdown", "trades"}
