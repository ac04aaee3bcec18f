"""``tradepulse serve``: run the live service in the foreground (``tradepulse live start`` backgrounds it).

The configuration is validated before anything connects; secrets come only from the
environment (docs/configuration.md). SIGTERM or Ctrl-C stops it gracefully with exit code 0.
"""

from __future__ import annotations

import argparse
import json
import sys

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
        summary = {
            "config": str(config.path), "state_dir": str(config.state_dir), "venue": config.venue.kind,
            "api": f"{config.api.host}:{config.api.port}",
            "strategies": [{"id": s.id, "strategy": s.strategy.name, "symbol": s.symbol} for s in config.strategies],
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
