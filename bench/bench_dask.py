"""Sweeps on Dask: one process vs a 2-worker LocalCluster on this machine, and the cost of one task.

The workload is bench_sweep.py's: an SMA-cross grid over 100,000 real-derived bars, 10 bps fees.
Measured in one run, so the ratios compare like with like:

- a LocalCluster of ``--workers`` worker processes (one thread each): its start-up, the first
  sweep on it (workers import TradePulse and load numba's cached kernels);
- then, alternately, the single-process ``run_sweep`` and the same sweep on the warm cluster
  (best of ``--rounds`` each), and each worker's peak RSS against its memory limit;
- per-task overhead: ``--tiny-tasks`` tasks of one combination on ``--tiny-bars`` bars each, timed on
  the warm cluster and, one after the other, in this process; the difference per task, with the
  workers' parallelism taken out, is what a task costs beyond its own work; and the round trip of
  tasks that do nothing (the scheduler's cost per task).

With those, a sweep of ``T`` seconds in one process over ``N`` tasks on ``W`` workers takes about
``start-up + T / W + N x overhead / W`` (plus sending the bars once). Nothing is asserted; run.py
prints the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import real_bars  # noqa: E402
from bench_sweep import FEES_BPS, grid_for  # noqa: E402


def _peak_rss_mib() -> float:
    """This process's own peak resident memory (VmHWM: unlike ru_maxrss, not inherited across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _noop(value: int) -> int:
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--combinations", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny-tasks", type=int, default=200)
    parser.add_argument("--tiny-bars", type=int, default=2_000)
    parser.add_argument("--noop-tasks", type=int, default=1_000)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from tradepulse.backtest import Costs, FixedSlippage, run_sweep
    from tradepulse.backtest.dask_backend import DEFAULT_WORKER_MEMORY, evaluate_windows
    from tradepulse.backtest.search import expand_grid
    from tradepulse.backtest.sweep import combo_stats, signal_history
    from tradepulse.strategy import SmaCross

    bars = real_bars(args.bars)
    costs = Costs(fees_bps=FEES_BPS, slippage=FixedSlippage(0.0))
    grid = grid_for(args.combinations)
    run_sweep(bars.iloc[:2_000], "sma_cross", {"fast": [5], "slow": [20]}, costs=costs)  # compile once

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1", memory_limit=DEFAULT_WORKER_MEMORY,
        dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=40,
    )
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(args.workers)
    startup = time.perf_counter() - started
    try:
        started = time.perf_counter()
        first = run_sweep(bars, "sma_cross", grid, costs=costs, dask=client)
        first_seconds = time.perf_counter() - started
        # Alternating, so that load from elsewhere on a shared machine falls on both sides alike.
        single_times, warm_times = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            single = run_sweep(bars, "sma_cross", grid, costs=costs)
            single_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            warm = run_sweep(bars, "sma_cross", grid, costs=costs, dask=client)
            warm_times.append(time.perf_counter() - started)
        identical = bool(warm.table.equals(single.table) and first.table.equals(single.table))
        started = time.perf_counter()
        future = client.scatter(bars, broadcast=True, hash=False)
        scatter_seconds = time.perf_counter() - started
        client.cancel([future])

        # Per-task overhead: tiny tasks of one combination each.
        tiny = bars.iloc[: args.tiny_bars]
        combos, _ = expand_grid(SmaCross, {"fast": list(range(2, 2 + args.tiny_tasks)), "slow": [args.tiny_bars // 4]})
        combos = combos[: args.tiny_tasks]
        history = signal_history(SmaCross, combos)
        keywords = dict(history=history, costs=costs, init_cash=10_000.0, memory_budget_bytes=256 * 1024**2)
        evaluate_windows(client, combo_stats, tiny, SmaCross, combos[:8], [(0, len(tiny))], per_task=1, **keywords)  # warm
        started = time.perf_counter()
        evaluate_windows(client, combo_stats, tiny, SmaCross, combos, [(0, len(tiny))], per_task=1, **keywords)
        tiny_cluster = time.perf_counter() - started
        started = time.perf_counter()
        for combo in combos:
            combo_stats(tiny, SmaCross, [combo], start=0, end=len(tiny), costs=costs, init_cash=10_000.0,
                        memory_budget_bytes=256 * 1024**2, history=history)
        tiny_local = time.perf_counter() - started
        client.gather(client.map(_noop, range(50), pure=False))
        started = time.perf_counter()
        client.gather(client.map(_noop, range(args.noop_tasks), pure=False))
        noop_seconds = time.perf_counter() - started
        worker_peaks = sorted(client.run(_peak_rss_mib).values())
    finally:
        client.close()
        cluster.close()

    n_tiny = len(combos)
    single_best, warm_best = min(single_times), min(warm_times)
    overhead = max(0.0, tiny_cluster * args.workers - tiny_local) / n_tiny
    print(json.dumps({
        "bars": len(bars),
        "combinations": len(single.table),
        "workers": args.workers,
        "rounds": args.rounds,
        "single_seconds": round(single_best, 3),
        "cluster_startup_seconds": round(startup, 3),
        "first_run_seconds": round(first_seconds, 3),
        "warm_seconds": round(warm_best, 3),
        "speedup_warm": round(single_best / warm_best, 3),
        "speedup_with_startup": round(single_best / (startup + first_seconds), 3),
        "scatter_seconds": round(scatter_seconds, 4),
        "identical": identical,
        "tiny_tasks": n_tiny,
        "tiny_bars": len(tiny),
        "tiny_cluster_seconds": round(tiny_cluster, 4),
        "tiny_local_seconds": round(tiny_local, 4),
        "tiny_local_ms_per_task": round(1e3 * tiny_local / n_tiny, 3),
        "overhead_ms_per_task": round(1e3 * overhead, 3),
        "noop_tasks": args.noop_tasks,
        "noop_ms_per_task": round(1e3 * noop_seconds / args.noop_tasks, 3),
        "worker_memory_limit_mib": DEFAULT_WORKER_MEMORY / 1024**2,
        "worker_peak_rss_mib": [round(value) for value in worker_peaks],
        "client_peak_rss_mib": round(_peak_rss_mib()),
    }))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
