"""Start-up: what a user waits for before the first figure (`python bench/run.py --startup-only`).

Each case is a fresh interpreter, timed from launch to exit, best of ``--repeats`` runs (the OS
file cache is warm after the first); all cases in one run, beside a bare ``python -c pass``:

* ``tradepulse backtest sample:binance:BTC/USDT:1h --strategy sma_cross`` (the CLI, text output);
* ``import tradepulse`` then a first backtest on the same sample with its stats, equity, trades and
  fills, as a notebook's first cell does (a kernel pays the same imports);
* ``import vectorbt`` alone, for reference: what every single backtest paid before it ran without it.

Figures are printed, never asserted. The issue's goal is 1.5 s for the first two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PYTHON = sys.executable
TRADEPULSE = str(Path(sys.executable).parent / "tradepulse")
FIRST_BACKTEST = """
import tradepulse
from tradepulse.backtest import run_backtest
from tradepulse.data import load_bars
result = run_backtest(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross")
result.stats, result.equity, result.trades, result.fills
"""
CASES = {
    "bare_python": [PYTHON, "-c", "pass"],
    "cli_backtest": [TRADEPULSE, "backtest", "sample:binance:BTC/USDT:1h", "--strategy", "sma_cross"],
    "import_and_first_backtest": [PYTHON, "-c", FIRST_BACKTEST],
    "import_vectorbt": [PYTHON, "-c", "import vectorbt"],
}


def best_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps({name: round(best_seconds(command, args.repeats), 3) for name, command in CASES.items()}))


if __name__ == "__main__":
    main()
