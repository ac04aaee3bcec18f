"""SweepExplorer: the heatmap, the best cell, and clicking a cell to open its run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tradepulse.backtest import Costs, run_backtest, run_sweep
from tradepulse.strategy import load_strategy
from tradepulse.widgets import SweepExplorer
from tradepulse.widgets.sweep_explorer import default_axis

GRID = {"fast": [5, 10, 15], "slow": [20, 40]}


@pytest.fixture
def explorer():
    widget = SweepExplorer(grid=GRID, metric="sharpe", debounce_s=0.05)
    yield widget
    widget.close()


def click(figure, x_label, y_label):
    """Deliver a click on a heatmap cell the way plotly's frontend reports it."""
    figure._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "points": {"trace_indexes": [0], "point_indexes": [[0, 0]], "xs": [x_label], "ys": [y_label]},
    }


def test_heatmap_shows_the_metric_over_both_swept_parameters(explorer, hourly_bars):
    expected = run_sweep(hourly_bars, "sma_cross", GRID, costs=Costs(fees_bps=10), metric="sharpe")
    heatmap = explorer.heatmap.data[0]
    assert heatmap.type == "heatmap"
    assert list(heatmap.x) == ["5", "10", "15"]
    assert list(heatmap.y) == ["20", "40"]
    z = np.asarray(heatmap.z, dtype=float)
    assert z.shape == (2, 3)
    for _, row in expected.table.iterrows():
        column, line = GRID["fast"].index(row["fast"]), GRID["slow"].index(row["slow"])
        assert z[line, column] == pytest.approx(row["sharpe"])
    assert len(explorer.table) == 6


def test_the_best_cell_is_opened_first(explorer, hourly_bars):
    best = explorer.table.iloc[0]
    assert explorer.selected_params == {"fast": best["fast"], "slow": best["slow"], "allow_short": False}
    assert explorer.stats["sharpe"] == pytest.approx(best["sharpe"])
    outline = explorer.heatmap.data[1]
    assert (outline.x, outline.y) == ((str(best["fast"]),), (str(best["slow"]),))


def test_clicking_a_cell_opens_that_run(explorer, hourly_bars):
    click(explorer.heatmap, "15", "40")
    explorer.wait()
    expected = run_backtest(hourly_bars, "sma_cross", {"fast": 15, "slow": 40}, costs=Costs(fees_bps=10))
    assert explorer.selected_params["fast"] == 15 and explorer.selected_params["slow"] == 40
    assert explorer.stats["total_return"] == pytest.approx(expected.stats["total_return"])
    np.testing.assert_allclose(np.asarray(explorer.run_figure.data[0].y), expected.equity.to_numpy())
    assert (explorer.heatmap.data[1].x, explorer.heatmap.data[1].y) == (("15",), ("40",))
    assert 'data-stat="sharpe"' in explorer.stats_view.value


def test_combinations_that_break_a_rule_are_blank_cells():
    explorer = SweepExplorer(grid={"fast": [10, 30], "slow": [20, 60]}, debounce_s=0.05)
    z = np.asarray(explorer.heatmap.data[0].z, dtype=float)
    assert math.isnan(z[0, 1])  # fast 30, slow 20
    assert explorer.sweep.skipped == 1
    explorer.close()


def test_clicking_a_blank_cell_says_it_has_no_run():
    explorer = SweepExplorer(grid={"fast": [10, 30], "slow": [20, 60]}, debounce_s=0.05)
    click(explorer.heatmap, "30", "20")
    explorer.wait()
    assert explorer.error == (
        "the cell fast=30, slow=20 has no run (sma_cross: fast (30) must be smaller than slow (20))"
    )
    explorer.close()


def test_changing_the_metric_recolours_the_heatmap(explorer):
    explorer.set_metric("total_return").wait()
    z = np.asarray(explorer.heatmap.data[0].z, dtype=float)
    assert np.nanmax(z) == pytest.approx(explorer.table["total_return"].max())
    assert explorer.selected_params["fast"] == explorer.table.iloc[0]["fast"]


def test_new_axes_rerun_the_sweep(explorer):
    explorer.set_axes(fast="4:8:2", slow=[50, 100]).wait()
    assert list(explorer.heatmap.data[0].x) == ["4", "6", "8"]
    assert list(explorer.heatmap.data[0].y) == ["50", "100"]
    assert len(explorer.table) == 6


def test_unreadable_axis_text_is_reported_in_the_widget(explorer):
    explorer.x_values.value = "5:a:5"
    explorer.wait()
    assert explorer.status.state == "error"
    assert explorer.error.startswith("sma_cross: parameter 'fast'") and "'a'" in explorer.error


def test_the_same_parameter_on_both_axes_is_refused_with_a_message(explorer):
    explorer.y_param.value = "fast"
    explorer.wait()
    assert explorer.error == "sweep two different parameters (both axes are 'fast')"


