"""``tradepulse backtest | sweep | walkforward | strategies``: research commands on the backtest engine.

One plain source is one symbol's backtest. Several sources, a folder or ``universe:<name>`` form a
universe (members on one clock, :func:`~tradepulse.data.universe.load_universe`) backtested as a
portfolio with one shared cash account; so does one source with a portfolio strategy.

vectorbt takes seconds to import, so it (and everything built on it) is imported inside the
handlers: ``tradepulse --help`` and unrelated commands stay fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tradepulse.cli._common import add_json_flag, parse_key_values, print_json
from tradepulse.errors import ConfigError

_SOURCE_HELP = (
    "sample:<name> (see `tradepulse data list`) or a CSV, CSV.gz or Parquet file; several sources, a folder "
    "of data files or universe:<name> form a universe backtested as one portfolio"
)
_UNIVERSE_PREFIX = "universe:"
_PORTFOLIO_NOTE = (
    "Over a universe the members share one cash account: weights decided at a close are rebalanced at the next\n"
    "open for the members whose weight changed, sells before buys."
)
_STRATEGY_HELP = "built-in name (see `tradepulse strategies`), package.module:Class, or path/to/file.py[:Class]"
_FILL_NOTE = "Signals are computed at each bar's close and filled at the next bar's open; orders only when the target changes."


def register(subparsers: argparse._SubParsersAction) -> None:
    backtest = subparsers.add_parser(
        "backtest",
        help="backtest a strategy on a data source",
        description=f"Backtest one strategy with one parameter set.\n\n{_FILL_NOTE}\n{_PORTFOLIO_NOTE}",
        epilog=(
            "Examples:\n"
            "  tradepulse backtest sample:binance:BTC/USDT:1h --strategy sma_cross -p fast=10 -p slow=30\n"
            "  tradepulse backtest bars.csv.gz --strategy my_strategies.py:Breakout --slippage-model range \\\n"
            "      --report report.html --json\n"
            "  tradepulse backtest universe:binance-usdt-4h --strategy momentum -p lookback=30 -p top=2 --report momentum.html\n"
            "  tradepulse backtest data/4h/ --strategy sma_cross --align strict --json\n"
            "  tradepulse backtest eth.csv btc.csv --symbol eth.csv=ETH/USDT --symbol btc.csv=BTC/USDT --strategy pairs"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(backtest)
    backtest.add_argument("--report", metavar="FILE", help="also write a self-contained HTML report to FILE")
    backtest.add_argument("--no-check", action="store_true",
                          help="skip the quick lookahead and finite-memory checks of a strategy of your own")
    add_json_flag(backtest)
    backtest.set_defaults(handler=_backtest)

    sweep = subparsers.add_parser(
        "sweep",
        help="backtest every combination of a parameter grid",
        description=(
            "Backtest every combination of a parameter grid in vectorised, memory-bounded chunks and rank them.\n"
            "Combinations breaking a strategy rule (e.g. fast >= slow, or more members than the universe has)\n"
            "are skipped and counted.\n\n" + _FILL_NOTE + "\n" + _PORTFOLIO_NOTE
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse sweep sample:binance:BTC/USDT:1h --strategy sma_cross -g fast=5:50:5 -g slow=60,120,240\n"
            "  tradepulse sweep sample:binance:BTC/USDT-PERP:5m --strategy mean_reversion \\\n"
            "      -g window=20,50 -g entry_z=1.5:3:0.5 --metric calmar --top 5 --json\n"
            "  tradepulse sweep universe:bittrex-btc-5m --strategy momentum -g lookback=12:288:12 -g top=1,2,3\n"
            "  tradepulse sweep sample:binance:BTC/USDT-PERP:5m --strategy sma_cross -g fast=2:60:2 -g slow=80:400:20 --dask local\n"
            "  tradepulse sweep bars.parquet --strategy sma_cross -g fast=2:60:2 -g slow=80:400:20 --dask tcp://scheduler.example:8786"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(sweep)
    _add_grid_options(sweep)
    sweep.add_argument("--top", type=int, default=10, metavar="N", help="show the best N combinations (default 10)")
    sweep.add_argument(
        "--memory-budget-mb", type=int, default=2048, metavar="MB",
        help="memory a chunk of combinations may use; sets the chunk size (default 2048)",
    )
    _add_dask_options(sweep)
    add_json_flag(sweep)
    sweep.set_defaults(handler=_sweep)

    walkforward = subparsers.add_parser(
        "walkforward",
        help="walk-forward optimisation over rolling train/test windows",
        description=(
            "Pick parameters on each training window by --metric, trade them on the test window that follows,\n"
            "and report per-fold results and the stitched out-of-sample equity's statistics.\n\n" + _FILL_NOTE
            + "\n" + _PORTFOLIO_NOTE
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse walkforward sample:binance:BTC/USDT-PERP:5m --strategy sma_cross \\\n"
            "      -g fast=5:20:5 -g slow=50,100 --train 3000 --test 1000 --json\n"
            "  tradepulse walkforward universe:binance-usdt-4h --strategy momentum -g lookback=6:48:6 --train 200 --test 100\n"
            "  tradepulse walkforward sample:binance:BTC/USDT-PERP:5m --strategy sma_cross -g fast=5:40:5 -g slow=50:300:50 \\\n"
            "      --train 3000 --test 1000 --dask local --dask-workers 2"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(walkforward)
    _add_grid_options(walkforward)
    walkforward.add_argument("--train", type=int, required=True, metavar="BARS", help="bars in each training window")
    walkforward.add_argument("--test", type=int, required=True, metavar="BARS", help="bars in each test window")
    walkforward.add_argument("--anchored", action="store_true", help="grow the training window from the first bar")
    _add_dask_options(walkforward)
    add_json_flag(walkforward)
    walkforward.set_defaults(handler=_walkforward)



def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help=_SOURCE_HELP)
    parser.add_argument("--strategy", "-s", required=True, metavar="NAME", help=_STRATEGY_HELP)
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE",
        help="strategy parameter (repeatable), e.g. -p fast=10",
    )
    parser.add_argument("--start", help="first bar to use (inclusive; any date/time, UTC when naive)")
    parser.add_argument("--end", help="last bar to use (inclusive)")
    parser.add_argument("--fees-bps", type=float, default=10.0, metavar="BPS", help="fee per fill in basis points (default 10)")
    slippage = parser.add_mutually_exclusive_group()
    slippage.add_argument("--slippage-bps", type=float, metavar="BPS", help="fixed slippage per fill in basis points (default 0)")
    slippage.add_argument(
        "--slippage-model", choices=["fixed", "range"], default="fixed",
        help="'range': base + impact * bar range * sqrt(participation), see docs/backtesting.md",
    )
    parser.add_argument("--slippage-base-bps", type=float, default=1.0, metavar="BPS", help="range model: floor per fill (default 1)")
    parser.add_argument("--slippage-impact", type=float, default=1.0, metavar="K", help="range model: impact multiplier (default 1)")
    parser.add_argument("--init-cash", type=float, default=10_000.0, metavar="CASH", help="starting equity (default 10000)")
    parser.add_argument(
        "--symbol", action="append", default=[], metavar="FILE=SYMBOL",
        help="a universe member's symbol when its data and file name do not give it (repeatable)",
    )
    parser.add_argument(
        "--align", choices=["intersect", "strict"], default="intersect",
        help="universes: keep the timestamps every member has (intersect, default) or refuse any gap (strict)",
    )


def _add_grid_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-g", "--grid", action="append", default=[], metavar="KEY=VALUES",
        help="grid axis (repeatable): a list fast=5,10,20 or an inclusive range fast=5:50:5",
    )
    parser.add_argument("--metric", default="sharpe", help="statistic to rank by, higher is better (default sharpe)")
    parser.add_argument(
        "--max-combinations", type=int, default=100_000, metavar="N",
        help="refuse grids larger than this (default 100000)",
    )


def _add_dask_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dask", metavar="local|tcp://HOST:PORT",
        help="run on Dask: 'local' starts worker processes on this machine, tcp://HOST:PORT uses a running "
             "scheduler (`dask scheduler`, `dask worker`); results are identical to the default single-process run",
    )
    parser.add_argument("--dask-workers", type=int, metavar="N", help="--dask local: worker processes (default: one per core)")
    parser.add_argument(
        "--dask-worker-memory-mb", type=int, metavar="MB",
        help="--dask local: memory limit of each worker (default 4096); a task's chunking budget is at most half of it",
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr even when it is not a terminal")


def _dask_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run's Dask keywords, checked before any data is read."""
    from tradepulse.backtest.dask_backend import check_dask_options

    memory = args.dask_worker_memory_mb * 1024**2 if args.dask_worker_memory_mb is not None else None
    check_dask_options(args.dask, args.dask_workers, memory)
    return {"dask": args.dask, "dask_workers": args.dask_workers, "dask_worker_memory": memory}


