"""Result objects: statistic definitions, trade and fill tables, JSON, figures and the HTML report."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from tradepulse.backtest import Costs, run_backtest
from tradepulse.backtest.result import equity_stats, trade_stats
from tradepulse.cli._common import to_jsonable
from tradepulse.errors import ConfigError
from tradepulse.strategy import SmaCross


@pytest.fixture(scope="module")
def result(hourly_bars):
    return run_backtest(hourly_bars, SmaCross(fast=6, slow=24, allow_short=True), costs=Costs(fees_bps=10))


def test_equity_statistics_by_hand():
    value = np.array([100.0, 110.0, 99.0, 120.0])
    returns = np.array([0.0, 0.1, -0.1, 120 / 99 - 1])
    bars_per_year = 12.0
    stats = equity_stats(value, 100.0, bars_per_year)
    assert stats["total_return"][0] == pytest.approx(0.2)
    assert stats["cagr"][0] == pytest.approx(1.2 ** (12 / 4) - 1)
    assert stats["sharpe"][0] == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(12))
    downside = math.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    assert stats["sortino"][0] == pytest.approx(returns.mean() / downside * math.sqrt(12))
    assert stats["max_drawdown"][0] == pytest.approx(99 / 110 - 1)
    assert stats["calmar"][0] == pytest.approx((1.2**3 - 1) / (1 - 99 / 110))


def test_equity_statistics_are_computed_per_column():
    value = np.column_stack([[100.0, 110.0, 121.0], [100.0, 90.0, 81.0]])
    stats = equity_stats(value, 100.0, 1.0)
    np.testing.assert_allclose(stats["total_return"], [0.21, -0.19])
    np.testing.assert_allclose(stats["max_drawdown"], [0.0, -0.19])
    assert np.isnan(stats["calmar"][0])  # no drawdown: calmar undefined


def test_a_flat_account_has_no_sharpe_rather_than_a_division_error():
    stats = equity_stats(np.full(10, 100.0), 100.0, 365.0)
    assert np.isnan(stats["sharpe"][0]) and np.isnan(stats["sortino"][0])
    assert stats["total_return"][0] == 0.0 and stats["max_drawdown"][0] == 0.0


def test_trade_statistics_count_closed_wins_losses_and_bars_held():
    positions = np.zeros(3, dtype=[("col", "i8"), ("status", "i8"), ("pnl", "f8"), ("entry_idx", "i8"), ("exit_idx", "i8")])
    positions[:] = [(0, 1, 30.0, 1, 4), (0, 1, -10.0, 5, 6), (0, 0, -99.0, 8, 9)]  # the last one is still open
    stats = trade_stats(positions, n_columns=1, n_bars=10)
    assert stats["trades"][0] == 3
    assert stats["win_rate"][0] == 0.5
    assert stats["profit_factor"][0] == 3.0
    assert stats["exposure"][0] == pytest.approx((3 + 1 + 2) / 10)


def test_stats_hold_every_documented_name_and_the_period(result, hourly_bars):
    stats = result.stats
    for name in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "profit_factor", "exposure", "trades"):
        assert name in stats
    assert stats["start"] == hourly_bars.index[0] and stats["end"] == hourly_bars.index[-1]
    assert stats["bars"] == len(hourly_bars)
    assert stats["final_equity"] == pytest.approx(result.equity.iloc[-1])


def test_trade_list_has_times_sides_sizes_prices_pnl_and_fees(result):
    trades = result.trades
    assert list(trades.columns) == [
        "entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl", "return", "fees", "status",
    ]
    assert set(trades["side"]) == {"long", "short"}
    closed = trades[trades["status"] == "closed"]
    assert (closed["exit_time"] > closed["entry_time"]).all()
    assert trades["pnl"].sum() == pytest.approx(result.equity.iloc[-1] - result.init_cash)


def test_fills_are_at_bar_opens_after_a_target_change(result, hourly_bars):
    fills = result.fills
    opens = hourly_bars["open"].reindex(fills["time"]).to_numpy()
    np.testing.assert_allclose(fills["price"], opens)  # no slippage configured
    positions = hourly_bars.index.get_indexer(fills["time"])
    np.testing.assert_array_equal(fills["target"], result.targets.to_numpy()[positions - 1])


def test_to_dict_is_one_json_object_with_iso_utc_times(result):
    payload = json.loads(json.dumps(to_jsonable(result.to_dict()), allow_nan=False))
    for key in ("total_return", "sharpe", "max_drawdown", "trades", "start", "end", "bars", "strategy", "params", "fees_bps", "slippage"):
        assert key in payload
    assert payload["strategy"] == "sma_cross"
    assert payload["params"] == {"fast": 6, "slow": 24, "allow_short": True}
    assert payload["start"].endswith("Z")
    first_fill = payload["fills"][0]
    assert set(first_fill) >= {"time", "side", "quantity", "price"}
    assert first_fill["time"].endswith("Z") and first_fill["side"] in {"buy", "sell"}
    assert len(payload["trade_list"]) == payload["trades"]


def test_figures_show_equity_with_drawdown_and_price_with_fills(result):
    equity = result.equity_figure()
    assert [trace.name for trace in equity.data] == ["equity", "drawdown %"]
    price = result.price_figure()
    assert [trace.name for trace in price.data] == ["close", "buy fills", "sell fills"]
    assert len(price.data[1].x) + len(price.data[2].x) == len(result.fills)


def test_html_report_is_self_contained(result, tmp_path):
    path = result.to_html(tmp_path / "report.html")
    text = path.read_text()
    assert not re.search(r"<script[^>]*\ssrc=", text)  # nothing fetched from the network
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js inlined
    assert "sharpe" in text and "Trades" in text


def test_html_report_into_a_missing_folder_is_a_config_error(result, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        result.to_html(tmp_path / "nowhere" / "report.html")
