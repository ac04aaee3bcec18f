"""``tradepulse live start|stop|status|kill|cancel-all|resume|positions|orders``: run and operate the live service.

``start`` runs ``tradepulse serve --config FILE`` in the background (its own session; output
appended to ``<state_dir>/service.log``; pid in ``<state_dir>/service.pid``) and waits until the
API answers. ``stop`` asks it to stop (SIGTERM: engines stop, orders are cancelled as configured).
The other commands talk to the running service's API through :class:`tradepulse.client.LiveClient`,
found with ``--config FILE`` (its state directory's ``service.json``) or ``--url URL``.

Tokens come from the environment only (``TRADEPULSE_API_TOKEN``, else the operate, else the read
token variable, or their ``_FILE`` twins), never from a flag, and are never printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tradepulse.cli._common import add_json_flag, print_json
from tradepulse.client_base import (
    LOG_FILE,
    PID_FILE,
    SERVICE_FILE,
    TOKEN_VARIABLES,
    ServiceError,
    ServiceServerError,
    ServiceUnauthorized,
    ServiceUnreachable,
    is_service_process,
    pid_alive,
    read_pid_file,
    read_service_file,
    state_dir_of,
    terminate,
)
from tradepulse.errors import ConfigError

EXIT_FAILED = 1
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_POLL_SECONDS = 0.1
_PROGRESS_EVERY = 10.0
_TOKENS_NOTE = (
    "The API token comes from TRADEPULSE_API_TOKEN, else TRADEPULSE_API_OPERATE_TOKEN, else\n"
    "TRADEPULSE_API_READ_TOKEN (or a _FILE twin naming a file that holds it); it is never printed."
)


def register_live_service(commands: argparse._SubParsersAction) -> None:
    """Add the service commands to the ``tradepulse live`` sub-parser."""
    raw = argparse.RawDescriptionHelpFormatter

    start = commands.add_parser(
        "start", help="start the live service in the background and wait until its API answers",
        description=("Start `tradepulse serve --config FILE` in the background: output goes to <state_dir>/service.log,\n"
                     "the pid to <state_dir>/service.pid. Waits until the API answers, then prints its URL.\n\n"
                     "The service reads its API tokens (TRADEPULSE_API_READ_TOKEN / TRADEPULSE_API_OPERATE_TOKEN)\n"
                     "from this command's environment."),
        epilog=("Examples:\n"
                "  tradepulse live start --config live.toml\n"
                "  tradepulse live start --config live.toml --timeout 120 --json"),
        formatter_class=raw)
    start.add_argument("--config", required=True, metavar="FILE", help="the service's TOML config (docs/configuration.md)")
    start.add_argument("--timeout", type=_seconds, default=_START_TIMEOUT, metavar="SECONDS",
                       help=f"how long to wait for the API to answer (default {_START_TIMEOUT:g})")
    add_json_flag(start)
    start.set_defaults(handler=_start)

    stop = commands.add_parser(
        "stop", help="stop the service started with `live start` (graceful; --force kills it after the timeout)",
        description=("Send the service SIGTERM (a graceful stop: engines stop, open orders are cancelled as configured)\n"
                     "and wait for it to exit. With --force, kill it (SIGKILL) if it has not exited within --timeout."),
        epilog=("Examples:\n"
                "  tradepulse live stop --config live.toml\n"
                "  tradepulse live stop --config live.toml --timeout 60 --force"),
        formatter_class=raw)
    stop.add_argument("--config", required=True, metavar="FILE", help="the config the service was started with")
    stop.add_argument("--timeout", type=_seconds, default=_STOP_TIMEOUT, metavar="SECONDS",
                      help=f"how long to wait for a graceful exit (default {_STOP_TIMEOUT:g})")
    stop.add_argument("--force", action="store_true", help="kill the service (SIGKILL) if it is still running after --timeout")
    add_json_flag(stop)
    stop.set_defaults(handler=_stop)

    status = commands.add_parser(
        "status", help="the running service's health, trading state and engines",
        description=f"Show the running service's health, trading state, venue and engines.\n\n{_TOKENS_NOTE}",
        epilog=("Examples:\n"
                "  tradepulse live status --config live.toml\n"
                "  tradepulse live status --url http://127.0.0.1:8765/api/v1 --json"),
        formatter_class=raw)
    _add_target(status)
    status.set_defaults(handler=_service_errors(_status))

    kill = commands.add_parser(
        "kill", help="halt trading: every engine stops trading and open orders are cancelled (operate token)",
        description=("The kill switch: halt every engine and cancel open orders; --flatten also closes every position\n"
                     f"at market. Needs an operate token. Undo with `tradepulse live resume`.\n\n{_TOKENS_NOTE}"),
        epilog=("Examples:\n"
                "  tradepulse live kill --config live.toml --reason \"exchange incident\"\n"
                "  tradepulse live kill --url http://127.0.0.1:8765/api/v1 --reason \"drawdown review\" --flatten --json"),
        formatter_class=raw)
    _add_target(kill)
    kill.add_argument("--reason", required=True, help="why (journaled and logged with the action)")
    kill.add_argument("--flatten", action="store_true", help="also close every position at market")
    kill.set_defaults(handler=_service_errors(_kill))

    cancel_all = commands.add_parser(
        "cancel-all", help="cancel every open order and report each one: cancelled, failed (why) or pending (operate token)",
        description=("Cancel every open order of every engine, trading state unchanged. Cancels that failed earlier are\n"
                     "sent again. Each order is reported as cancelled, failed (with the reason) or pending (the venue\n"
                     "took the cancel, its confirmation has not arrived). Exits 1 when any cancel failed.\n\n"
                     f"{_TOKENS_NOTE}"),
        epilog=("Examples:\n"
                "  tradepulse live cancel-all --config live.toml --reason \"venue maintenance\"\n"
                "  tradepulse live cancel-all --url http://127.0.0.1:8780/api/v1 --reason \"review\" --json"),
        formatter_class=raw)
    _add_target(cancel_all)
    cancel_all.add_argument("--reason", required=True, help="why (journaled and logged with the action)")
    cancel_all.set_defaults(handler=_service_errors(_cancel_all))

    resume = commands.add_parser(
        "resume", help="resume trading after a kill: every engine back to ACTIVE (operate token)",
        description=f"Move every engine back to ACTIVE after a kill or a tripped breaker. Needs an operate token.\n\n{_TOKENS_NOTE}",
        epilog=("Examples:\n"
                "  tradepulse live resume --config live.toml --reason \"incident resolved\""),
        formatter_class=raw)
    _add_target(resume)
    resume.add_argument("--reason", required=True, help="why (journaled and logged with the action)")
    resume.set_defaults(handler=_service_errors(_resume))

    positions = commands.add_parser(
        "positions", help="positions and P&L of the running service, one per strategy",
        description=f"Show each strategy's position and P&L.\n\n{_TOKENS_NOTE}",
        epilog=("Examples:\n"
                "  tradepulse live positions --config live.toml\n"
                "  tradepulse live positions --url http://127.0.0.1:8765/api/v1 --json"),
        formatter_class=raw)
    _add_target(positions)
    positions.set_defaults(handler=_service_errors(_positions))

    orders = commands.add_parser(
        "orders", help="orders of the running service, newest first",
        description=f"Show orders as they are now, newest first.\n\n{_TOKENS_NOTE}",
        epilog=("Examples:\n"
                "  tradepulse live orders --config live.toml\n"
                "  tradepulse live orders --config live.toml --status ACCEPTED --status PARTIALLY_FILLED --limit 50\n"
                "  tradepulse live orders --url http://127.0.0.1:8765/api/v1 --strategy btc-sma --json"),
        formatter_class=raw)
    _add_target(orders)
    orders.add_argument("--status", action="append", metavar="STATE",
                        help="only orders in this state: SUBMITTED, ACCEPTED, PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, REJECTED, EXPIRED, DENIED (repeatable)")
    orders.add_argument("--symbol", help="only this symbol, e.g. BTC/USDT")
    orders.add_argument("--strategy", metavar="ID", help="only this strategy id")
    orders.add_argument("--limit", type=_limit, default=20, help="how many (1-1000, default 20)")
    orders.set_defaults(handler=_service_errors(_orders))


# -- arguments -----------------------------------------------------------------------------------


def _add_target(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--config", metavar="FILE", help="the service's config file (finds it via <state_dir>/service.json)")
    target.add_argument("--url", metavar="URL", help="the service's API, e.g. http://127.0.0.1:8765/api/v1")
    parser.add_argument("--timeout", type=_seconds, default=10.0, metavar="SECONDS",
                        help="how long to wait for each answer (default 10)")
    add_json_flag(parser)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"expected a number of seconds between 0 and 86400, got {text!r}")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number 1-1000, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a whole number 1-1000, got {text!r}")
    return value


def _client(args: argparse.Namespace) -> Any:
    from tradepulse.client import LiveClient

    if args.url is not None:
        return LiveClient(args.url, timeout=args.timeout)
    return LiveClient.from_config(args.config, timeout=args.timeout)


def _service_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A service that is not there (or fails) is a failed check, exit 1; a refused token or request is bad input, exit 2."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (ServiceUnreachable, ServiceServerError) as error:
            print(f"tradepulse: error: {error}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- start / stop --------------------------------------------------------------------------------


def _running_pid(state_dir: Path) -> int | None:
    """The pid of a service running from ``state_dir`` (via service.pid or service.json), if any."""
    document = read_service_file(state_dir) or {}
    for pid in (read_pid_file(state_dir), document.get("pid")):
        if isinstance(pid, int) and is_service_process(pid):
            return pid
    return None


def _remove_stale(state_dir: Path, pid: int | None = None) -> None:
    """Remove service.pid / service.json left behind by a process that is gone (``pid``: only if they name it)."""
    recorded = read_pid_file(state_dir)
    if recorded is not None and (pid is None or recorded == pid) and not is_service_process(recorded):
        (state_dir / PID_FILE).unlink(missing_ok=True)
    document = read_service_file(state_dir)
    if document is not None:
        owner = document.get("pid")
        if (pid is None or owner == pid) and not (isinstance(owner, int) and is_service_process(owner)):
            (state_dir / SERVICE_FILE).unlink(missing_ok=True)
    elif (state_dir / SERVICE_FILE).exists() and pid is None:
        (state_dir / SERVICE_FILE).unlink(missing_ok=True)


def _start(args: argparse.Namespace) -> int:
    from tradepulse.service.auth import ApiAuth
    from tradepulse.service.config import load_config

    config_path = Path(args.config).expanduser().resolve()
    config = load_config(config_path)  # bad config: one line, exit 2, before anything runs
    ApiAuth.from_environ()  # no (or a malformed) token: the service would refuse to start
    state_dir = config.state_dir
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{config_path}: [service] state_dir {state_dir} cannot be created ({error.strerror or error})") from None
    running = _running_pid(state_dir)
    if running is not None:
        url = (read_service_file(state_dir) or {}).get("url", "its URL is not known yet")
        print(f"tradepulse: error: a service is already running from {state_dir} (pid {running}, {url}); "
              f"stop it first with `tradepulse live stop --config {args.config}`", file=sys.stderr)
        return EXIT_FAILED
    _remove_stale(state_dir)

    log_path = state_dir / LOG_FILE
    command = [sys.executable, "-m", "tradepulse.cli", "serve", "--config", str(config_path)]
    with open(log_path, "ab") as log:
        offset = log.tell()
        stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        log.write(f"---- tradepulse live start {stamp}: {config_path} ----\n".encode())
        log.flush()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # Its own session: the terminal's Ctrl-C or hang-up does not reach it; `live stop` does.
            start_new_session=True,
        )
    (state_dir / PID_FILE).write_text(f"{process.pid}\n", encoding="utf-8")
    _note(f"starting the service (pid {process.pid}; log {log_path}) ...")

    deadline = time.monotonic() + args.timeout
    next_note = time.monotonic() + _PROGRESS_EVERY
    began = time.monotonic()
    while True:
        if process.poll() is not None:
            (state_dir / PID_FILE).unlink(missing_ok=True)
            _remove_stale(state_dir, process.pid)
            reason = _first_error(_read_from(log_path, offset))
            print(f"tradepulse: error: the service exited with code {process.returncode} while starting: {reason} "
                  f"(log: {log_path})", file=sys.stderr)
            return EXIT_FAILED
        ready = _answers(state_dir, process.pid)
        if ready is not None:
            break
        now = time.monotonic()
        if now > deadline:
            print(f"tradepulse: error: the service (pid {process.pid}) did not answer within {args.timeout:g} s; it may "
                  f"still be starting (see {log_path}); stop it with `tradepulse live stop --config {args.config}`",
                  file=sys.stderr)
            return EXIT_FAILED
        if now >= next_note:
            _note(f"still waiting for the service to answer ({now - began:.0f} s) ...")
            next_note = now + _PROGRESS_EVERY
        try:
            process.wait(_POLL_SECONDS)  # returns early if it dies
        except subprocess.TimeoutExpired:
            pass

    document, token_problem = ready
    if token_problem:
        _note(f"note: the service runs, but it does not accept this shell's token: {token_problem}")
    result = {"pid": process.pid, "url": document["url"], "started_at": document.get("started_at"),
              "config": str(config_path), "state_dir": str(state_dir), "log": str(log_path)}
    # The service outlives this command; forget the child without a "still running" warning.
    process.returncode = 0
    if args.json:
        print_json(result)
    else:
        print(f"service started (pid {process.pid}): {document['url']}")
        print(f"log: {log_path}; stop it with `tradepulse live stop --config {args.config}`")
    return 0


def _answers(state_dir: Path, pid: int) -> tuple[dict[str, Any], str | None] | None:
    """``(service.json, token problem or None)`` once ``pid`` wrote service.json and its /health answers."""
    from tradepulse.client import LiveClient

    document = read_service_file(state_dir)
    if document is None or document.get("pid") != pid:
        return None
    try:
        with LiveClient(document["url"], timeout=2) as client:
            client.health()
    except ServiceUnreachable:
        return None
    except ServiceUnauthorized as error:
        return document, str(error)
    except ServiceError:
        return document, None  # it answers; whatever it said, `live status` will show
    except ConfigError:
        return None
    return document, None


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")


def _first_error(text: str) -> str:
    """The first error among the last lines of a log, in one line (tokens masked)."""
    from tradepulse.adapters.credentials import read_secret_variable, redact

    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("---- ")][-40:]
    found: str | None = None
    for line in lines:
        if line.startswith("tradepulse: error:"):
            found = line.removeprefix("tradepulse: error:").strip()
            break
    if found is None:
        for line in lines:
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and str(record.get("level", "")).upper() in ("ERROR", "CRITICAL"):
                    found = str(record.get("message") or record.get("msg") or line)
                    break
    if found is None:
        found = next((line for line in reversed(lines) if _EXCEPTION_LINE.match(line)), None)
    if found is None:
        found = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "it printed nothing")
    secrets: list[str] = []
    for variable in TOKEN_VARIABLES:
        try:
            secrets.extend(part.strip() for part in (read_secret_variable(variable, os.environ) or "").split(","))
        except ConfigError:
            continue
    found = redact(found, secrets)
    return found if len(found) <= 400 else f"{found[:397]}..."


def _stop(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args.config)
    pid = _running_pid(state_dir)
    if pid is None:
        _remove_stale(state_dir)
        if args.json:
            print_json({"stopped": False, "running": False, "state_dir": str(state_dir)})
        else:
            print(f"no service is running from {state_dir}; nothing to stop")
        return 0
    _note(f"stopping the service (pid {pid}) ...")
    terminate(pid, signal.SIGTERM)
    gone = _wait_gone(pid, args.timeout)
    forced = False
    if not gone:
        if not args.force:
            print(f"tradepulse: error: the service (pid {pid}) is still running after {args.timeout:g} s (it may be "
                  f"cancelling orders); check `tradepulse live status --config {args.config}`, or add --force to kill it",
                  file=sys.stderr)
            return EXIT_FAILED
        terminate(pid, signal.SIGKILL)
        forced = True
        if not _wait_gone(pid, 10.0):
            print(f"tradepulse: error: the service (pid {pid}) survived SIGKILL; check the process", file=sys.stderr)
            return EXIT_FAILED
    _remove_stale(state_dir, pid)
    if args.json:
        print_json({"stopped": True, "pid": pid, "forced": forced, "state_dir": str(state_dir)})
    elif forced:
        print(f"service killed (pid {pid}) after {args.timeout:g} s without a graceful exit; open orders may remain at "
              f"the venue: check them before the next start")
    else:
        print(f"service stopped (pid {pid})")
    return 0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_SECONDS)  # not our child: nothing to wait on but time
    return True


# -- API commands --------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        health = client.health()
        status = client.status()
        url = client.url
    if args.json:
        print_json({"url": url, "health": health, **status})
        return 0
    service = status.get("service", {})
    venue = status.get("venue", {})
    watchdog = status.get("watchdog", {})
    print(f"service   {url}  (tradepulse {service.get('version', '?')}, pid {service.get('pid', '?')}, "
          f"up {_duration(service.get('uptime_seconds'))}, {service.get('start_mode', '?')} start)")
    print(f"health    {health.get('status', '?')}")
    print(f"trading   {status.get('trading_state', '?')}")
    print(f"venue     {venue.get('name', '?')} ({venue.get('kind', '?')}), "
          f"{'connected' if venue.get('connected') else 'DISCONNECTED'}")
    stalled = watchdog.get("stalled") or []
    print(f"watchdog  {'stalled: ' + ', '.join(stalled) if stalled else 'no engine stalled'} "
          f"(limit {watchdog.get('limit_seconds', '?')} s)")
    for entry in status.get("reconciliation", []):
        if not entry.get("ok", True):
            print(f"reconciliation  {entry.get('strategy_id')}: {len(entry.get('unexplained') or [])} unexplained difference(s)")
    print()
    rows = [[engine.get("strategy_id"), engine.get("strategy"), engine.get("symbol"),
             "running" if engine.get("running") else "STOPPED", engine.get("trading_state"),
             engine.get("last_bar_end") or "-", _age(engine.get("feed_stale_seconds")), engine.get("reconnects", 0)]
            for engine in status.get("engines", [])]
    _table(["STRATEGY", "NAME", "SYMBOL", "ENGINE", "STATE", "LAST BAR", "FEED AGE", "RECONNECTS"], rows,
           empty="no engines")
    return 0


def _action_result(args: argparse.Namespace, verb: str, result: dict[str, Any]) -> int:
    if args.json:
        print_json(result)
        return 0
    engines = result.get("engines", [])
    print(f"{verb}: trading is now {result.get('trading_state', '?')} ({len(engines)} engine(s)); reason: {args.reason}")
    rows = [[engine.get("strategy_id", "?"), engine.get("trading_state", "?")] for engine in engines if isinstance(engine, dict)]
    if rows:
        _table(["STRATEGY", "STATE"], rows)
    return 0


def _kill(args: argparse.Namespace) -> int:
    reason = _reason(args.reason)
    with _client(args) as client:
        result = client.kill(reason, flatten=args.flatten)
    return _action_result(args, "killed (positions flattened)" if args.flatten else "killed", result)


def _cancel_all(args: argparse.Namespace) -> int:
    reason = _reason(args.reason)
    with _client(args) as client:
        result = client.cancel_all(reason)
    failed = result.get("failed", [])
    if args.json:
        print_json(result)
        return 1 if failed else 0
    print(f"cancel-all: {len(result.get('cancelled', []))} cancelled, {len(failed)} failed, "
          f"{len(result.get('pending', []))} pending; reason: {args.reason}")
    rows = [[order.get("strategy_id", "?"), order.get("client_order_id", "?"), order.get("symbol", "?"), order.get("outcome", "?"),
             order.get("reason", "")] for order in result.get("orders", [])]
    if rows:
        _table(["STRATEGY", "CLIENT ORDER ID", "SYMBOL", "OUTCOME", "REASON"], rows)
    if failed:
        print("some cancels failed; orders the venue may still be working are asked again by the next cancel-all or kill")
    return 1 if failed else 0


def _resume(args: argparse.Namespace) -> int:
    reason = _reason(args.reason)
    with _client(args) as client:
        result = client.resume(reason)
    return _action_result(args, "resumed", result)


def _reason(text: str) -> str:
    if not text.strip():
        raise ConfigError("--reason must say why (it is journaled with the action), e.g. --reason \"exchange incident\"")
    if len(text.strip()) > 500:
        raise ConfigError("--reason is limited to 500 characters")
    return text.strip()


def _positions(args: argparse.Namespace) -> int:
    with _client(args) as client:
        positions = client.positions()
    if args.json:
        print_json(positions)
        return 0
    rows = [[p.get("strategy_id"), p.get("symbol"), _num(p.get("quantity")), _num(p.get("average_cost"), 2),
             _num(p.get("mark_price"), 2), _num(p.get("realized_pnl"), 2), _num(p.get("unrealized_pnl"), 2),
             _num(p.get("fees_quote"), 2), _num(p.get("net_pnl"), 2), _num(p.get("equity"), 2)] for p in positions]
    _table(["STRATEGY", "SYMBOL", "QUANTITY", "AVG COST", "MARK", "REALIZED", "UNREALIZED", "FEES", "NET P&L", "EQUITY"],
           rows, empty="no positions")
    return 0


def _orders(args: argparse.Namespace) -> int:
    with _client(args) as client:
        orders = client.orders(status=args.status, symbol=args.symbol, strategy_id=args.strategy, limit=args.limit)
    if args.json:
        print_json(orders)
        return 0
    rows = [[o.get("created_at"), o.get("strategy_id"), o.get("client_order_id"), o.get("side"), o.get("order_type"),
             _num(o.get("quantity")), _num(o.get("limit_price") or o.get("average_fill_price"), 2),
             _num(o.get("filled_quantity")), o.get("status")] for o in orders]
    _table(["CREATED", "STRATEGY", "ORDER ID", "SIDE", "TYPE", "QUANTITY", "PRICE", "FILLED", "STATUS"], rows,
           empty="no orders")
    return 0


# -- formatting ----------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "(none)") -> None:
    if not rows:
        print(empty)
        return
    cells = [[str(h) for h in headers]] + [["-" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def _num(value: Any, places: int | None = None) -> str:
    """A decimal string for a table: rounded to ``places`` when given, trailing zeros trimmed otherwise."""
    if value is None or value == "":
        return "-"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    if places is not None:
        return f"{number:,.{places}f}"
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "") else text


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "?"
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _age(seconds: Any) -> str:
    return f"{seconds:.1f} s" if isinstance(seconds, int | float) else "-"
