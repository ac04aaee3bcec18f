"""Sweeps and walk-forward runs on Dask: the same results as one process, bit for bit, on real clusters.

Most tests share one in-process LocalCluster (two workers, one thread each: real scheduling,
serialisation-free transport) passed as a Client, as a notebook would. One test starts a
LocalCluster of two worker processes through ``dask="local"``; the command line against a
scheduler and workers started as separate processes is in tests/integration/test_backtest_dask_cli.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import distributed  # pinned in requirements.lock: a missing one fails, it does not skip
import numpy as np
import pandas as pd
import pytest

from tradepulse.backtest import Costs, RangeSlippage, dask_backend, run_portfolio_sweep, run_sweep, run_walkforward
from tradepulse.backtest.dask_backend import (
    DaskError,
    backtest_part,
    check_dask_options,
    combos_per_task,
    dask_client,
    evaluate_windows,
)
from tradepulse.backtest.search import RANKING_METRICS, expand_grid
from tradepulse.backtest.sweep import combo_stats, signal_history
from tradepulse.data.universe import load_universe
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.strategy import IntParam, Strategy

SMA_GRID = {"fast": [3, 5, 8, 13, 21], "slow": [30, 55, 89], "allow_short": [False, True]}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None, memory_limit="2GiB",
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def universe():
    return load_universe(["universe:binance-usdt-4h"])


def assert_same_sweep(ours, theirs):
    pd.testing.assert_frame_equal(ours.table, theirs.table, check_exact=True)
    assert (ours.skipped, ours.start, ours.end, ours.bars, ours.metric, ours.param_names, ours.symbols) == (
        theirs.skipped, theirs.start, theirs.end, theirs.bars, theirs.metric, theirs.param_names, theirs.symbols,
    )
    assert ours.to_dict(top=None) == theirs.to_dict(top=None)


def assert_same_walkforward(ours, theirs):
    pd.testing.assert_frame_equal(ours.folds, theirs.folds, check_exact=True)
    pd.testing.assert_series_equal(ours.equity, theirs.equity, check_exact=True)
    assert ours.stats == theirs.stats
    assert ours.to_dict() == theirs.to_dict()


def test_a_sweep_on_a_client_equals_the_single_process_sweep(client, five_minute_bars):
    costs = Costs(fees_bps=7.5, slippage=RangeSlippage(base_bps=1, impact=1))
    single = run_sweep(five_minute_bars, "sma_cross", SMA_GRID, costs=costs, metric="calmar")
    on_dask = run_sweep(five_minute_bars, "sma_cross", SMA_GRID, costs=costs, metric="calmar", dask=client)
    assert len(single.table) == 30 and single.skipped == 0
    assert_same_sweep(on_dask, single)
    assert client.status == "running"  # a Client passed in is the caller's: left open


def test_a_sweep_cut_into_one_combination_per_task_is_still_identical(client, five_minute_bars):
    combos, _ = expand_grid("mean_reversion", {"window": [10, 20, 40], "entry_z": [1.0, 1.5, 2.5]})
    from tradepulse.strategy.loader import load_strategy

    cls = load_strategy("mean_reversion")
    windows = [(0, len(five_minute_bars)), (2_000, 5_000)]
    parts = evaluate_windows(
        client, combo_stats, five_minute_bars, cls, combos, windows, history=signal_history(cls, combos),
        costs=Costs(fees_bps=10), init_cash=10_000.0, memory_budget_bytes=2 * 1024**3, per_task=1,
    )
    for (start, end), columns in zip(windows, parts, strict=True):
        whole = combo_stats(five_minute_bars, cls, combos, start=start, end=end, costs=Costs(fees_bps=10), init_cash=10_000.0)
        assert list(columns) == list(whole) == list(RANKING_METRICS)
        for name in whole:
            np.testing.assert_array_equal(columns[name], whole[name])


@pytest.mark.parametrize("anchored", [False, True])
def test_a_walkforward_on_a_client_equals_the_single_process_run(client, five_minute_bars, anchored):
    grid = {"fast": [5, 10, 20], "slow": [40, 80]}
    single = run_walkforward(five_minute_bars, "sma_cross", grid, train_bars=3_000, test_bars=1_500, anchored=anchored)
    on_dask = run_walkforward(five_minute_bars, "sma_cross", grid, train_bars=3_000, test_bars=1_500, anchored=anchored, dask=client)
    assert len(single.folds) == 5
    assert_same_walkforward(on_dask, single)


def test_a_portfolio_sweep_and_walkforward_on_a_client_equal_the_single_process_runs(client, universe):
    grid = {"lookback": [6, 12, 24, 48], "top": [1, 2, 3]}
    fixed = {"allow_short": True}
    single = run_portfolio_sweep(universe, "momentum", grid, fixed_params=fixed)
    on_dask = run_sweep(universe, "momentum", grid, fixed_params=fixed, dask=client)
    assert on_dask.symbols == universe.symbols and single.skipped > 0
    assert_same_sweep(on_dask, single)
    walk = {"fast": [5, 10], "slow": [30, 60]}
    assert_same_walkforward(
        run_walkforward(universe, "sma_cross", walk, train_bars=200, test_bars=100, dask=client),
        run_walkforward(universe, "sma_cross", walk, train_bars=200, test_bars=100),
    )


@pytest.mark.slow
def test_a_local_cluster_of_two_worker_processes_gives_the_same_sweep(five_minute_bars, monkeypatch):
    seen = []
    capacity = dask_backend._capacity

    def spy(client, budget):
        seen.append(client.scheduler_info(n_workers=-1)["workers"])
        found = capacity(client, budget)
        seen.append(found)
        return found

    monkeypatch.setattr(dask_backend, "_capacity", spy)
    grid = {"fast": list(range(2, 30, 3)), "slow": [40, 60, 120]}
    single = run_sweep(five_minute_bars, "sma_cross", grid)
    on_dask = run_sweep(five_minute_bars, "sma_cross", grid, dask="local", dask_workers=2, dask_worker_memory="1GiB")
    assert_same_sweep(on_dask, single)
    workers, (threads, budget) = seen
    assert len(workers) == 2 and threads == 2
    assert {worker["memory_limit"] for worker in workers.values()} == {1024**3}
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)  # worker processes, on loopback
    assert budget == 512 * 1024**2  # half a worker's limit, under the 2 GiB default budget


def test_a_task_returns_only_statistics(five_minute_bars):
    combos, _ = expand_grid("sma_cross", {"fast": [5, 10], "slow": [50]})
    from tradepulse.strategy import SmaCross

    out = backtest_part(combo_stats, five_minute_bars, SmaCross, combos, 0, len(five_minute_bars), 50, Costs(), 10_000.0, 64 * 1024**2)
    assert list(out) == list(RANKING_METRICS)
    assert all(values.shape == (2,) for values in out.values())
    assert sum(values.nbytes for values in out.values()) <= 16 * len(RANKING_METRICS)  # no curves, a few numbers per combination


def test_a_task_budget_is_capped_by_its_worker_memory_limit(client):
    threads, budget = dask_backend._capacity(client, 8 * 1024**3)
    assert threads == 2
    assert budget == int(2 * 1024**3 * dask_backend.TASK_MEMORY_SHARE)
    assert dask_backend._capacity(client, 64 * 1024**2)[1] == 64 * 1024**2  # a smaller budget is kept


def test_the_grid_is_cut_into_a_few_tasks_per_worker_thread():
    assert combos_per_task(1_000, 1, threads=2) == 125  # 8 tasks
    assert combos_per_task(1_000, 8, threads=2) == 1_000  # one task per fold is enough
    assert combos_per_task(1_000, 3, threads=2) == 334  # 3 parts per fold
    assert combos_per_task(5, 1, threads=16) == 1


def test_settings_that_cannot_work_are_refused_before_any_work():
    for dask, workers, memory, message in [
        ("lokal", None, None, "--dask takes 'local' or a scheduler address"),
        ("tcp://127.0.0.1:8786", 2, None, "apply to --dask local only"),
        ("local", 0, None, "--dask-workers must be at least 1"),
        ("local", None, "lots", "worker memory must be bytes or a size"),
        (None, 2, None, "need --dask local"),
        (42, None, None, "a distributed.Client"),
    ]:
        with pytest.raises(ConfigError, match=message):
            check_dask_options(dask, workers, memory)
    check_dask_options("local", 2, "512MiB")
    check_dask_options("tls://scheduler.example:8786")


def test_a_client_with_worker_settings_is_refused(client, five_minute_bars):
    with pytest.raises(ConfigError, match="apply to dask='local' only"):
        run_sweep(five_minute_bars, "sma_cross", {"fast": [5]}, dask=client, dask_workers=2)
    with pytest.raises(ConfigError, match="memory budget must be positive"):
        run_walkforward(five_minute_bars, "sma_cross", {"fast": [5]}, train_bars=3_000, test_bars=1_000, memory_budget_bytes=0, dask=client)


@pytest.mark.timeout(60)  # a hang guard: the connect timeout must end the wait, not the suite's limit
def test_an_unreachable_scheduler_is_one_clear_error_within_the_timeout():
    with pytest.raises(DaskError, match=r"cannot reach a Dask scheduler at tcp://127.0.0.1:1 within 1 s; start one with `dask scheduler`"):
        with dask_client("tcp://127.0.0.1:1", timeout=1):
            pass


def test_a_scheduler_without_workers_says_so():
    with distributed.LocalCluster(
        n_workers=0, processes=False, dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}
    ) as cluster:
        with pytest.raises(DaskError, match=r"at inproc://\S+ has no worker after 1 s; start one with `dask worker inproc://"):
            with dask_client(cluster.scheduler_address, timeout=1):
                pass


class BadShape(Strategy):
    """A strategy of the user's own whose signals_grid returns the wrong shape."""

    lookback = IntParam(5, min=1, max=100)

    @classmethod
    def signals_grid(cls, bars, combos):
        return np.zeros((len(bars), len(combos) + 1))

    def signals(self, bars):
        return bars["close"] * 0.0


