"""``tradepulse live replay``: help, bad input, JSON output, the journal it writes, paced replays."""

from __future__ import annotations

import json

import pytest

from tradepulse.cli import main
from tradepulse.store import Journal
from tradepulse.store.journal import segment_rows

HOURLY = "sample:binance:BTC/USDT:1h"
FIVE_MINUTE = "sample:binance:BTC/USDT-PERP:5m"


def test_help_shows_examples_and_the_fill_convention(cli):
    result = cli("live", "replay", "--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout and "tradepulse live replay sample:binance:BTC/USDT:1h" in result.stdout
    assert "next available price" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["sample:binance:NOPE/USDT:1h", "--strategy", "sma_cross"], "unknown sample"),
        ([HOURLY, "--strategy", "sma_cross", "--speed", "0"], "--speed expects 'max' or a positive number"),
        ([HOURLY, "--strategy", "sma_cross", "--speed", "fast"], "--speed expects"),
        ([HOURLY, "--strategy", "sma_cross", "-p", "fast=ten"], "parameter 'fast'"),
        ([HOURLY, "--strategy", "no_such_strategy"], "no_such_strategy"),
        (["recording:binance:BTC/USDT", "--strategy", "sma_cross", "--bar", "ten seconds"], "bar period"),
        ([HOURLY, "--strategy", "sma_cross", "--risk", "missing.toml"], "no such file"),
        ([HOURLY, "--strategy", "sma_cross", "--latency-ms", "-5"], "latency"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(arguments, message, capsys):
    assert main(["live", "replay", *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_a_replay_never_overwrites_an_existing_journal(tmp_path, capsys):
    journal = tmp_path / "journal.sqlite"
    journal.write_bytes(b"not empty")
    assert main(["live", "replay", HOURLY, "--strategy", "sma_cross", "--journal", str(journal)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_risk_file_sets_the_gate_limits_and_denials_show_in_the_orders(tmp_path, capsys):
    limits = tmp_path / "risk.toml"
    limits.write_text("[risk]\nmax_order_notional = 50\nmax_daily_loss_fraction = 0.5\n")
    assert main(["live", "replay", HOURLY, "--strategy", "sma_cross", "--end", "2019-10-05", "--risk", str(limits), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["fills"] == [] and output["orders"]["DENIED"] > 0


def test_a_tick_replay_prints_json_and_journals_every_step(cli, tmp_path):
    journal_path = tmp_path / "replay.sqlite"
    result = cli(
        "live", "replay", "recording:binance:ETH/USDT", "--strategy", "sma_cross", "-p", "fast=3", "-p", "slow=8",
        "--bar", "10s", "--latency-ms", "20", "--journal", str(journal_path), "--json",
    )
    assert result.returncode == 0, result.stderr
    output = result.json()
    assert {"fills", "trades", "final_equity", "total_return", "pnl", "start", "end", "bars"} <= set(output)
    assert output["symbol"] == "ETH/USDT" and output["bars"] > 60 and output["fills"]
    assert all(fill["time"].endswith("Z") for fill in output["fills"])
    with Journal(journal_path, read_only=True) as journal:
        kinds = {event.kind for event in journal.iter_events()}
        assert {"engine.started", "market.bars", "strategy.target", "risk.decision", "order.submitted", "order.filled", "engine.stopped"} <= kinds
        assert journal.count("order.filled") == len(output["fills"])
        assert sum(len(segment_rows(event.payload)) for event in journal.iter_events(kinds=["market.bars"])) == output["bars"]
        # A replay defers its commits: the bars between two orders are one segment event, not one event each.
        assert journal.count("market.bars") < output["bars"]


def test_a_paced_replay_trades_exactly_like_an_unpaced_one_and_prints_the_pnl(cli, capsys):
    window = [FIVE_MINUTE, "--strategy", "sma_cross", "-p", "fast=3", "-p", "slow=8", "--start", "2023-01-03", "--end", "2023-01-03 04:00"]
    paced = cli("live", "replay", *window, "--speed", "200000", "--json")  # four hours of bars in about 0.1 s
    fastest = cli("live", "replay", *window, "--json")
    assert paced.returncode == fastest.returncode == 0, paced.stderr + fastest.stderr
    assert paced.json()["fills"] == fastest.json()["fills"] and paced.json()["fills"]
    assert main(["live", "replay", *window]) == 0
    text = capsys.readouterr().out
    assert "final equity" in text and "pnl" in text and "total return" in text
