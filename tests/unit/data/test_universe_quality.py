"""validate_universe: each member's report, and the alignment or the one reason there is none."""

import pandas as pd

from tradepulse.data import get_sample, load_bars, validate_bars, validate_universe


def test_bittrex_members_and_their_alignment():
    report = validate_universe(["universe:bittrex-btc-5m"])
    assert report.ok
    assert [m.symbol for m in report.members][:3] == ["ADA/BTC", "DASH/BTC", "ETC/BTC"]
    ada = report.members[0].report
    assert ada.source == "sample:bittrex:ADA/BTC:5m"
    assert (len(ada.gaps), ada.counts["missing_bars"]) == (5, 40)  # ADA's 2018-01-15 hole, in 5 pieces
    assert report.alignment.kept == 5707
    assert report.alignment.dropped == 52
    assert "universe: 52 of 5759 timestamp(s) dropped, some member lacks a bar there" in report.warnings
    assert "ADA/BTC: 5 gap(s), 40 missing bar(s)" in report.warnings


def test_member_reports_equal_single_source_reports():
    report = validate_universe(["universe:spdr-sectors-1d"])
    xlk = next(m for m in report.members if m.symbol == "XLK")
    alone = validate_bars(load_bars("sample:yahoo:XLK:1d"), source="sample:yahoo:XLK:1d")
    assert xlk.report.to_dict() == alone.to_dict()
    assert all(m.report.calendar == "XNYS" and m.report.gaps == [] for m in report.members)
    assert report.alignment.aligned and report.alignment.kept == 1890


def test_strict_policy_makes_a_dropped_timestamp_an_error():
    report = validate_universe(["universe:bittrex-btc-5m"], align="strict")
    assert not report.ok
    assert report.alignment is None
    [line] = report.universe_errors
    assert line.startswith("ADA/BTC has no bar at 2018-01-15T10:10:00")


def test_mixed_timeframes_are_one_error_and_members_are_still_reported():
    report = validate_universe(["sample:binance:BTC/USDT:1h", "sample:binance:ETH/USDT:4h"])
    assert not report.ok
    assert report.errors == [
        "universe: members have different timeframes (BTC/USDT 1h, ETH/USDT 4h); resample them to one before combining"
    ]
    assert [m.report.rows for m in report.members] == [583, 499]


def test_members_without_overlap_are_one_error(tmp_path):
    eth = load_bars("sample:binance:ETH/USDT:4h")
    btc = load_bars("sample:binance:BTC/USDT:4h")
    eth.iloc[:200].to_csv(tmp_path / "binance_ETH-USDT_4h.csv")
    btc.iloc[300:].to_csv(tmp_path / "binance_BTC-USDT_4h.csv")
    report = validate_universe([tmp_path])
    assert report.errors == ["universe: the members' time ranges do not overlap; there is no common clock"]


def test_a_member_with_duplicates_is_its_own_error_and_still_aligned(tmp_path):
    eth = load_bars("sample:binance:ETH/USDT:4h")
    pd.concat([eth, eth.iloc[[10]]]).sort_index().to_csv(tmp_path / "binance_ETH-USDT_4h.csv")
    report = validate_universe(["sample:binance:BTC/USDT:4h", tmp_path / "binance_ETH-USDT_4h.csv"])
    assert report.errors == ["ETH/USDT: 1 duplicated timestamp(s)"]
    assert report.alignment.aligned and report.alignment.kept == 499


def test_a_file_without_a_symbol_is_a_universe_error_unless_named(tmp_path):
    path = tmp_path / "prices.csv.gz"
    path.write_bytes(get_sample("binance:ETH/USDT:4h").path.read_bytes())
    report = validate_universe(["sample:binance:BTC/USDT:4h", path])
    assert [m.symbol for m in report.members] == ["BTC/USDT", "prices.csv.gz"]
    assert len(report.universe_errors) == 1 and "cannot tell its symbol" in report.universe_errors[0]
    named = validate_universe(["sample:binance:BTC/USDT:4h", path], symbols={"prices.csv.gz": "ETH/USDT"})
    assert named.ok and [m.symbol for m in named.members] == ["BTC/USDT", "ETH/USDT"]


def test_to_dict_has_members_and_alignment_lines():
    payload = validate_universe(["universe:bittrex-btc-5m"]).to_dict()
    assert payload["ok"] is True
    assert payload["symbols"][0] == "ADA/BTC"
    assert payload["members"][0]["symbol"] == "ADA/BTC"
    assert payload["members"][0]["counts"]["missing_bars"] == 40
    assert payload["alignment"]["kept"] == 5707
    assert payload["alignment"]["missing"]["ADA/BTC"]["count"] == 40
    assert payload["alignment"]["lines"][0].startswith("ADA/BTC: no bar at 40 timestamp(s)")
