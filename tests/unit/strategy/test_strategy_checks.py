"""The strategy checks pass the built-ins and catch each trap a new user fell into, in its own way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import check_traps as traps
import pytest

from tradepulse.checks import CHECK_NAMES, StrategyFailed, check
from tradepulse.data import load_bars, load_universe
from tradepulse.errors import DataError
from tradepulse.strategy import load_strategy

BARS = load_bars("sample:binance:BTC/USDT:1h")
TRAPS = str(Path(traps.__file__))


def _failed(report) -> dict[str, str]:
    return {result.name: result.detail for result in report.checks if not result.passed}


@pytest.mark.parametrize("name", ["sma_cross", "mean_reversion", "composite"])
def test_the_single_symbol_built_ins_pass_every_check(name):
    report = check(load_strategy(name)(), BARS)
    assert report.passed, report.summary()
    assert [result.name for result in report.checks] == list(CHECK_NAMES)


@pytest.mark.parametrize("name", ["momentum", "synchrony"])
def test_the_portfolio_built_ins_pass_every_check(name):
    report = check(load_strategy(name)(), load_universe(["universe:binance-usdt-4h"]))
    assert report.passed, report.summary()


def test_reading_the_next_bar_is_lookahead_with_its_first_bar():
    failed = _failed(check(traps.PeeksAhead(), BARS))
    assert "lookahead" in failed and "moves by 1" in failed["lookahead"]
    assert "parity" in failed  # and the live replay cannot reproduce it


def test_scaling_by_the_whole_columns_maximum_is_lookahead():
    assert "lookahead" in _failed(check(traps.ScaledByTheWholeColumn(), BARS, checks=["lookahead"]))


def test_a_forgotten_warmup_fails_finite_memory_with_the_warmup_it_needs():
    report = check(traps.ForgetsItsWarmup(window=20), BARS, checks=["lookahead", "finite_memory"])
    result = {item.name: item for item in report.checks}
    assert result["lookahead"].passed  # it is causal: only its window is wrong
    assert not result["finite_memory"].passed
    assert result["finite_memory"].data == {"warmup_bars": 1, "needed": 20}
    assert "needs warmup_bars >= 20 (it declares 1) on the bars sampled" in result["finite_memory"].detail


def test_noise_from_an_unseeded_generator_fails_determinism():
    assert "determinism" in _failed(check(traps.Unsteady(), BARS, checks=["determinism"]))


def test_changing_the_input_fails_determinism():
    failed = _failed(check(traps.ChangesItsInput(), BARS, checks=["determinism"]))
    assert "changed the bars it was given" in failed["determinism"]


def test_asking_for_twice_the_equity_fails_range():
    failed = _failed(check(traps.OverLeveraged(), BARS, checks=["range"]))
    assert "outside [-1, 1]" in failed["range"]


def test_a_per_bar_form_that_disagrees_with_the_simple_form_fails_parity_only():
    failed = _failed(check(traps.DisagreesLive(), BARS))
    assert set(failed) == {"parity"}, failed


def test_a_strategy_that_raises_is_named_with_its_own_frames():
    with pytest.raises(StrategyFailed) as caught:
        check(traps.Raises(), BARS)
    message = str(caught.value)
    assert "raised ValueError: window must be positive" in message
    assert f"{TRAPS}:" in message and "in _helper" in message
    assert "pandas" not in message and "tradepulse/strategy" not in message


def test_a_portfolio_strategy_needs_a_universe():
    with pytest.raises(DataError, match="portfolio strategy"):
        check(load_strategy("momentum")(), BARS)


def test_the_report_renders_as_html_in_a_notebook():
    page = check(traps.OverLeveraged(), BARS, checks=["range", "determinism"])._repr_html_()
    assert "FAIL" in page and "pass" in page and "<table>" in page


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tradepulse.cli", "check", *args], capture_output=True, text=True)


def test_the_command_exits_0_1_and_2_and_prints_one_json_object():
    passed = _cli("sma_cross", "sample:binance:BTC/USDT:1h", "--json")
    assert passed.returncode == 0, passed.stderr
    document = json.loads(passed.stdout)
    assert document["passed"] is True and {item["name"] for item in document["checks"]} == set(CHECK_NAMES)
    assert all(set(item) >= {"name", "passed", "detail"} for item in document["checks"])

    failed = _cli(f"{TRAPS}:ForgetsItsWarmup", "sample:binance:BTC/USDT:1h", "--check", "finite_memory", "--json")
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["checks"][0]["passed"] is False

    raising = _cli(f"{TRAPS}:Raises", "sample:binance:BTC/USDT:1h")
    assert raising.returncode == 2
    assert raising.stderr.count("\n") == 1 and "Traceback" not in raising.stderr
    assert "window must be positive" in raising.stderr

    unknown = _cli("sma_cross", "sample:binance:BTC/USDT:1h", "--check", "telepathy")
    assert unknown.returncode == 2 and "unknown check" in unknown.stderr


def test_a_strategy_remembering_its_position_fails_on_a_rolling_window_and_passes_with_its_full_history():
    rolling = _failed(check(traps.HoldsInsideTheBand(), BARS))
    assert {"finite_memory", "parity"} <= set(rolling), rolling
    report = check(traps.HoldsInsideTheBandLive(), BARS)
    assert report.passed, report.summary()
    parity = next(result for result in report.checks if result.name == "parity")
    assert parity.data["fills"] > 0


def test_a_backtest_of_a_strategy_reading_the_future_warns_instead_of_staying_silent():
    command = [sys.executable, "-m", "tradepulse.cli", "backtest", "sample:binance:BTC/USDT:1h", "--strategy", f"{TRAPS}:PeeksAhead"]
    warned = subprocess.run([*command, "--json"], capture_output=True, text=True)
    assert warned.returncode == 0 and json.loads(warned.stdout)["total_return"] > 0.5  # the lie it tells
    assert warned.stderr.startswith("warning: lookahead: signals change with bars after the one they are for")
    assert "tradepulse check" in warned.stderr
    quiet = subprocess.run([*command, "--json", "--no-check"], capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
