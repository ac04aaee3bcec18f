"""BacktestExplorer driven through its controls and programmatic API, no browser."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from tradepulse.backtest import BacktestResult, Costs, PortfolioBacktestResult, run_backtest
from tradepulse.backtest.portfolio import run_portfolio_backtest
from tradepulse.data.universe import load_universe
from tradepulse.errors import ConfigError
from tradepulse.strategy import BoolParam, ChoiceParam, EqualShare, FloatParam, IntParam, Strategy
from tradepulse.widgets import BacktestExplorer
from tradepulse.widgets._controls import param_control


def trace(figure, name):
    matches = [t for t in figure.data if t.name == name]
    assert matches, f"no trace named {name!r}; traces: {[t.name for t in figure.data]}"
    return matches[0]


@pytest.fixture
def explorer():
    widget = BacktestExplorer(debounce_s=0.05)
    yield widget
    widget.close()


def test_default_explorer_backtests_sma_cross_on_the_hourly_sample(explorer, hourly_bars):
    expected = run_backtest(hourly_bars, "sma_cross", {"fast": 10, "slow": 30}, costs=Costs(fees_bps=10))
    assert explorer.error is None
    assert explorer.stats["bars"] == 583
    assert explorer.stats["trades"] == expected.stats["trades"]
    assert explorer.stats["sharpe"] == pytest.approx(expected.stats["sharpe"])
    assert explorer.status.state == "idle"
    assert 'data-stat="sharpe"' in explorer.stats_view.value
    np.testing.assert_allclose(np.asarray(trace(explorer.figure, "equity").y), expected.equity.to_numpy())


def test_chart_shows_price_entries_exits_equity_drawdown_and_phase_shading(explorer):
    names = {t.name for t in explorer.figure.data}
    assert {"close", "long entry", "exit", "equity", "drawdown", "market phase"} <= names
    assert len(trace(explorer.figure, "long entry").x) == (explorer.trades["side"] == "long").sum()
    shading = trace(explorer.figure, "market phase")
    assert shading.type == "heatmap"
    assert len(shading.z[0]) == 583


def test_moving_a_parameter_control_recomputes_stats_chart_and_trades(explorer, hourly_bars):
    before_stats = explorer.stats
    before_equity = np.asarray(trace(explorer.figure, "equity").y)
    before_trades = explorer.trades_view.value

    explorer.controls["fast"].value = 15
    explorer.wait()

    expected = run_backtest(hourly_bars, "sma_cross", {"fast": 15, "slow": 30}, costs=Costs(fees_bps=10))
    assert explorer.params["fast"] == 15
    assert explorer.stats["total_return"] == pytest.approx(expected.stats["total_return"])
    assert explorer.stats["total_return"] != pytest.approx(before_stats["total_return"])
    assert not np.allclose(np.asarray(trace(explorer.figure, "equity").y), before_equity)
    assert explorer.trades_view.value != before_trades


def test_quick_successive_changes_end_with_the_last_values(hourly_bars):
    explorer = BacktestExplorer(debounce_s=0.3)
    for fast in (11, 12, 13, 14):
        explorer.set_params(fast=fast)
    assert explorer.busy
    explorer.wait()
    expected = run_backtest(hourly_bars, "sma_cross", {"fast": 14, "slow": 30}, costs=Costs(fees_bps=10))
    assert explorer.stats["sharpe"] == pytest.approx(expected.stats["sharpe"])
    assert explorer.result.strategy.params["fast"] == 14
    explorer.close()


def test_higher_fees_cost_more_and_return_less(explorer):
    cheap = explorer.stats
    explorer.set_costs(fees_bps=30, slippage_bps=5).wait()
    assert explorer.stats["fees_paid"] > cheap["fees_paid"]
    assert explorer.stats["total_return"] < cheap["total_return"]
    assert explorer.result.costs.fees_bps == 30
    assert explorer.result.costs.slippage.bps == 5


def test_invalid_parameters_show_a_message_and_keep_the_last_result(explorer):
    good = explorer.stats
    explorer.set_params(fast=40).wait()
    assert explorer.error == "sma_cross: fast (40) must be smaller than slow (30)"
    assert explorer.status.state == "error"
    assert "fast (40) must be smaller than slow (30)" in explorer.status.value
    assert "Traceback" not in explorer.status.value
    assert explorer.stats == good

    explorer.set_params(slow=60).wait()
    assert explorer.error is None
    assert explorer.status.state == "idle"


def test_a_missing_file_is_reported_in_the_widget(explorer, tmp_path):
    explorer.set_source(str(tmp_path / "missing.csv")).wait()
    assert "no such file" in explorer.error
    assert explorer.status.state == "error"


def test_a_sample_can_be_named_without_its_prefix(explorer):
    explorer.set_source("binance:BTC/USDT-PERP:5m").wait()
    assert explorer.source == "sample:binance:BTC/USDT-PERP:5m"
    assert explorer.stats["bars"] == 10_999


def test_a_csv_file_of_bars_can_be_explored(explorer, hourly_csv):
    explorer.set_source(str(hourly_csv)).wait()
    assert explorer.error is None
    assert explorer.dataset.path.layout.display is None  # the path box is shown for files
    assert explorer.stats["bars"] == 583


def test_switching_strategy_rebuilds_the_controls_from_its_parameter_specs(explorer):
    explorer.set_strategy("mean_reversion", window=30).wait()
    controls = explorer.controls
    assert isinstance(controls["window"], widgets.IntSlider)
    # window allows 3..5000 bars; the slider covers 3..200 (ten times the default) so a drag stays precise
    assert (controls["window"].min, controls["window"].max, controls["window"].value) == (3, 200, 30)
    assert isinstance(controls["entry_z"], widgets.FloatSlider)
    assert (controls["entry_z"].min, controls["entry_z"].max) == (0.1, 10.0)
    assert isinstance(controls["allow_short"], widgets.Checkbox)
    assert explorer.result.strategy.name == "mean_reversion"

    explorer.controls["entry_z"].value = 1.5
    explorer.wait()
    assert explorer.result.strategy.params["entry_z"] == 1.5


def test_a_value_beyond_the_slider_but_within_the_spec_widens_the_slider(explorer):
    explorer.set_params(slow=800).wait()
    assert explorer.controls["slow"].max == 800
    assert explorer.result.strategy.params["slow"] == 800


def test_choosing_a_strategy_in_the_dropdown_switches_the_backtest(explorer):
    explorer.strategy_picker.value = "composite"
    explorer.wait()
    assert explorer.error is None
    assert explorer.result.strategy.name == "composite"
    assert "min_confidence" in explorer.controls


class Channel(Strategy):
    """Long above the channel's top, in a chosen price column."""

    lookback = IntParam(20, min=2, max=200, doc="bars in the channel")
    column = ChoiceParam("close", ["close", "high"], doc="price compared with the channel")
    margin = FloatParam(0.0, doc="fraction above the channel top")
    confirm = IntParam(1, doc="bars the breakout must hold")
    enabled = BoolParam(True, doc="trade at all")

    def signals(self, bars):
        top = bars["high"].rolling(self.lookback).max().shift(1)
        long = bars[self.column] > top * (1 + self.margin)
        return (long & self.enabled).astype(float)


