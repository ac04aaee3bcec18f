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
