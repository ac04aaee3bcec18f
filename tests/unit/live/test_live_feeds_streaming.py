"""A Parquet bar file replays batch by batch with exactly the events of the whole frame, and bad files fail as before."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tradepulse.data.streaming as streaming
from tradepulse.adapters.paper.feeds import BarReplayFeed, open_feed
from tradepulse.data import load_bars
from tradepulse.data.streaming import open_bar_stream
from tradepulse.errors import DataError

SAMPLE = "sample:binance:BTC/USDT-PERP:5m"  # real Binance bars shipped with the package


@pytest.fixture(scope="module")
def real_bars() -> pd.DataFrame:
    return load_bars(SAMPLE)


def _layouts(bars: pd.DataFrame, folder) -> dict[str, object]:
    """The same real bars written as Parquet the ways files come: an index, a column, row groups, units, zones."""
    files = {}
    files["pandas index"] = folder / "index.parquet"
    bars.to_parquet(files["pandas index"])
    files["row groups"] = folder / "groups.parquet"
    pq.write_table(pa.Table.from_pandas(bars), files["row groups"], row_group_size=997)
    column = bars.reset_index().rename(columns={"timestamp": "Date", "close": "Close", "volume": "vol"})
    files["a Date column"] = folder / "column.parquet"
    column.to_parquet(files["a Date column"], index=False)
    naive = bars.reset_index()
    naive["timestamp"] = naive["timestamp"].dt.tz_localize(None).astype("datetime64[ms]")
    naive["volume"] = (naive["volume"] * 1000).round().astype("int64")
    files["naive milliseconds, integer volume"] = folder / "naive.parquet"
    pq.write_table(pa.Table.from_pandas(naive, preserve_index=False), files["naive milliseconds, integer volume"])
    files["another time zone"] = folder / "zone.parquet"
    bars.tz_convert("America/New_York").to_parquet(files["another time zone"])
    return files


@pytest.mark.parametrize(("start", "end"), [(None, None), ("2023-01-05 00:01", "2023-01-20 13:02")])
def test_a_streamed_parquet_replay_yields_exactly_the_events_of_the_whole_frame(real_bars, tmp_path, monkeypatch, start, end):
    # Batches that do not divide the row groups or each other, so every kind of boundary is crossed.
    monkeypatch.setattr(streaming, "_READ_ROWS", 1_000)
    monkeypatch.setattr(streaming, "_CHECK_ROWS", 1_234)
    for layout, path in _layouts(real_bars, tmp_path).items():
        streamed = BarReplayFeed.from_source(path, symbol="BTC/USDT-PERP", start=start, end=end)
        whole = BarReplayFeed(load_bars(path, start=start, end=end), "BTC/USDT-PERP")
        assert streamed.streamed and not whole.streamed, layout
        assert (len(streamed), streamed.period) == (len(whole), whole.period), layout
        events, expected = list(streamed.events(chunk=777)), list(whole.events())
        assert events == expected, layout
        assert [(e.at.tzinfo, repr(e)) for e in events] == [(e.at.tzinfo, repr(e)) for e in expected], layout
    assert len(expected) == 2 * len(load_bars(SAMPLE, start=start, end=end))


def test_the_streamed_feed_still_gives_its_bars_as_one_frame(real_bars, tmp_path):
    path = tmp_path / "bars.parquet"
    real_bars.to_parquet(path)
    feed = open_feed(path, end="2023-01-03")
    pd.testing.assert_frame_equal(feed.bars, load_bars(path, end="2023-01-03"))


def test_sources_that_do_not_stream_exactly_are_loaded_whole(real_bars, tmp_path):
    epoch = real_bars.reset_index()
    epoch["timestamp"] = epoch["timestamp"].astype("int64") // 10**6  # the unit is guessed from the whole column
    epoch.to_parquet(tmp_path / "epoch.parquet")
    text = real_bars.reset_index()
    text["timestamp"] = text["timestamp"].astype(str)
    text.to_parquet(tmp_path / "text.parquet")
    real_bars.reset_index().to_csv(tmp_path / "bars.csv", index=False)
    for name in ("epoch.parquet", "text.parquet", "bars.csv"):
        assert open_bar_stream(tmp_path / name) is None
        feed = open_feed(tmp_path / name)
        assert not feed.streamed and list(feed.events()) == list(BarReplayFeed(real_bars, "ASSET/QUOTE").events())


def test_bad_parquet_files_fail_with_the_messages_load_bars_gives(real_bars, tmp_path):
    broken = {
        "duplicated": pd.concat([real_bars.iloc[:100], real_bars.iloc[99:]]),
        "unordered": pd.concat([real_bars.iloc[100:200], real_bars.iloc[:100], real_bars.iloc[200:]]),
        "no volume": real_bars.drop(columns="volume"),
        "empty": real_bars.iloc[:0],
    }
    text_open = real_bars.copy()
    text_open["open"] = text_open["open"].astype(str)
    text_open.iloc[5, 0] = "n/a"
    broken["text price"] = text_open
    for name, frame in broken.items():
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path)
        with pytest.raises(DataError) as loading:
            load_bars(path)
        with pytest.raises(DataError) as opening:
            open_feed(path)
        assert str(opening.value) == str(loading.value), name
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot be read as Parquet"):
        open_feed(tmp_path / "garbage.parquet")
    good = tmp_path / "good.parquet"
    real_bars.to_parquet(good)
    for bounds, message in [({"start": "2031-01-01"}, "no bars in the requested range"), ({"start": "soon"}, "is not a date"),
                            ({"end": "2023-01-02 16:45"}, "at least 2 bars")]:
        with pytest.raises(DataError, match=message):
            open_feed(good, **bounds)
