#!/usr/bin/env python3
"""Kubernetes probes of a TradePulse service pod that may be the active one or a waiting standby.

    python /etc/tradepulse/probe/probe.py ready   # readiness: this pod trades and its API answers
    python /etc/tradepulse/probe/probe.py live    # liveness and start-up: this pod is not wedged

Every API route needs a bearer token (an unknown path answers 401), so an ``httpGet`` probe would
need the token written into the manifest; this exec probe reads it from the mounted secret
(``TRADEPULSE_API_READ_TOKEN_FILE``, the first of comma-separated tokens), as deploy/healthcheck.py
does in the container stack.

``ready``: ``GET /api/v1/health`` answers 200 and the answer does not say ``standby``. Only the pod
that holds the account's lease serves the API, so only it is ready and the ``tradepulse`` Service
sends the API's clients (Prometheus, the dashboards, JupyterLab) to it alone. A ``degraded``
service (stale feed, venue disconnected) stays ready: operators must reach it to act.

``live``: fails only when the API port accepts a connection and then does not answer within the
timeout (a wedged event loop), or answers with a server error. A pod that does not listen yet (a
standby waiting for the lease, or a warm start before the API opens) is alive: restarting it would
only delay a failover. Restarting a trading process that answers, even ``degraded``, is an
operator's decision, not the kubelet's.

Exit code 0 when the check passes, 1 otherwise; one line on stdout or stderr. Standard library
only; never prints the token.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request

PORT = int(os.environ.get("TRADEPULSE_PROBE_PORT", "8780"))
HOST = "127.0.0.1"
TIMEOUT = 4.0


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


def _standby(body: dict) -> bool:
    return "standby" in {str(body.get(key, "")).lower() for key in ("status", "role", "lease")}


def ready() -> int:
    try:
        status, body = _health()
    except OSError as error:
        print(f"probe: not ready: the API does not answer ({type(error).__name__}): standby or starting", file=sys.stderr)
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
    try:
        socket.create_connection((HOST, PORT), timeout=TIMEOUT).close()
    except ConnectionRefusedError:
        print("alive: the API is not listening (standby waiting for the lease, or starting)")
        return 0
    except OSError as error:
        print(f"probe: the API port does not accept connections ({type(error).__name__})", file=sys.stderr)
        return 1
    try:
        status, body = _health()
    except OSError as error:
        print(f"probe: the API accepted a connection but did not answer ({type(error).__name__})", file=sys.stderr)
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
