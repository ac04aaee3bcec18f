"""`tradepulse dashboard` as a user runs it: prints where it serves, stops cleanly on a signal."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tradepulse.cli.dashboard_cmd import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120
STOP_SECONDS = 30


def _as_from_a_terminal() -> None:
    # A shell starting a background job (`make test &`) hands its children SIGINT ignored; a user
    # at a terminal, whose Ctrl-C the "ctrl-c" case stands for, has it at its default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tradepulse.cli", "dashboard", "--no-browser", *args],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"}, preexec_fn=_as_from_a_terminal,
    )


def read_json_announcement(process: subprocess.Popen[str]) -> dict:
    """Collect stdout until the --json object is complete (bounded: the command may be slow to start)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    text, deadline = "", time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            text += lines.get(timeout=1)
        except queue.Empty:
            assert process.poll() is None, f"dashboard exited early: {process.stderr.read()}"
            continue
        if text.rstrip().endswith("}"):
            return json.loads(text)
    raise AssertionError(f"no announcement within {STARTUP_SECONDS} s; got {text!r}")


def processes() -> dict[int, tuple[int, str]]:
    """Every process as pid -> (parent pid, command line), read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        found[int(entry.name)] = (parent, command)
    return found


def descendants(pid: int) -> set[int]:
    table = processes()
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, (parent, _) in table.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def kernels_of(pid: int) -> set[int]:
    table = processes()
    return {child for child in descendants(pid) if "ipykernel" in table.get(child, (0, ""))[1]}


def eventually(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)  # polling another process's state: there is nothing to wait on
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_dashboard_serves_the_pages_and_stops_with_its_kernels_on_a_signal(stop_signal):
    port = free_port()
    process = start_command("--port", str(port), "--json")
    try:
        announced = read_json_announcement(process)
        assert announced["url"] == f"http://127.0.0.1:{port}/"
        assert set(announced["pages"]) == {"backtest_explorer.ipynb", "indicators_dashboard.ipynb", "live_dashboard.ipynb",
                                           "overview_dashboard.ipynb", "history_dashboard.ipynb", "research_reports.ipynb"}
        assert announced["state_dir"] is None and announced["jobs_history"].endswith("jobs.sqlite")
        assert announced["preheat"] is True
        with urllib.request.urlopen(announced["url"], timeout=10) as response:
            assert response.status == 200
        # Preheating starts one kernel per main page before anyone opens it.
        eventually(lambda: len(kernels_of(process.pid)) >= 2, STARTUP_SECONDS, "two preheated kernels")
        children = descendants(process.pid)

        process.send_signal(stop_signal)
        assert process.wait(STOP_SECONDS) == 0
        assert not port_open(port)
        eventually(lambda: not (children & set(processes())), STOP_SECONDS, "Voila and its kernels to exit")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_dashboard_refuses_a_port_that_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_command("--port", str(port))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.strip() == (
        f"tradepulse: error: port {port} on 127.0.0.1 is already in use; pick another with --port (0 = any free port)"
    )


def test_dashboard_without_its_notebooks_says_where_to_point_it(tmp_path):
    process = start_command("--notebooks-dir", str(tmp_path))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "no dashboard notebooks found" in stderr and "--notebooks-dir" in stderr
    assert "Traceback" not in stderr
