"""The ``tradepulse`` command.

Each command family lives in its own module exposing ``register(subparsers)``; this module wires
them together and owns the one rule every command follows: a :class:`TradePulseError` (bad input)
becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tradepulse import __version__
from tradepulse.errors import TradePulseError

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2

# Command families, in the order `tradepulse --help` lists them; each module has register(subparsers).
COMMAND_MODULES = ("data_cmds", "indicator_cmds", "backtest_cmds", "strategies_cmd", "check_cmd", "demo_cmd", "jobs_cmds", "dashboard_cmd", "live_cmds", "venue_cmds", "serve_cmd", "store_cmds", "trials_cmd")


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line and exit 2, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tradepulse",
        description="TradePulse: research-to-live trading on real market data.",
        epilog="Example: tradepulse backtest sample:binance:BTC/USDT:1h --strategy sma_cross -p fast=10 -p slow=30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tradepulse {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"tradepulse.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or EXIT_OK)
    except TradePulseError as exc:
        print(f"tradepulse: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); that is not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("tradepulse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