def test_controls_match_each_parameter_type_and_bounds():
    controls = {spec.name: param_control(spec) for spec in Channel.param_specs()}
    assert isinstance(controls["lookback"], widgets.IntSlider)
    assert isinstance(controls["column"], widgets.Dropdown)
    assert controls["column"].options == (("close", "close"), ("high", "high"))
    assert isinstance(controls["margin"], widgets.FloatText)  # no bounds: no slider to invent them
    assert isinstance(controls["confirm"], widgets.IntText)
    assert isinstance(controls["enabled"], widgets.Checkbox)
    assert controls["lookback"].tooltip == "bars in the channel"
    assert "tp-param-lookback" in controls["lookback"]._dom_classes


def test_a_user_strategy_class_gets_its_own_controls_and_runs():
    explorer = BacktestExplorer(strategy=Channel, params={"lookback": 30, "column": "high"}, debounce_s=0.05)
    assert explorer.error is None
    assert explorer.params == {"lookback": 30, "column": "high", "margin": 0.0, "confirm": 1, "enabled": True}
    explorer.controls["column"].value = "close"
    explorer.wait()
    assert explorer.result.strategy.params["column"] == "close"
    explorer.close()


def test_turning_phase_shading_off_removes_it(explorer):
    explorer.shade.value = False
    explorer.wait()
    assert "market phase" not in {t.name for t in explorer.figure.data}


