"""A full-speed replay reads a replay feed's plain iterator; with an observer it reads the feed asynchronously.

Both paths must replay the same thing: the observer (a progress bar) sees every event, and the
fills, orders and equity curve are the same either way.
"""

from __future__ import annotations

from tradepulse.live import run_replay

SOURCE = "sample:binance:BTC/USDT:1h"
PARAMS = {"fast": 5, "slow": 20}


def test_a_replay_with_an_observer_replays_the_same_as_one_without():
    seen = []
    plain = run_replay(SOURCE, "sma_cross", params=PARAMS)
    observed = run_replay(SOURCE, "sma_cross", params=PARAMS, on_event=seen.append)
    assert len(seen) == 2 * plain.bars  # a bar replay hands over each bar's open and its close
    assert plain.bars > 500 and len(plain.fills) > 10
    assert [fill.to_dict() for fill in observed.fills] == [fill.to_dict() for fill in plain.fills]
    assert observed.orders == plain.orders
    assert observed.to_dict()["final_equity"] == plain.to_dict()["final_equity"]
