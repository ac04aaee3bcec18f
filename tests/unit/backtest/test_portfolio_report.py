"""Portfolio figures and the HTML report, on real backtests of the embedded universes."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tradepulse.backtest.portfolio import run_portfolio_backtest
from tradepulse.backtest.portfolio_report import contributions_figure, equity_figure, weights_heatmap, write_portfolio_html_report
from tradepulse.data.universe import load_universe
from tradepulse.errors import ConfigError


@pytest.fixture(scope="module")
def result():
    """sma_cross long/short on each of the four Binance 4h members, one equal share each."""
    universe = load_universe(["universe:binance-usdt-4h"])
    return run_portfolio_backtest(universe, "sma_cross", {"fast": 6, "slow": 24, "allow_short": True})


@pytest.fixture(scope="module")
def gappy_result():
    """The Bittrex 5m universe drops timestamps some members lack; the report says so."""
    return run_portfolio_backtest(load_universe(["universe:bittrex-btc-5m"]), "sma_cross")


def test_weights_heatmap_has_one_row_per_symbol_and_one_column_per_bar(result):
    figure = weights_heatmap(result)
    [heatmap] = figure.data
    assert heatmap.type == "heatmap"
    assert list(heatmap.y) == list(result.symbols)
    z = np.asarray(heatmap.z, dtype=float)
    assert z.shape == (len(result.symbols), len(result.index))
    np.testing.assert_array_equal(z, result.weights.to_numpy().T)
    assert (z < 0).any() and (z > 0).any()  # long and short weights both shown
    assert heatmap.zmin == -heatmap.zmax == -np.abs(z).max()  # symmetric: 0 is the neutral colour
    assert heatmap.x[0] == result.index[0].strftime("%Y-%m-%d %H:%M:%S")
    assert "SmaCross" in figure.layout.title.text


def test_contributions_figure_draws_a_line_per_symbol_and_a_bar_of_final_contributions(result):
    figure = contributions_figure(result)
    lines = [t for t in figure.data if t.type == "scatter" and t.name in result.symbols]
    assert [t.name for t in lines] == list(result.symbols)
    for line in lines:
        np.testing.assert_allclose(line.y, result.contributions[line.name].to_numpy())
    [bar] = [t for t in figure.data if t.type == "bar"]
    assert list(bar.x) == list(result.symbols)
    np.testing.assert_allclose(bar.y, result.per_symbol["contribution"].to_numpy())
    # Each bar is its member's line's end, in the same colour.
    assert list(bar.marker.color) == [line.line.color for line in lines]
    np.testing.assert_allclose(bar.y, [line.y[-1] for line in lines])
    # The members' contributions add up to the account's P&L, drawn as "total".
    [total] = [t for t in figure.data if t.name == "total"]
    np.testing.assert_allclose(np.sum([line.y for line in lines], axis=0), total.y, atol=1e-6)
    np.testing.assert_allclose(total.y[-1], result.stats["final_equity"] - result.init_cash)


def test_equity_figure_is_the_single_symbol_one_on_the_shared_account(result):
    figure = equity_figure(result)
    assert [t.name for t in figure.data] == ["equity", "drawdown %"]
    np.testing.assert_allclose(figure.data[0].y, result.equity.to_numpy())


def test_html_report_is_self_contained_with_heatmap_per_symbol_table_and_trades(result, tmp_path):
    path = write_portfolio_html_report(result, tmp_path / "portfolio.html")
    assert path == tmp_path / "portfolio.html"
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc=", text)  # nothing fetched from the network
    assert text.count("plotly.js v") == 1 and len(text) > 1_000_000  # plotly.js inlined, once
    assert text.count("Plotly.newPlot") == 3  # equity, weights, contributions
    assert '"type":"heatmap"' in text
    assert "<h2>Per symbol</h2>" in text
    for symbol in result.symbols:
        assert f"<tr data-symbol='{symbol}'>" in text
    per_symbol = text.split("<h2>Per symbol</h2>")[1].split("<h2>")[0]
    for column in ("contribution", "turnover", "win_rate", "sharpe", "max_drawdown"):
        assert f"<th>{column}</th>" in per_symbol
    btc = result.per_symbol.loc["BTC/USDT"]
    assert f"{btc['contribution']:,.2f}" in per_symbol
    trades = text.split("<h2>Trades</h2>")[1]
    assert "<th>symbol</th>" in trades and "<th>entry_time</th>" in trades
    assert trades.count("<td>ETH/USDT</td>") == (result.trades["symbol"] == "ETH/USDT").sum()
    assert "4 symbols (BTC/USDT, ETH/USDT, SOL/USDT, BNB/USDT)" in text
    assert "no timestamp dropped" in text
    assert "<title>TradePulse portfolio backtest: EqualShare(SmaCross(" in text


def test_html_report_lists_the_timestamps_alignment_dropped(gappy_result, tmp_path):
    text = write_portfolio_html_report(gappy_result, tmp_path / "bittrex.html", title="Alts <vs> BTC").read_text()
    report = gappy_result.universe.alignment
    assert report.dropped > 0
    assert f"kept {report.kept:,} of {report.slots:,} timestamps" in text
    assert "ADA/BTC: no bar at" in text
    assert "<title>Alts &lt;vs&gt; BTC</title>" in text  # the title is escaped


def test_html_report_figures_carry_the_data_they_draw(result, tmp_path):
    text = write_portfolio_html_report(result, tmp_path / "portfolio.html").read_text()
    figures = [json.loads(match) for match in re.findall(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", text)]
    assert [[t.get("name") for t in data] for data in figures][:2] == [["equity", "drawdown %"], ["weights"]]


def test_html_report_into_a_missing_folder_or_a_folder_is_a_config_error(result, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        write_portfolio_html_report(result, tmp_path / "nowhere" / "report.html")
    with pytest.raises(ConfigError, match="is a directory"):
        write_portfolio_html_report(result, tmp_path)


def test_the_result_draws_its_figures_and_writes_its_report(result, tmp_path):
    assert [t.name for t in result.equity_figure().data] == ["equity", "drawdown %"]
    assert [t.type for t in result.weights_figure().data] == ["heatmap"]
    assert [t.name for t in result.contributions_figure().data][: len(result.symbols)] == list(result.symbols)
    path = result.to_html(str(tmp_path / "result.html"), title="Four coins")
    assert path == tmp_path / "result.html"
    assert "<title>Four coins</title>" in path.read_text(encoding="utf-8")
