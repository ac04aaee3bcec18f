"""The synchronous entry points work where an event loop already runs (every Jupyter cell), and in plain scripts."""

from __future__ import annotations

import asyncio
import threading

import pytest

import tradepulse
from tradepulse.data import load_bars
from tradepulse.live.replay import run_replay
from tradepulse.model.aio import run_sync
from tradepulse.strategy import load_strategy


def test_run_replay_inside_a_running_event_loop_gives_the_scripts_result():
    expected = run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 10, "slow": 30}).to_dict()

    async def cell() -> dict:  # what a notebook cell is: code running inside the kernel's loop
        return run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 10, "slow": 30}).to_dict()

    got = asyncio.run(cell())
    assert got["fills"] == expected["fills"] and got["final_equity"] == expected["final_equity"]


def test_run_sync_runs_in_this_thread_without_a_loop_and_elsewhere_inside_one():
    async def where() -> str:
        return threading.current_thread().name

    assert run_sync(where()) == threading.current_thread().name

    async def cell() -> str:
        return run_sync(where())

    assert asyncio.run(cell()).startswith("tradepulse-run")


def test_run_sync_passes_the_coroutines_exception_on():
    async def failing() -> None:
        raise ValueError("no bars")

    async def cell() -> None:
        run_sync(failing())

    with pytest.raises(ValueError, match="no bars"):
        asyncio.run(cell())


def test_tradepulse_check_is_there_for_notebooks():
    report = tradepulse.check(load_strategy("sma_cross")(), load_bars("sample:binance:BTC/USDT:1h"), checks=["range"])
    assert report.passed