def test_setting_an_unknown_parameter_names_the_known_ones(explorer):
    from tradepulse.errors import StrategyError

    with pytest.raises(StrategyError, match="unknown parameter 'fats'.*fast, slow, allow_short"):
        explorer.set_params(fats=12)


def test_bad_input_at_construction_is_shown_in_the_widget_not_raised(tmp_path):
    explorer = BacktestExplorer(source=str(tmp_path / "missing.csv"), debounce_s=0.05)
    assert explorer.status.state == "error"
    assert "no such file" in explorer.error
    assert explorer.stats == {}
    explorer.set_source("sample:binance:BTC/USDT:1h").wait()
    assert explorer.error is None and explorer.stats["bars"] == 583
    assert len(explorer.figure.data) > 0
    explorer.close()


# -- universes ---------------------------------------------------------------------------------------

BINANCE_4H = "universe:binance-usdt-4h"
PORTFOLIO_STRATEGIES = {"momentum", "pairs", "synchrony"}


@pytest.fixture(scope="module")
def binance_4h():
    return load_universe([BINANCE_4H])


@pytest.fixture
def universe_explorer():
    widget = BacktestExplorer(BINANCE_4H, "momentum", {"lookback": 30, "top": 2}, debounce_s=0.05)
    yield widget
    widget.close()


def test_a_universe_runs_the_portfolio_backtest(universe_explorer, binance_4h):
    expected = run_portfolio_backtest(binance_4h, "momentum", {"lookback": 30, "top": 2}, costs=Costs(fees_bps=10))
    explorer = universe_explorer
    assert explorer.error is None
    assert explorer.universe_mode and explorer.mode.value == "Universe"
    assert isinstance(explorer.result, PortfolioBacktestResult)
    assert explorer.members == binance_4h.symbols
    assert explorer.stats["symbols"] == 4 and explorer.stats["bars"] == 499
    assert explorer.stats["total_return"] == pytest.approx(expected.stats["total_return"])
    assert explorer.stats["trades"] == expected.stats["trades"]
    assert 'data-stat="turnover"' in explorer.stats_view.value
    assert "4 symbols" in explorer.status.message


def test_the_universe_chart_shows_equity_weights_heatmap_and_a_contribution_line_per_symbol(universe_explorer):
    figure, result = universe_explorer.figure, universe_explorer.result
    np.testing.assert_allclose(np.asarray(trace(figure, "equity").y), result.equity.to_numpy())
    assert trace(figure, "drawdown").fill == "tozeroy"
    heatmap = trace(figure, "weights")
    assert heatmap.type == "heatmap"
    assert list(heatmap.y) == list(result.symbols)
    np.testing.assert_array_equal(np.asarray(heatmap.z, dtype=float), result.weights.to_numpy().T)
    lines = [t for t in figure.data if t.name in result.symbols]
    assert [t.name for t in lines] == list(result.symbols)
    for line in lines:
        np.testing.assert_allclose(np.asarray(line.y), result.contributions[line.name].to_numpy())
    # one time axis for all four rows: zooming equity zooms the weights and contributions
    assert {figure.layout[axis].matches for axis in ("xaxis", "xaxis2", "xaxis3")} == {"x4"}
    assert "market phase" not in {t.name for t in figure.data}


