import argparse
import json

import pytest

from tradepulse.cli import _Parser, indicator_cmds
from tradepulse.errors import ConfigError, DataError

SOURCE = "sample:binance:BTC/USDT:1h"


def run(*argv):
    """Run the indicators handler in-process (the real ``tradepulse`` is exercised below)."""
    parser = _Parser(prog="tradepulse")
    indicator_cmds.register(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(["indicators", *argv])
    return args.handler(args)


def test_indicators_prints_the_latest_readings_as_a_table(capsys):
    assert run(SOURCE) == 0
    out = capsys.readouterr().out
    for label in ("Kuramoto R", "entropy H", "entropy change dH", "Hurst exponent", "Ricci curvature", "phase"):
        assert label in out
    assert "2019-10-24T14:00:00Z" in out
    assert "transition" in out  # the pinned phase of the last hourly bar at window 64


def test_indicators_json_is_one_object_with_every_reading(capsys):
    assert run(SOURCE, "--window", "128", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {
        "source", "window", "timestamp", "close", "kuramoto_r", "entropy", "delta_entropy",
        "hurst", "ricci", "phase", "phase_confidence",
    }
    assert payload["window"] == 128
    assert payload["timestamp"] == "2019-10-24T14:00:00Z"
    assert payload["close"] == pytest.approx(7471.3)
    assert payload["phase"] in {"chaotic", "proto_emergent", "strong_emergent", "transition", "post_emergent"}
    assert 0.0 <= payload["phase_confidence"] <= 1.0


def test_a_window_longer_than_the_data_is_a_config_error_that_says_what_to_do():
    with pytest.raises(ConfigError, match="at least 608 bars.*has 583"):
        run(SOURCE, "--window", "600")


def test_an_unknown_source_is_a_data_error():
    with pytest.raises(DataError):
        run("sample:nowhere:XYZ/ABC:1h")


def test_indicators_help_has_an_example():
    parser = _Parser(prog="tradepulse")
    subparsers = parser.add_subparsers(dest="command", parser_class=_Parser)
    indicator_cmds.register(subparsers)
    help_text = subparsers.choices["indicators"].format_help()
    assert "tradepulse indicators sample:binance:BTC/USDT:1h" in help_text
    assert subparsers.choices["indicators"].formatter_class is argparse.RawDescriptionHelpFormatter


def test_real_command_exits_2_with_one_line_for_a_too_large_window(cli):
    result = cli("indicators", SOURCE, "--window", "5000")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--window 5000" in result.stderr


def test_real_command_prints_json(cli):
    result = cli("indicators", SOURCE, "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["window"] == 64
