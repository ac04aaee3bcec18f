"""``tradepulse data``: list the embedded datasets and validate any data source."""

from __future__ import annotations

import argparse
from pathlib import Path

from tradepulse.cli._common import add_json_flag, parse_key_values, print_json
from tradepulse.data import (
    UNIVERSES,
    format_timeframe,
    get_universe,
    list_samples,
    read_bars_unchecked,
    validate_bars,
    validate_universe,
)
from tradepulse.data.calendars import AUTO, FROM_DATA, resolve_calendar_name
from tradepulse.data.samples import UNIVERSE_PREFIX
from tradepulse.data.universe import ALIGNMENT_POLICIES
from tradepulse.data.validate import INFERRED
from tradepulse.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser(
        "data",
        help="list embedded datasets, validate data sources",
        description="Work with market data sources: embedded samples (sample:<name>) and CSV/CSV.gz/Parquet files.",
    )
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    commands.required = True

    listing = commands.add_parser(
        "list",
        help="show the embedded real datasets and universes",
        description=(
            "Show the real market datasets shipped with TradePulse, with their provenance, and the named\n"
            "universes (universe:<name>) made of them."
        ),
        epilog="Example: tradepulse data list --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_json_flag(listing)
    listing.set_defaults(handler=_list)

    validate = commands.add_parser(
        "validate",
        help="data-quality report for a source or a universe",
        description=(
            "Check a data source for gaps (against its inferred timeframe and a trading calendar: an exchange's\n"
            "sessions for stock-like daily bars or with --calendar, else the calendar inferred from the bars),\n"
            "duplicated and out-of-order timestamps, NaNs, non-positive prices, inconsistent OHLC, stale runs,\n"
            "outlier returns and suspected unadjusted splits.\n\n"
            "Several sources, a folder of data files or universe:<name> are a universe: each member is checked,\n"
            "then how the members align on one clock (see docs/data.md); a universe that cannot be aligned\n"
            "(mixed timeframes, no overlap) is an error of the universe.\n\n"
            "Exit codes: 0 no errors (warnings allowed), 1 errors found (or warnings with --strict),\n"
            "2 a source could not be read."
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse data validate sample:binance:BTC/USDT:1h\n"
            "  tradepulse data validate my_bars.csv.gz --json\n"
            "  tradepulse data validate sample:yahoo:XLK:1d --calendar XNYS\n"
            "  tradepulse data validate universe:spdr-sectors-1d\n"
            "  tradepulse data validate data/ --symbol prices_a.csv=ETH/USDT --align strict"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument(
        "sources", nargs="+", metavar="SOURCE",
        help="sample:<name>, cache:<exchange>:<symbol>:<timeframe>, a CSV, CSV.gz or Parquet file, a folder of them, "
             "or universe:<name>",
    )
    validate.add_argument(
        "--symbol", action="append", metavar="FILE=SYMBOL",
        help="for a universe: the symbol of a file whose data and name do not tell it (repeatable)",
    )
    validate.add_argument(
        "--align", choices=ALIGNMENT_POLICIES, default="intersect",
        help="for a universe: intersect (default; timestamps a member lacks are dropped, a warning) or strict (an error)",
    )
    validate.add_argument(
        "--strict", action="store_true",
        help="treat warnings (gaps, stale runs, outliers, suspected splits, timestamps a universe drops) as errors",
    )
    validate.add_argument("--stale-bars", type=int, default=24, help="unchanged-close run length reported as stale (default 24)")
    validate.add_argument("--outlier-z", type=float, default=12.0, help="robust z-score above which a return is an outlier (default 12)")
    validate.add_argument(
        "--calendar", default="auto", metavar="NAME",
        help="trading calendar gaps are counted against: an exchange such as XNYS, XLON, XTKS (exchange_calendars names "
             "and aliases), 'data' for the calendar inferred from the bars, or 'auto' (default: the exchange whose "
             "holidays explain stock-like daily bars, else inferred)",
    )
    add_json_flag(validate)
    validate.set_defaults(handler=_validate)

    download = commands.add_parser(
        "download",
        help="download exchange candles into the local Parquet cache (resumable)",
        description=(
            "Page through an exchange's candles with ccxt and store them in the local cache, one Parquet file per\n"
            "exchange, symbol and timeframe (see docs/data.md). Only what the cache lacks is fetched: run it again to\n"
            "resume an interrupted download or extend the range. The candle still open is never stored. The cache is a\n"
            "data source everywhere: cache:<exchange>:<symbol>:<timeframe> (or the file's path)."
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse data download --exchange binance --symbol BTC/USDT --timeframe 1m --since 2024-08-01 --until 2024-08-08\n"
            "  tradepulse backtest cache:binance:BTC/USDT:1m --strategy sma_cross"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    download.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    download.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
    download.add_argument("--timeframe", required=True, help="candle length as the exchange names it, e.g. 1m, 1h, 1d")
    download.add_argument("--since", required=True, help="first candle's time (inclusive), e.g. 2024-08-01 or 2024-08-01T12:00Z (UTC)")
    download.add_argument("--until", default=None, help="end of the range (exclusive; default: now)")
    download.add_argument("--cache-dir", default=None,
                          help="cache root (default: $TRADEPULSE_CACHE_DIR, else $XDG_CACHE_HOME/tradepulse, else ~/.cache/tradepulse)")
    download.add_argument("--exchange-url", default=None,
                          help="for testing: base URL of a Binance-compatible local venue, e.g. http://127.0.0.1:8765 "
                               "(default: $TRADEPULSE_<EXCHANGE>_URL, else the real exchange)")
    download.add_argument("--page-size", type=int, default=None, help="candles per request (default: the exchange's maximum)")
    download.add_argument("--checkpoint-pages", type=int, default=10, help="write the cache every N pages (default 10)")
    add_json_flag(download)
    download.set_defaults(handler=_download)


def _list(args: argparse.Namespace) -> int:
    samples = list_samples()
    if args.json:
        print_json(
            {
                "samples": [
                    {
                        "name": s.name,
                        "address": s.address,
                        "exchange": s.exchange,
                        "symbol": s.symbol,
                        "timeframe": s.timeframe,
                        "description": s.description,
                        "license": s.license,
                        "source": s.source,
                    }
                    for s in samples
                ],
                "universes": [_universe_entry(name) for name in UNIVERSES],
            }
        )
        return 0
    width = max(len(s.address) for s in samples)
    for s in samples:
        print(f"{s.address:<{width}}  {s.description}")
        print(f"{'':<{width}}  license: {s.license}; source: {s.source}")
    print()
    print("universes (several samples on one clock; sources and licenses in tradepulse/data/samples/universes/ATTRIBUTION.md):")
    entries = [_universe_entry(name) for name in UNIVERSES]
    width = max(len(e["address"]) for e in entries)
    for entry in entries:
        members = f"{len(entry['symbols'])} members, {entry['timeframe']}: {', '.join(entry['symbols'])}"
        print(f"{entry['address']:<{width}}  {members}")
    return 0


def _universe_entry(name: str) -> dict:
    members = get_universe(name)
    return {
        "name": name,
        "address": f"{UNIVERSE_PREFIX}{name}",
        "exchange": ", ".join(sorted({m.exchange for m in members})),
        "timeframe": ", ".join(sorted({m.timeframe for m in members})),
        "symbols": [m.symbol for m in members],
        "members": [m.address for m in members],
    }


def _is_universe(sources: list[str]) -> bool:
    """Several sources, a folder or a named universe are validated as a universe; one file or sample as itself."""
    if len(sources) > 1:
        return True
    source = sources[0]
    return source.startswith(UNIVERSE_PREFIX) or (":" not in source and Path(source).expanduser().is_dir())


def _validate(args: argparse.Namespace) -> int:
    if args.stale_bars < 2:
        raise ConfigError("--stale-bars must be at least 2")
    if args.outlier_z <= 0:
        raise ConfigError("--outlier-z must be positive")
    if args.calendar.strip().lower() not in (AUTO, FROM_DATA):
        resolve_calendar_name(args.calendar)  # a misspelt exchange is refused before any file is read
    if _is_universe(args.sources):
        return _validate_universe(args)
    if args.symbol:
        raise ConfigError("--symbol names the members of a universe; give several sources, a folder or universe:<name>")
    [source] = args.sources
    bars = read_bars_unchecked(source)
    report = validate_bars(bars, source=source, stale_bars=args.stale_bars, outlier_z=args.outlier_z, calendar=args.calendar)
    failed = not report.ok or (args.strict and bool(report.warnings))
    if args.json:
        payload = report.to_dict()
        payload["strict"] = args.strict
        payload["passed"] = not failed
        print_json(payload)
    else:
        _print_report(report)
        print("result: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0  # 1: the check ran and failed (2 is reserved for unreadable input)


def _validate_universe(args: argparse.Namespace) -> int:
    report = validate_universe(
        args.sources, symbols=parse_key_values(args.symbol, "--symbol"), align=args.align, calendar=args.calendar,
        stale_bars=args.stale_bars, outlier_z=args.outlier_z,
    )
    failed = not report.ok or (args.strict and bool(report.warnings))
    if args.json:
        payload = report.to_dict()
        payload["strict"] = args.strict
        payload["passed"] = not failed
        print_json(payload)
        return 1 if failed else 0
    print(f"universe:  {len(report.members)} member(s): {', '.join(m.symbol for m in report.members)}")
    for member in report.members:
        print()
        print(f"== {member.symbol}")
        _print_report(member.report)
    print()
    alignment = report.alignment
    if alignment is not None:
        print(
            f"alignment: {alignment.policy}, {format_timeframe(alignment.timeframe) or 'unknown'} clock, "
            f"{alignment.first.isoformat()} .. {alignment.last.isoformat()}: {alignment.kept} of {alignment.slots} "
            "timestamp(s) kept"
        )
        for line in alignment.lines():
            print(f"  {line}")
    for line in report.universe_errors:
        print(f"error:     universe: {line}")
    print("result: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


def _print_report(report) -> None:
    print(f"source:    {report.source}")
    print(f"rows:      {report.rows}")
    if report.rows:
        print(f"span:      {report.start.isoformat()} .. {report.end.isoformat()}")
    print(f"timeframe: {format_timeframe(report.timeframe) or 'unknown'} (calendar: {report.calendar})")
    if report.calendar_note and report.calendar_note != INFERRED:
        print(f"calendar:  {report.calendar_note}")
    for line in report.errors:
        print(f"error:     {line}")
    for line in report.warnings:
        print(f"warning:   {line}")
    for gap in report.gaps[:20]:
        print(f"  gap {gap.start.isoformat()} .. {gap.end.isoformat()} ({gap.missing_bars} missing bar(s))")
    if len(report.gaps) > 20:
        print(f"  ... and {len(report.gaps) - 20} more gap(s); --json lists them all")
    for row in report.duplicated_timestamps[:5]:
        print(f"  duplicated {row['timestamp'].isoformat()} x{row['occurrences']}")
    for row in report.out_of_order[:5]:
        print(f"  out of order at row {row['row']}: {row['timestamp'].isoformat()} after {row['previous'].isoformat()}")
    for row in report.ohlc_inconsistent[:5]:
        print(f"  OHLC {row['timestamp'].isoformat()}: {row['problem']}")
    for row in report.stale_runs[:5]:
        print(f"  stale {row['start'].isoformat()} .. {row['end'].isoformat()} ({row['bars']} bars at {row['close']})")
    for row in report.outlier_returns[:5]:
        print(f"  outlier {row['timestamp'].isoformat()}: return {row['ret']:+.4%} (robust z {row['robust_z']:+.1f})")
    for row in report.suspected_splits[:5]:
        print(
            f"  split? {row['timestamp'].isoformat()}: {row['ratio']} (open {row['open']:.6g} after close "
            f"{row['previous_close']:.6g}, {row['move']:+.1%})"
        )


def _download(args: argparse.Namespace) -> int:
    import sys

    from tradepulse.adapters.ccxt.download import download_ohlcv

    result = download_ohlcv(
        args.exchange, args.symbol, args.timeframe, args.since, args.until, cache_dir=args.cache_dir,
        exchange_url=args.exchange_url, page_size=args.page_size, checkpoint_pages=args.checkpoint_pages,
        progress=not args.json and sys.stderr.isatty(),
    )
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"{result.address}: {result.total_bars} bar(s) from {result.start.isoformat()} to {result.end.isoformat()} (end exclusive)")
    print(f"  fetched {result.fetched_bars} new bar(s) in {result.pages} page(s); {result.cached_before} were cached already")
    print(f"  file: {result.path}")
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0
