"""Walk-forward optimisation: fold layout, in-sample choice, out-of-sample results and stitching."""

from __future__ import annotations

import numpy as np
import pytest

from tradepulse.backtest import Costs, run_walkforward
from tradepulse.backtest.engine import check_targets, simulate_fills
from tradepulse.backtest.result import equity_curves
from tradepulse.backtest.sweep import evaluate_combos, expand_grid, rank
from tradepulse.backtest.walkforward import fold_bounds
from tradepulse.errors import ConfigError
from tradepulse.strategy import SmaCross

GRID = {"fast": [4, 8, 16], "slow": [32, 64]}


@pytest.fixture(scope="module")
def bars(five_minute_bars):
    return five_minute_bars.iloc[:4000]


@pytest.fixture(scope="module")
def walkforward(bars):
    return run_walkforward(bars, "sma_cross", GRID, train_bars=1500, test_bars=500, fixed_params={"allow_short": True})


def test_rolling_folds_step_by_the_test_window():
    assert fold_bounds(1000, 400, 200) == [(0, 400, 400, 600), (200, 600, 600, 800), (400, 800, 800, 1000)]


def test_anchored_folds_grow_the_training_window_from_the_first_bar():
    assert fold_bounds(1000, 400, 300, anchored=True) == [(0, 400, 400, 700), (0, 700, 700, 1000)]


@pytest.mark.parametrize(
    ("train", "test", "message"),
    [(900, 200, r"train \(900\) \+ test \(200\) bars exceed the 1000 bars"), (1, 10, "--train must be at least 2"), (10, 0, "--test must be at least 1")],
)
def test_impossible_windows_are_refused(train, test, message):
    with pytest.raises(ConfigError, match=message):
        fold_bounds(1000, train, test)


def test_one_row_per_fold_with_windows_params_and_stats(walkforward, bars):
    folds = walkforward.folds
    assert len(folds) == 5
    assert folds["test_start"].tolist() == [bars.index[1500 + 500 * k] for k in range(5)]
    assert folds["test_end"].tolist() == [bars.index[1999 + 500 * k] for k in range(5)]
    assert folds["train_start"].tolist() == [bars.index[500 * k] for k in range(5)]
    for column in ("fast", "slow", "allow_short", "in_sample_sharpe", "total_return", "sharpe", "max_drawdown", "trades"):
        assert column in folds.columns


def test_parameters_are_those_that_maximise_the_metric_in_sample(walkforward, bars):
    combos, _ = expand_grid(SmaCross, GRID, {"allow_short": True})
    for _, fold in walkforward.folds.iterrows():
        start = bars.index.get_loc(fold["train_start"])
        end = bars.index.get_loc(fold["train_end"]) + 1
        in_sample = rank(evaluate_combos(bars, SmaCross, combos, start=start, end=end, costs=Costs(), init_cash=10_000.0), "sharpe")
        assert (fold["fast"], fold["slow"]) == (in_sample.iloc[0]["fast"], in_sample.iloc[0]["slow"])
        assert fold["in_sample_sharpe"] == pytest.approx(in_sample["sharpe"].max())


def test_out_of_sample_equity_chains_the_test_windows(walkforward, bars):
    equity = walkforward.equity
    assert equity.index[0] == bars.index[1500] and equity.index[-1] == bars.index[3999]
    assert len(equity) == 2500
    growth = np.prod(1 + walkforward.folds["total_return"].to_numpy())
    assert equity.iloc[-1] == pytest.approx(10_000 * growth)
    assert walkforward.stats["total_return"] == pytest.approx(growth - 1)
    assert walkforward.stats["trades"] == walkforward.folds["trades"].sum()


def test_a_test_window_trades_the_chosen_parameters_with_history_before_it(walkforward, bars):
    fold = walkforward.folds.iloc[2]
    strategy = SmaCross(fast=int(fold["fast"]), slow=int(fold["slow"]), allow_short=True)
    start = bars.index.get_loc(fold["test_start"])
    # Signals over the whole history are causal, so slicing them equals computing them on the window.
    targets = check_targets(strategy.signals(bars), bars, "sma_cross")[start - 1 : start + 500]
    fills = simulate_fills(bars.iloc[start - 1 : start + 500], targets[:, None], costs=Costs())
    value = equity_curves(fills.orders, 501, 1, bars["close"].to_numpy()[start - 1 : start + 500], 10_000.0)[1:, 0]
    assert fold["total_return"] == pytest.approx(value[-1] / 10_000 - 1)


def test_to_dict_nests_params_per_fold(walkforward):
    payload = walkforward.to_dict()
    assert payload["train_bars"] == 1500 and payload["test_bars"] == 500
    assert len(payload["folds"]) == 5
    assert set(payload["folds"][0]["params"]) == {"fast", "slow", "allow_short"}
    assert "fast" not in payload["folds"][0]
    assert set(payload["out_of_sample"]) >= {"total_return", "sharpe", "max_drawdown", "trades", "start", "end"}


def test_walkforward_with_more_bars_than_data_is_a_config_error(hourly_bars):
    with pytest.raises(ConfigError, match="exceed the 583 bars"):
        run_walkforward(hourly_bars, "sma_cross", GRID, train_bars=500, test_bars=100)
