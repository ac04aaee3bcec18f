#!/usr/bin/env python3
"""Kubernetes probes of a TradePulse service pod that may be the active one or a waiting standby.

    python /etc/tradepulse/probe/probe.py ready   # readiness: this pod trades and its API answers
    python /etc/tradepulse/probe/probe.py live    # liveness and start-up: this pod is not wedged

Every API route needs a bearer token (an unknown path answers 401), so an ``httpGet`` probe would
need the token written into the manifest; this exec probe reads it from the mounted secret
(``TRADEPULSE_API_READ_TOKEN_FILE``, the first of comma-separated tokens), as deploy/healthcheck.py
does in the container stack.

The service binds its API port before it starts, so that a taken port fails at once; a standby then
waits for the account's lease, and a warm start reconciles, with the port accepting connections
that nobody answers yet. Once the API serves, the service writes ``<state_dir>/service.json`` (its
pid and start time) and removes it when it stops. That file, when it belongs to the running process,
is how the probes tell "serving" from "waiting".

``ready``: the service advertises itself and ``GET /api/v1/health`` answers 200 (a body saying
``standby`` is not ready either). Only the lease holder gets there, so only it is Ready and the
``tradepulse`` Service sends the API's clients (Prometheus, the dashboards, JupyterLab) to it alone.
A ``degraded`` service (stale feed, venue disconnected) stays Ready: operators must reach it.

``live``: fails only when the service advertises its API and the API does not answer within the
timeout, or answers with a server error: a wedged process, which would also hold the lease and keep
the standby from taking over. A pod that does not serve yet (a standby, a warm start) is alive:
restarting it would only delay a failover. Restarting a process that answers, even ``degraded``, is
an operator's decision, not the kubelet's.

Exit code 0 when the check passes, 1 otherwise; one line on stdout or stderr. Standard library
only; never prints the token. Linux only (the process start time comes from /proc).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

PORT = int(os.environ.get("TRADEPULSE_PROBE_PORT", "8780"))
STATE_DIR = Path(os.environ.get("TRADEPULSE_PROBE_STATE_DIR", "/var/lib/tradepulse"))
TIMEOUT = float(os.environ.get("TRADEPULSE_PROBE_TIMEOUT", "4"))
HOST = "127.0.0.1"


def _token() -> str:
    path = os.environ.get("TRADEPULSE_API_READ_TOKEN_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    else:
        text = os.environ.get("TRADEPULSE_API_READ_TOKEN", "")
    token = text.strip().split(",")[0].strip()
    if not token:
        raise SystemExit("probe: no read token (TRADEPULSE_API_READ_TOKEN_FILE)")
    return token


def _health() -> tuple[int, dict]:
    """``(HTTP status, body)`` of GET /api/v1/health; raises OSError when nothing answers in time."""
    request = urllib.request.Request(f"http://{HOST}:{PORT}/api/v1/health", headers={"Authorization": f"Bearer {_token()}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}


def _process_started(pid: int) -> float | None:
    """The process's start time (seconds since the epoch), or None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text(encoding="utf-8").splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; the comm may hold spaces
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _serving() -> bool:
    """Whether the running service advertises its API (service.json written by this very process)."""
    advertised = STATE_DIR / "service.json"
    try:
        pid = int(json.loads(advertised.read_text(encoding="utf-8"))["pid"])
        written = advertised.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError):
        return False
    started = _process_started(pid)
    # A file left by a process that crashed is stale, even when the restarted one got the same pid
    # (pid 1 in a container): it was written before the current process started.
    return started is not None and started <= written + 1.0


def _standby(body: dict) -> bool:
    return "standby" in {str(body.get(key, "")).lower() for key in ("status", "role", "lease")}


def ready() -> int:
    if not _serving():
        print("probe: not ready: the API is not served yet (a standby waiting for the lease, or starting)", file=sys.stderr)
        return 1
    try:
        status, body = _health()
    except OSError as error:
        print(f"probe: not ready: the API does not answer ({type(error).__name__})", file=sys.stderr)
        return 1
    if status != 200:
        print(f"probe: not ready: /api/v1/health answered {status}", file=sys.stderr)
        return 1
    if _standby(body):
        print("probe: not ready: standby (another pod holds the lease)", file=sys.stderr)
        return 1
    print(f"ready: status={body.get('status')} trading_state={body.get('trading_state')}")
    return 0


def live() -> int:
    if not _serving():
        print("alive: the API is not served yet (a standby waiting for the lease, or starting)")
        return 0
    try:
        status, body = _health()
    except OSError as error:
        print(f"probe: the service advertises its API but it does not answer ({type(error).__name__})", file=sys.stderr)
        return 1
    if status >= 500:
        print(f"probe: /api/v1/health answered {status}", file=sys.stderr)
        return 1
    print(f"alive: /api/v1/health answered {status} status={body.get('status')}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("ready", "live"):
        print("usage: probe.py ready|live", file=sys.stderr)
        return 2
    return ready() if argv[1] == "ready" else live()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
