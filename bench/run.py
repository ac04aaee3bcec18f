"""Run every benchmark and print figures and ratios side by side (`make bench`).

Nothing here asserts a time: the numbers are for people, and docs/benchmarks.md records a run.
Every figure printed is also written, with the machine and the time, to ``artifacts/bench/bench.json``
(``--json-out`` elsewhere); ``bench/gate.py`` is the quick subset CI holds against baselines.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from _common import run_isolated_at  # noqa: E402

#: Every isolated benchmark's result of this run, for the JSON file: {script: [{"args", "result"}]}.
RESULTS: dict[str, list[dict]] = {}


def run_isolated(script: str, *args: str) -> dict:
    """Run one benchmark script in a fresh interpreter (see _common) and keep its result for the JSON file."""
    result = _common.run_isolated(script, *args)
    RESULTS.setdefault(script, []).append({"args": list(args), "result": result})
    return result


def indicators(bars: int) -> None:
    result = run_isolated("bench_indicators.py", "--bars", str(bars))
    print(f"\n## Signature indicators, {bars:,} bars, window {result['window']}")
    print(f"{'indicator':<18}{'numba s':>10}{'numba bars/s':>15}{'reference bars/s':>18}{'speed-up':>10}{'max |diff|':>12}")
    for row in result["indicators"]:
        print(
            f"{row['indicator']:<18}{row['numba_seconds']:>10.4f}{row['numba_bars_per_second']:>15,}"
            f"{row['reference_bars_per_second']:>18,}{row['speedup']:>9.0f}x{row['max_abs_diff']:>12.1e}"
        )
    print("(reference timed on a prefix of the bars; its cost per window is constant)")


def sweep(bars: int, combinations: int, repeats: int) -> None:
    ours = run_isolated("bench_sweep.py", "tradepulse", "--bars", str(bars), "--combinations", str(combinations))
    peer = run_isolated("bench_sweep.py", "backtesting.py", "--bars", str(bars), "--combinations", str(combinations), "--repeats", str(repeats))
    print(f"\n## SMA-cross sweep, {bars:,} bars, 10 bps fees, next-open fills")
    print(f"{'engine':<16}{'combos':>8}{'seconds':>10}{'s/combo':>10}{'bar-combos/s':>15}{'peak MiB':>10}{'check return':>14}")
    for row in (ours, peer):
        print(
            f"{row['engine']:<16}{row['combinations']:>8,}{row['seconds']:>10.2f}{row['seconds_per_combination']:>10.4f}"
            f"{row['bar_combinations_per_second']:>15,}{row['peak_rss_mib']:>10.0f}{row['check_total_return']:>14.5f}"
        )
    ratio = peer["seconds_per_combination"] / ours["seconds_per_combination"]
    print(f"per-combination speed-up: {ratio:.0f}x (same check combination {ours['check_params']}: "
          f"returns differ by {abs(ours['check_total_return'] - peer['check_total_return']):.1e})")


def big_sweep(bars: int, combinations: int) -> None:
    row = run_isolated("bench_sweep.py", "tradepulse", "--bars", str(bars), "--combinations", str(combinations))
    print(f"\n## Large sweep: {row['combinations']:,} combinations x {bars:,} bars")
    print(f"seconds {row['seconds']:.1f}, bar-combinations/s {row['bar_combinations_per_second']:,}, peak memory {row['peak_rss_mib']:,.0f} MiB")


def portfolio(combinations: int) -> None:
    row = run_isolated("bench_portfolio.py", "--combinations", str(combinations))
    print(f"\n## Portfolio sweep: momentum over {row['universe']} ({row['members']} members x {row['bars']:,} bars), "
          f"{row['combinations']} combinations, one shared cash account each, 10 bps fees")
    print(f"{'engine':<44}{'seconds':>9}{'peak MiB':>10}")
    print(f"{'TradePulse run_sweep (signals, simulation, stats)':<44}{row['tradepulse_seconds']:>9.2f}{row['tradepulse_peak_mib']:>10.0f}")
    print(f"{'  strategy signals for every combination':<44}{row['signals_seconds']:>9.2f}")
    print(f"{'  vectorbt from_orders on those weights':<44}{row['vectorbt_seconds']:>9.2f}{row['vectorbt_peak_mib']:>10.0f}")
    breakdown = row["breakdown"]
    print(f"overhead: {row['overhead_vs_signals_and_vectorbt']:.2f}x signals + vectorbt, {row['overhead_vs_vectorbt_alone']:.2f}x "
          f"vectorbt alone (best of {row['rounds']}; TradePulse's time: weights {breakdown['weights_seconds']:.2f} s, "
          f"simulation {breakdown['simulate_seconds']:.2f} s, statistics {breakdown['stats_seconds']:.2f} s)")
    print(f"{row['cells']:,} cells, {row['orders']:,} orders; same weights: {row['same_weights']}; final equity differs from "
          f"vectorbt's by at most {row['max_rel_diff_final_equity']:.1e} (relative); process peak RSS {row['process_peak_rss_mib']:,.0f} MiB")


def dask_sweep(bars: int, combinations: int) -> None:
    """The sweep on a 2-worker LocalCluster beside one process, and what one task costs (bench/bench_dask.py)."""
    row = run_isolated("bench_dask.py", "--bars", str(bars), "--combinations", str(combinations))
    workers = row["workers"]
    print(f"\n## Sweep on Dask: one process vs a {workers}-worker LocalCluster, sma_cross, "
          f"{row['combinations']:,} combinations x {row['bars']:,} bars (best of {row['rounds']})")
    print(f"{'single process':<34}{row['single_seconds']:>9.2f} s")
    print(f"{'LocalCluster start-up':<34}{row['cluster_startup_seconds']:>9.2f} s  ({workers} worker processes, "
          f"{row['worker_memory_limit_mib']:,.0f} MiB limit each)")
    print(f"{'first sweep on it':<34}{row['first_run_seconds']:>9.2f} s  (workers import TradePulse and load numba's kernels)")
    print(f"{'same sweep, warm workers':<34}{row['warm_seconds']:>9.2f} s  speed-up {row['speedup_warm']:.2f}x over one process "
          f"(identical table: {row['identical']}); with start-up and first run {row['speedup_with_startup']:.2f}x")
    print(f"{'bars sent once (scatter)':<34}{row['scatter_seconds']:>9.3f} s")
    print(f"{'per-task overhead':<34}{row['overhead_ms_per_task']:>9.2f} ms beyond the task's work ({row['tiny_tasks']} tasks of one "
          f"combination x {row['tiny_bars']:,} bars, {row['tiny_local_ms_per_task']:.2f} ms each in process); "
          f"a no-op task's round trip {row['noop_ms_per_task']:.2f} ms")
    peaks = ", ".join(f"{value:,}" for value in row["worker_peak_rss_mib"])
    print(f"{'worker peak RSS':<34}{peaks} MiB (client {row['client_peak_rss_mib']:,} MiB)")
    print(f"predict W workers: start-up + single / W + tasks x {row['overhead_ms_per_task']:.1f} ms / W "
          f"(a run makes about 4 tasks per worker thread per window)")


def engine() -> None:
    result = run_isolated("bench_engine.py")
    print("\n## Live engine on real data (feed -> bars -> strategy -> risk -> OMS -> paper venue, journaled)")
    print(f"{'workload':<30}{'events':>9}{'seconds':>9}{'events/s':>10}{'orders':>8}{'tick-to-order p50 us':>22}{'p99 us':>9}")
    rows = [
        ("ticks, durable journal", result["ticks"]),
        ("ticks, fast journal", result["ticks_fast_journal"]),
        ("5m bars, durable journal", result["bars"]),
        ("asyncio pass-through baseline", result["baseline"]),
    ]
    for name, row in rows:
        orders = row.get("orders", "-")
        print(f"{name:<30}{row['events']:>9,}{row['seconds']:>9.2f}{row['events_per_second']:>10,}{orders!s:>8}{row['p50_us']:>22,.1f}{row['p99_us']:>9,.1f}")
    print("(baseline latency is the queue hand-off per item; engine latency is per order, from the triggering event)")
    for row in result["journal"]:
        print(f"journal appends/s, {row['durability']:<5} {row['appends_per_second']:>8,}  ({row['appends']:,} appends in {row['seconds']:.2f} s)")


def engine_compare(revision: str, rounds: int) -> None:
    """The engine benchmark at ``revision`` (its own code and script) and now, alternating, in one run."""
    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(["git", "rev-parse", "--short", revision], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="tradepulse-bench-") as folder:
        before_root = Path(folder) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(before_root), revision], cwd=root, check=True)
        try:
            before_runs, after_runs = [], []
            for _ in range(rounds):
                before_runs.append(run_isolated_at(before_root, "bench_engine.py"))
                after_runs.append(run_isolated("bench_engine.py"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before_root)], cwd=root, check=False)
    print(f"\n## Live engine before ({sha}) and now, alternating, best of {rounds} each")
    print(f"{'workload':<26}{'before events/s':>17}{'now events/s':>14}{'now/before':>12}{'before p50 us':>15}{'now p50 us':>12}{'orders':>14}")
    for key, name in (("ticks", "ticks, durable journal"), ("ticks_fast_journal", "ticks, fast journal"), ("bars", "5m bars, durable journal")):
        before = max((run[key] for run in before_runs), key=lambda row: row["events_per_second"])
        after = max((run[key] for run in after_runs), key=lambda row: row["events_per_second"])
        ratio = after["events_per_second"] / before["events_per_second"]
        print(f"{name:<26}{before['events_per_second']:>17,}{after['events_per_second']:>14,}{ratio:>11.2f}x"
              f"{before['p50_us']:>15,.1f}{after['p50_us']:>12,.1f}{str(before.get('orders')) + ' / ' + str(after.get('orders')):>14}")


def engine_vs_nautilus(bars: str | None, ticks: int | None, quick: bool, revision: str | None = None) -> None:
    """TradePulse's live engine beside NautilusTrader 1.221.0 on the same files (bench/bench_nautilus.py)."""
    import bench_nautilus

    bars = bars if bars is not None else ("100000" if quick else "100000,1000000")
    ticks = ticks if ticks is not None else (100_000 if quick else 1_000_000)
    result = bench_nautilus.run_comparison(bench_nautilus.parse_counts(bars), ticks, revision)
    RESULTS.setdefault("bench_nautilus.py", []).append({"args": [bars, ticks], "result": result})
    bench_nautilus.print_report(result)


