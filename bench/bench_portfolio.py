"""Portfolio sweep over the embedded Bittrex 5m universe: TradePulse vs vectorbt's own from_orders, one run.

The grid is ``momentum`` over the 10-member ``universe:bittrex-btc-5m`` (5,707 five-minute bars on
one clock). TradePulse runs ``run_sweep(universe, "momentum", grid)``: each combination's weights
from the strategy, the combinations side by side as groups of one vectorbt run with cash shared
within a group, and every statistic per combination. The peer is vectorbt itself on the same
target weights: ``Portfolio.from_orders`` with the same order sizes, open prices, fees, grouping,
``cash_sharing=True`` and ``call_seq="auto"``. Computing the weights (the strategy's ``signals`` per
combination) is timed on its own: a vectorbt user has to do it too.

Both sides are warmed up first (numba compiles once per signature), then timed alternately,
best of ``--rounds``. Peak memory is measured afterwards with tracemalloc, one side at a time.
Nothing is asserted; run.py prints the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib  # noqa: E402

UNIVERSE = "universe:bittrex-btc-5m"
FEES_BPS = 10.0
INIT_CASH = 10_000.0


def grid_for(combinations: int) -> dict[str, list[int]]:
    """``lookback`` every 6 bars from 6 by ``top`` 1, 2, 3: about ``combinations`` cells."""
    lookbacks = max(1, -(-combinations // 3))
    return {"lookback": list(range(6, 6 + 6 * lookbacks, 6)), "top": [1, 2, 3]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--combinations", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import vectorbt as vbt

    from tradepulse.backtest import Costs, run_sweep
    from tradepulse.backtest.engine import order_sizes
    from tradepulse.backtest.portfolio import member_costs, simulate_portfolio, universe_bar_period
    from tradepulse.backtest.portfolio_sweep import portfolio_fill_stats, portfolio_grid, weights_grid
    from tradepulse.backtest.result import periods_per_year
    from tradepulse.data.universe import load_universe
    from tradepulse.strategy import load_strategy

    universe = load_universe([UNIVERSE])
    symbols = universe.symbols
    n_symbols = len(symbols)
    momentum = load_strategy("momentum")
    grid = grid_for(args.combinations)
    combos, _ = portfolio_grid(momentum, universe, grid)
    costs = Costs(fees_bps=FEES_BPS)
    period = universe_bar_period(universe)

    def tradepulse_sweep():
        return run_sweep(universe, momentum, grid, costs=costs, init_cash=INIT_CASH)

    def signals() -> np.ndarray:
        return np.nan_to_num(np.hstack([momentum(**combo).signals(universe.bars).to_numpy() for combo in combos]))

    def vectorbt_from_orders(weights: np.ndarray):
        groups = weights.shape[1] // n_symbols
        sizes = order_sizes(weights)
        return vbt.Portfolio.from_orders(
            close=np.tile(universe.field("close").to_numpy(), groups),
            size=sizes,
            size_type="targetpercent",
            direction="both",
            price=np.tile(universe.field("open").to_numpy(), groups),
            fees=FEES_BPS / 10_000,
            init_cash=INIT_CASH,
            cash_sharing=True,
            group_by=np.repeat(np.arange(groups), n_symbols),
            call_seq="auto",
            freq=period,
            max_orders=max(1, int(np.count_nonzero(~np.isnan(sizes)))),
        )

    # Warm-up: compile every numba signature both sides use, on a small slice.
    small = universe.slice(0, 400)
    run_sweep(small, momentum, {"lookback": [6, 12]}, costs=costs)
    warm = np.hstack([momentum(lookback=6).signals(small.bars).to_numpy()] * 2)
    vbt.Portfolio.from_orders(
        close=np.tile(small.field("close").to_numpy(), 2), size=order_sizes(warm), size_type="targetpercent",
        direction="both", price=np.tile(small.field("open").to_numpy(), 2), fees=FEES_BPS / 10_000, init_cash=INIT_CASH,
        cash_sharing=True, group_by=np.repeat(np.arange(2), n_symbols), call_seq="auto", freq=period, max_orders=10_000,
    ).orders.values  # noqa: B018 - touching the records compiles their accessors

    times = {"tradepulse": [], "signals": [], "vectorbt": []}
    result = weights = vbt_portfolio = None
    for _ in range(args.rounds):
        gc.collect()
        started = time.perf_counter()
        result = tradepulse_sweep()
        times["tradepulse"].append(time.perf_counter() - started)
        del result
        gc.collect()
        started = time.perf_counter()
        weights = signals()
        times["signals"].append(time.perf_counter() - started)
        started = time.perf_counter()
        vbt_portfolio = vectorbt_from_orders(weights)
        times["vectorbt"].append(time.perf_counter() - started)
        del vbt_portfolio
    best = {name: min(values) for name, values in times.items()}

    # Where TradePulse's time goes (one more pass, the same steps run_sweep takes).
    by_symbol = member_costs(symbols, costs)
    bars_per_year = periods_per_year(period)
    close = universe.field("close").to_numpy()
    started = time.perf_counter()
    our_weights = weights_grid(momentum, universe.bars, combos, symbols, {})
    weights_seconds = time.perf_counter() - started
    started = time.perf_counter()
    portfolio = simulate_portfolio(universe, our_weights, costs=by_symbol, init_cash=INIT_CASH, groups=len(combos), timestamps=False)
    simulate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    stats = portfolio_fill_stats(portfolio.orders.values, portfolio.positions.values, close, len(combos), INIT_CASH, bars_per_year)
    stats_seconds = time.perf_counter() - started

    # Same answer: each group's final value from vectorbt against TradePulse's final equity.
    vbt_portfolio = vectorbt_from_orders(weights)
    vbt_final = np.asarray(vbt_portfolio.value())[-1]
    max_rel_diff = float(np.max(np.abs(stats["final_equity"] - vbt_final) / vbt_final))
    same_weights = bool(np.array_equal(our_weights, weights))
    orders = len(vbt_portfolio.orders.values)
    del vbt_portfolio, portfolio, our_weights

    # Peak memory, one side at a time (tracemalloc slows both, so it is not part of the timing).
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tradepulse_sweep()
    _, ours_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    tracemalloc.start()
    base_vbt, _ = tracemalloc.get_traced_memory()
    vectorbt_from_orders(signals())
    _, vbt_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    cells = len(universe) * n_symbols * len(combos)
    row = {
        "universe": UNIVERSE,
        "members": n_symbols,
        "bars": len(universe),
        "combinations": len(combos),
        "cells": cells,
        "orders": orders,
        "rounds": args.rounds,
        "tradepulse_seconds": round(best["tradepulse"], 3),
        "signals_seconds": round(best["signals"], 3),
        "vectorbt_seconds": round(best["vectorbt"], 3),
        "overhead_vs_signals_and_vectorbt": best["tradepulse"] / (best["signals"] + best["vectorbt"]),
        "overhead_vs_vectorbt_alone": best["tradepulse"] / best["vectorbt"],
        "breakdown": {
            "weights_seconds": round(weights_seconds, 3),
            "simulate_seconds": round(simulate_seconds, 3),
            "stats_seconds": round(stats_seconds, 3),
        },
        "tradepulse_peak_mib": round((ours_peak - base) / 2**20, 1),
        "vectorbt_peak_mib": round((vbt_peak - base_vbt) / 2**20, 1),
        "process_peak_rss_mib": round(peak_rss_mib(), 1),
        "same_weights": same_weights,
        "max_rel_diff_final_equity": max_rel_diff,
        "all_times": {name: [round(v, 3) for v in values] for name, values in times.items()},
    }
    print(json.dumps(row))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
