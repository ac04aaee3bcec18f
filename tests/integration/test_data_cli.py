"""`tradepulse data` through the real command line."""

import pandas as pd


def test_data_list_shows_both_embedded_samples(cli):
    result = cli("data", "list", "--json")
    assert result.returncode == 0, result.stderr
    addresses = {s["address"] for s in result.json()["samples"]}
    assert {"sample:binance:BTC/USDT:1h", "sample:binance:BTC/USDT-PERP:5m"} <= addresses


def test_validate_clean_sample_exits_zero_with_json_report(cli):
    result = cli("data", "validate", "sample:binance:BTC/USDT:1h", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["ok"] is True
    assert report["rows"] == 583
    assert report["timeframe"] == "1h"
    assert report["gaps"] == []
    assert report["start"] == "2019-09-30T08:00:00Z"


def test_validate_reports_gap_spans_in_iso_utc(cli, tmp_path, hourly_bars):
    path = tmp_path / "holed.csv"
    hourly_bars.drop(hourly_bars.index[10:13]).to_csv(path)
    result = cli("data", "validate", str(path), "--json")
    assert result.returncode == 0  # gaps are warnings
    assert result.json()["gaps"] == [
        {"start": "2019-09-30T18:00:00Z", "end": "2019-09-30T20:00:00Z", "missing_bars": 3}
    ]
    strict = cli("data", "validate", str(path), "--strict")
    assert strict.returncode == 1
    assert "FAILED" in strict.stdout


def test_validate_exits_nonzero_when_errors_are_found(cli, tmp_path, hourly_bars):
    broken = hourly_bars.copy()
    broken.iloc[4, broken.columns.get_loc("high")] = broken.iloc[4]["low"] - 10
    broken = pd.concat([broken, broken.iloc[[7]]])
    path = tmp_path / "broken.csv.gz"
    broken.to_csv(path)
    result = cli("data", "validate", str(path), "--json")
    assert result.returncode == 1
    report = result.json()
    assert report["ok"] is False
    assert report["counts"]["ohlc_inconsistent"] == 1
    assert report["counts"]["duplicated_timestamps"] == 1
    assert report["counts"]["out_of_order"] == 1


def test_unreadable_source_is_one_line_and_exit_two(cli, tmp_path):
    (tmp_path / "no_volume.csv").write_text("timestamp,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")
    for source in (str(tmp_path / "missing.csv"), str(tmp_path / "no_volume.csv"), "sample:unknown"):
        result = cli("data", "validate", source)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("tradepulse: error:")


def test_usage_error_exits_two(cli):
    result = cli("data", "validate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_data_list_shows_the_embedded_universes_and_their_members(cli):
    result = cli("data", "list", "--json")
    assert result.returncode == 0, result.stderr
    universes = {u["address"]: u for u in result.json()["universes"]}
    assert set(universes) == {"universe:binance-usdt-4h", "universe:bittrex-btc-5m", "universe:spdr-sectors-1d"}
    spdr = universes["universe:spdr-sectors-1d"]
    assert spdr["timeframe"] == "1d"
    assert len(spdr["symbols"]) == 11 and "XLK" in spdr["symbols"]
    assert "sample:yahoo:XLK:1d" in spdr["members"]
    text = cli("data", "list")
    assert "universe:bittrex-btc-5m" in text.stdout and "ADA/BTC" in text.stdout


def test_daily_etf_is_checked_against_nyse_sessions(cli):
    result = cli("data", "validate", "sample:yahoo:XLK:1d", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["calendar"] == "XNYS"
    assert report["gaps"] == []
    assert report["warnings"] == []
    inferred = cli("data", "validate", "sample:yahoo:XLK:1d", "--calendar", "data", "--json", "--strict")
    assert inferred.returncode == 1  # the holidays are gaps again, and --strict fails on them
    assert inferred.json()["counts"]["missing_bars"] == 73


def test_unknown_calendar_is_one_line_and_exit_two(cli):
    result = cli("data", "validate", "sample:yahoo:XLK:1d", "--calendar", "MOON")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown trading calendar 'MOON'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unadjusted_split_is_reported_apart_from_outliers(cli, tmp_path):
    from tradepulse.data import load_bars

    raw = load_bars("sample:yahoo:XLK:1d")
    raw.loc[raw.index < "2021-06-10", ["open", "high", "low", "close"]] *= 2
    path = tmp_path / "yahoo_XLK_1d.csv"
    raw.to_csv(path)
    result = cli("data", "validate", str(path), "--json")
    assert result.returncode == 0  # a warning
    report = result.json()
    assert [(s["timestamp"], s["ratio"]) for s in report["suspected_splits"]] == [("2021-06-10T00:00:00Z", "2-for-1")]
    assert report["outlier_returns"] == []
    text = cli("data", "validate", str(path))
    assert "split? 2021-06-10T00:00:00+00:00: 2-for-1" in text.stdout


def test_named_universe_validates_members_and_alignment(cli):
    result = cli("data", "validate", "universe:bittrex-btc-5m", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["passed"] is True
    assert len(report["members"]) == 10
    assert report["members"][0]["symbol"] == "ADA/BTC"
    assert report["members"][0]["counts"]["missing_bars"] == 40
    assert (report["alignment"]["kept"], report["alignment"]["dropped"]) == (5707, 52)
    assert report["alignment"]["lines"][0].startswith("ADA/BTC: no bar at 40 timestamp(s)")
    text = cli("data", "validate", "universe:bittrex-btc-5m")
    assert "alignment: intersect, 5m clock" in text.stdout and "5707 of 5759 timestamp(s) kept" in text.stdout
    strict = cli("data", "validate", "universe:bittrex-btc-5m", "--align", "strict")
    assert strict.returncode == 1
    assert "FAILED" in strict.stdout


def test_a_folder_and_several_sources_are_universes(cli, tmp_path):
    from tradepulse.data import get_sample

    for ticker in ("XLK", "XLE"):
        (tmp_path / f"yahoo_{ticker}_1d.csv.gz").write_bytes(get_sample(f"yahoo:{ticker}:1d").path.read_bytes())
    folder = cli("data", "validate", str(tmp_path), "--json")
    assert folder.returncode == 0, folder.stderr
    assert [m["symbol"] for m in folder.json()["members"]] == ["XLE", "XLK"]
    assert all(m["calendar"] == "XNYS" and m["gaps"] == [] for m in folder.json()["members"])
    listed = cli("data", "validate", "sample:binance:BTC/USDT:4h", "sample:binance:ETH/USDT:4h", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.json()["alignment"]["kept"] == 499


def test_mixed_timeframes_are_one_error_line_and_exit_one(cli):
    result = cli("data", "validate", "sample:binance:BTC/USDT:1h", "sample:binance:ETH/USDT:4h")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors == [
        "error:     universe: members have different timeframes (BTC/USDT 1h, ETH/USDT 4h); resample them to one before combining"
    ]
    assert "Traceback" not in result.stderr
    as_json = cli("data", "validate", "sample:binance:BTC/USDT:1h", "sample:binance:ETH/USDT:4h", "--json")
    assert as_json.returncode == 1
    assert as_json.json()["alignment"] is None


def test_universe_without_overlap_is_one_error_line_and_exit_one(cli, tmp_path):
    from tradepulse.data import load_bars

    load_bars("sample:binance:ETH/USDT:4h").iloc[:200].to_csv(tmp_path / "binance_ETH-USDT_4h.csv")
    load_bars("sample:binance:BTC/USDT:4h").iloc[300:].to_csv(tmp_path / "binance_BTC-USDT_4h.csv")
    result = cli("data", "validate", str(tmp_path))
    assert result.returncode == 1
    assert [line for line in result.stdout.splitlines() if line.startswith("error:")] == [
        "error:     universe: the members' time ranges do not overlap; there is no common clock"
    ]
    assert "Traceback" not in result.stderr


def test_unreadable_universe_member_is_one_line_and_exit_two(cli, tmp_path):
    for args in (
        ("sample:binance:BTC/USDT:4h", str(tmp_path / "missing.csv")),
        ("universe:nope",),
        (str(tmp_path),),  # an empty folder
        ("universe:binance-usdt-4h", "--symbol", "other.csv=ETH/USDT"),
    ):
        result = cli("data", "validate", *args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("tradepulse: error:")
        assert "Traceback" not in result.stderr