def service(quick: bool) -> None:
    extra = ("--quick",) if quick else ()
    appends = run_isolated("bench_service.py", "journal", *extra)
    api = run_isolated("bench_service.py", "api", *extra)
    scale = run_isolated("bench_service.py", "api-scale", *extra)
    fanout = run_isolated("bench_service.py", "fanout", *extra)

    print(f"\n## Live service: journal appends with the host's listener (metrics, JSON log line, bus), {appends['mix_events']:,}-event real mix")
    print(f"{'durability':<12}{'appends':>9}{'bare /s':>10}{'listener /s':>13}{'+1 subscriber /s':>18}{'overhead':>10}{'+subscriber':>13}{'us/event':>10}")
    for row in appends["rows"]:
        print(f"{row['durability']:<12}{row['appends']:>9,}{row['bare_per_second']:>10,}{row['listener_per_second']:>13,}"
              f"{row['listener_subscriber_per_second']:>18,}{row['listener_overhead']:>9.2f}x{row['subscriber_overhead']:>12.2f}x"
              f"{row['listener_us_per_event']:>10,.1f}")

    fill, memory = api["fill"], api["memory"]
    print(f"\n## Live service: API reads over a {fill['orders']:,}-order journal ({fill['events']:,} events, {fill['journal_mib']} MiB), "
          "in process via httpx.ASGITransport, vs the same read direct")
    print(f"filled by the host on the paper venue in {fill['seconds']:.1f} s; orders/s first 1,000 {fill['first_orders_per_second']:,}, "
          f"last 1,000 {fill['last_orders_per_second']:,} ({fill['first_orders_per_second'] / fill['last_orders_per_second']:.1f}x slower at the end)")
    print(f"{'route':<20}{'n':>5}{'items':>7}{'bytes':>9}{'API p50 us':>12}{'p99 us':>10}{'direct p50 us':>15}{'p99 us':>10}{'overhead':>10}")
    for row in api["routes"]:
        print(f"{row['route']:<20}{row['requests']:>5}{row['items']:>7,}{row['bytes']:>9,}{row['api_p50_us']:>12,.0f}{row['api_p99_us']:>10,.0f}"
              f"{row['direct_p50_us']:>15,.0f}{row['direct_p99_us']:>10,.0f}{row['overhead']:>9.1f}x")
    print(f"memory: RSS {memory['started_mib']:,.0f} MiB started (empty journal) -> {memory['filled_mib']:,.0f} MiB holding {fill['orders']:,} orders "
          f"(+{memory['held_mib']:,.1f} MiB, {memory['held_kib_per_order']:.2f} KiB/order); process peak {memory['peak_filled_mib']:,.0f} MiB "
          f"after the fill, {memory['peak_after_reads_mib']:,.0f} MiB after the API reads")

    print_scale(scale)

    base = fanout["baseline"]
    idle_us = 1e6 / base["published_per_second"]
    print(f"\n## Live service: fan-out of a {fanout['message_bytes']:,}-byte order.filled message, no drops allowed "
          f"(publishing with no subscriber: {idle_us:.2f} us/message)")
    print(f"{'subscribers':<12}{'EventBus delivered/s':>21}{'loop us/message':>17}{'vs none':>9}"
          f"{'/stream delivered/s':>21}{'vs EventBus':>13}{'server CPU s':>14}{'clients CPU s':>15}")
    for bus, ws in zip(fanout["bus"], fanout["stream"], strict=True):
        per_message = 1e6 / bus["published_per_second"]
        print(f"{bus['subscribers']:<12}{bus['delivered_per_second']:>21,}{per_message:>17.2f}{per_message / idle_us:>8,.0f}x"
              f"{ws['delivered_per_second']:>21,}{bus['delivered_per_second'] / ws['delivered_per_second']:>12,.0f}x"
              f"{ws['server_cpu_seconds']:>14.2f}{ws['clients_cpu_seconds']:>15.2f}")
    dropped = sum(row["dropped"] for row in fanout["bus"] + fanout["stream"])
    print(f"(EventBus: {fanout['bus'][0]['published']:,} messages per run; /api/v1/stream: {fanout['stream'][0]['published']:,} "
          f"per run through uvicorn to WebSocket clients in another process; {dropped} dropped)")


