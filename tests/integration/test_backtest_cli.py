"""`tradepulse backtest | sweep | walkforward | strategies` through the real command line.

The first tests run the console entry in a subprocess, exactly as a user would; the rest call
``tradepulse.cli.main`` in-process (same parser, same handlers, same exit codes) because every
fresh interpreter pays vectorbt's multi-second import.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tradepulse.backtest import Costs, FixedSlippage, run_backtest, run_portfolio_backtest, run_sweep
from tradepulse.cli import main
from tradepulse.data.universe import load_universe
from tradepulse.strategy import SmaCross

HOURLY = "sample:binance:BTC/USDT:1h"
FIVE_MINUTE = "sample:binance:BTC/USDT-PERP:5m"
BINANCE_4H = "universe:binance-usdt-4h"
UNIVERSE_FILES = Path(__file__).resolve().parents[2] / "tradepulse" / "data" / "samples" / "universes"


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_backtest_json_and_report_from_the_console_entry(cli, tmp_path, hourly_bars):
    report = tmp_path / "report.html"
    result = cli(
        "backtest", HOURLY, "--strategy", "sma_cross", "-p", "fast=10", "-p", "slow=30", "-p", "allow_short=true",
        "--fees-bps", "7.5", "--slippage-bps", "2", "--json", "--report", str(report),
    )
    assert result.returncode == 0, result.stderr
    payload = result.json()
    assert payload["strategy"] == "sma_cross"
    assert payload["params"] == {"fast": 10, "slow": 30, "allow_short": True}
    assert payload["fees_bps"] == 7.5 and payload["slippage"] == {"model": "fixed", "bps": 2.0}
    assert payload["start"] == "2019-09-30T08:00:00Z" and payload["bars"] == 583
    expected = run_backtest(
        hourly_bars, SmaCross(fast=10, slow=30, allow_short=True), costs=Costs(fees_bps=7.5, slippage=FixedSlippage(2))
    )
    assert payload["trades"] == expected.stats["trades"]
    assert payload["total_return"] == pytest.approx(expected.stats["total_return"])
    assert payload["sharpe"] == pytest.approx(expected.stats["sharpe"])
    assert payload["max_drawdown"] == pytest.approx(expected.stats["max_drawdown"])
    fills = payload["fills"]
    assert len(fills) == len(expected.fills)
    assert fills[0]["time"] == expected.fills["time"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fills[0]["side"] == expected.fills["side"].iloc[0]
    assert fills[0]["quantity"] == pytest.approx(expected.fills["quantity"].iloc[0])
    assert fills[0]["price"] == pytest.approx(expected.fills["price"].iloc[0])
    assert len(payload["trade_list"]) == payload["trades"]
    assert payload["report"] == str(report) and report.stat().st_size > 1_000_000


def test_bad_input_from_the_console_entry_is_one_line_and_exit_two(cli):
    result = cli("backtest", HOURLY, "--strategy", "sma_cross", "-p", "fast=1")
    assert result.returncode == 2
    assert result.stderr == "tradepulse: error: sma_cross: parameter 'fast' must be in [2, 2000], got 1\n"


def test_backtest_prints_a_stats_table_without_json(capsys):
    code, out, _ = run_main(capsys, "backtest", HOURLY, "--strategy", "mean_reversion", "--slippage-model", "range")
    assert code == 0
    assert "MeanReversion(window=20" in out and "sharpe" in out and "max_drawdown" in out


def test_backtest_of_a_strategy_file(capsys, tmp_path):
    path = tmp_path / "momentum.py"
    path.write_text(
        textwrap.dedent(
            '''
            from tradepulse.strategy import IntParam, Strategy

            class Momentum(Strategy):
                """Long when the close is above its close lookback bars ago."""
                lookback = IntParam(24, min=1, max=500)

                @property
                def warmup_bars(self):
                    return self.lookback + 1

                def signals(self, bars):
                    return (bars["close"] > bars["close"].shift(self.lookback)).astype(float)
            '''
        )
    )
    code, out, err = run_main(capsys, "backtest", HOURLY, "--strategy", str(path), "-p", "lookback=12", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["strategy"] == "momentum" and payload["params"] == {"lookback": 12}


def test_sweep_ranks_a_range_grid_and_counts_skipped_combinations(capsys):
    code, out, err = run_main(
        capsys, "sweep", HOURLY, "--strategy", "sma_cross", "-g", "fast=5:40:5", "-g", "slow=30,60",
        "--metric", "total_return", "--top", "3", "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["combinations"] == 13 and payload["skipped"] == 3  # fast 30, 35, 40 are not below slow 30
    assert payload["metric"] == "total_return"
    assert len(payload["results"]) == 3
    returns = [row["total_return"] for row in payload["results"]]
    assert returns == sorted(returns, reverse=True)
    assert payload["best_params"] == payload["results"][0]["params"]


def test_sweep_text_output_lists_the_top_rows(capsys):
    code, out, _ = run_main(capsys, "sweep", HOURLY, "--strategy", "sma_cross", "-g", "fast=5,10", "-g", "slow=40", "-p", "allow_short=true")
    assert code == 0
    assert "2 combinations, ranked by sharpe" in out and "fast" in out.splitlines()[1]


def test_walkforward_reports_folds_and_out_of_sample_stats(capsys):
    code, out, err = run_main(
        capsys, "walkforward", FIVE_MINUTE, "--strategy", "sma_cross", "-g", "fast=5:15:5", "-g", "slow=40,80",
        "--train", "3000", "--test", "2000", "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert len(payload["folds"]) == 3  # (10,999 - 3,000) // 2,000 full test windows
    assert payload["folds"][0]["test_start"].endswith("Z")
    assert set(payload["folds"][0]["params"]) == {"fast", "slow", "allow_short"}
    assert payload["out_of_sample"]["bars"] == 6000


def test_strategies_lists_built_ins_with_parameter_specs(capsys):
    code, out, _ = run_main(capsys, "strategies", "--json")
    assert code == 0
    strategies = {s["name"]: s for s in json.loads(out)["strategies"]}
    assert set(strategies) == {"composite", "mean_reversion", "sma_cross", "momentum", "pairs", "synchrony"}
    assert sorted(name for name, s in strategies.items() if s["portfolio"]) == ["momentum", "pairs", "synchrony"]
    fast = strategies["sma_cross"]["params"][0]
    assert fast == {"name": "fast", "type": "int", "default": 10, "min": 2, "max": 2000, "choices": None,
                    "doc": "bars in the fast simple moving average"}
    code, out, _ = run_main(capsys, "strategies")
    assert "composite:" in out and "min_confidence" in out
    assert "pairs: Portfolio (2 symbols):" in out and "max_hold_bars" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest", "missing.csv", "--strategy", "sma_cross"], "missing.csv"),
        (["backtest", HOURLY, "--strategy", "nope"], "unknown strategy 'nope'"),
        (["backtest", HOURLY, "--strategy", "sma_cross", "-p", "speed=3"], "unknown parameter 'speed'"),
        (["backtest", HOURLY, "--strategy", "sma_cross", "-p", "fast"], "-p expects key=value"),
        (["backtest", HOURLY, "--strategy", "sma_cross", "--start", "2030-01-01"], "no bars"),
        (["backtest", HOURLY, "--strategy", "sma_cross", "--fees-bps", "-3"], "fees must be between"),
        (["sweep", HOURLY, "--strategy", "sma_cross", "-g", "fast=2:2000:1", "-g", "slow=3:300:1"], "more than the limit of 100,000"),
        (["sweep", HOURLY, "--strategy", "sma_cross"], "give at least one grid axis"),
        (["sweep", HOURLY, "--strategy", "sma_cross", "-g", "fast=5", "--metric", "alpha"], "unknown metric 'alpha'"),
        (["walkforward", HOURLY, "--strategy", "sma_cross", "-g", "fast=5", "--train", "500", "--test", "200"], "exceed the 583 bars"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(capsys, args, message):
    code, out, err = run_main(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tradepulse: error:") and message in err, err
    assert out == ""


def test_missing_columns_are_reported(capsys, tmp_path):
    path = tmp_path / "no_volume.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1.5\n2024-01-01T01:00:00Z,1,2,0.5,1.5\n")
    code, _, err = run_main(capsys, "backtest", str(path), "--strategy", "sma_cross")
    assert code == 2 and "volume" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["backtest", "sweep", "walkforward", "strategies"])
def test_every_command_has_help_with_an_example(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "Example" in capsys.readouterr().out


# -- universes: several sources, a folder, universe:<name> ---------------------------------------------


@pytest.fixture
def binance_folder(tmp_path):
    """The embedded Binance 4h members as a user would keep them: venue_BASE-QUOTE_timeframe.csv.gz files in a folder."""
    folder = tmp_path / "binance-4h"
    folder.mkdir()
    for path in sorted(UNIVERSE_FILES.glob("binance_*_4h.csv.gz")):
        shutil.copy(path, folder / path.name)
    return folder


def test_a_folder_is_a_universe_backtested_on_one_shared_account(capsys, binance_folder):
    code, out, err = run_main(capsys, "backtest", str(binance_folder), "--strategy", "momentum", "-p", "lookback=20", "--json")
    assert code == 0, err
    assert err == ""  # the embedded members are aligned: no notes
    payload = json.loads(out)
    assert payload["sources"] == [str(binance_folder)]
    assert payload["symbols"] == ["BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"]  # file names, sorted
    assert set(payload["per_symbol"]) == set(payload["symbols"])
    assert set(payload["per_symbol"]["BTC/USDT"]) >= {"contribution", "turnover", "exposure", "trades", "win_rate", "sharpe"}
    assert isinstance(payload["trades"], int) and payload["trades"] == len(payload["trade_list"])
    assert {fill["symbol"] for fill in payload["fills"]} <= set(payload["symbols"])
    expected = run_portfolio_backtest(load_universe([binance_folder]), "momentum", {"lookback": 20}).stats
    assert payload["total_return"] == pytest.approx(expected["total_return"])
    assert payload["alignment"]["policy"] == "intersect" and payload["alignment"]["dropped"] == 0
    assert sum(row["contribution"] for row in payload["per_symbol"].values()) == pytest.approx(payload["final_equity"] - 10_000)


def test_several_sources_with_a_single_symbol_strategy_give_each_member_an_equal_share(capsys):
    code, out, err = run_main(
        capsys, "backtest", "sample:binance:BTC/USDT:4h", "sample:binance:ETH/USDT:4h", "--strategy", "sma_cross", "-p", "fast=5",
    )
    assert code == 0, err
    assert "SmaCross(fast=5, slow=30, allow_short=False) over 2 symbols (BTC/USDT, ETH/USDT)" in out
    assert "contribution" in out and "turnover" in out


def test_symbol_overrides_name_members_whose_file_names_do_not(capsys, tmp_path):
    for name, target in (("binance_BTC-USDT_4h.csv.gz", "first.csv.gz"), ("binance_ETH-USDT_4h.csv.gz", "second.csv.gz")):
        shutil.copy(UNIVERSE_FILES / name, tmp_path / target)
    sources = [str(tmp_path / "first.csv.gz"), str(tmp_path / "second.csv.gz")]
    code, _, err = run_main(capsys, "backtest", *sources, "--strategy", "pairs")
    assert code == 2 and err.count("\n") == 1
    assert "first.csv.gz: cannot tell its symbol" in err and "--symbol FILE=SYMBOL" in err
    code, out, err = run_main(
        capsys, "backtest", *sources, "--strategy", "pairs", "--symbol", "first.csv.gz=BTC/USDT",
        "--symbol", f"{sources[1]}=ETH/USDT", "--json",
    )
    assert code == 0, err
    assert json.loads(out)["symbols"] == ["BTC/USDT", "ETH/USDT"]


def test_one_source_with_a_portfolio_strategy_is_a_one_member_universe(capsys, tmp_path):
    path = tmp_path / "hold.py"
    path.write_text(
        textwrap.dedent(
            '''
            from tradepulse.strategy import PortfolioStrategy

            class HoldAll(PortfolioStrategy):
                """Hold every member on an equal share."""

                def signals(self, bars):
                    close = bars["close"]
                    return close * 0.0 + 1.0 / close.shape[1]
            '''
        )
    )
    code, out, err = run_main(capsys, "backtest", HOURLY, "--strategy", str(path), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["symbols"] == ["BTC/USDT"] and payload["trades"] == 1 and payload["exposure"] == pytest.approx(582 / 583)


def test_pairs_over_one_source_says_it_needs_two(capsys):
    code, out, err = run_main(capsys, "backtest", HOURLY, "--strategy", "pairs")
    assert code == 2 and out == ""
    assert err == (
        "tradepulse: error: pairs needs exactly 2 symbols, got 1 (BTC/USDT); "
        "give one source per member, a folder or universe:<name>\n"
    )


def test_members_of_different_timeframes_are_one_error_line(capsys):
    code, _, err = run_main(capsys, "backtest", HOURLY, FIVE_MINUTE, "--strategy", "sma_cross")
    assert code == 2 and err.count("\n") == 1
    assert "members have different timeframes (BTC/USDT 1h, BTC/USDT-PERP 5m)" in err


def test_alignment_drops_are_notes_on_stderr_unless_json(capsys):
    code, _, err = run_main(capsys, "backtest", "universe:bittrex-btc-5m", "--strategy", "sma_cross", "--end", "2018-01-16")
    assert code == 0
    notes = err.splitlines()
    assert notes and all(line.startswith("note: ") for line in notes)
    assert any(line.startswith("note: ADA/BTC: no bar at") and line.endswith("; dropped") for line in notes)
    code, out, err = run_main(capsys, "backtest", "universe:bittrex-btc-5m", "--strategy", "sma_cross", "--end", "2018-01-16", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["alignment"]["missing"]["ADA/BTC"]["count"] > 0
    code, _, err = run_main(capsys, "backtest", "universe:bittrex-btc-5m", "--strategy", "sma_cross", "--align", "strict")
    assert code == 2 and "the strict alignment policy refuses it" in err and err.count("\n") == 1


def test_a_universe_backtest_writes_the_portfolio_report(capsys, tmp_path):
    report = tmp_path / "portfolio.html"
    code, out, err = run_main(capsys, "backtest", BINANCE_4H, "--strategy", "momentum", "--report", str(report))
    assert code == 0, err
    assert f"report written to {report}" in out and report.stat().st_size > 1_000_000


def test_sweep_over_a_universe_ranks_portfolios(capsys):
    code, out, err = run_main(
        capsys, "sweep", BINANCE_4H, "--strategy", "momentum", "-g", "lookback=6:30:6", "-g", "top=1,2,3",
        "-p", "allow_short=true", "--top", "3", "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["sources"] == [BINANCE_4H] and payload["symbols"] == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]
    assert payload["combinations"] == 10 and payload["skipped"] == 5  # top=3 long and 3 short needs 6 members
    assert payload["fees_bps"] == {symbol: 10.0 for symbol in payload["symbols"]}
    assert payload["alignment"]["dropped"] == 0
    best = payload["results"][0]
    assert set(best) >= {"params", "sharpe", "total_return", "trades", "turnover", "fees_paid"}
    expected = run_sweep(load_universe([BINANCE_4H]), "momentum", {"lookback": [6, 12, 18, 24, 30], "top": [1, 2]},
                         fixed_params={"allow_short": True}).table.iloc[0]
    assert best["params"]["lookback"] == expected["lookback"] and best["sharpe"] == pytest.approx(expected["sharpe"])
    code, out, _ = run_main(capsys, "sweep", BINANCE_4H, "--strategy", "sma_cross", "-g", "fast=5,10", "-g", "slow=30")
    assert code == 0
    assert out.splitlines()[0] == "sma_cross over 4 symbols (BTC/USDT, ETH/USDT, SOL/USDT, BNB/USDT): 2 combinations, ranked by sharpe"


def test_walkforward_over_a_universe_reports_folds_and_members(capsys):
    code, out, err = run_main(
        capsys, "walkforward", BINANCE_4H, "--strategy", "momentum", "-g", "lookback=6,12,24", "--train", "200", "--test", "100", "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["symbols"] == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]
    assert len(payload["folds"]) == 2 and set(payload["folds"][0]["params"]) == {"lookback", "top", "rebalance", "allow_short"}
    assert payload["out_of_sample"]["bars"] == 200 and 0 <= payload["out_of_sample"]["exposure"] <= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest", HOURLY, "--strategy", "sma_cross", "--symbol", "x.csv=X/USDT"], "--symbol names members of a universe"),
        (["backtest", BINANCE_4H, "--strategy", "sma_cross", "--symbol", "x.csv=X/USDT"], "--symbol names 'x.csv', which is not one of the sources"),
        (["backtest", BINANCE_4H, "--strategy", "sma_cross", "--symbol", "x.csv"], "--symbol expects key=value"),
        (["backtest", "universe:nope", "--strategy", "sma_cross"], "unknown universe 'universe:nope'"),
        (["backtest", HOURLY, HOURLY, "--strategy", "sma_cross"], "BTC/USDT appears twice in the universe"),
        (["sweep", BINANCE_4H, "--strategy", "momentum", "-g", "top=3,4", "-p", "allow_short=true"], "no combination in the grid can run over this universe"),
        (["walkforward", BINANCE_4H, "--strategy", "momentum", "-g", "top=1", "--train", "450", "--test", "100"], "exceed the 499 bars"),
    ],
)
def test_bad_universe_input_is_one_line_and_exit_two(capsys, args, message):
    code, out, err = run_main(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("tradepulse: error:") and message in err, err