def _costs(args: argparse.Namespace) -> Any:
    from tradepulse.backtest import Costs, FixedSlippage, RangeSlippage

    if args.slippage_model == "range":
        slippage = RangeSlippage(base_bps=args.slippage_base_bps, impact=args.slippage_impact)
    else:
        slippage = FixedSlippage(args.slippage_bps if args.slippage_bps is not None else 0.0)
    return Costs(fees_bps=args.fees_bps, slippage=slippage)


def _load(args: argparse.Namespace) -> Any:
    from tradepulse.data import load_bars

    return load_bars(args.sources[0], start=args.start, end=args.end)


def _is_universe(args: argparse.Namespace, cls: Any) -> bool:
    """True when the sources form a universe: several, a folder, ``universe:<name>``, or a portfolio strategy."""
    from tradepulse.strategy import PortfolioStrategy

    source = args.sources[0]
    if len(args.sources) > 1 or source.startswith(_UNIVERSE_PREFIX) or issubclass(cls, PortfolioStrategy):
        return True
    if ":" not in source and Path(source).expanduser().is_dir():
        return True
    if args.symbol:
        raise ConfigError("--symbol names members of a universe; give several sources, a folder or universe:<name>")
    return False


def _load_universe(args: argparse.Namespace, cls: Any) -> Any:
    """Load the sources as a universe, check the strategy can run over it, and print alignment notes."""
    from tradepulse.data.universe import load_universe
    from tradepulse.strategy import PortfolioStrategy

    overrides = parse_key_values(args.symbol, "--symbol")
    universe = load_universe(args.sources, symbols=overrides, align=args.align, start=args.start, end=args.end)
    if issubclass(cls, PortfolioStrategy):
        count = len(universe.symbols)
        low, high = cls.min_symbols, cls.max_symbols
        if count < low or (high is not None and count > high):
            wanted = f"exactly {low}" if high == low else f"at least {low}" + (f" and at most {high}" if high else "")
            raise ConfigError(
                f"{cls.name} needs {wanted} symbols, got {count} ({', '.join(universe.symbols)}); "
                "give one source per member, a folder or universe:<name>"
            )
    if not args.json:
        for line in universe.alignment.lines():
            print(f"note: {line}", file=sys.stderr)
    return universe


