import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest

from tradepulse.data import BAR_COLUMNS, get_sample, list_samples, load_bars
from tradepulse.errors import DataError

EXPECTED_SHA256 = {
    "binance:BTC/USDT:1h": "4c998e52d359e5ccfdd7a9c558ea25b75b689ce7eae2694ed099e84b7946b1b9",
    "binance:BTC/USDT-PERP:5m": "190af2782b279d8da8e144223d4514024a84b65ad1c9a7c8cbdfb25b7c5c0ec5",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SHA256))
def test_embedded_sample_is_the_attributed_file(name):
    digest = hashlib.sha256(get_sample(name).path.read_bytes()).hexdigest()
    assert digest == EXPECTED_SHA256[name]


def test_every_sample_is_listed_with_license_and_source():
    samples = list_samples()
    assert {s.name for s in samples} >= set(EXPECTED_SHA256)
    for sample in samples:
        assert sample.license and sample.source
        assert sample.path.exists()


def test_hourly_sample_loads_as_canonical_frame(hourly_bars):
    assert list(hourly_bars.columns) == list(BAR_COLUMNS)
    assert all(dtype == np.float64 for dtype in hourly_bars.dtypes)
    assert str(hourly_bars.index.tz) == "UTC"
    assert hourly_bars.index.name == "timestamp"
    assert len(hourly_bars) == 583
    assert hourly_bars.index[0] == pd.Timestamp("2019-09-30T08:00:00Z")
    assert hourly_bars.index[-1] == pd.Timestamp("2019-10-24T14:00:00Z")


def test_five_minute_sample_loads_whole(five_minute_bars):
    assert len(five_minute_bars) == 10_999
    assert five_minute_bars.index[0] == pd.Timestamp("2023-01-02T16:45:00Z")
    assert five_minute_bars.index.is_monotonic_increasing


def _raw_hourly_text() -> str:
    with gzip.open(get_sample("binance:BTC/USDT:1h").path, "rt") as handle:
        return handle.read()


def test_capitalised_columns_and_date_alias_read_the_same(tmp_path, hourly_bars):
    text = _raw_hourly_text().replace("timestamp,open,high,low,close,volume", "Date,Open,High,Low,Close,Volume", 1)
    path = tmp_path / "caps.csv"
    path.write_text(text)
    pd.testing.assert_frame_equal(load_bars(path), hourly_bars, check_freq=False)


def test_epoch_millisecond_timestamps_are_understood(tmp_path, hourly_bars):
    frame = hourly_bars.reset_index()
    frame["time"] = frame.pop("timestamp").astype("int64") // 1_000_000
    path = tmp_path / "epoch.csv.gz"
    frame.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_bars(path), hourly_bars, check_freq=False)


def test_parquet_round_trip(tmp_path, hourly_bars):
    path = tmp_path / "bars.parquet"
    hourly_bars.to_parquet(path)
    pd.testing.assert_frame_equal(load_bars(path), hourly_bars, check_freq=False)


def test_semicolon_delimited_csv_is_read(tmp_path, hourly_bars):
    path = tmp_path / "semi.csv"
    path.write_text(_raw_hourly_text().replace(",", ";"))
    pd.testing.assert_frame_equal(load_bars(path), hourly_bars, check_freq=False)


def test_naive_timestamps_are_taken_as_utc(tmp_path, hourly_bars):
    path = tmp_path / "naive.csv"
    path.write_text(_raw_hourly_text().replace("Z", ""))
    assert load_bars(path).index.equals(hourly_bars.index)


def test_start_and_end_bounds_are_inclusive(hourly_bars):
    bars = load_bars("sample:binance:BTC/USDT:1h", start="2019-10-01", end="2019-10-01T05:00")
    assert bars.index[0] == pd.Timestamp("2019-10-01T00:00Z")
    assert bars.index[-1] == pd.Timestamp("2019-10-01T05:00Z")
    assert len(bars) == 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n", "missing column(s) volume"),
        ("open,high,low,close,volume\n1,2,0.5,1.5,3\n", "no time column"),
        ("timestamp,open,high,low,close,volume\n2024-01-01,1,2,abc,1.5,3\n", "non-numeric"),
        ("timestamp,open,high,low,close,volume\nnot-a-date,1,2,0.5,1.5,3\n", "timestamps could not be parsed"),
        ("", "empty"),
        ("timestamp,open,high,low,close,volume\n", "no bars"),
        (
            "timestamp,open,high,low,close,volume\n2024-01-01T01:00Z,1,2,0.5,1.5,3\n2024-01-01T01:00Z,1,2,0.5,1.5,3\n",
            "duplicated timestamp",
        ),
        (
            "timestamp,open,high,low,close,volume\n2024-01-01T02:00Z,1,2,0.5,1.5,3\n2024-01-01T01:00Z,1,2,0.5,1.5,3\n",
            "out of order",
        ),
    ],
)
def test_bad_content_is_refused_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_bars(path)


def test_missing_file_and_unknown_sample_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_bars(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="unknown sample.*available: sample:binance"):
        load_bars("sample:nasdaq:AAPL:1d")


def test_corrupt_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="cannot be read"):
        load_bars(path)