def test_switching_strategy_sweeps_its_first_two_numeric_parameters(explorer):
    explorer.strategy_picker.value = "mean_reversion"
    explorer.wait()
    assert explorer.error is None
    assert (explorer.x_param.value, explorer.y_param.value) == ("window", "entry_z")
    assert explorer.sweep.strategy.name == "mean_reversion"


def test_default_axes_span_a_third_to_three_times_the_default_in_round_steps():
    specs = {spec.name: spec for cls in ("sma_cross", "mean_reversion") for spec in load_strategy(cls).param_specs()}
    assert default_axis(specs["fast"]) == "5:30:5"
    assert default_axis(specs["slow"]) == "10:90:10"
    assert default_axis(specs["entry_z"]) == "1:6:1"


# -- over a universe --------------------------------------------------------------------------------

MOMENTUM_GRID = {"lookback": [6, 12, 24], "top": [1, 2, 3]}


@pytest.fixture(scope="module")
def binance_universe():
    from tradepulse.data.universe import load_universe

    return load_universe(["universe:binance-usdt-4h"])


def test_a_universe_sweeps_portfolios_and_shows_their_ranking(binance_universe):
    from tradepulse.backtest import PortfolioBacktestResult, run_portfolio_backtest

    explorer = SweepExplorer(universe="universe:binance-usdt-4h", strategy="momentum", grid=MOMENTUM_GRID, debounce_s=0.05)
    try:
        assert explorer.error is None and explorer.universe.symbols == binance_universe.symbols
        expected = run_sweep(binance_universe, "momentum", MOMENTUM_GRID, costs=Costs(fees_bps=10))
        pd.testing.assert_frame_equal(explorer.table, expected.table)
        z = np.asarray(explorer.heatmap.data[0].z, dtype=float)
        for _, row in expected.table.iterrows():
            assert z[MOMENTUM_GRID["top"].index(row["top"]), MOMENTUM_GRID["lookback"].index(row["lookback"])] == pytest.approx(row["sharpe"])
        ranking = explorer.ranking_view.value
        assert "tp-sweep-ranking" in ranking and "Best 9 of 9 by sharpe" in ranking
        assert ranking.count('data-column="rank"') == 9 and ranking.count('data-column="turnover"') == 9
        best = expected.best_params
        assert explorer.selected_params == best
        assert isinstance(explorer.result, PortfolioBacktestResult)
        single = run_portfolio_backtest(binance_universe, "momentum", best, costs=Costs(fees_bps=10))
        assert explorer.stats["final_equity"] == pytest.approx(single.stats["final_equity"])
        assert "4 symbols (BTC/USDT, ETH/USDT, SOL/USDT, BNB/USDT)" in explorer.universe_note.value
        assert explorer.dataset.layout.display == "none"
    finally:
        explorer.close()


def test_a_universe_can_be_passed_as_the_data(binance_universe):
    explorer = SweepExplorer(binance_universe, strategy="sma_cross", grid={"fast": [5, 10], "slow": [30, 60]}, debounce_s=0.05)
    try:
        assert explorer.error is None and explorer.sweep.symbols == binance_universe.symbols
        expected = run_sweep(binance_universe, "sma_cross", {"fast": [5, 10], "slow": [30, 60]}, costs=Costs(fees_bps=10))
        assert explorer.table["sharpe"].tolist() == pytest.approx(expected.table["sharpe"].tolist())
    finally:
        explorer.close()


def test_cells_the_universe_cannot_hold_are_blank_and_say_why(binance_universe):
    explorer = SweepExplorer(binance_universe, strategy="momentum", grid={"lookback": [6, 12], "top": [2, 5]}, debounce_s=0.05)
    try:
        assert explorer.sweep.skipped == 2
        z = np.asarray(explorer.heatmap.data[0].z, dtype=float)
        assert np.isnan(z[1]).all() and not np.isnan(z[0]).any()  # top=5 over four members
        click(explorer.heatmap, "6", "5")
        explorer.wait()
        assert explorer.error == "the cell lookback=6, top=5 has no run (momentum: top=5 needs 5 members, the universe has 4)"
    finally:
        explorer.close()


def test_switching_between_one_symbol_and_a_universe(explorer, binance_universe):
    explorer.set_universe(binance_universe).wait()
    assert explorer.error is None and explorer.sweep.symbols == binance_universe.symbols
    explorer.strategy_picker.value = "momentum"
    explorer.wait()
    assert explorer.error is None and explorer.sweep.strategy.name == "momentum"
    explorer.set_source("sample:binance:BTC/USDT:1h").wait()
    assert explorer.universe is None
    assert explorer.error == "momentum is a portfolio strategy: sweep it over a universe (set_universe, or universe=...)"
    explorer.strategy_picker.value = "sma_cross"
    explorer.wait()
    assert explorer.error is None and explorer.sweep.symbols == ()
