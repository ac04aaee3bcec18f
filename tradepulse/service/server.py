"""Run the service: the host and its API in one event loop, stopped gracefully by SIGTERM/SIGINT.

Order of events:

1. Read the API tokens (no token, no service: it never serves its API open) and bind the API
   socket (a port in use fails here, before anything trades).
2. Start the host (engines, warm-start reconciliation), then the API; write
   ``<state_dir>/service.json`` (pid and URL) so ``tradepulse live ...`` and the client find it.
3. On SIGTERM or SIGINT: stop the strategies (cancelling open orders if configured), flush and
   close the journals, stop the API, remove ``service.json``, return 0.

uvicorn's own signal handling is switched off: it re-raises the signal after shutting down,
which would end the process with "killed by SIGTERM" instead of exit code 0, and it would stop
the API before the engines had cancelled their orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.service.config import ServiceConfig

__all__ = ["run_service", "serve", "service_file"]

logger = logging.getLogger("tradepulse.service")


def service_file(state_dir: Path) -> Path:
    """Where a running service advertises its pid and URL."""
    return state_dir / "service.json"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(f"[api] cannot listen on {host}:{port} ({error.strerror or error}); is another service using it?") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/api/v1"


async def serve(config: ServiceConfig, *, environ: Mapping[str, str] | None = None,
                on_ready: Callable[[dict[str, Any]], None] | None = None, handle_signals: bool = True,
                stop_event: asyncio.Event | None = None) -> int:
    """Run the service until a signal (or ``stop_event``); return the exit code.

    Parameters
    ----------
    config
        The validated configuration.
    environ
        Environment for tokens, venue credentials and the alert URL (``os.environ`` by default).
    on_ready
        Called with ``{"pid", "url", "started_at", "config", "state_dir", "mode"}`` once the API listens.
    handle_signals
        Install SIGTERM/SIGINT handlers (off when embedded, e.g. in tests that own the loop).
    stop_event
        Set it to stop the service as SIGTERM would.
    """
    import uvicorn

    from tradepulse.service.api import create_app
    from tradepulse.service.auth import ApiAuth
    from tradepulse.service.host import ServiceHost

    env = os.environ if environ is None else environ
    auth = ApiAuth.from_environ(env)
    sock = _bind(config.api.host, config.api.port)
    port = sock.getsockname()[1]
    host = ServiceHost(config, environ=env)
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: reload_tokens(auth, env, host))
    advertised = service_file(config.state_dir)
    server: Any = None
    server_task: asyncio.Task | None = None
    advertising = False
    try:
        # A standby waits inside start() for the lease; a stop signal must end that wait too.
        starting = asyncio.ensure_future(host.start())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            logger.info("service stopped before it started (a standby that never took over)")
            return 0
        stopping.cancel()
        starting.result()
        app = create_app(host, auth)
        server = _QuietServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", ws_ping_interval=20))
        server_task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if server_task.done():
                server_task.result()
                raise ConfigError("the API server stopped while starting")
            await asyncio.sleep(0.02)
        ready = {"pid": os.getpid(), "url": _url(config.api.host, port), "started_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                 "config": str(config.path.resolve()) if config.path else None, "state_dir": str(config.state_dir),
                 "mode": host.start_mode}
        tmp = advertised.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(ready) + "\n", encoding="utf-8")
        tmp.replace(advertised)
        advertising = True
        logger.info("service listening", extra={"url": ready["url"], "mode": host.start_mode})
        if on_ready is not None:
            on_ready(ready)
        stop_wait = asyncio.ensure_future(stop.wait())
        await asyncio.wait({stop_wait, server_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        logger.info("service stopping")
        return 0
    finally:
        # Engines first (cancel orders, flush journals), then the API: clients see the stop happen.
        await host.stop()
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(server_task, timeout=10)
        sock.close()
        if advertising:  # never another service's: a refused second start must leave the first one's file
            with contextlib.suppress(FileNotFoundError):
                advertised.unlink()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)


class _QuietServer:
    """A uvicorn server that leaves signals to :func:`serve` (see the module docstring)."""

    def __new__(cls, config: Any) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        return Server(config)


def reload_tokens(auth: Any, env: Mapping[str, str], host: Any = None) -> bool:
    """Re-read the API tokens (SIGHUP): a rotation without a restart. A bad new set is refused, the old one kept.

    The variables are the process's own (they cannot change); what changes is the content of the
    files their ``_FILE`` twins name, which is how secrets are mounted (docs/api.md, "Rotation").
    """
    from tradepulse.model.kinds import ServiceKind
    from tradepulse.service.auth import ApiAuth

    try:
        fresh = ApiAuth.from_environ(env)
        auth.replace_with(fresh)
    except ConfigError as error:
        logger.error("API token reload refused; the tokens in use stay", extra={"error": str(error)})
        return False
    logger.warning("API tokens reloaded", extra={"tokens": auth.counts()})
    if host is not None:
        host.journal_service_event(ServiceKind.TOKENS_RELOADED, {"tokens": auth.counts()})
    return True


def run_service(config: ServiceConfig, *, on_ready: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Blocking entry point of ``tradepulse serve``: JSON logs, then :func:`serve`."""
    from tradepulse.obs.json_logs import configure_logging

    configure_logging(config.service.log_level, service=config.service.name)
    # Library chatter that would drown the service's own lines at INFO.
    for noisy in ("uvicorn.error", "uvicorn.access", "ccxt.base.exchange", "websockets", "aiohttp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(serve(config, on_ready=on_ready))
