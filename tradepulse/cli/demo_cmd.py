"""``tradepulse demo``: the main job on the embedded real data, offline, end to end.

It is what `make demo` runs: validate the data, read the signature indicators and the market phase,
backtest the composite strategy with costs, and write an HTML report a person can open.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tradepulse.cli._common import add_json_flag, print_json
from tradepulse.data import format_timeframe, load_bars, validate_bars
from tradepulse.errors import DataError

DEMO_INDICATOR_SOURCE = "sample:binance:BTC/USDT:1h"
DEMO_BACKTEST_SOURCE = "sample:binance:BTC/USDT-PERP:5m"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job on the embedded real data",
        description=(
            "Validate the embedded Binance data, print the latest TradePulse indicator readings and market\n"
            "phase, backtest the composite strategy with fees and slippage, and write an HTML report."
        ),
        epilog="Examples:\n  tradepulse demo --output-dir reports\n  tradepulse demo --output-dir reports --seconds 60   # plus one minute of live trading",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output-dir", default="reports", help="where the HTML report goes (default: reports)")
    parser.add_argument("--indicator-source", default=DEMO_INDICATOR_SOURCE, help="data for the indicator readings")
    parser.add_argument("--backtest-source", default=DEMO_BACKTEST_SOURCE, help="data for the composite backtest")
    parser.add_argument("--fees-bps", type=float, default=4.0, help="taker fee in basis points (default 4)")
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help="then run the live stack (local venue, service trading through ccxt, dashboard) for N seconds; "
                             "0 runs it until Ctrl-C; omitted: research part only")
    parser.add_argument("--no-dashboard", action="store_true", help="live part without the Voila dashboard")
    add_json_flag(parser)
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    # Imported here so `tradepulse --help` stays fast: these pull in numba and vectorbt.
    from tradepulse.backtest import Costs, RangeSlippage, run_backtest
    from tradepulse.indicators import compute_indicators

    say = (lambda *_: None) if args.json else print
    started = time.perf_counter()
    summary: dict[str, object] = {"validation": [], "indicators": None, "backtest": None}

    say("== 1. Data validation")
    for source in dict.fromkeys([args.indicator_source, args.backtest_source]):
        bars = load_bars(source)
        report = validate_bars(bars, source=source)
        if not report.ok:
            raise DataError(f"{source}: " + "; ".join(report.errors))
        summary["validation"].append(
            {"source": source, "rows": report.rows, "timeframe": format_timeframe(report.timeframe),
             "gaps": len(report.gaps), "warnings": report.warnings}
        )
        notes = "; ".join(report.warnings) or "no warnings"
        say(f"  {source}: {report.rows} bars of {format_timeframe(report.timeframe)}, "
            f"{report.start:%Y-%m-%d %H:%M} .. {report.end:%Y-%m-%d %H:%M} UTC, {len(report.gaps)} gaps ({notes})")

    say(f"\n== 2. Latest indicator readings ({args.indicator_source})")
    hourly = load_bars(args.indicator_source)
    readings = compute_indicators(hourly)
    latest = readings.iloc[-1]
    summary["indicators"] = {"source": args.indicator_source, "timestamp": readings.index[-1],
                             **{k: latest[k] for k in readings.columns}}
    say(f"  as of {readings.index[-1]:%Y-%m-%d %H:%M} UTC, close {hourly['close'].iloc[-1]:,.2f}")
    for column, label in (("kuramoto_r", "Kuramoto order R"), ("entropy", "Entropy H (normalised)"),
                          ("delta_entropy", "Entropy change dH"), ("hurst", "Hurst exponent"),
                          ("ricci", "Ricci curvature (mean k)")):
        say(f"  {label:<26} {latest[column]:+.4f}")
    say(f"  {'Market phase':<26} {latest['phase']} (confidence {latest['phase_confidence']:.2f})")

    say(f"\n== 3. Composite strategy backtest ({args.backtest_source})")
    bars = load_bars(args.backtest_source)
    costs = Costs(fees_bps=args.fees_bps, slippage=RangeSlippage())
    result = run_backtest(bars, "composite", costs=costs)
    stats = result.stats
    summary["backtest"] = {"source": args.backtest_source, "strategy": "composite", **stats}
    for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate",
                "profit_factor", "exposure", "trades"):
        value = stats[key]
        shown = f"{value:+.2%}" if key in {"total_return", "cagr", "max_drawdown", "win_rate", "exposure"} else (
            f"{value}" if isinstance(value, int) else f"{value:.3f}")
        say(f"  {key:<14} {shown}")

    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    report_path = output_dir / "composite_backtest.html"
    result.to_html(report_path)
    summary["report"] = str(report_path)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    say(f"\nReport written to {report_path.resolve()} ({summary['seconds']} s)")
    if args.seconds is not None:
        from tradepulse.cli.live_demo import run_live_demo

        if args.seconds < 0:
            raise DataError("--seconds must be 0 (until Ctrl-C) or positive")
        summary["live"] = run_live_demo(output_dir, args.seconds, say=say, dashboard=not args.no_dashboard)
    if args.json:
        print_json(summary)
    return 0
