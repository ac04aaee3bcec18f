"""load_universe: members on one clock, aligned (never filled) by the stated policy, symbols from data or file names."""

import shutil

import pandas as pd
import pytest

from tradepulse.data import get_sample, load_bars, load_universe, symbol_from_filename
from tradepulse.errors import DataError

BITTREX = "universe:bittrex-btc-5m"
BINANCE_4H = "universe:binance-usdt-4h"
# Per the universes' attribution: each of these members lacks bars the others have, 52 slots in all.
BITTREX_MISSING = {"ADA/BTC": 40, "DASH/BTC": 2, "POWR/BTC": 6, "XMR/BTC": 2, "ZEC/BTC": 2}


@pytest.fixture(scope="module")
def bittrex():
    return load_universe([BITTREX])


def test_intersect_drops_exactly_the_slots_some_member_lacks(bittrex):
    alignment = bittrex.alignment
    assert alignment.policy == "intersect"
    assert alignment.slots == 5759
    assert alignment.kept == 5707
    assert alignment.dropped == 52
    assert {symbol: len(stamps) for symbol, stamps in alignment.missing.items() if len(stamps)} == BITTREX_MISSING
    assert len(bittrex) == 5707
    assert bittrex.bars["close"].shape == (5707, 10)
    assert not bittrex.bars.isna().any().any()  # aligned, never filled


def test_every_dropped_slot_is_named_in_the_report(bittrex):
    ada_hole = pd.Timestamp("2018-01-15T10:10Z")
    assert ada_hole in bittrex.alignment.missing["ADA/BTC"]
    assert ada_hole not in bittrex.bars.index
    lines = bittrex.alignment.lines()
    assert len(lines) == len(BITTREX_MISSING)
    assert lines[0].startswith("ADA/BTC: no bar at 40 timestamp(s)")


def test_strict_refuses_a_member_missing_a_bar():
    with pytest.raises(DataError, match="ADA/BTC has no bar at 2018-01-15T10:10:00.*strict"):
        load_universe([BITTREX], align="strict")


def test_fully_aligned_universe_keeps_every_bar():
    universe = load_universe([BINANCE_4H], align="strict")
    assert universe.symbols == ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT")
    assert universe.alignment.aligned
    assert len(universe) == 499
    pd.testing.assert_frame_equal(
        universe.member("ETH/USDT"), load_bars("sample:binance:ETH/USDT:4h"), check_freq=False, check_names=False
    )


def test_unknown_alignment_policy_is_refused():
    with pytest.raises(DataError, match="unknown alignment policy 'outer'"):
        load_universe([BINANCE_4H], align="outer")


def test_mixed_timeframes_are_refused_not_resampled():
    with pytest.raises(DataError, match=r"different timeframes \(BTC/USDT 1h, ETH/USDT 4h\)"):
        load_universe(["sample:binance:BTC/USDT:1h", "sample:binance:ETH/USDT:4h"])


def test_members_that_do_not_overlap_are_refused(tmp_path):
    eth = load_bars("sample:binance:ETH/USDT:4h")
    btc = load_bars("sample:binance:BTC/USDT:4h")
    eth.iloc[:200].to_csv(tmp_path / "binance_ETH-USDT_4h.csv")
    btc.iloc[300:].to_csv(tmp_path / "binance_BTC-USDT_4h.csv")
    with pytest.raises(DataError, match="do not overlap"):
        load_universe([tmp_path])


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("binance_ETH-USDT_4h.csv.gz", "ETH/USDT"),
        ("yahoo_XLK_1d.csv.gz", "XLK"),
        ("binance_BTC-USDT-PERP_5m.csv.gz", "BTC/USDT-PERP"),
        ("some/folder/kraken_XBT-EUR_1h.parquet", "XBT/EUR"),
        ("ETH-BTC_5m.csv", "ETH/BTC"),
        ("yahoo_BRK.B_1d.csv", "BRK.B"),
        ("bars.csv", None),
        ("binance_ETH-USDT.csv", None),
    ],
)
def test_symbol_from_filename(name, symbol):
    assert symbol_from_filename(name) == symbol


def test_a_folder_is_its_data_files_in_name_order(tmp_path):
    for base in ("BTC", "ETH", "SOL", "BNB"):
        shutil.copy(get_sample(f"binance:{base}/USDT:4h").path, tmp_path)
    (tmp_path / "NOTES.md").write_text("not data\n")
    universe = load_universe([tmp_path])
    assert universe.symbols == ("BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT")
    assert set(universe.sources) == set(universe.symbols)
    from_samples = load_universe([BINANCE_4H])
    pd.testing.assert_frame_equal(universe.bars["close"][list(from_samples.symbols)], from_samples.bars["close"])


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="holds no data files"):
        load_universe([tmp_path])


def test_a_file_without_a_symbol_needs_an_override(tmp_path):
    path = tmp_path / "prices.csv"
    load_bars("sample:binance:ETH/USDT:4h").to_csv(path)
    btc = "sample:binance:BTC/USDT:4h"
    with pytest.raises(DataError, match="cannot tell its symbol.*--symbol FILE=SYMBOL"):
        load_universe([btc, path])
    universe = load_universe([btc, path], symbols={"prices.csv": "ETH/USDT"})
    assert universe.symbols == ("BTC/USDT", "ETH/USDT")
    assert universe.sources["ETH/USDT"] == str(path)


def test_an_override_for_a_file_not_among_the_sources_is_refused():
    with pytest.raises(DataError, match="--symbol names 'other.csv', which is not one of the sources"):
        load_universe([BINANCE_4H], symbols={"other.csv": "ETH/USDT"})


def test_the_same_symbol_twice_is_refused():
    with pytest.raises(DataError, match="ETH/USDT appears twice"):
        load_universe(["sample:binance:ETH/USDT:4h", "sample:binance:ETH/USDT:4h"])


def test_unknown_universe_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown universe 'universe:nope'; available: universe:binance-usdt-4h"):
        load_universe(["universe:nope"])