def test_a_strategy_error_on_a_worker_reaches_the_caller_as_that_error(client, hourly_bars):
    with pytest.raises(StrategyError, match="signals_grid must return shape"):
        run_sweep(hourly_bars, BadShape, {"lookback": [5, 10, 20]}, dask=client)


def test_a_lost_worker_is_a_dask_error_naming_the_memory_limit(client, hourly_bars, monkeypatch):
    def killed(*args, **kwargs):
        raise distributed.KilledWorker("backtest_part-0", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)

    monkeypatch.setattr(client, "gather", killed)
    with pytest.raises(DaskError, match="a Dask worker died .* memory limit"):
        run_sweep(hourly_bars, "sma_cross", {"fast": [5, 10]}, dask=client)


def test_a_module_a_worker_cannot_import_is_named(client, hourly_bars, monkeypatch):
    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'my_helpers'", name="my_helpers")

    monkeypatch.setattr(client, "gather", missing)
    with pytest.raises(DaskError, match="a Dask worker cannot import 'my_helpers': install it on the workers"):
        run_sweep(hourly_bars, "sma_cross", {"fast": [5, 10]}, dask=client)


def test_progress_is_a_bar_on_stderr_when_asked_and_silent_otherwise(client, hourly_bars, capsys):
    run_sweep(hourly_bars, "sma_cross", {"fast": [5, 10, 15]}, dask=client, progress=True)
    captured = capsys.readouterr()
    assert "sweep on dask" in captured.err and "combo" in captured.err and captured.out == ""
    run_sweep(hourly_bars, "sma_cross", {"fast": [5, 10, 15]}, dask=client)
    assert capsys.readouterr().err == ""


def test_a_notebook_gets_distributed_s_progress_widget_fed_while_the_run_blocks(client, hourly_bars, monkeypatch):
    import IPython.display

    made, displayed, listened = [], [], []

    class Bar:
        widget = "the widget"

        async def listen(self):
            listened.append(True)

    def progress(futures, **kwargs):
        made.append((len(futures), kwargs))
        return Bar()

    monkeypatch.setattr(dask_backend, "_in_notebook", lambda: True)
    monkeypatch.setattr(distributed, "progress", progress)
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    run_sweep(hourly_bars, "sma_cross", {"fast": [5, 10, 15]}, dask=client)
    assert made and made[0][1] == {"notebook": True, "scheduler": client.scheduler.address}
    assert displayed == ["the widget"] and listened == [True]  # listening on the client's loop, not the kernel's
    made.clear()
    run_sweep(hourly_bars, "sma_cross", {"fast": [5, 10, 15]}, dask=client, progress=False)
    assert made == []
