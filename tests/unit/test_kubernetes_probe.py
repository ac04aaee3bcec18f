"""deploy/kubernetes/probe.py, the service pods' probe: an active pod from a waiting standby, and a wedged one.

Run as the kubelet runs it (a subprocess with the pod's environment) against a real listening socket
that never answers (a standby, or a pod still reconciling) and a real HTTP server standing in for
the API's /health.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

KUBERNETES = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


# -- the probe script ------------------------------------------------------------------------------


class _Health(http.server.BaseHTTPRequestHandler):
    token = "probe-token-0123456789abcdef"
    body: dict = {"status": "ok", "trading_state": "ACTIVE"}

    def do_GET(self):  # noqa: N802 - the http.server name
        ok = self.headers.get("Authorization") == f"Bearer {self.token}" and self.path == "/api/v1/health"
        data = json.dumps(self.body if ok else {"error": {"code": "unauthorized"}}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _probe(mode: str, port: int, state: Path, token_file: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "TRADEPULSE_PROBE_PORT": str(port), "TRADEPULSE_PROBE_STATE_DIR": str(state),
           "TRADEPULSE_PROBE_TIMEOUT": "1", "TRADEPULSE_API_READ_TOKEN_FILE": str(token_file)}
    return subprocess.run([sys.executable, str(KUBERNETES / "probe.py"), mode], env=env, capture_output=True, text=True, timeout=30)


def _advertise(state: Path, pid: int) -> None:
    state.mkdir(exist_ok=True)
    (state / "service.json").write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:8780/api/v1"}), encoding="utf-8")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the probe reads process start times from /proc")
def test_the_probe_tells_the_active_pod_from_a_waiting_standby(tmp_path):
    token_file = tmp_path / "read_tokens"
    token_file.write_text(f"{_Health.token},another-token-0123456789\n", encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()

    # A standby (or a warm start): the port is bound and listening, nobody answers, no service.json.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        # (Each probe call is bounded by its own timeout: a probe that hung would fail _probe's run.)
        assert _probe("live", port, state, token_file).returncode == 0
        assert _probe("ready", port, state, token_file).returncode == 1
        # The same silence from a process that advertises its API: wedged, not alive, not ready.
        _advertise(state, os.getpid())
        wedged = _probe("live", port, state, token_file)
        assert wedged.returncode == 1 and "does not answer" in wedged.stderr
        assert _probe("ready", port, state, token_file).returncode == 1
        # A service.json left by a process that is gone (a crash) does not count.
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        _advertise(state, int(gone.stdout))
        assert _probe("live", port, state, token_file).returncode == 0
    finally:
        silent.close()

    # The active pod: advertised and answering.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        _advertise(state, os.getpid())
        live, ready = _probe("live", port, state, token_file), _probe("ready", port, state, token_file)
        assert live.returncode == 0 and ready.returncode == 0, (live.stderr, ready.stderr)
        assert "trading_state=ACTIVE" in ready.stdout and _Health.token not in live.stdout + ready.stdout + ready.stderr
        _Health.body = {"status": "degraded", "trading_state": "HALTED"}
        assert _probe("ready", port, state, token_file).returncode == 0, "a degraded active pod stays reachable"
        _Health.body = {"status": "standby"}
        assert _probe("ready", port, state, token_file).returncode == 1
        token_file.write_text("a-wrong-token-0123456789\n", encoding="utf-8")
        assert _probe("ready", port, state, token_file).returncode == 1
        assert _probe("live", port, state, token_file).returncode == 0, "a 401 is an answer: the process is alive"
    finally:
        _Health.body = {"status": "ok", "trading_state": "ACTIVE"}
        server.shutdown()
        server.server_close()