def startup() -> None:
    """Wall time of a first backtest from the command line and in a fresh interpreter, beside a bare Python."""
    figures = run_isolated("bench_startup.py")
    bare = figures["bare_python"]
    print("\n## Start-up (fresh interpreter each, best of 3, launch to exit)")
    for key, name, target in (
        ("bare_python", "python -c pass", None),
        ("cli_backtest", "tradepulse backtest (1h sample, sma_cross)", 1.5),
        ("import_and_first_backtest", "import tradepulse + first backtest", 1.5),
        ("import_vectorbt", "import vectorbt (not needed by either now)", None),
    ):
        seconds = figures[key]
        goal = "" if target is None else f"  (goal <= {target} s: {'met' if seconds <= target else 'not met'})"
        print(f"  {name:<46}{seconds:>7.2f} s  {seconds / bare:>6.0f}x bare{goal}")


def print_scale(scale: dict) -> None:
    """The trading routes' cost on a small and a large journal, and the issue's target (p50 within 2x)."""
    small, large = scale["sizes"][0], scale["sizes"][-1]
    print(f"\n## Live service: the trading routes as the journal grows (real API, {scale['requests']} requests each, "
          "each journal filled by a host trading one-minute bars)")
    print(f"{'journal':<34}" + "".join(f"{route:>34}" for route in small["routes"]))
    for row in scale["sizes"]:
        described = f"{row['orders']:,} orders, {row['events']:,} events"
        print(f"{described:<34}" + "".join(f"{'p50 ' + format(cell['p50_us'], ',.0f') + ' us, p99 ' + format(cell['p99_us'], ',.0f'):>34}"
                                         for cell in row["routes"].values()))
    for route in small["routes"]:
        ratio = large["routes"][route]["p50_us"] / small["routes"][route]["p50_us"]
        print(f"  {route:<34} p50 at {large['orders']:,} / at {small['orders']:,} orders: {ratio:.2f}x "
              f"(target <= 2x: {'met' if ratio <= 2 else 'not met'})")
    print("  (filling took " + ", ".join(f"{row['fill_seconds']:.0f} s for {row['orders']:,} orders, RSS {row['rss_mib']:,.0f} MiB"
                                        for row in scale["sizes"]) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description="TradePulse benchmarks")
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-combination memory run; smaller service run")
    parser.add_argument("--engine-only", action="store_true", help="run only the live engine benchmark")
    parser.add_argument("--service-only", action="store_true", help="run only the live service benchmark")
    parser.add_argument("--portfolio-only", action="store_true", help="run only the portfolio sweep benchmark")
    parser.add_argument("--startup-only", action="store_true", help="run only the start-up benchmark")
    parser.add_argument("--dask-only", action="store_true", help="run only the sweep on Dask (one process vs a 2-worker LocalCluster)")
    parser.add_argument("--dask-combinations", type=int, default=400, help="combinations in the Dask sweep (default 400)")
    parser.add_argument("--portfolio-combinations", type=int, default=150, help="combinations in the portfolio sweep (default 150)")
    parser.add_argument("--engine-compare", metavar="REVISION",
                        help="run only the engine benchmark, at REVISION (a git worktree) and now, alternating")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --engine-compare (best of each side)")
    parser.add_argument("--engine-vs-nautilus", action="store_true",
                        help="run only the live engine against NautilusTrader 1.221.0 (its venv: make bench-nautilus)")
    parser.add_argument("--nautilus-bars", metavar="N[,N...]",
                        help="bar counts of the NautilusTrader comparison (default 100000,1000000; 100000 with --quick)")
    parser.add_argument("--nautilus-ticks", type=int, metavar="N",
                        help="trades in its tick case, 0 to skip (default 1000000; 100000 with --quick)")
    parser.add_argument("--tradepulse-revision", metavar="REV",
                        help="in the NautilusTrader comparison, measure TradePulse at REV (a temporary git worktree), not this checkout")
    parser.add_argument("--json-out", type=Path, default=Path(__file__).resolve().parents[1] / "artifacts" / "bench" / "bench.json",
                        help="where the run's figures are written as JSON")
    args = parser.parse_args()
    try:
        _run(args)
    finally:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                             "machine": platform.platform(), "arguments": sys.argv[1:], "results": RESULTS},
                                            indent=2, default=str) + "\n")
        print(f"\nfigures written to {args.json_out}")


def _run(args: argparse.Namespace) -> None:
    if args.engine_vs_nautilus:
        engine_vs_nautilus(args.nautilus_bars, args.nautilus_ticks, args.quick, args.tradepulse_revision)
        return
    if args.engine_compare:
        engine_compare(args.engine_compare, args.rounds)
        return
    if args.engine_only:
        engine()
        return
    if args.service_only:
        service(args.quick)
        return
    if args.portfolio_only:
        portfolio(args.portfolio_combinations)
        return
    if args.startup_only:
        startup()
        return
    if args.dask_only:
        dask_sweep(args.bars, args.dask_combinations)
        return
    startup()
    indicators(args.bars)
    sweep(args.bars, 1_000, repeats=3)
    if not args.quick:
        big_sweep(args.bars, 10_000)
    portfolio(args.portfolio_combinations)
    dask_sweep(args.bars, args.dask_combinations)
    engine()
    service(args.quick)
    engine_vs_nautilus(args.nautilus_bars, args.nautilus_ticks, args.quick, args.tradepulse_revision)


if __name__ == "__main__":
    main()
