"""``tradepulse serve``: run the live service in the foreground (``tradepulse live start`` backgrounds it).

The configuration is validated before anything connects; secrets come only from the
environment (docs/configuration.md). SIGTERM or Ctrl-C stops it gracefully with exit code 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tradepulse.cli._common import add_json_flag

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the live service (strategies, REST/WebSocket API, metrics) in the foreground",
        description=(
            "Host the configured strategies through the live engine and serve the API under /api/v1.\n"
            "API tokens: TRADEPULSE_API_READ_TOKEN / TRADEPULSE_API_OPERATE_TOKEN (or their _FILE forms).\n"
            "Venue keys: TRADEPULSE_<EXCHANGE>_API_KEY / _API_SECRET. Stop with SIGTERM or Ctrl-C."
        ),
        epilog=(
            "Examples:\n"
            "  TRADEPULSE_API_OPERATE_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\\n"
            "      tradepulse serve --config live.toml\n"
            "  tradepulse serve --config live.toml --check     # validate the file and exit\n"
            "  tradepulse live start --config live.toml        # the same, in the background"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--config", "-c", required=True, metavar="FILE", help="the service TOML file (docs/configuration.md)")
    serve.add_argument("--check", action="store_true", help="validate the configuration and the tokens, print a summary, exit")
    add_json_flag(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from tradepulse.service.auth import ApiAuth
    from tradepulse.service.config import load_config
    from tradepulse.service.server import run_service

    config = load_config(args.config)
    ApiAuth.from_environ()
    if args.check:
        warnings = _strategy_warnings(config)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        summary = {
            "config": str(config.path), "state_dir": str(config.state_dir), "venue": config.venue.kind,
            "api": f"{config.api.host}:{config.api.port}",
            "strategies": [{"id": s.id, "strategy": s.strategy.name, "symbol": s.symbol} for s in config.strategies],
            "warnings": warnings,
        }
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"{config.path}: valid; {len(config.strategies)} strategies on a {config.venue.kind} venue, "
                  f"API on {config.api.host}:{config.api.port}, state in {config.state_dir}")
        return 0

    def ready(info: dict) -> None:
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"TradePulse service ({info['mode']} start) listening at {info['url']} (pid {info['pid']})", flush=True)
        sys.stdout.flush()

    return run_service(config, on_ready=ready)


def _strategy_warnings(config: Any) -> list[str]:
    """The quick checks (lookahead, finite memory) of each strategy of the user's own that replays bars.

    A strategy that forgot its warm-up validates, starts, and never trades; one that reads later
    bars backtests beautifully. Where the feed is bars the check can read (a sample, a cache entry,
    a file), ``--check`` says so before anything runs. Recordings, live data and the built-ins
    (tested to pass) are not checked here.
    """
    from tradepulse.checks import StrategyFailed, check
    from tradepulse.data import load_bars
    from tradepulse.errors import TradePulseError
    from tradepulse.strategy import BUILTIN_STRATEGIES

    warnings = []
    for entry in config.strategies:
        if entry.feeds or entry.feed in ("venue", "live") or type(entry.strategy) in BUILTIN_STRATEGIES.values():
            continue
        try:
            bars = load_bars(entry.feed)
            report = check(entry.strategy, bars, checks=("lookahead", "finite_memory"))
        except (StrategyFailed, TradePulseError):
            continue  # a recording (no bars to check), or a failure the service reports when it runs
        warnings += [f"strategy {entry.id!r}: {result.name}: {result.detail}" for result in report.checks if not result.passed]
    return warnings
