"""Time bars built from the recorded trades, and the rolling window the strategy sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from tradepulse.data import load_bars
from tradepulse.errors import ConfigError
from tradepulse.live.bars import BarWindow, TimeBarBuilder, parse_period
from tradepulse.model.events import Bar, Trade
from tradepulse.strategy import load_strategy

AT = datetime(2024, 8, 9, tzinfo=UTC)


def test_bars_from_recorded_trades_equal_a_pandas_resample_of_the_same_trades(btc_recording_events):
    trades = [event for event in btc_recording_events if isinstance(event, Trade)]
    builder = TimeBarBuilder("BTC/USDT", timedelta(seconds=10))
    bars = [bar for trade in trades for bar in builder.on_trade(trade)]
    frame = pd.DataFrame(
        {"price": [float(t.price) for t in trades], "quantity": [float(t.quantity) for t in trades]},
        index=pd.DatetimeIndex([t.at for t in trades]),
    )
    expected = frame["price"].resample("10s").ohlc().join(frame["quantity"].resample("10s").sum().rename("volume"))
    expected = expected.iloc[: len(bars)]  # the last, still open bar is not emitted
    got = pd.DataFrame([(b.open, b.high, b.low, b.close, b.volume) for b in bars], columns=expected.columns, index=[b.start for b in bars])
    assert len(bars) > 60 and list(got.index) == list(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_a_quiet_period_becomes_a_flat_bar_at_the_previous_close_and_bars_close_on_time():
    builder = TimeBarBuilder("BTC/USDT", timedelta(minutes=1))
    assert builder.on_trade(Trade("BTC/USDT", AT + timedelta(seconds=5), D("100"), D("1"))) == []
    assert builder.on_trade(Trade("BTC/USDT", AT + timedelta(seconds=50), D("102"), D("2"))) == []
    closed = builder.close_due(AT + timedelta(minutes=3, seconds=1))
    assert [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in closed] == [
        (AT, 100.0, 102.0, 100.0, 102.0, 3.0),
        (AT + timedelta(minutes=1), 102.0, 102.0, 102.0, 102.0, 0.0),
        (AT + timedelta(minutes=2), 102.0, 102.0, 102.0, 102.0, 0.0),
    ]
    assert builder.close_due(AT + timedelta(minutes=3, seconds=30)) == []


def test_the_window_frame_has_the_shape_load_bars_returns_and_gives_the_backtest_target():
    bars = load_bars("sample:binance:BTC/USDT:1h")
    strategy = load_strategy("sma_cross")(fast=5, slow=20)
    window = BarWindow(strategy.warmup_bars)
    for start, row in bars.iloc[:60].iterrows():
        window.append(Bar("BTC/USDT", start.to_pydatetime(), start.to_pydatetime() + timedelta(hours=1), *row.tolist()))
    frame = window.frame()
    pd.testing.assert_frame_equal(frame, bars.iloc[40:60], check_freq=False)
    assert strategy.latest_target(frame) == strategy.signals(bars.iloc[:60]).iloc[-1]


def test_bars_must_arrive_in_time_order_and_periods_parse_with_units():
    window = BarWindow(3)
    window.append(Bar("X/Y", AT, AT + timedelta(minutes=1), 1, 1, 1, 1, 1))
    with pytest.raises(ConfigError):
        window.append(Bar("X/Y", AT, AT + timedelta(minutes=1), 1, 1, 1, 1, 1))
    assert parse_period("10s") == timedelta(seconds=10) and parse_period("1h") == timedelta(hours=1)
    for bad in ("0m", "m", "1 fortnight", "-1s"):
        with pytest.raises(ConfigError):
            parse_period(bad)


def test_the_window_frame_is_the_last_bars_of_the_loaded_frame_at_every_step_through_wrap_around():
    from datetime import timedelta

    import pandas as pd

    from tradepulse.data import load_bars
    from tradepulse.live.bars import BarWindow
    from tradepulse.model.events import Bar

    bars = load_bars("sample:binance:BTC/USDT:1h").iloc[:60]
    window = BarWindow(7)
    kept = []
    for step, (start, row) in enumerate(bars.iterrows()):
        window.append(Bar("BTC/USDT", start.to_pydatetime(), start.to_pydatetime() + timedelta(hours=1),
                          row.open, row.high, row.low, row.close, row.volume))
        frame = window.frame()
        kept.append(frame)
        pd.testing.assert_frame_equal(frame, bars.iloc[max(0, step - 6): step + 1], check_freq=False)
    # A frame handed out earlier is the strategy's to keep: later bars do not change it.
    pd.testing.assert_frame_equal(kept[10], bars.iloc[4:11], check_freq=False)


def test_a_window_first_framed_late_holds_the_same_bars_as_one_framed_from_the_start():
    # The arrays behind frame() are filled at its first call: a window asked for a frame only
    # after it has wrapped (a restart's refill, a strategy without a per-bar form) must not differ.
    from datetime import timedelta

    import pandas as pd

    from tradepulse.data import load_bars
    from tradepulse.live.bars import BarWindow
    from tradepulse.model.events import Bar

    bars = load_bars("sample:binance:BTC/USDT:1h").iloc[:40]
    for first_frame_at in (0, 3, 6, 7, 8, 13, 21):
        window = BarWindow(7)
        for step, (start, row) in enumerate(bars.iterrows()):
            window.append(Bar("BTC/USDT", start.to_pydatetime(), start.to_pydatetime() + timedelta(hours=1),
                              row.open, row.high, row.low, row.close, row.volume))
            if step >= first_frame_at:
                pd.testing.assert_frame_equal(window.frame(), bars.iloc[max(0, step - 6): step + 1], check_freq=False)