def _universe_line(universe: Any) -> str:
    return f"{len(universe.symbols)} symbols ({', '.join(universe.symbols)})"


def _backtest(args: argparse.Namespace) -> int:
    from tradepulse.strategy import load_strategy

    # Check everything the user typed before importing vectorbt (seconds) or reading data.
    cls = load_strategy(args.strategy)
    strategy = cls.from_strings(parse_key_values(args.param, "-p"))
    costs = _costs(args)
    if _is_universe(args, cls):
        return _backtest_universe(args, cls, strategy, costs)
    bars = _load(args)
    from tradepulse.backtest import run_backtest

    result = run_backtest(bars, strategy, costs=costs, init_cash=args.init_cash)
    if not args.no_check:
        _warn_about_traps(strategy, bars, args)
    report = result.to_html(args.report) if args.report else None
    if args.json:
        print_json({"source": args.sources[0], **result.to_dict(), "report": str(report) if report else None})
        return 0
    print(f"{strategy!r} on {args.sources[0]}")
    print(result.summary())
    if report:
        print(f"report written to {report}")
    return 0


def _backtest_universe(args: argparse.Namespace, cls: Any, strategy: Any, costs: Any) -> int:
    universe = _load_universe(args, cls)
    from tradepulse.backtest import run_portfolio_backtest

    result = run_portfolio_backtest(universe, strategy, costs=costs, init_cash=args.init_cash)
    if not args.no_check and getattr(strategy, "is_portfolio", False):
        _warn_about_traps(strategy, universe, args)
    report = result.to_html(args.report) if args.report else None
    if args.json:
        print_json({"sources": args.sources, **result.to_dict(), "report": str(report) if report else None})
        return 0
    print(f"{strategy!r} over {_universe_line(universe)}, one shared cash account")
    print(result.summary())
    if report:
        print(f"report written to {report}")
    return 0


