"""``tradepulse trials crash``: kill -9 the live service at random moments and prove it recovers.

See :mod:`tradepulse.service.trials` for what one trial set does and checks.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tradepulse.cli._common import add_json_flag, print_json
from tradepulse.errors import ConfigError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    trials = subparsers.add_parser(
        "trials",
        help="crash trials of the live service against the local venue",
        description="Resilience trials that run real processes: the local venue, the service, kill -9.",
    )
    commands = trials.add_subparsers(dest="trials_command", metavar="SUBCOMMAND")
    commands.required = True
    crash = commands.add_parser(
        "crash",
        help="kill -9 the trading service N times with venue faults on, warm-start it, audit against the venue",
        description=(
            "Start the local venue and the service (ccxt), let it trade, kill -9 it at a random moment with a\n"
            "venue fault injected, warm-start it, repeat; then stop gracefully and audit with ccxt: no duplicate\n"
            "orders at the venue, no lost or doubled fills, position equal to the venue balance. Exit 1 on any miss."
        ),
        epilog="Examples:\n  tradepulse trials crash --runs 20 --seed 7 --work artifacts/crash-trials\n"
               "  tradepulse trials crash --runs 10 --portfolio",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    crash.add_argument("--runs", type=int, default=20, help="kill -9 / warm start cycles (default 20)")
    crash.add_argument("--seed", type=int, default=1, help="seed of the kill times and faults (default 1)")
    crash.add_argument("--min-seconds", type=float, default=2.0, help="shortest trading time before a kill (default 2)")
    crash.add_argument("--max-seconds", type=float, default=7.0, help="longest trading time before a kill (default 7)")
    crash.add_argument("--portfolio", action="store_true",
                       help="host one portfolio strategy over BTC/USDT and ETH/USDT instead of one strategy on BTC/USDT")
    crash.add_argument("--work", metavar="DIR", help="new directory for state, logs and the journal (default: a temporary one)")
    add_json_flag(crash)
    crash.set_defaults(handler=_crash)


def _crash(args: argparse.Namespace) -> int:
    from tradepulse.service.trials import run_crash_trials

    if args.runs < 1:
        raise ConfigError("--runs must be at least 1")
    if not 0 < args.min_seconds <= args.max_seconds:
        raise ConfigError("--min-seconds must be positive and not above --max-seconds")
    if args.work and Path(args.work).exists() and any(Path(args.work).iterdir()):
        raise ConfigError(f"--work {args.work} is not empty; trials start from nothing")
    say = (lambda _line: None) if args.json else (lambda line: print(line, flush=True))
    with tempfile.TemporaryDirectory(prefix="tradepulse-trials-") as scratch:
        work = Path(args.work) if args.work else Path(scratch)
        report = run_crash_trials(work, runs=args.runs, seed=args.seed, min_seconds=args.min_seconds,
                                  max_seconds=args.max_seconds, say=say, portfolio=args.portfolio)
    if args.json:
        print_json(report.to_dict())
    else:
        verdict = "PASSED" if report.ok else "FAILED"
        print(f"crash trials {verdict}: {report.runs} kills, {len(report.reconciliations)} warm starts reconciled")
        for problem in report.problems:
            print(f"  - {problem}")
    return 0 if report.ok else 1
