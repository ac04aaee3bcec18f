"""``tradepulse venue serve``: run the local Binance-spot venue (the emulator) until Ctrl-C/SIGTERM.

The venue replays the recorded BTCUSDT/ETHUSDT market data and accepts orders from one account.
Its API key and secret come from ``--api-key``/``--api-secret`` (allowed here because this is a
local test venue) or, preferably, from ``TRADEPULSE_VENUE_API_KEY`` and ``TRADEPULSE_VENUE_API_SECRET``
(or ``TRADEPULSE_VENUE_API_SECRET_FILE``). The secret is never printed.

``--fee-asset BNB`` makes the account pay commissions in BNB (Binance's "use BNB to pay for fees");
the venue then lists BNBUSDT at the fixed ``--fee-asset-price`` (default 560 USDT: the recordings
have no BNB ticks), and charges and shows commissions at that price.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tradepulse.cli._common import add_json_flag, parse_key_values
from tradepulse.errors import ConfigError

if TYPE_CHECKING:
    from tradepulse.emulator import VenueConfig

__all__ = ["register"]

ENV_API_KEY = "TRADEPULSE_VENUE_API_KEY"
ENV_API_SECRET = "TRADEPULSE_VENUE_API_SECRET"
ENV_API_SECRET_FILE = "TRADEPULSE_VENUE_API_SECRET_FILE"
# What default balances gain of the fee asset: at 560 USDT a BNB pays 0.1 % commissions, less
# Binance's 25 %, on about 750,000 USDT of trades.
_FEE_ASSET_SEED = "1"


def register(subparsers: argparse._SubParsersAction) -> None:
    venue = subparsers.add_parser(
        "venue",
        help="run the local Binance-spot venue that replays recorded market data",
        description="The local Binance-spot venue (emulator) that ccxt's binance classes can trade against.",
        epilog="Example: TRADEPULSE_VENUE_API_KEY=k TRADEPULSE_VENUE_API_SECRET=s tradepulse venue serve --port 8765",
    )
    commands = venue.add_subparsers(dest="venue_command", metavar="SUBCOMMAND")
    commands.required = True
    serve = commands.add_parser(
        "serve",
        help="serve REST and WebSocket market data and trading until stopped",
        description=(
            "Serve Binance's spot REST API (/api/v3), market streams (/stream/ws) and the WebSocket API\n"
            "(/ws-api/v3) on this machine, replaying real recorded BTCUSDT and ETHUSDT data in a loop.\n"
            "Prints the base URLs on start; stop with Ctrl-C or SIGTERM."
        ),
        epilog=(
            "Examples:\n"
            "  export TRADEPULSE_VENUE_API_KEY=local-key TRADEPULSE_VENUE_API_SECRET=local-secret\n"
            "  tradepulse venue serve --port 8765 --speed 5 --faults latency_ms=50,rest_error_rate=0.05 --seed 7\n"
            "\n"
            "  # Commissions in BNB, 25% off, valued at a BNBUSDT market fixed at 560 USDT:\n"
            "  tradepulse venue serve --fee-asset BNB --fee-asset-price 560 --balance USDT=10000 --balance BNB=1"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks a free one)")
    serve.add_argument("--speed", type=float, default=1.0, help="replay speed: 1 is real time, 10 is ten times faster")
    serve.add_argument("--start-offset", type=float, default=300.0, metavar="SECONDS",
                       help="seconds of recording replayed before opening, as history (default 300)")
    serve.add_argument("--api-key", default=None, help=f"API key of the venue's account (default: ${ENV_API_KEY})")
    serve.add_argument("--api-secret", default=None,
                       help=f"HMAC secret of that account (default: ${ENV_API_SECRET} or ${ENV_API_SECRET_FILE})")
    serve.add_argument("--balance", action="append", metavar="ASSET=AMOUNT",
                       help="starting balance, repeatable (default USDT=10000 BTC=0.5 ETH=5)")
    serve.add_argument("--fee-asset", default=None, metavar="ASSET",
                       help="the account pays commissions in ASSET while it holds enough (BNB, or a replayed "
                            "asset such as ETH); BNB lists a fixed-price BNBUSDT market. Default balances "
                            "gain 1 BNB; explicit --balance must name the asset")
    serve.add_argument("--fee-asset-price", default=None, metavar="USDT",
                       help="the fixed BNBUSDT price that lists the market and values BNB commissions "
                            "(default 560; needs --fee-asset BNB)")
    serve.add_argument("--maker-fee", default="0.001", help="maker commission as a fraction (default 0.001 = 0.1%%)")
    serve.add_argument("--taker-fee", default="0.001", help="taker commission as a fraction (default 0.001 = 0.1%%)")
    serve.add_argument("--weight-limit", type=int, default=6000,
                       help="request weight per IP and minute before 429 (default 6000, Binance's)")
    serve.add_argument("--faults", action="append", metavar="KEY=VALUE[,KEY=VALUE]",
                       help="fault settings, e.g. latency_ms=50, rest_error_rate=0.1, ws_drop_every_s=30, "
                            "clock_skew_ms=-20000 (see docs/emulator.md)")
    serve.add_argument("--seed", type=int, default=0, help="seed of random faults and generated ids (default 0)")
    add_json_flag(serve)
    serve.set_defaults(handler=_serve)


def _credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    api_key = args.api_key or os.environ.get(ENV_API_KEY) or None
    api_secret = args.api_secret or os.environ.get(ENV_API_SECRET) or None
    secret_file = os.environ.get(ENV_API_SECRET_FILE)
    if api_secret is None and secret_file:
        try:
            api_secret = Path(secret_file).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read {ENV_API_SECRET_FILE} ({secret_file}): {exc.strerror}") from None
    if (api_key is None) != (api_secret is None):
        missing = "secret" if api_secret is None else "key"
        raise ConfigError(f"the venue API {missing} is missing: set both {ENV_API_KEY} and {ENV_API_SECRET} "
                          "(or --api-key and --api-secret)")
    return api_key, api_secret


def _build_config(args: argparse.Namespace) -> VenueConfig:
    # The emulator is imported here, not at module level, so other commands start without it.
    from decimal import Decimal, InvalidOperation

    from tradepulse.emulator import DEFAULT_BALANCES, AccountSpec, VenueConfig, parse_fault_flags

    api_key, api_secret = _credentials(args)
    fee_asset = args.fee_asset.upper() if args.fee_asset else None
    balances = {k.upper(): v for k, v in parse_key_values(args.balance, option="--balance").items()}
    if fee_asset is not None and balances and fee_asset not in balances:
        # Without it every commission is silently charged the usual way; say so now instead.
        raise ConfigError(f"--fee-asset {fee_asset}: give the account some {fee_asset} (--balance {fee_asset}=1), "
                          "or it pays every commission the usual way")
    if not balances:
        balances = dict(DEFAULT_BALANCES)
        if fee_asset is not None:
            balances.setdefault(fee_asset, _FEE_ASSET_SEED)
    accounts = ()
    if api_key is not None and api_secret is not None:
        accounts = (AccountSpec(api_key, api_secret, balances, fee_asset=fee_asset),)
    elif args.balance or fee_asset:
        raise ConfigError(f"{'--balance' if args.balance else '--fee-asset'} needs an account: "
                          "set the venue API key and secret")
    fee_asset_prices = {}
    if args.fee_asset_price is not None:
        if fee_asset is None:
            raise ConfigError("--fee-asset-price needs --fee-asset (e.g. --fee-asset BNB)")
        fee_asset_prices[fee_asset] = args.fee_asset_price
    fees = {}
    for name in ("maker_fee", "taker_fee"):
        try:
            fees[name] = Decimal(getattr(args, name))
        except InvalidOperation:
            raise ConfigError(f"--{name.replace('_', '-')} must be a number, got {getattr(args, name)!r}") from None
    try:
        ipaddress.ip_address(args.host)
    except ValueError:
        if args.host != "localhost":
            raise ConfigError(f"--host must be an IP address or localhost, got {args.host!r}") from None
    return VenueConfig(host=args.host, port=args.port, speed=args.speed, start_offset_s=args.start_offset,
                       accounts=accounts, weight_limit_per_minute=args.weight_limit,
                       faults=parse_fault_flags(args.faults), seed=args.seed, fee_asset_prices=fee_asset_prices,
                       **fees)


def _serve(args: argparse.Namespace) -> int:
    config = _build_config(args)
    return asyncio.run(_run(config, as_json=args.json))


async def _run(config: VenueConfig, *, as_json: bool) -> int:
    from tradepulse.emulator import VenueServer

    server = VenueServer(config)
    try:
        endpoints = await server.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc}); "
                          "pick another --port or use --port 0") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if config.host not in ("127.0.0.1", "::1", "localhost"):
        # The control API has no authentication: anyone who reaches the port can steer the venue.
        print(f"tradepulse: warning: listening on {config.host}; the venue and its /_control API are reachable "
              "from other machines", file=sys.stderr, flush=True)
    key = config.accounts[0].api_key if config.accounts else None
    fee_asset = config.accounts[0].fee_asset if config.accounts else None
    fixed = {f"{asset}USDT": str(price) for asset, price in config.fee_asset_prices.items()}
    urls = {"rest": endpoints.rest_url, "ws_market": endpoints.ws_market_url, "ws_api": endpoints.ws_api_url,
            "ws_combined": endpoints.ws_combined_url, "control": endpoints.control_url}
    if as_json:
        print(json.dumps({**urls, "api_key": key, "symbols": list(config.symbols), "speed": config.speed,
                          "fee_asset": fee_asset, "fixed_price_markets": fixed}), flush=True)
    else:
        listed = "".join(f"; {symbol} fixed at {price} USDT" for symbol, price in fixed.items())
        print(f"TradePulse venue: Binance spot emulator replaying {', '.join(config.symbols)} at {config.speed:g}x"
              f"{listed}", flush=True)
        for label, name in (("REST", "rest"), ("WS market", "ws_market"), ("WS API", "ws_api"),
                            ("control", "control")):
            print(f"  {label:<10} {urls[name]}", flush=True)
        paying = f", fees in {fee_asset}" if fee_asset else ""
        print(f"  account    {key + ' (secret not shown)' + paying if key else 'none: private endpoints answer -2015'}",
              flush=True)
        print("Stop with Ctrl-C.", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.stop()
    print("tradepulse: venue stopped", file=sys.stderr, flush=True)
    return 0
