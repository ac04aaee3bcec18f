"""Shared benchmark helpers: 100,000 bars built from real data, timing and peak memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent


def real_bars(n_bars: int = 100_000) -> pd.DataFrame:
    """``n_bars`` 5-minute bars made by chaining the real Binance 5m sample end to end.

    Each repetition continues from the previous close, keeping every real bar's shape (open, high,
    low relative to close, and volume), so the series has real returns, real ranges and real volume
    without inventing any price path. The 10,999-bar sample is repeated about ten times.
    """
    from tradepulse.data import load_bars

    sample = load_bars("sample:binance:BTC/USDT-PERP:5m")
    close = sample["close"].to_numpy()
    log_returns = np.diff(np.log(close))
    relative = {c: sample[c].to_numpy() / close for c in ("open", "high", "low")}
    reps = int(np.ceil(n_bars / len(sample)))
    steps = np.concatenate([[0.0], np.tile(log_returns, reps)])[:n_bars]
    # Between repetitions the first return of the next copy links the last bar to the first one.
    new_close = close[0] * np.exp(np.cumsum(steps))
    position = np.arange(n_bars) % len(sample)
    index = pd.date_range(sample.index[0], periods=n_bars, freq="5min", name="timestamp")
    return pd.DataFrame(
        {
            "open": relative["open"][position] * new_close,
            "high": relative["high"][position] * new_close,
            "low": relative["low"][position] * new_close,
            "close": new_close,
            "volume": sample["volume"].to_numpy()[position],
        },
        index=index,
    )


def best_of(function, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls, in seconds (the minimum is the least noisy estimate)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def run_isolated(script: str, *args: str) -> dict:
    """Run a benchmark part in a fresh interpreter so its peak memory is its own; it prints JSON last."""
    completed = subprocess.run(
        [sys.executable, str(BENCH_DIR / script), *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isolated_at(root: Path, script: str, *args: str) -> dict:
    """Run ``root``'s own copy of a benchmark part against ``root``'s own package (another checkout)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    completed = subprocess.run(
        [sys.executable, str(root / "bench" / script), *args], capture_output=True, text=True, check=False, cwd=root, env=env
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} at {root} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
