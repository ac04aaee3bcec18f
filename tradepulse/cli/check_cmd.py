"""``tradepulse check``: lookahead, finite memory, determinism, range and parity of a strategy on real bars."""

from __future__ import annotations

import argparse
from typing import Any

from tradepulse.cli._common import add_json_flag, parse_key_values, print_json

_CHECKS_HELP = "lookahead, finite_memory, determinism, range, parity"


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser(
        "check",
        help="check a strategy for lookahead, memory beyond its warm-up, determinism, range and live parity",
        description=(
            "Run the strategy checks on real bars (docs/strategies.md, 'Checking a strategy').\n"
            "Exit 0 when every check passes, 1 when one fails, 2 for bad input or a strategy that raises."
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse check sma_cross sample:binance:BTC/USDT:1h\n"
            "  tradepulse check my_strategies.py:Breakout bars.csv.gz -p window=48 --json\n"
            "  tradepulse check momentum universe:binance-usdt-4h --check lookahead --check finite_memory"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("strategy", metavar="STRATEGY", help="built-in name, package.module:Class, or path/to/file.py[:Class]")
    check.add_argument("sources", nargs="+", metavar="SOURCE",
                       help="bars: a sample, a CSV/Parquet file; several sources, a folder or universe:<name> for a portfolio")
    check.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter (repeatable)")
    check.add_argument("--check", action="append", dest="checks", metavar="NAME", help=f"run only these checks (repeatable): {_CHECKS_HELP}")
    check.add_argument("--start", help="first bar to use (inclusive; UTC when naive)")
    check.add_argument("--end", help="last bar to use (inclusive)")
    check.add_argument("--fees-bps", type=float, default=10.0, metavar="BPS", help="fees for the parity check (default 10)")
    check.add_argument("--symbol", action="append", default=[], metavar="FILE=SYMBOL", help="a universe member's symbol (repeatable)")
    check.add_argument("--align", choices=["intersect", "strict"], default="intersect", help="universes: how members share one clock")
    add_json_flag(check)
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from tradepulse.checks import CHECK_NAMES, check
    from tradepulse.cli import EXIT_FAILED_CHECK
    from tradepulse.cli.backtest_cmds import _is_universe, _load, _load_universe
    from tradepulse.model.costs import Costs
    from tradepulse.strategy import load_strategy

    cls = load_strategy(args.strategy)
    strategy = cls.from_strings(parse_key_values(args.param, "-p"))
    names = tuple(args.checks or CHECK_NAMES)
    data: Any = _load_universe(args, cls) if _is_universe(args, cls) else _load(args)
    report = check(strategy, data, checks=names, costs=Costs(fees_bps=args.fees_bps))
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 0 if report.passed else EXIT_FAILED_CHECK