def test_the_per_symbol_table_and_trades_name_each_member(universe_explorer):
    explorer = universe_explorer
    table = explorer.per_symbol_view.value
    assert 'class="tp-per-symbol"' in table
    for symbol in explorer.members:
        assert f'data-column="symbol" style="{_cell_style(table)}">{symbol}</td>' in table
    assert table.count('data-column="contribution"') == 4
    assert explorer.per_symbol_view.layout.display is None and explorer.per_symbol_heading.layout.display is None
    assert list(explorer.per_symbol.index) == list(explorer.members)
    assert 'data-column="symbol"' in explorer.trades_view.value
    assert set(explorer.trades["symbol"]) <= set(explorer.members)


def _cell_style(table):
    return table.split('data-column="symbol" style="')[1].split('"')[0]


def test_portfolio_strategies_are_offered_only_for_a_universe(explorer, universe_explorer):
    single = set(explorer.strategy_picker.offered)
    assert {"sma_cross", "mean_reversion", "composite"} <= single
    assert not single & PORTFOLIO_STRATEGIES
    assert PORTFOLIO_STRATEGIES | {"sma_cross", "mean_reversion", "composite"} <= set(universe_explorer.strategy_picker.offered)

    explorer.mode.value = "Universe"
    explorer.wait()
    assert PORTFOLIO_STRATEGIES <= set(explorer.strategy_picker.offered)
    assert explorer.strategy_picker.value == "sma_cross" and explorer.params == {"fast": 10, "slow": 30, "allow_short": False}
    explorer.mode.value = "One symbol"
    explorer.wait()
    assert not set(explorer.strategy_picker.offered) & PORTFOLIO_STRATEGIES
    assert explorer.stats["bars"] == 583 and explorer.per_symbol.empty


def test_a_single_symbol_strategy_runs_on_a_universe_each_member_on_an_equal_share(explorer, binance_4h):
    explorer.set_source(BINANCE_4H).wait()
    expected = run_portfolio_backtest(binance_4h, "sma_cross", {"fast": 10, "slow": 30}, costs=Costs(fees_bps=10))
    assert explorer.error is None
    assert explorer.source == (BINANCE_4H,)
    assert isinstance(explorer.result.strategy, EqualShare)
    assert explorer.stats["sharpe"] == pytest.approx(expected.stats["sharpe"])
    assert "each member on an equal share" in explorer.figure.layout.title.text
    assert explorer.dataset.layout.display == "none" and explorer.shade.layout.display == "none"
    assert explorer.universe_picker.layout.display is None


def test_choosing_the_universe_mode_and_a_portfolio_strategy_in_the_controls(explorer):
    explorer.mode.value = "Universe"
    explorer.strategy_picker.value = "synchrony"
    explorer.wait()
    assert explorer.error is None
    assert explorer.result.strategy.name == "synchrony"
    assert set(explorer.controls) >= {"window", "high", "cut"}
    explorer.controls["cut"].value = 0.25
    explorer.wait()
    assert explorer.result.strategy.params["cut"] == 0.25
    explorer.universe_picker.value = "universe:spdr-sectors-1d"
    explorer.wait()
    assert explorer.error is None
    assert explorer.stats["symbols"] == 11 and explorer.stats["timeframe"] == "1d"
    assert len(explorer.member_picker.options) == 11
    assert len(trace(explorer.figure, "weights").y) == 11


