"""Each signature indicator over 100,000 real-derived bars: numba kernels vs per-window numpy/scipy.

The per-window reference (tradepulse.indicators.reference) recomputes every window from scratch with
numpy/scipy, the way one would write it first. It is timed on a prefix of the bars (its cost per
window is constant) and reported per bar beside the kernel's full-length time; the two outputs are
compared on that prefix so the speed-up is between equal results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, real_bars  # noqa: E402

WINDOW = 64
# How many bars the slow reference gets; Ricci's per-edge linear programs are the slowest.
REFERENCE_BARS = {"kuramoto_r": 20_000, "shannon_entropy": 20_000, "hurst_exponent": 20_000, "ricci_curvature": 1_500}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=WINDOW)
    parser.add_argument("--reference-scale", type=float, default=1.0,
                        help="time the reference on this share of its usual prefix (the CI gate's quick run: 0.1)")
    args = parser.parse_args()

    from tradepulse import indicators as fast
    from tradepulse.indicators import reference as slow

    close = real_bars(args.bars)["close"]
    rows = []
    for name, ref_bars in REFERENCE_BARS.items():
        fast_fn = getattr(fast, name)
        slow_fn = getattr(slow, name)
        fast_fn(close.iloc[:500], window=args.window)  # compile (or load the numba cache) before timing
        fast_seconds = best_of(lambda: fast_fn(close, window=args.window), repeat=3)
        prefix = close.iloc[: min(max(int(ref_bars * args.reference_scale), args.window * 2), len(close))]
        started = time.perf_counter()
        expected = slow_fn(prefix, window=args.window)
        slow_seconds = time.perf_counter() - started
        got = fast_fn(prefix, window=args.window)
        max_abs_diff = float(np.nanmax(np.abs(got.to_numpy() - expected.to_numpy())))
        fast_per_bar = fast_seconds / len(close)
        slow_per_bar = slow_seconds / len(prefix)
        rows.append(
            {
                "indicator": name,
                "bars": len(close),
                "numba_seconds": round(fast_seconds, 4),
                "numba_bars_per_second": round(1 / fast_per_bar),
                "reference_bars_timed": len(prefix),
                "reference_seconds": round(slow_seconds, 3),
                "reference_bars_per_second": round(1 / slow_per_bar),
                "reference_seconds_for_all_bars_estimated": round(slow_per_bar * len(close), 1),
                "speedup": round(slow_per_bar / fast_per_bar, 1),
                "max_abs_diff": max_abs_diff,
            }
        )
    print(json.dumps({"window": args.window, "indicators": rows}))


if __name__ == "__main__":
    main()
