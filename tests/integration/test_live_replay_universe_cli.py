"""``tradepulse live replay SOURCE [SOURCE ...]``: a universe through the portfolio engine from the command line."""

from __future__ import annotations

import json
import shutil

import pytest

from tradepulse.cli import main
from tradepulse.data.samples import get_sample
from tradepulse.store import Journal

MAJORS = "universe:binance-usdt-4h"


def test_a_named_universe_replays_with_symbols_and_per_symbol_figures(capsys, tmp_path):
    journal = tmp_path / "book.sqlite"
    assert main(["live", "replay", MAJORS, "--strategy", "momentum", "-p", "top=2", "--journal", str(journal), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["symbols"] == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]
    assert report["trades"] == sum(member["trades"] for member in report["per_symbol"].values()) > 0
    assert {fill["symbol"] for fill in report["fills"]} <= set(report["symbols"])
    with Journal(journal, read_only=True) as written:
        started = written.events(kinds=["engine.started"], limit=1)[0].payload
    assert started["symbols"] == report["symbols"]


def test_a_folder_of_files_named_by_symbol_is_a_universe_and_symbol_overrides_name_a_member(capsys, tmp_path):
    folder = tmp_path / "bars"
    folder.mkdir()
    for base in ("BTC", "ETH"):
        shutil.copy(get_sample(f"binance:{base}/USDT:4h").path, folder / f"binance_{base}-USDT_4h.csv.gz")
    assert main(["live", "replay", str(folder), "--strategy", "pairs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["symbols"] == ["BTC/USDT", "ETH/USDT"]
    renamed = tmp_path / "eth.csv.gz"
    shutil.copy(get_sample("binance:ETH/USDT:4h").path, renamed)
    arguments = ["live", "replay", str(folder / "binance_BTC-USDT_4h.csv.gz"), str(renamed), "--symbol", f"{renamed}=ETH/USDT",
                 "--strategy", "sma_cross", "--json"]
    assert main(arguments) == 0
    assert json.loads(capsys.readouterr().out)["symbols"] == ["BTC/USDT", "ETH/USDT"]


def test_recordings_of_both_symbols_replay_on_one_clock(capsys):
    arguments = ["live", "replay", "recording:binance:BTC/USDT", "recording:binance:ETH/USDT", "--strategy", "sma_cross",
                 "-p", "fast=3", "-p", "slow=8", "--bar", "10s", "--json"]
    assert main(arguments) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["symbols"] == ["BTC/USDT", "ETH/USDT"] and report["bars"] > 20
    assert {fill["symbol"] for fill in report["fills"]} == {"BTC/USDT", "ETH/USDT"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([MAJORS, "sample:yahoo:XLK:1d", "--strategy", "sma_cross"], "different timeframes"),
        (["sample:binance:BTC/USDT:4h", "sample:binance:ETH/USDT:4h", "sample:binance:SOL/USDT:4h", "--strategy", "pairs"],
         "exactly 2 symbols"),
        (["recording:binance:BTC/USDT", "sample:binance:ETH/USDT:4h", "--strategy", "sma_cross"], "cannot mix tick recordings"),
        (["sample:binance:BTC/USDT:4h", "sample:binance:ETH/USDT:4h", "--strategy", "sma_cross", "--symbol", "ETH"],
         "FILE=SYMBOL"),
        (["universe:nope", "--strategy", "sma_cross"], "unknown universe"),
    ],
)
def test_bad_universe_input_is_one_clear_line_and_exit_code_2(arguments, message, capsys):
    assert main(["live", "replay", *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
