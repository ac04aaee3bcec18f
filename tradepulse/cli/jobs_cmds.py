"""``tradepulse jobs``: run parameterised notebooks, schedule them from jobs.toml, read their history.

Exit codes: 0 success; 1 a run failed, timed out or was cancelled (the command itself worked);
2 bad input (missing notebook, bad or undeclared parameter, invalid jobs.toml).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from tradepulse.cli._common import add_json_flag, print_json
from tradepulse.errors import ConfigError

RUN_DID_NOT_SUCCEED = 1
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(subparsers: argparse._SubParsersAction) -> None:
    jobs = subparsers.add_parser(
        "jobs",
        help="run, schedule and review parameterised notebook jobs",
        description=(
            "Parameterised notebooks as jobs: run one now with papermill, schedule many from a jobs.toml,\n"
            "read the history of past runs. Every run is archived (executed notebook + JSON sidecar).\n\n"
            "Exit codes: 0 success, 1 a run failed / timed out, 2 bad input."
        ),
        epilog="Walk-through: docs/jobs.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = jobs.add_subparsers(dest="jobs_command", metavar="SUBCOMMAND")
    commands.required = True
    _register_run(commands)
    _register_list(commands)
    _register_history(commands)
    _register_scheduler(commands)


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="FILE",
        help="job history SQLite file (default: $TRADEPULSE_STORE_DIR/jobs.sqlite, else .tradepulse/jobs.sqlite)",
    )


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="jobs.toml", metavar="FILE", help="jobs file (default: ./jobs.toml)")


def _register_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run one notebook now and archive it",
        description=(
            "Execute a notebook with papermill, injecting parameters after its 'parameters'-tagged cell, and\n"
            "archive the executed notebook as DIR/YYYY-MM-DD/<name>-<UTC stamp>-<id>.ipynb with a JSON sidecar.\n"
            "Values parse like papermill's -p: numbers, true/false, none, JSON lists/dicts, else strings.\n\n"
            "Exit codes: 0 succeeded, 1 failed / timed out (the archived notebook shows the error), 2 bad input."
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse jobs run notebooks/reports/backtest_report.ipynb -p strategy sma_cross \\\n"
            '      -p params \'{"fast": 10, "slow": 30}\' -p fees_bps 5 --timeout 600\n'
            "  tradepulse jobs run my_report.ipynb --output-dir runs --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("notebook", help="the .ipynb to run")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        dest="parameters",
        help="a parameter declared in the notebook's parameters cell (repeatable)",
    )
    run.add_argument("--output-dir", default="reports/jobs", metavar="DIR", help="archive root (default: reports/jobs)")
    run.add_argument(
        "--timeout", type=float, default=3600.0, metavar="SECONDS", help="limit for the whole run (default 3600)"
    )
    run.add_argument("--cell-timeout", type=float, metavar="SECONDS", help="limit for any single cell (default: none)")
    run.add_argument("--name", metavar="JOB", help="job name recorded for the run (default: the notebook's name)")
    run.add_argument("--kernel", default="python3", help="Jupyter kernel to run on (default: python3)")
    _add_store(run)
    run.add_argument("--no-history", action="store_true", help="do not record the run in the job history")
    add_json_flag(run)
    run.set_defaults(handler=_run)


def _register_list(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser(
        "list",
        help="show the jobs of a jobs.toml with their next run",
        description="Validate a jobs.toml and show each job: schedule, next run time, last result.",
        epilog="Examples:\n  tradepulse jobs list\n  tradepulse jobs list --config deploy/jobs.toml --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_config(listing)
    _add_store(listing)
    add_json_flag(listing)
    listing.set_defaults(handler=_list)


def _register_history(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser(
        "history",
        help="show past runs from the job history",
        description=(
            "Show past runs (newest first): job, start time (UTC), duration, status, archived notebook, error.\n"
            "Every attempt is a row; occurrences skipped by the overlap policy show as 'skipped'."
        ),
        epilog="Examples:\n  tradepulse jobs history\n  tradepulse jobs history btc_daily_report --limit 5 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    history.add_argument("name", nargs="?", help="only this job")
    history.add_argument("--limit", type=int, default=20, metavar="N", help="at most N rows (default 20)")
    _add_store(history)
    add_json_flag(history)
    history.set_defaults(handler=_history)


def _register_scheduler(commands: argparse._SubParsersAction) -> None:
    scheduler = commands.add_parser(
        "scheduler",
        help="run the jobs of a jobs.toml on their schedules",
        description=(
            "Run due jobs with retries, overlap policy and failure alerts. Without --once it keeps running,\n"
            "sleeping until the next job is due; SIGTERM or Ctrl-C stops it cleanly (running notebooks are\n"
            "interrupted and archived as 'cancelled'). A job never seen before first runs at its next cron\n"
            "time; occurrences missed while the scheduler was down are folded into one run.\n\n"
            "With --once: exit 0 if every run it started succeeded, 1 otherwise."
        ),
        epilog=(
            "Examples:\n"
            "  tradepulse jobs scheduler --config jobs.toml\n"
            "  tradepulse jobs scheduler --once            # e.g. from a system crontab every minute\n"
            "  tradepulse jobs scheduler --until 8h        # or --until 2026-11-23T18:00:00+01:00"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_config(scheduler)
    _add_store(scheduler)
    mode = scheduler.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run what is due now, wait for it, exit")
    mode.add_argument(
        "--until",
        metavar="WHEN",
        help="stop at an ISO time (UTC unless it has an offset) or after a duration like 90s, 30m, 8h",
    )
    scheduler.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default INFO"
    )
    scheduler.set_defaults(handler=_scheduler)


# -- handlers ----------------------------------------------------------------------------------


def _quiet_library_loggers() -> None:
    # papermill and nbclient log timeouts and kernel chatter; the command prints its own one-line
    # account, so keep theirs off the terminal unless the user configured logging.
    logging.getLogger("papermill").addHandler(logging.NullHandler())
    logging.getLogger("traitlets").addHandler(logging.NullHandler())


def _run(args: argparse.Namespace) -> int:
    from tradepulse.jobs.history import JobHistory, resolve_store_path
    from tradepulse.jobs.parameters import parse_parameter_pairs
    from tradepulse.jobs.runner import run_notebook

    _quiet_library_loggers()
    parameters = parse_parameter_pairs(args.parameters)
    history = None if args.no_history else JobHistory(resolve_store_path(args.store))
    record = run_notebook(
        args.notebook,
        parameters,
        output_dir=args.output_dir,
        job_name=args.name,
        timeout_seconds=args.timeout,
        cell_timeout_seconds=args.cell_timeout,
        kernel_name=args.kernel,
        progress_bar=sys.stderr.isatty() and not args.json,
        history=history,
    )
    if args.json:
        print_json(record.to_dict())
    else:
        _print_run(record)
    return 0 if record.succeeded else RUN_DID_NOT_SUCCEED


def _print_run(record: Any) -> None:
    if record.succeeded:
        print(f"succeeded: {record.job} in {record.duration_seconds:.1f} s")
    else:
        print(f"{record.status.replace('_', ' ')}: {record.job}: {record.error.one_line()}")
    print(f"notebook:  {record.output_notebook}")
    print(f"sidecar:   {record.sidecar_path}")
    if record.results:
        print("results:   " + json.dumps(record.results, allow_nan=False))


def _list(args: argparse.Namespace) -> int:
    from tradepulse.jobs.history import JobHistory, resolve_store_path
    from tradepulse.jobs.schedule import load_jobs_config

    config = load_jobs_config(args.config)
    store = resolve_store_path(args.store)
    last_runs = {}
    if store.is_file():
        history = JobHistory(store)
        for name in config.jobs:
            entries = history.entries(name, limit=1)
            last_runs[name] = entries[0].to_dict() if entries else None
    now = datetime.now(timezone.utc)
    rows = []
    for job in config.jobs.values():
        next_run = job.schedule.next_after(now) if job.enabled else None
        rows.append(
            {
                "name": job.name,
                "enabled": job.enabled,
                "notebook": str(job.notebook),
                "cron": job.schedule.expression,
                "timezone": job.schedule.time_zone_name,
                "next_run": next_run.isoformat().replace("+00:00", "Z") if next_run else None,
                "next_run_local": next_run.astimezone(job.schedule.time_zone).isoformat() if next_run else None,
                "parameters": job.parameters,
                "timeout_seconds": job.timeout_seconds,
                "cell_timeout_seconds": job.cell_timeout_seconds,
                "retries": job.retries,
                "retry_backoff_seconds": job.retry_backoff_seconds,
                "overlap": job.overlap,
                "description": job.description,
                "last_run": last_runs.get(job.name),
            }
        )
    alerts = config.alerts
    if args.json:
        print_json(
            {
                "config": str(config.path),
                "output_dir": str(config.output_dir),
                "alerts": {"webhook_url": str(alerts.webhook_url), "format": alerts.format} if alerts else None,
                "jobs": rows,
            }
        )
        return 0
    header = ("JOB", "ON", "CRON", "TIME ZONE", "NEXT RUN (LOCAL)", "LAST")
    table = [
        (
            row["name"],
            "yes" if row["enabled"] else "no",
            row["cron"],
            row["timezone"],
            row["next_run_local"] or "-",
            row["last_run"]["status"] if row["last_run"] else "-",
        )
        for row in rows
    ]
    _print_table(header, table)
    print(f"archive: {config.output_dir}")
    print(f"alerts:  {f'{alerts.webhook_url} ({alerts.format})' if alerts else 'none configured'}")
    return 0


def _history(args: argparse.Namespace) -> int:
    from tradepulse.jobs.history import JobHistory, resolve_store_path

    if args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    store = resolve_store_path(args.store)
    if not store.is_file():
        if args.store:
            raise ConfigError(f"no job history at {store}")
        entries = []
    else:
        entries = JobHistory(store).entries(args.name, args.limit)
    if args.json:
        print_json({"store": str(store), "runs": [entry.to_dict() for entry in entries]})
        return 0
    if not entries:
        print(f"no runs recorded{f' for {args.name}' if args.name else ''} (history: {store})")
        return 0
    header = ("STARTED (UTC)", "JOB", "STATUS", "TRY", "DURATION", "ARCHIVE", "ERROR")
    table = [
        (
            entry.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.job,
            entry.status,
            str(entry.attempt) if entry.attempt else "-",
            f"{entry.duration_seconds:.1f} s" if entry.duration_seconds is not None else "-",
            entry.archive_path or "-",
            entry.error or "",
        )
        for entry in entries
    ]
    _print_table(header, table)
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from tradepulse.jobs.archive import SUCCEEDED
    from tradepulse.jobs.history import JobHistory, resolve_store_path
    from tradepulse.jobs.schedule import load_jobs_config
    from tradepulse.jobs.scheduler import Scheduler

    until = parse_until(args.until, datetime.now(timezone.utc)) if args.until else None
    config = load_jobs_config(args.config)
    history = JobHistory(resolve_store_path(args.store))
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("papermill").setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.WARNING)
    scheduler = Scheduler(config, history)
    _stop_on_signals(scheduler)
    log = logging.getLogger("tradepulse.jobs.cli")
    alerts = f", alerts to {config.alerts.webhook_url}" if config.alerts else ""
    log.info("scheduler started: %d job(s) from %s, history %s%s", len(config.jobs), config.path, history.path, alerts)

    if args.once:
        dispatches = scheduler.tick(datetime.now(timezone.utc))
        while not scheduler.wait_idle(0.5):
            if scheduler.stop_requested:
                scheduler.stop()
                break
        finals = scheduler.final_records
        for dispatch in dispatches:
            print(
                f"{dispatch.action}: {dispatch.job} (due {dispatch.scheduled_for.isoformat().replace('+00:00', 'Z')})"
            )
        for record in finals:
            print(f"{record.status}: {record.job} -> {record.output_notebook or '-'}")
        if not dispatches:
            print("nothing due")
        return 0 if all(record.status == SUCCEEDED for record in finals) else RUN_DID_NOT_SUCCEED

    scheduler.run_forever(until=until)
    log.info("scheduler stopped")
    return 0


def _stop_on_signals(scheduler: Any) -> None:
    def handle(signum: int, _frame: Any) -> None:
        # Setting the stop flag takes a lock the interrupted main thread may hold; a helper thread
        # takes it once the main thread lets go. A second signal gets the default (hard) behaviour.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        threading.Thread(target=scheduler.request_stop, daemon=True).start()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def parse_until(text: str, now: datetime) -> datetime:
    """Parse ``--until``: a duration (``90s``, ``30m``, ``8h``, ``2d``) from ``now``, or an ISO time.

    Raises
    ------
    ConfigError
        If ``text`` is neither, or is in the past.
    """
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        return now + timedelta(seconds=float(duration.group(1)) * _DURATION_UNITS[duration.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--until expects an ISO time (2026-11-23T18:00:00+01:00) or a duration (90s, 30m, 8h), got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment <= now:
        raise ConfigError(f"--until {text} is in the past")
    return moment


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
