"""Walk-forward over a universe: each fold chooses on a portfolio sweep and trades the portfolio out of sample."""

from __future__ import annotations

import numpy as np
import pytest
from portfolio_test_strategies import Rotation

from tradepulse.backtest import Costs, backtest_weights, run_walkforward
from tradepulse.backtest.portfolio import member_costs
from tradepulse.backtest.portfolio_sweep import evaluate_portfolio_combos
from tradepulse.backtest.search import expand_grid, rank
from tradepulse.data.universe import load_universe
from tradepulse.errors import ConfigError

GRID = {"lookback": [3, 6, 12, 24], "weight_pct": [50, 100]}


@pytest.fixture(scope="module")
def universe():
    return load_universe(["universe:binance-usdt-4h"])


@pytest.fixture(scope="module")
def walkforward(universe):
    return run_walkforward(universe, Rotation, GRID, train_bars=150, test_bars=80, costs={"SOL/USDT": Costs(fees_bps=25)})


def test_one_row_per_fold_over_the_universes_clock(walkforward, universe):
    folds = walkforward.folds
    assert len(folds) == 4  # (499 - 150) // 80
    index = universe.bars.index
    assert folds["test_start"].tolist() == [index[150 + 80 * k] for k in range(4)]
    assert folds["train_start"].tolist() == [index[80 * k] for k in range(4)]
    assert walkforward.symbols == universe.symbols
    assert walkforward.equity.index[0] == index[150] and len(walkforward.equity) == 320


def test_parameters_maximise_the_metric_of_the_in_sample_portfolio_sweep(walkforward, universe):
    combos, _ = expand_grid(Rotation, GRID)
    costs = member_costs(universe.symbols, {"SOL/USDT": Costs(fees_bps=25)})
    index = universe.bars.index
    for _, fold in walkforward.folds.iterrows():
        start, end = index.get_loc(fold["train_start"]), index.get_loc(fold["train_end"]) + 1
        in_sample = rank(evaluate_portfolio_combos(universe, Rotation, combos, start=start, end=end, costs=costs, init_cash=10_000.0), "sharpe")
        assert (fold["lookback"], fold["weight_pct"]) == (in_sample.iloc[0]["lookback"], in_sample.iloc[0]["weight_pct"])
        assert fold["in_sample_sharpe"] == pytest.approx(in_sample["sharpe"].max())


def test_a_test_window_trades_the_chosen_portfolio_with_the_history_before_it(walkforward, universe):
    fold = walkforward.folds.iloc[2]
    strategy = Rotation(lookback=int(fold["lookback"]), weight_pct=int(fold["weight_pct"]))
    start = universe.bars.index.get_loc(fold["test_start"])
    # Weights over the whole history are causal, so slicing them equals computing them on the window.
    weights = strategy.signals(universe.bars).to_numpy()[start - 1 : start + 80]
    window = backtest_weights(universe.slice(start - 1, start + 80), weights, costs={"SOL/USDT": Costs(fees_bps=25)})
    assert fold["total_return"] == pytest.approx(window.stats["final_equity"] / 10_000 - 1)
    assert fold["exposure"] == pytest.approx(window.positions.iloc[1:].abs().sum(axis=1).gt(0).mean())


def test_out_of_sample_equity_chains_the_test_windows(walkforward):
    growth = np.prod(1 + walkforward.folds["total_return"].to_numpy())
    assert walkforward.equity.iloc[-1] == pytest.approx(10_000 * growth)
    assert walkforward.stats["total_return"] == pytest.approx(growth - 1)
    assert walkforward.stats["trades"] == walkforward.folds["trades"].sum()
    # Exposure is the share of test bars closing with any member held: never above 1, however many members.
    assert 0 < walkforward.stats["exposure"] <= 1
    assert walkforward.stats["exposure"] == pytest.approx(walkforward.folds["exposure"].mean())


def test_to_dict_names_the_members_and_nests_params_per_fold(walkforward):
    payload = walkforward.to_dict()
    assert payload["symbols"] == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]
    assert payload["fees_bps"]["SOL/USDT"] == 25.0
    assert set(payload["folds"][0]["params"]) == {"lookback", "weight_pct"}


def test_windows_longer_than_the_universe_are_a_config_error(universe):
    with pytest.raises(ConfigError, match="exceed the 499 bars"):
        run_walkforward(universe, Rotation, GRID, train_bars=450, test_bars=100)