def _grid_inputs(args: argparse.Namespace) -> tuple[Any, dict[str, list[Any]], dict[str, Any]]:
    from tradepulse.strategy import load_strategy

    cls = load_strategy(args.strategy)
    raw_grid = parse_key_values(args.grid, "-g")
    if not raw_grid:
        raise ConfigError("give at least one grid axis, e.g. -g fast=5:50:5")
    if args.max_combinations < 1:
        raise ConfigError("--max-combinations must be at least 1")
    grid = cls.parse_grid(raw_grid)
    fixed = cls.parse_params(parse_key_values(args.param, "-p"))
    return cls, grid, fixed


def _sweep(args: argparse.Namespace) -> int:
    from tradepulse.backtest import run_sweep

    if args.top < 1:
        raise ConfigError("--top must be at least 1")
    if args.memory_budget_mb < 1:
        raise ConfigError("--memory-budget-mb must be at least 1")
    cls, grid, fixed = _grid_inputs(args)
    costs = _costs(args)
    dask = _dask_options(args)
    universe = _load_universe(args, cls) if _is_universe(args, cls) else None
    result = run_sweep(
        universe if universe is not None else _load(args),
        cls,
        grid,
        fixed_params=fixed,
        costs=costs,
        init_cash=args.init_cash,
        metric=args.metric,
        memory_budget_bytes=args.memory_budget_mb * 1024**2,
        max_combinations=args.max_combinations,
        progress=args.progress or sys.stderr.isatty(),
        **dask,
    )
    if args.json:
        print_json({**_source_payload(args, universe), **result.to_dict(top=args.top)})
        return 0
    skipped = f", {result.skipped} skipped" if result.skipped else ""
    print(f"{cls.name} {_where(args, universe)}: {len(result.table)} combinations{skipped}, ranked by {args.metric}")
    columns = [*grid, "total_return", "sharpe", "max_drawdown", "trades"]
    if universe is not None:
        columns.append("turnover")
    if args.metric not in columns:
        columns.append(args.metric)
    print(result.top(args.top)[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _walkforward(args: argparse.Namespace) -> int:
    from tradepulse.backtest import run_walkforward
    from tradepulse.backtest.result import format_stats

    cls, grid, fixed = _grid_inputs(args)
    costs = _costs(args)
    dask = _dask_options(args)
    universe = _load_universe(args, cls) if _is_universe(args, cls) else None
    result = run_walkforward(
        universe if universe is not None else _load(args),
        cls,
        grid,
        train_bars=args.train,
        test_bars=args.test,
        metric=args.metric,
        anchored=args.anchored,
        fixed_params=fixed,
        costs=costs,
        init_cash=args.init_cash,
        max_combinations=args.max_combinations,
        progress=args.progress or sys.stderr.isatty(),
        **dask,
    )
    if args.json:
        print_json({**_source_payload(args, universe), **result.to_dict()})
        return 0
    print(f"{cls.name} {_where(args, universe)}: {len(result.folds)} folds of {args.train} train / {args.test} test bars")
    columns = ["fold", "test_start", *grid, f"in_sample_{args.metric}", "total_return", "sharpe", "trades"]
    print(result.folds[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nout of sample:")
    print(format_stats(result.stats))
    return 0


def _where(args: argparse.Namespace, universe: Any) -> str:
    return f"over {_universe_line(universe)}" if universe is not None else f"on {args.sources[0]}"


def _source_payload(args: argparse.Namespace, universe: Any) -> dict[str, Any]:
    if universe is None:
        return {"source": args.sources[0]}
    return {"sources": args.sources, "alignment": universe.alignment.to_dict()}


def _warn_about_traps(strategy: Any, data: Any, args: argparse.Namespace) -> None:
    """A strategy of the user's own that reads later bars or outgrows its warm-up gets a warning, not silence.

    A backtest of ``close.shift(-1)`` reports +71%; one whose indicators need more history than
    ``warmup_bars`` never trades live. The two quick checks say so on stderr; the built-ins are
    tested to pass them and are not checked again.
    """
    from tradepulse.checks import StrategyFailed, check
    from tradepulse.strategy import BUILTIN_STRATEGIES

    if type(strategy) in BUILTIN_STRATEGIES.values():
        return
    try:
        report = check(strategy, data, checks=("lookahead", "finite_memory"))
    except StrategyFailed:
        return  # the backtest ran; the strategy fails only on a cut history, which the full check reports
    sources = " ".join(args.sources)
    for result in report.checks:
        if not result.passed:
            print(f"warning: {result.name}: {result.detail} (`tradepulse check {args.strategy} {sources}` "
                  "has the full report; --no-check skips this)", file=sys.stderr)
