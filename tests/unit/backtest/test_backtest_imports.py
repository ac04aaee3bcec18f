"""A single backtest, from the command line or in a kernel, runs without importing vectorbt (seconds of start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from tradepulse.backtest import run_backtest
from tradepulse.data import load_bars
result = run_backtest(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross", {"fast": 5, "slow": 20})
figures = {"trades": result.stats["trades"], "fills": len(result.fills), "equity": len(result.equity)}
print(json.dumps({"vectorbt_imported": "vectorbt" in sys.modules, **figures}))
"""


def test_a_backtest_with_its_stats_trades_and_fills_does_not_import_vectorbt():
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["vectorbt_imported"] is False
    assert report["trades"] > 0 and report["fills"] > 0 and report["equity"] > 0


def test_the_vectorbt_portfolio_is_still_there_on_first_use():
    from tradepulse.backtest import run_backtest
    from tradepulse.data import load_bars

    result = run_backtest(load_bars("sample:binance:BTC/USDT:1h"), "sma_cross", {"fast": 5, "slow": 20})
    portfolio = result.portfolio
    assert len(portfolio.orders.values) == len(result.fills)
    # vectorbt's own figures agree with ours (the equity curve to the last bits of a float).
    assert abs(float(portfolio.total_return()) - result.stats["total_return"]) < 1e-12
    assert abs(float(portfolio.value().iloc[-1]) - result.equity.iloc[-1]) < 1e-9
