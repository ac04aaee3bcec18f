"""`tradepulse data download`: paginated candles from the local venue into a resumable Parquet cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from emulator_fixtures import binance_client, run, venue  # noqa: F401
from polling import eventually

from tradepulse.data import load_bars
from tradepulse.data.cache import (
    OhlcvCache,
    cache_address,
    cache_path,
    merge_intervals,
    missing_intervals,
    parse_cache_address,
    resolve_cache_source,
)
from tradepulse.adapters.ccxt.download import download_ohlcv
from tradepulse.errors import DataError

BTC = "BTC/USDT"
SECOND_MS = 1000


def control(venue, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(venue.endpoints.control_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def closed_range(venue, seconds: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last ``seconds`` of closed 1 s candles at the venue, ending a few seconds ago (fixed, so runs repeat)."""
    market_ms = venue.call(lambda v: v.state())["marketTime"]
    end = pd.Timestamp(market_ms - market_ms % SECOND_MS - 3 * SECOND_MS, unit="ms", tz="UTC")
    return end - pd.Timedelta(seconds=seconds), end


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "tradepulse.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})


def main(capsys, *args: str) -> tuple[int, str, str]:
    """The same command in this process (fast; stdout and stderr are not terminals here either)."""
    from tradepulse.cli import main as tradepulse

    code = tradepulse(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the cache's bookkeeping ------------------------------------------------------------------------


def test_coverage_intervals_merge_and_leave_only_what_is_missing():
    assert merge_intervals([(10, 20), (0, 5), (5, 7), (30, 30)]) == [(0, 7), (10, 20)]
    assert missing_intervals((0, 40), [(0, 7), (10, 20)]) == [(7, 10), (20, 40)]
    assert missing_intervals((12, 18), [(10, 20)]) == []
    assert missing_intervals((0, 10), []) == [(0, 10)]


def test_cache_addresses_and_paths_name_exchange_symbol_and_timeframe(tmp_path):
    assert parse_cache_address("cache:binance:BTC/USDT:1m") == ("binance", "BTC/USDT", "1m")
    assert cache_address("binance", "BTC/USDT:USDT", "5m") == "cache:binance:BTC/USDT:USDT:5m"
    assert cache_path("binance", "BTC/USDT:USDT", "5m", tmp_path) == tmp_path / "ohlcv/binance/BTC-USDT_USDT/5m.parquet"
    with pytest.raises(DataError, match="tradepulse data download --exchange binance --symbol BTC/USDT --timeframe 1h"):
        resolve_cache_source("cache:binance:BTC/USDT:1h", tmp_path)
    with pytest.raises(DataError, match="not a cache address"):
        parse_cache_address("cache:binance")


def test_the_cache_file_round_trips_bars_and_coverage_and_refuses_disorder(tmp_path):
    index = pd.date_range("2024-08-09", periods=3, freq="1min", tz="UTC", name="timestamp").as_unit("ns")
    bars = pd.DataFrame({"open": [1.0, 2, 3], "high": [2.0, 3, 4], "low": [0.5, 1, 2], "close": [1.5, 2.5, 3.5],
                         "volume": [10.0, 0, 5]}, index=index)
    cache = OhlcvCache(tmp_path / "x.parquet")
    cache.write(bars, [(0, 5), (5, 9)])
    loaded, coverage = cache.read()
    pd.testing.assert_frame_equal(loaded, bars, check_freq=False)
    assert coverage == [(0, 9)]
    with pytest.raises(DataError, match="unsorted or duplicated"):
        cache.write(bars.iloc[::-1], [])


# -- downloading from the local venue ---------------------------------------------------------------


def test_a_download_pages_through_the_venue_and_a_second_run_fetches_nothing(venue, tmp_path, monkeypatch):
    since, until = closed_range(venue, 120)
    options = {"cache_dir": tmp_path, "exchange_url": venue.endpoints.base_url, "page_size": 25}
    first = download_ohlcv("binance", BTC, "1s", since, until, **options)
    second = download_ohlcv("binance", BTC, "1s", since, until, **options)

    async def reference():
        async with binance_client(venue, None, None) as plain:
            rows = []
            cursor = int(since.value // 1_000_000)
            while cursor < int(until.value // 1_000_000):
                page = await plain.fetch_ohlcv(BTC, "1s", cursor, 1000)
                rows += [r for r in page if r[0] < int(until.value // 1_000_000)]
                cursor = page[-1][0] + 1000
            return rows

    expected = run(reference())
    assert first.total_bars == len(expected) == first.fetched_bars and first.pages == 5 and first.complete
    assert (second.fetched_bars, second.pages, second.cached_before, second.total_bars) == (0, 0, first.total_bars, first.total_bars)
    monkeypatch.setenv("TRADEPULSE_CACHE_DIR", str(tmp_path))
    cached = load_bars("cache:binance:BTC/USDT:1s")
    assert [int(t.value // 1_000_000) for t in cached.index] == [row[0] for row in expected]
    assert cached["close"].tolist() == [row[4] for row in expected] and cached["volume"].tolist() == [row[5] for row in expected]
    pd.testing.assert_frame_equal(load_bars(first.path), cached, check_freq=False)


def test_an_interrupted_download_keeps_its_pages_and_the_next_run_fetches_only_the_rest(venue, tmp_path):
    since, until = closed_range(venue, 100)
    options = {"cache_dir": tmp_path, "exchange_url": venue.endpoints.base_url, "page_size": 20}

    def interrupt_after_two_pages(page: int, bars: int) -> None:
        if page == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_ohlcv("binance", BTC, "1s", since, until, on_page=interrupt_after_two_pages, **options)
    kept, coverage = OhlcvCache(cache_path("binance", BTC, "1s", tmp_path)).read()
    assert len(kept) == 40 and coverage == [(int(since.value // 1_000_000), int(since.value // 1_000_000) + 40_000)]
    resumed = download_ohlcv("binance", BTC, "1s", since, until, **options)
    assert (resumed.cached_before, resumed.fetched_bars, resumed.total_bars, resumed.pages) == (40, 60, 100, 3)
    assert not resumed.path.with_name(f".{resumed.path.name}.{os.getpid()}.tmp").exists()


def test_a_killed_download_command_resumes_where_its_last_checkpoint_left_it(venue, tmp_path):
    since, until = closed_range(venue, 200)
    args = ["data", "download", "--exchange", "binance", "--symbol", BTC, "--timeframe", "1s", "--since", since.isoformat(),
            "--until", until.isoformat(), "--cache-dir", str(tmp_path), "--page-size", "10", "--checkpoint-pages", "1"]
    path = cache_path("binance", BTC, "1s", tmp_path)
    control(venue, "POST", "/faults", {"latency_ms": 250})  # each page takes a while: there is time to kill it
    try:
        process = subprocess.Popen([sys.executable, "-m", "tradepulse.cli", *args, "--exchange-url", venue.endpoints.base_url],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually(lambda: path.exists() or process.poll() is not None, timeout_seconds=60)
        os.kill(process.pid, signal.SIGKILL)  # no clean-up runs: only checkpoints survive
        process.wait(10)
    finally:
        control(venue, "DELETE", "/faults")
    kept, _ = OhlcvCache(path).read()
    assert 0 < len(kept) < 200
    resumed = cli(*args, "--json", env={"TRADEPULSE_BINANCE_URL": venue.endpoints.base_url})
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["cached_before"] == len(kept) and result["fetched_bars"] == 200 - len(kept) and result["total_bars"] == 200
    final = load_bars(path)
    assert len(final) == 200 and final.index.is_unique and final.index.is_monotonic_increasing


def test_candles_failing_validation_are_not_written(venue, tmp_path):
    since, until = closed_range(venue, 30)
    path = cache_path("binance", BTC, "1s", tmp_path)
    broken_at = since - pd.Timedelta(seconds=60)
    broken = pd.DataFrame({"open": [10.0], "high": [5.0], "low": [20.0], "close": [10.0], "volume": [1.0]},
                          index=pd.DatetimeIndex([broken_at], name="timestamp"))  # high below low
    start_ms = int(broken_at.value // 1_000_000)
    OhlcvCache(path).write(broken, [(start_ms, start_ms + 1000)])
    before = path.read_bytes()
    with pytest.raises(DataError, match="refusing to cache candles that fail validation: 1 bar\\(s\\) with inconsistent OHLC"):
        download_ohlcv("binance", BTC, "1s", since, until, cache_dir=tmp_path, exchange_url=venue.endpoints.base_url)
    assert path.read_bytes() == before


def test_gaps_the_exchange_left_are_warnings_and_the_command_reports_them(venue, tmp_path, capsys, monkeypatch):
    since, until = closed_range(venue, 40)
    first = download_ohlcv("binance", BTC, "1s", since, until, cache_dir=tmp_path, exchange_url=venue.endpoints.base_url)
    cache = OhlcvCache(first.path)
    bars, coverage = cache.read()
    cache.write(bars.drop(bars.index[10:15]), coverage)  # as if the exchange had had no candles there
    args = ["data", "download", "--exchange", "binance", "--symbol", BTC, "--timeframe", "1s", "--since", since.isoformat(),
            "--until", until.isoformat(), "--cache-dir", str(tmp_path)]
    code, out, err = main(capsys, *args, "--exchange-url", venue.endpoints.base_url)
    assert code == 0, err
    assert "fetched 0 new bar(s)" in out and "cache:binance:BTC/USDT:1s: 35 bar(s)" in out
    assert "warning: 1 gap(s), 5 missing bar(s)" in err
    monkeypatch.setenv("TRADEPULSE_BINANCE_URL", venue.endpoints.base_url)
    code, out, _ = main(capsys, *args, "--json")
    as_json = json.loads(out)
    assert code == 0 and as_json["gaps"][0]["missing_bars"] == 5 and as_json["pages"] == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--timeframe", "7m"], "has no '7m' candles"),
    (["--symbol", "DOGE/USDT"], "does not list 'DOGE/USDT'"),
    (["--since", "yesterday-ish"], "--since: 'yesterday-ish' is not a date"),
    (["--exchange", "kraken"], "Binance-compatible local venues only"),
])
def test_bad_input_is_one_line_and_exit_code_2(venue, tmp_path, capsys, extra, message):
    base = {"--exchange": "binance", "--symbol": BTC, "--timeframe": "1m", "--since": "2024-08-01"}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        base[flag] = value
    args = [item for pair in base.items() for item in pair]
    code, _, err = main(capsys, "data", "download", *args, "--cache-dir", str(tmp_path), "--exchange-url", venue.endpoints.base_url)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_command_has_help_with_an_example(capsys):
    with pytest.raises(SystemExit) as done:
        main(capsys, "data", "download", "--help")
    out = capsys.readouterr().out
    assert done.value.code == 0 and "tradepulse data download --exchange binance" in out and "--exchange-url" in out


def test_the_cache_is_a_data_source_for_commands_and_feeds(venue, tmp_path, capsys, monkeypatch):
    from tradepulse.adapters.paper.feeds import BarReplayFeed

    since, until = closed_range(venue, 60)
    download_ohlcv("binance", BTC, "1s", since, until, cache_dir=tmp_path, exchange_url=venue.endpoints.base_url)
    monkeypatch.setenv("TRADEPULSE_CACHE_DIR", str(tmp_path))
    code, out, err = main(capsys, "data", "validate", "cache:binance:BTC/USDT:1s", "--json")
    assert code in (0, 1) and json.loads(out)["rows"] == 60, err
    feed = BarReplayFeed.from_source("cache:binance:BTC/USDT:1s", symbol=BTC)
    assert len(feed) == 120 and feed.period.total_seconds() == 1


def test_the_progress_bar_is_off_when_stderr_is_not_a_terminal(venue, tmp_path, capsys):
    since, until = closed_range(venue, 30)
    code, out, err = main(capsys, "data", "download", "--exchange", "binance", "--symbol", BTC, "--timeframe", "1s", "--since",
                          since.isoformat(), "--until", until.isoformat(), "--cache-dir", str(tmp_path),
                          "--exchange-url", venue.endpoints.base_url)
    assert code == 0 and "bar/s" not in err and "%|" not in err
    assert Path(out.split("file: ")[1].strip()).exists()
