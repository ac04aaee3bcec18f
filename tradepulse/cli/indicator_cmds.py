"""``tradepulse indicators``: the latest signature-indicator readings and market phase of a data source."""

from __future__ import annotations

import argparse
import math
from typing import Any

from tradepulse.cli._common import add_json_flag, print_json, to_jsonable
from tradepulse.errors import ConfigError

DESCRIPTION = """\
Compute TradePulse's signature indicators on a bar source and print the latest readings:
Kuramoto order parameter R, normalised return entropy H and its change dH, Hurst exponent,
mean Ollivier-Ricci curvature kappa, and the market phase with its confidence.
Every indicator uses the same rolling window; the source needs at least window + 8 bars.
Formulas: docs/indicators.md."""

EPILOG = """\
examples:
  tradepulse indicators sample:binance:BTC/USDT:1h
  tradepulse indicators sample:binance:BTC/USDT:1h --window 128 --json"""

# (output key, table label, format) in display order.
_READINGS = (
    ("kuramoto_r", "Kuramoto R", "{:.4f}"),
    ("entropy", "entropy H (normalised)", "{:.4f}"),
    ("delta_entropy", "entropy change dH", "{:+.4f}"),
    ("hurst", "Hurst exponent", "{:.4f}"),
    ("ricci", "Ricci curvature kappa", "{:.4f}"),
    ("phase", "phase", "{}"),
    ("phase_confidence", "phase confidence", "{:.2f}"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``indicators`` command to the ``tradepulse`` parser."""
    parser = subparsers.add_parser(
        "indicators",
        help="latest Kuramoto R, entropy, Hurst, Ricci curvature and market phase of a bar source",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE", help="bar source for load_bars, e.g. sample:binance:BTC/USDT:1h")
    parser.add_argument("--window", type=int, default=64, metavar="N", help="bars per rolling window (default 64)")
    add_json_flag(parser)
    parser.set_defaults(handler=run_indicators)


def latest_readings(bars: Any, window: int) -> dict[str, Any]:
    """Return the last bar's indicator readings as a flat dict (timestamp, close, indicators, phase)."""
    from tradepulse.indicators import compute_indicators
    from tradepulse.indicators.entropy import DEFAULT_LAG

    needed = window + DEFAULT_LAG
    if window < 8:
        raise ConfigError(f"--window must be >= 8, got {window}")
    if len(bars) < needed:
        raise ConfigError(
            f"--window {window} needs at least {needed} bars (window + {DEFAULT_LAG} for the entropy change); "
            f"the source has {len(bars)}: use a smaller --window or a longer source"
        )
    frame = compute_indicators(bars, window=window)
    last = frame.iloc[-1]
    readings: dict[str, Any] = {"timestamp": frame.index[-1], "close": float(bars["close"].iloc[-1])}
    for key, _, _ in _READINGS:
        value = last[key]
        readings[key] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    if readings["phase"] is not None:
        readings["phase"] = str(readings["phase"])
    return readings


def format_table(source: str, window: int, readings: dict[str, Any]) -> str:
    """Return the readings as an aligned two-column table."""
    rows = [("source", source), ("window", str(window)), ("timestamp", str(to_jsonable(readings["timestamp"])))]
    rows.append(("close", f"{readings['close']:,.2f}"))
    for key, label, fmt in _READINGS:
        value = readings[key]
        rows.append((label, "n/a" if value is None else fmt.format(value)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def run_indicators(args: argparse.Namespace) -> int:
    """Load the source, compute the indicators and print the latest readings."""
    from tradepulse.data import load_bars

    bars = load_bars(args.source)
    readings = latest_readings(bars, args.window)
    if args.json:
        print_json({"source": args.source, "window": args.window, **readings})
    else:
        print(format_table(args.source, args.window, readings))
    return 0
