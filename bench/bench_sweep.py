"""SMA-cross parameter sweep over 100,000 real-derived bars: TradePulse vs backtesting.py.

Both run the same strategy (long while SMA(fast) > SMA(slow), flat otherwise), the same fill rule
(orders placed on a bar's close fill at the next bar's open) and the same 10 bps fee. TradePulse
evaluates the whole grid in chunked vectorised runs; backtesting.py runs one combination at a time,
so it is timed on a few combinations and compared per combination. Each mode runs in its own
interpreter (see run.py) so the peak memory printed is its own.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, real_bars  # noqa: E402

FEES_BPS = 10.0


def grid_for(combinations: int) -> dict[str, list[int]]:
    """A fast × slow grid of about ``combinations`` cells with every fast < every slow."""
    side = int(math.isqrt(combinations))
    fast = list(range(2, 2 + side))
    slow_count = math.ceil(combinations / side)
    slow = list(range(fast[-1] + 10, fast[-1] + 10 + 5 * slow_count, 5))
    return {"fast": fast, "slow": slow}


def run_tradepulse(bars, combinations: int) -> dict:
    from tradepulse.backtest import Costs, FixedSlippage, run_sweep

    costs = Costs(fees_bps=FEES_BPS, slippage=FixedSlippage(0.0))
    run_sweep(bars.iloc[:2_000], "sma_cross", {"fast": [5], "slow": [20]}, costs=costs)  # compile once
    grid = grid_for(combinations)
    started = time.perf_counter()
    result = run_sweep(bars, "sma_cross", grid, costs=costs)
    seconds = time.perf_counter() - started
    n = len(result.table)
    check = result.table.set_index(["fast", "slow"]).loc[(10, grid["slow"][0]), "total_return"]
    return {
        "engine": "tradepulse",
        "combinations": n,
        "bars": len(bars),
        "seconds": round(seconds, 3),
        "seconds_per_combination": seconds / n,
        "bar_combinations_per_second": round(n * len(bars) / seconds),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "check_params": {"fast": 10, "slow": grid["slow"][0]},
        "check_total_return": float(check),
    }


def run_backtesting_py(bars, combinations: int, repeats: int) -> dict:
    import pandas as pd
    from backtesting import Backtest, Strategy

    def sma(values, n):
        return pd.Series(values).rolling(n).mean().to_numpy()

    class SmaCross(Strategy):
        fast = 10
        slow = 30

        def init(self):
            self.sma_fast = self.I(sma, self.data.Close, self.fast)
            self.sma_slow = self.I(sma, self.data.Close, self.slow)

        def next(self):
            if self.sma_fast[-1] > self.sma_slow[-1]:
                if not self.position:
                    self.buy()
            elif self.position:
                self.position.close()

    frame = bars.rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)
    # backtesting.py buys whole units; a large cash balance makes the rounding negligible.
    backtest = Backtest(frame, SmaCross, cash=1e9, commission=FEES_BPS / 10_000, trade_on_close=False, finalize_trades=True)
    grid = grid_for(combinations)
    check_params = {"fast": 10, "slow": grid["slow"][0]}
    started = time.perf_counter()
    stats = None
    for i in range(repeats):
        params = check_params if i == 0 else {"fast": grid["fast"][i], "slow": grid["slow"][-i]}
        result = backtest.run(**params)
        if i == 0:
            stats = result
    seconds = time.perf_counter() - started
    return {
        "engine": "backtesting.py",
        "combinations": repeats,
        "bars": len(bars),
        "seconds": round(seconds, 3),
        "seconds_per_combination": seconds / repeats,
        "bar_combinations_per_second": round(repeats * len(bars) / seconds),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "check_params": check_params,
        "check_total_return": float(stats["Return [%]"]) / 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["tradepulse", "backtesting.py"])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--combinations", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3, help="backtesting.py runs to time")
    args = parser.parse_args()
    bars = real_bars(args.bars)
    if args.engine == "tradepulse":
        row = run_tradepulse(bars, args.combinations)
    else:
        row = run_backtesting_py(bars, args.combinations, args.repeats)
    print(json.dumps(row, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
