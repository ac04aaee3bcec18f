#!/usr/bin/env python3
"""Container health check of the TradePulse service: GET /api/v1/health with the read token.

Healthy means the process is up and its API answers 200. A ``degraded`` service (stale feed,
venue disconnected) is still healthy here: restarting a trading process is an operator's
decision, so degradation is reported by the Prometheus alerts and the service's own alerts, not
by the container runtime. The token is read from ``TRADEPULSE_API_READ_TOKEN_FILE`` (or
``TRADEPULSE_API_READ_TOKEN``); the first of several comma-separated tokens is used.
Standard library only; never prints the token.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def _token() -> str:
    path = os.environ.get("TRADEPULSE_API_READ_TOKEN_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    else:
        text = os.environ.get("TRADEPULSE_API_READ_TOKEN", "")
    token = text.strip().split(",")[0].strip()
    if not token:
        raise SystemExit("healthcheck: no read token (TRADEPULSE_API_READ_TOKEN_FILE)")
    return token


def main() -> int:
    url = os.environ.get("TRADEPULSE_HEALTHCHECK_URL", "http://127.0.0.1:8780/api/v1/health")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {_token()}"})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        print(f"healthcheck: {url} answered {error.code}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"healthcheck: {url} unreachable ({type(error).__name__})", file=sys.stderr)
        return 1
    print(f"status={body.get('status')} trading_state={body.get('trading_state')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
