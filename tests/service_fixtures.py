"""A real TradePulse service on the paper venue, for the tests that talk to one.

``paper_config`` writes the service config (one ``sma_cross`` strategy on the recorded BTC/USDT
stream), ``READ_TOKEN``/``OPERATE_TOKEN`` are the API tokens (random per test process),
``PaperService`` runs a real ``tradepulse serve`` (or ``tradepulse live start``) process on that
config and always stops it, and ``service`` is a module-scoped fixture with a service host and its
API in this process (for tests that need uvicorn's log records or a fast start).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from polling import eventually

READ_TOKEN = f"read-{secrets.token_urlsafe(24)}"
OPERATE_TOKEN = f"operate-{secrets.token_urlsafe(24)}"
APPROVE_TOKEN = f"approve-{secrets.token_urlsafe(24)}"  # a reviewer's, configured as "reviewer:<token>"
# Outer variables that could point a service or a client at something else, or give it other tokens.
SERVICE_VARIABLE_PREFIXES = ("TRADEPULSE_API_", "TRADEPULSE_ALERT_", "TRADEPULSE_SERVICE_", "TRADEPULSE_STATE_")


def paper_config(state_dir: str = "state", speed: float = 10, *, bar: str = "10s", port: int = 0,
                 strategy: str = "sma_cross", params: dict[str, Any] | None = None,
                 status_interval_seconds: float | None = None) -> str:
    """The TOML of a paper-venue service replaying the recorded BTC/USDT stream at ``speed``."""
    params = {"fast": 3, "slow": 8} if params is None else params
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in params.items())
    interval = "" if status_interval_seconds is None else f"status_interval_seconds = {status_interval_seconds}\n"
    return (f'[service]\nstate_dir = "{state_dir}"\n{interval}'
            f"[api]\nport = {port}\n"
            '[venue]\nkind = "paper"\ninit_cash = 10000\nfees_bps = 10\n'
            f'[[strategies]]\nid = "btc-sma"\nstrategy = "{strategy}"\nsymbol = "BTC/USDT"\nparams = {{ {inline} }}\n'
            f'feed = "recording:binance:BTC/USDT"\nbar = "{bar}"\nspeed = {speed}\n')


def clean_env(*prefixes: str) -> dict[str, str]:
    """This process's environment without the service's variables (and any starting with ``prefixes``)."""
    return {key: value for key, value in os.environ.items() if not key.startswith((*SERVICE_VARIABLE_PREFIXES, *prefixes))}


def service_env(**extra: str) -> dict[str, str]:
    """The environment of a service or a command line: the two tokens, no warnings, then ``extra``."""
    return {**clean_env(), "PYTHONWARNINGS": "ignore", "TRADEPULSE_API_READ_TOKEN": READ_TOKEN,
            "TRADEPULSE_API_OPERATE_TOKEN": OPERATE_TOKEN, **extra}


def assert_no_tokens(*texts: str) -> None:
    for text in texts:
        assert READ_TOKEN not in text and OPERATE_TOKEN not in text and APPROVE_TOKEN not in text, "a token was printed"


def stop_process(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM ``process`` if it still runs; kill it if it has not exited within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PaperService:
    """A real paper service process on ``paper_config(state_dir, **config)`` written in ``directory``.

    ``launcher="serve"`` runs ``tradepulse serve`` as a child (its output in ``log_path``) and stops
    it with SIGTERM; ``launcher="live"`` runs ``tradepulse live start`` (which puts the service in
    the background) and stops it with ``tradepulse live stop --force``. Entering waits until
    ``<state_dir>/service.json`` names the service's pid; leaving (or a failed start) stops it.
    """

    def __init__(self, directory: Path, *, state_dir: str = "state", launcher: str = "serve",
                 config_name: str = "live.toml", log_path: Path | None = None, ready_seconds: float = 90,
                 stop_seconds: float = 60, extra_env: dict[str, str] | None = None, **config: Any) -> None:
        if launcher not in ("serve", "live"):
            raise ValueError(f"launcher is 'serve' or 'live', not {launcher!r}")
        self.directory = Path(directory)
        self.config_path = self.directory / config_name
        self.state_dir = self.directory / state_dir
        self.config_text = paper_config(state_dir, **config)
        self.launcher = launcher
        self.log_path = log_path if log_path is not None else self.directory / "service.log"
        self.ready_seconds = ready_seconds
        self.stop_seconds = stop_seconds
        self.extra_env = dict(extra_env or {})
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self.url = ""
        self.document: dict[str, Any] = {}
        self._stopped = False

    def __enter__(self) -> PaperService:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text)
        try:
            self._launch()
            self.document = eventually(self._advertised, timeout_seconds=self.ready_seconds, interval_seconds=0.1)
            self.url = self.url or self.document["url"]
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tradepulse.cli", *args, "--config", str(self.config_path)]

    def _launch(self) -> None:
        if self.launcher == "serve":
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen(self._command("serve"), cwd=self.directory, env=service_env(**self.extra_env),
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            self.pid = self.process.pid
            return
        started = subprocess.run(self._command("live", "start") + ["--json"], cwd=self.directory, env=service_env(**self.extra_env),
                                 capture_output=True, text=True, timeout=180)
        assert_no_tokens(started.stdout, started.stderr)
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        self.pid, self.url = info["pid"], info["url"]

    def _advertised(self) -> dict[str, Any] | None:
        if self.process is not None:
            assert self.process.poll() is None, self.log_path.read_text(errors="replace")[-3000:]
        try:
            document = json.loads((self.state_dir / "service.json").read_text())
        except (OSError, ValueError):
            return None
        return document if document.get("pid") == self.pid else None

    def stop(self) -> None:
        """Stop the service (again: nothing happens)."""
        if self._stopped:
            return
        self._stopped = True
        if self.process is not None:
            stop_process(self.process, self.stop_seconds)
        elif self.launcher == "live":
            subprocess.run(self._command("live", "stop") + ["--timeout", str(int(self.stop_seconds)), "--force"],
                           cwd=self.directory, env=service_env(), capture_output=True, text=True, timeout=180)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class InProcessService:
    """A service host and its API on 127.0.0.1, run in an event loop on a background thread.

    A :class:`~tradepulse.service.host.ServiceHost` on ``paper_config`` (at 20x, status every half
    second) and uvicorn serving :func:`create_app` in the same event loop, as ``tradepulse serve`` does.
    """

    def __init__(self, directory: Path) -> None:
        from tradepulse.service.auth import ApiAuth

        self.config_path = directory / "service.toml"
        self.config_path.write_text(paper_config(speed=20, status_interval_seconds=0.5))
        self.auth = ApiAuth.from_environ({"TRADEPULSE_API_READ_TOKEN": READ_TOKEN,
                                          "TRADEPULSE_API_OPERATE_TOKEN": OPERATE_TOKEN,
                                          "TRADEPULSE_API_APPROVE_TOKEN": f"reviewer:{APPROVE_TOKEN}"})
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-service", daemon=True)
        self.host: Any = None
        self.server: uvicorn.Server | None = None
        self.serving: asyncio.Future | None = None
        self.base_url = ""

    def __enter__(self) -> InProcessService:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()

    async def _start(self) -> None:
        from tradepulse.service.api import create_app
        from tradepulse.service.config import load_config
        from tradepulse.service.host import ServiceHost

        self.host = ServiceHost(load_config(self.config_path))
        await self.host.start()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        # No log_config: uvicorn's records go to the root logger, where pytest can read them.
        config = uvicorn.Config(create_app(self.host, self.auth), log_config=None, log_level="info", access_log=False,
                                lifespan="off", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.serving = asyncio.ensure_future(self.server.serve(sockets=[listener]))
        while not self.server.started:
            if self.serving.done():
                self.serving.result()
            await asyncio.sleep(0.01)

    async def _stop(self) -> None:
        if self.server is not None and self.serving is not None:
            self.server.should_exit = True
            await self.serving
        if self.host is not None:
            await self.host.stop()

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/api/v1/stream"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessService]:
    """The in-process service of the API tests (import it into a test module to use it)."""
    with InProcessService(tmp_path_factory.mktemp("api-service")) as running:
        yield running
