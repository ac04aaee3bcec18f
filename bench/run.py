"""Run every benchmark and print figures and ratios side by side (`make bench`).

Nothing here asserts a time: the numbers are for people, and docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_isolated  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description="TradePulse benchmarks")
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-combination memory run")
    parser.add_argument("--engine-only", action="store_true", help="run only the live engine benchmark")
    args = parser.parse_args()
    if args.engine_only:
        engine()
        return
    indicators(args.bars)
    sweep(args.bars, 1_000, repeats=3)
    if not args.quick:
        big_sweep(args.bars, 10_000)
    engine()


if __name__ == "__main__":
    main()
