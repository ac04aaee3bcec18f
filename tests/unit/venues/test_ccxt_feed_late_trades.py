"""A live feed's late trade never reopens a bar a wall-clock heartbeat already closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from tradepulse.live.bars import BarWindow, TimeBarBuilder
from tradepulse.model.events import Trade

T0 = datetime(2024, 8, 9, tzinfo=UTC)


def trade(seconds: float, price: str) -> Trade:
    return Trade("BTC/USDT", T0 + timedelta(seconds=seconds), D(price), D("0.1"), str(int(seconds * 1000)))


def test_a_trade_stamped_inside_a_bar_closed_by_a_heartbeat_goes_into_the_next_bar():
    builder = TimeBarBuilder("BTC/USDT", timedelta(seconds=10))
    window = BarWindow(5)
    assert builder.on_trade(trade(5, "100")) == []
    for bar in builder.close_due(T0 + timedelta(seconds=10.2)):  # the heartbeat: wall clock past the bar's end
        window.append(bar)
    # Exchange time 9.9 s, delivered after the heartbeat (network delay): the [0, 10) bar is gone.
    assert builder.on_trade(trade(9.9, "101")) == []
    closed = builder.on_trade(trade(21, "102"))
    for bar in closed:
        window.append(bar)  # would raise if a second [0, 10) bar were emitted
    assert [stamp.to_pydatetime() - T0 for stamp in window.frame().index] == [timedelta(0), timedelta(seconds=10)]
    assert closed[0].open == 101.0 and closed[0].volume == 0.1