def test_members_choose_who_takes_part_and_pairs_takes_the_first_two(universe_explorer):
    explorer = universe_explorer
    explorer.set_strategy("pairs").wait()
    assert explorer.members == ("BTC/USDT", "ETH/USDT")  # pairs needs exactly two: the first two stay selected
    assert explorer.error is None
    assert explorer.result.symbols == ("BTC/USDT", "ETH/USDT")
    explorer.member_picker.value = ("SOL/USDT", "ETH/USDT")
    explorer.wait()
    assert explorer.result.symbols == ("ETH/USDT", "SOL/USDT")  # universe order: ETH is the pair's first leg
    assert list(explorer.per_symbol.index) == ["ETH/USDT", "SOL/USDT"]
    explorer.set_members("BTC/USDT", "ETH/USDT", "SOL/USDT").wait()
    assert explorer.error == "pairs needs exactly 2 symbols, got 3 (BTC/USDT, ETH/USDT, SOL/USDT)"
    assert explorer.status.state == "error"
    explorer.set_strategy("momentum", top=1).wait()
    assert explorer.error is None and explorer.result.symbols == ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    explorer.set_members().wait()
    assert explorer.members == ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT")
    with pytest.raises(ConfigError, match="DOGE/USDT is not a member"):
        explorer.set_members("DOGE/USDT")


def test_a_loaded_universe_or_a_list_of_sources_can_be_explored(binance_4h):
    explorer = BacktestExplorer(binance_4h, "momentum", debounce_s=0.05)
    assert explorer.error is None
    assert explorer.source is binance_4h
    assert explorer.universe_picker.value == "__given__"
    assert explorer.stats["symbols"] == 4
    explorer.set_source(["sample:binance:BTC/USDT:4h", "sample:binance:SOL/USDT:4h"]).wait()
    assert explorer.error is None
    assert explorer.members == ("BTC/USDT", "SOL/USDT")
    assert explorer.result.symbols == ("BTC/USDT", "SOL/USDT")
    assert explorer.universe_picker.label == "Given: sample:binance:BTC/USDT:4h, sample:binance:SOL/USDT:4h"
    explorer.set_source("sample:binance:BTC/USDT:1h").set_strategy("sma_cross").wait()
    assert not explorer.universe_mode and explorer.stats["bars"] == 583
    assert isinstance(explorer.result, BacktestResult)
    assert explorer.per_symbol_view.layout.display == "none"
    assert "close" in {t.name for t in explorer.figure.data}
    explorer.close()


def test_a_portfolio_strategy_on_one_symbol_says_what_to_do(explorer):
    good = explorer.stats
    explorer.set_strategy("momentum").wait()
    assert explorer.error == "momentum is a portfolio strategy: choose a universe (Data: Universe) or a single-symbol strategy"
    assert explorer.stats == good
    explorer.mode.value = "Universe"
    explorer.wait()
    assert explorer.error is None and explorer.result.strategy.name == "momentum"


def test_a_universe_that_cannot_load_is_reported_in_the_widget(tmp_path):
    explorer = BacktestExplorer([str(tmp_path / "missing.csv"), "sample:binance:BTC/USDT:4h"], debounce_s=0.05)
    assert explorer.status.state == "error"
    assert "no such file" in explorer.error
    assert explorer.member_picker.options == ()
    explorer.set_source(BINANCE_4H).wait()
    assert explorer.error is None and explorer.stats["symbols"] == 4
    explorer.close()


def test_a_folder_of_data_files_is_a_universe(tmp_path, binance_4h):
    for symbol in ("BTC/USDT", "ETH/USDT"):
        binance_4h.member(symbol).reset_index().to_csv(tmp_path / f"binance_{symbol.replace('/', '-')}_4h.csv", index=False)
    explorer = BacktestExplorer(str(tmp_path), "pairs", debounce_s=0.05)
    assert explorer.error is None
    assert explorer.universe_mode and explorer.members == ("BTC/USDT", "ETH/USDT")
    assert explorer.stats["symbols"] == 2 and explorer.stats["bars"] == 499
    explorer.close()
