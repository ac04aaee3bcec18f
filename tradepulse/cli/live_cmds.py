"""``tradepulse live replay``: run a strategy through the live engine offline, against the paper venue.

The replay uses the same strategy class, cost model and fill convention as ``tradepulse
backtest``, so its ``--json`` output can be compared with the backtest's fill by fill. Heavy
modules are imported inside the handler: ``--help`` and bad input stay fast.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradepulse.cli import service_cmds
from tradepulse.cli._common import add_json_flag, parse_key_values, print_json
from tradepulse.errors import ConfigError

_SOURCE_HELP = (
    "bars: sample:<name> (see `tradepulse data list`) or a CSV, CSV.gz or Parquet file; "
    "ticks: recording:binance:BTC/USDT, recording:binance:ETH/USDT or a recorded .jsonl.gz stream; "
    "several sources, a folder or universe:<name> replay a universe through the portfolio engine"
)
_FILL_NOTE = (
    "Each bar's target is decided at its close and filled at the next available price (the next bar's open\n"
    "when replaying bars, the next trade when replaying ticks); orders only when the target changes. With the\n"
    "same costs, the fills match `tradepulse backtest` (quantities to 1e-8, prices within the cost model)."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    live = subparsers.add_parser(
        "live",
        help="the live engine: offline replay, and start/stop/inspect/control the live service",
        description="The live engine: feed -> bars -> strategy -> risk gate -> OMS -> venue, journaled to SQLite.",
    )
    commands = live.add_subparsers(dest="live_command", metavar="SUBCOMMAND")
    commands.required = True
    replay = commands.add_parser(
        "replay",
        help="replay bars or recorded ticks through the engine and the paper venue",
        description=f"Replay a data source through the live engine against the paper venue and print fills and P&L.\n\n{_FILL_NOTE}",
        epilog=(
            "Examples:\n"
            "  tradepulse live replay sample:binance:BTC/USDT:1h --strategy sma_cross -p fast=10 -p slow=30 --json\n"
            "  tradepulse live replay recording:binance:BTC/USDT --strategy sma_cross -p fast=3 -p slow=8 --bar 10s \\\n"
            "      --journal replay.sqlite --latency-ms 50\n"
            "  tradepulse live replay sample:binance:BTC/USDT-PERP:5m --strategy mean_reversion --speed 600\n"
            "  tradepulse live replay universe:binance-usdt-4h --strategy momentum -p top=2 --json\n"
            "  tradepulse live replay data/binance_BTC-USDT_4h.csv.gz data/binance_ETH-USDT_4h.csv.gz --strategy pairs"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument("source", nargs="+", help=_SOURCE_HELP)
    replay.add_argument("--strategy", "-s", required=True, metavar="NAME", help="built-in name, package.module:Class, or path/to/file.py[:Class]")
    replay.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter (repeatable)")
    replay.add_argument("--speed", default="max", metavar="max|X", help="'max' (default) replays as fast as possible; X paces at X times real time")
    replay.add_argument("--journal", metavar="FILE", help="journal every event to this new SQLite file (default: a temporary file)")
    replay.add_argument("--durability", choices=["fast", "full"], default="fast", help="journal durability (default fast; full = synchronous=FULL)")
    replay.add_argument("--start", help="first bar to replay (bar sources; inclusive, UTC when naive)")
    replay.add_argument("--end", help="last bar to replay (bar sources; inclusive)")
    replay.add_argument("--bar", default="1m", metavar="PERIOD", help="bar length built from ticks, e.g. 10s, 1m (default 1m)")
    replay.add_argument(
        "--symbol", action="append", default=[], metavar="SYMBOL|FILE=SYMBOL",
        help="symbol of a bar file (samples and recordings know theirs); FILE=SYMBOL names one member of a universe (repeatable)",
    )
    replay.add_argument("--align", choices=["intersect", "strict"], default="intersect",
                        help="a universe's alignment policy: drop timestamps a member lacks (default) or refuse them")
    replay.add_argument("--fees-bps", type=float, default=10.0, metavar="BPS", help="maker and taker fee in basis points (default 10)")
    slippage = replay.add_mutually_exclusive_group()
    slippage.add_argument("--slippage-bps", type=float, metavar="BPS", help="fixed slippage for fills priced from bars (default 0)")
    slippage.add_argument("--slippage-model", choices=["fixed", "range"], default="fixed", help="'range': the backtest's bar-range model")
    replay.add_argument("--slippage-base-bps", type=float, default=1.0, metavar="BPS", help="range model: floor per fill (default 1)")
    replay.add_argument("--slippage-impact", type=float, default=1.0, metavar="K", help="range model: impact multiplier (default 1)")
    replay.add_argument("--init-cash", type=float, default=10_000.0, metavar="CASH", help="starting quote balance (default 10000)")
    replay.add_argument("--latency-ms", type=float, default=0.0, metavar="MS", help="paper venue latency in simulated milliseconds (default 0)")
    replay.add_argument("--latency-jitter-ms", type=float, default=0.0, metavar="MS", help="uniform random extra latency (default 0)")
    replay.add_argument("--seed", type=int, default=0, help="seed of the latency jitter (default 0)")
    replay.add_argument("--risk", metavar="FILE", help="TOML file whose [risk] table sets the risk limits (docs/risk.md)")
    replay.add_argument("--no-short", action="store_true", help="a cash account: sells cannot exceed the base balance")
    add_json_flag(replay)
    replay.set_defaults(handler=_replay)
    service_cmds.register_live_service(commands)


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise ConfigError(f"--speed expects 'max' or a positive number, got {text!r}") from None
    if not speed > 0 or speed == float("inf"):
        raise ConfigError(f"--speed expects 'max' or a positive number, got {text!r}")
    return speed


def _risk_limits(path: str | None) -> Any:
    if path is None:
        return None
    from tradepulse.risk import RiskLimits

    try:
        document = tomllib.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--risk: {path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"--risk: {path} is not a readable TOML file ({error})") from None
    table = document.get("risk")
    if not isinstance(table, dict):
        raise ConfigError(f"--risk: {path} has no [risk] table")
    return RiskLimits.from_mapping(table)


def _is_universe(args: argparse.Namespace, strategy: Any) -> bool:
    from tradepulse.strategy.portfolio import PortfolioStrategy

    single = args.source[0]
    return (
        len(args.source) > 1
        or single.startswith("universe:")
        or Path(single).expanduser().is_dir()
        or isinstance(strategy, PortfolioStrategy)
        or any("=" in symbol for symbol in args.symbol)
    )


def _replay(args: argparse.Namespace) -> int:
    from tradepulse.adapters.paper.feeds import BarReplayFeed, open_feed
    from tradepulse.live.bars import parse_period
    from tradepulse.live.replay import run_replay
    from tradepulse.model.costs import Costs, FixedSlippage, RangeSlippage
    from tradepulse.sim.market import LatencyModel
    from tradepulse.strategy import load_strategy

    # Check everything typed before reading data.
    strategy = load_strategy(args.strategy).from_strings(parse_key_values(args.param, "-p"))
    speed = _speed(args.speed)
    period = parse_period(args.bar)
    if args.slippage_model == "range":
        slippage: Any = RangeSlippage(base_bps=args.slippage_base_bps, impact=args.slippage_impact)
    else:
        slippage = FixedSlippage(args.slippage_bps if args.slippage_bps is not None else 0.0)
    costs = Costs(fees_bps=args.fees_bps, slippage=slippage)
    latency = LatencyModel(fixed_ms=args.latency_ms, jitter_ms=args.latency_jitter_ms, seed=args.seed)
    limits = _risk_limits(args.risk)
    if args.journal and Path(args.journal).exists() and Path(args.journal).stat().st_size > 0:
        raise ConfigError(f"--journal {args.journal} already exists; a replay journals into a new file")
    if _is_universe(args, strategy):
        return _replay_universe(args, strategy, costs=costs, speed=speed, period=period, latency=latency, limits=limits)
    if len(args.symbol) > 1:
        raise ConfigError("--symbol names one symbol for one source; for a universe use --symbol FILE=SYMBOL per member")
    source = args.source[0]
    feed = open_feed(source, symbol=args.symbol[0] if args.symbol else None, start=args.start, end=args.end)
    progress = _progress(len(feed) if isinstance(feed, BarReplayFeed) else None)
    try:
        report = run_replay(
            feed, strategy, costs=costs, init_cash=args.init_cash, speed=speed, journal_path=args.journal,
            durability=args.durability, latency=latency, bar_period=period, risk_limits=limits,
            allow_short=not args.no_short, on_event=progress.update if progress else None,
        )
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        # The fills and trades are written one at a time: a long replay has tens of thousands.
        summary, lists = report.to_json_parts()
        print_json(_iso_times({"source": source, **summary}),
                   streamed={key: map(_iso_times, items) for key, items in lists.items()})
        return 0
    print(f"{strategy!r} on {source} through the live engine (paper venue, {args.fees_bps:g} bps fees)")
    print("\n".join(report.summary_lines()))
    if args.journal:
        print(f"journal written to {args.journal}")
    return 0


def _replay_universe(args: argparse.Namespace, strategy: Any, **options: Any) -> int:
    """Several sources (or a folder, or ``universe:<name>``) through the portfolio engine."""
    from tradepulse.live.portfolio_replay import run_portfolio_replay

    overrides = {}
    for text in args.symbol:
        file, equals, symbol = text.partition("=")
        if not equals or not file or not symbol:
            raise ConfigError(f"--symbol {text!r}: with several sources, name each member as FILE=SYMBOL")
        overrides[file] = symbol
    progress = _progress(None)
    try:
        report = run_portfolio_replay(
            args.source, strategy, costs=options["costs"], init_cash=args.init_cash, speed=options["speed"],
            journal_path=args.journal, durability=args.durability, latency=options["latency"], bar_period=options["period"],
            risk_limits=options["limits"], allow_short=not args.no_short, symbols=overrides, align=args.align,
            start=args.start, end=args.end, on_event=progress.update if progress else None,
        )
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print_json(_iso_times({"sources": list(args.source), **report.to_dict()}))
        return 0
    print(f"{strategy!r} on {', '.join(report.symbols)} through the portfolio engine (paper venue, {args.fees_bps:g} bps fees)")
    print("\n".join(report.summary_lines()))
    if args.journal:
        print(f"journal written to {args.journal}")
    return 0


def _iso_times(value: Any) -> Any:
    """Datetimes as ISO-8601 UTC text with ``Z``, like ``tradepulse backtest --json`` prints them."""
    if isinstance(value, dict):
        return {key: _iso_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso_times(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


class _Progress:
    """A tqdm bar counting replayed events (only on a terminal)."""

    def __init__(self, total: int | None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="event", file=sys.stderr, mininterval=0.5, leave=False)

    def update(self, _event: object) -> None:
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def _progress(total: int | None) -> _Progress | None:
    return _Progress(total) if sys.stderr.isatty() else None
