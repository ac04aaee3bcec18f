"""``tradepulse dashboard``: serve the dashboard notebooks with Voila, read-only, sources hidden.

Voila runs as a child process (``python -m voila``) on the notebooks folder with TradePulse's
offline variant of the lab template, code cells stripped, and a pool of preheated kernels for
the main pages so they open in a second or two. :class:`DashboardServer` is that child process
with a readiness check and a clean stop; the command and the browser tests both use it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from tradepulse.cli._common import add_json_flag, print_json
from tradepulse.errors import ConfigError

__all__ = [
    "DASHBOARD_PAGES",
    "LIVE_PAGES",
    "REPORT_PAGES",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "TEMPLATE",
    "DashboardServer",
    "find_notebooks_dir",
    "free_port",
    "register",
    "voila_command",
    "voila_config",
]

DEFAULT_PORT = 8866
DEFAULT_HOST = "127.0.0.1"
#: The pages a manager opens; each gets a preheated kernel (the other notebooks are served on demand).
DASHBOARD_PAGES = ("backtest_explorer.ipynb", "indicators_dashboard.ipynb")
#: Pages of the running service: listed, never preheated (a warm kernel would hold a connection
#: made before anyone opened the page, to whatever service was up then).
LIVE_PAGES = ("overview_dashboard.ipynb", "live_dashboard.ipynb", "history_dashboard.ipynb")
#: The scheduled research reports: listed, started on demand (they read the job history when opened).
REPORT_PAGES = ("research_reports.ipynb",)
#: What the pages' kernels are told, since Voila cannot pass them parameters.
STATE_DIR_VARIABLE = "TRADEPULSE_STATE_DIR"
JOBS_HISTORY_VARIABLE = "TRADEPULSE_JOBS_HISTORY"
TEMPLATE = "tradepulse"  # Voila's lab template without CDN links (tradepulse/widgets/jupyter_data)
_JUPYTER_DATA = Path(__file__).resolve().parents[1] / "widgets" / "jupyter_data"
_STARTUP_LIMIT_SECONDS = 120.0
_STOP_LIMIT_SECONDS = 20.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the dashboards (overview, live, history, reports, backtest explorer, indicators) with Voila",
        description=(
            "Serve the dashboard notebooks as read-only web pages with Voila: code hidden, the lab\n"
            "template, and a preheated kernel for each main page so it opens without waiting for\n"
            "the backtest to run. Stop with Ctrl-C (or SIGTERM); kernels are shut down cleanly."
        ),
        epilog=("Examples:\n"
                "  tradepulse dashboard --port 8866 --no-browser\n"
                "  TRADEPULSE_API_TOKEN=<read token> tradepulse dashboard --config live.toml   # the live pages show that service"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--notebooks-dir", default=None,
                        help="folder with the dashboard notebooks (default: ./notebooks, else the checkout's)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="a service's config file: the live pages (overview, live, history) show that service")
    parser.add_argument("--jobs-history", metavar="FILE", default=None,
                        help="the job history the reports page reads (default: $TRADEPULSE_STORE_DIR/jobs.sqlite, "
                             "else .tradepulse/jobs.sqlite here)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--no-preheat", action="store_true",
                        help="start kernels on demand instead of keeping one warm per main page")
    parser.add_argument("--verbose", action="store_true", help="show Voila's own log lines")
    add_json_flag(parser)
    parser.set_defaults(handler=_dashboard)


def find_notebooks_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder with the dashboard notebooks, or raise ConfigError saying where to point."""
    if explicit is not None:
        candidates = [Path(explicit).expanduser()]
    else:
        # An installed package has no notebooks/; a source checkout has them beside the package.
        candidates = [Path.cwd() / "notebooks", Path(__file__).resolve().parents[2] / "notebooks"]
    for folder in candidates:
        if (folder / DASHBOARD_PAGES[0]).is_file():
            return folder.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError(
        f"no dashboard notebooks found (looked for {DASHBOARD_PAGES[0]} in {looked}); "
        "run from the TradePulse checkout or pass --notebooks-dir"
    )


def voila_command(
    notebooks_dir: Path, *, port: int, host: str = DEFAULT_HOST, config_dir: Path | None = None, verbose: bool = False
) -> list[str]:
    """Return the ``python -m voila`` command line that serves ``notebooks_dir``.

    ``config_dir`` holds the ``voila.json`` written by :func:`voila_config`; it replaces the
    user's Jupyter config folders, so a personal ``voila.json`` cannot change the dashboards.
    """
    command = [
        sys.executable, "-m", "voila", str(notebooks_dir),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        # Voila would silently move to another port; we promised the user this one.
        "--Voila.port_retries=0",
        f"--Voila.log_level={'INFO' if verbose else 'WARN'}",
    ]
    if config_dir is not None:
        command.append(f"--Voila.config_file_paths={config_dir}")
    return command


def voila_config(notebooks_dir: Path, *, preheat: bool = True) -> dict[str, Any]:
    """Return the Voila configuration of the dashboards (written to ``voila.json``).

    Lab template without CDN links, sources stripped, no tracebacks on the page, and (``preheat``)
    one warm kernel per page in :data:`DASHBOARD_PAGES` that already ran the notebook, while the
    other notebooks start a kernel when opened (pool size 0).
    """
    config: dict[str, Any] = {
        "VoilaConfiguration": {
            "template": TEMPLATE,
            "theme": "light",
            "strip_sources": True,
            "show_tracebacks": False,
            "preheat_kernel": bool(preheat),
        }
    }
    if preheat:
        present = [page for page in DASHBOARD_PAGES if (Path(notebooks_dir) / page).is_file()]
        config["VoilaKernelManager"] = {
            "kernel_pools_config": {"default": {"pool_size": 0}, **{page: {"pool_size": 1} for page in present}}
        }
    return config


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    """Return a TCP port nobody is listening on right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DashboardServer:
    """Voila serving the dashboards in a child process.

    Parameters
    ----------
    notebooks_dir
        Folder of notebooks to serve (see :func:`find_notebooks_dir`).
    port
        Port to listen on; 0 picks a free one.
    host
        Address to listen on.
    preheat
        Keep a warm kernel per page in :data:`DASHBOARD_PAGES`.
    verbose
        Let Voila log at INFO level (startup, kernels) instead of warnings only.
    log_file
        File that receives Voila's and its kernels' output; ``None`` inherits this process's.
    environment
        Variables for Voila and the pages' kernels (which service, which job history).

    Examples
    --------
    >>> with DashboardServer(find_notebooks_dir(), port=0) as server:   # doctest: +SKIP
    ...     print(server.page_url("backtest_explorer.ipynb"))
    """

    def __init__(
        self,
        notebooks_dir: Path,
        *,
        port: int = DEFAULT_PORT,
        host: str = DEFAULT_HOST,
        preheat: bool = True,
        verbose: bool = False,
        log_file: Path | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.notebooks_dir = Path(notebooks_dir)
        self.environment = dict(environment or {})
        self.host = host
        self._any_port = port == 0
        self.port = free_port(host) if port == 0 else int(port)
        self.preheat = preheat
        self.verbose = verbose
        self.log_file = Path(log_file) if log_file is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self.run_dir: Path | None = None

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"

    def page_url(self, page: str) -> str:
        """URL of one notebook rendered as a dashboard page."""
        return f"{self.url}voila/render/{page}"

    @property
    def pages(self) -> dict[str, str]:
        """The main pages that exist in the folder, by notebook name."""
        return {page: self.page_url(page) for page in (*LIVE_PAGES, *REPORT_PAGES, *DASHBOARD_PAGES)
                if (self.notebooks_dir / page).is_file()}

    def start(self, timeout: float = _STARTUP_LIMIT_SECONDS) -> DashboardServer:
        """Start Voila and return once it answers HTTP; raise ConfigError if it cannot start."""
        if self.process is not None and self.process.poll() is None:
            return self  # already running: a second start must not launch (and leak) a second Voila
        for _ in range(5):
            if _port_is_free(self.host, self.port) or not self._any_port:
                break
            # "Any free port" was picked earlier and another socket has taken it since: pick again.
            self.port = free_port(self.host)
        if not _port_is_free(self.host, self.port):
            raise ConfigError(
                f"port {self.port} on {self.host} is already in use; pick another with --port (0 = any free port)"
            )
        self.run_dir = Path(tempfile.mkdtemp(prefix="tradepulse-dashboard-"))
        config = voila_config(self.notebooks_dir, preheat=self.preheat)
        (self.run_dir / "voila.json").write_text(json.dumps(config, indent=2))
        env = {**os.environ, **self.environment}
        # Our template directory first, so Voila finds the "tradepulse" template.
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(_JUPYTER_DATA), env.get("JUPYTER_PATH")]))
        command = voila_command(
            self.notebooks_dir, port=self.port, host=self.host, config_dir=self.run_dir, verbose=self.verbose
        )
        output = open(self.log_file, "ab") if self.log_file is not None else None  # noqa: SIM115 - child owns it
        try:
            self.process = subprocess.Popen(
                command, cwd=self.notebooks_dir, env=env, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT if output is not None else None,
                # Its own session: a terminal's Ctrl-C reaches only us, and we send Voila exactly one
                # SIGTERM. (A second signal during Voila's kernel shutdown would cut that shutdown short.)
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()  # the child holds its own descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise ConfigError(f"Voila exited with code {code} while starting{self._log_tail()}")
            if self._answers():
                return self
            time.sleep(0.2)  # polling a port that is not open yet: nothing to wait on but time
        self.stop()
        raise ConfigError(f"Voila did not answer on {self.url} within {timeout:g} s{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_file is None or not self.log_file.is_file():
            return "; see its output above"
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"; last lines of {self.log_file}:\n" + "\n".join(tail)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                return response.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (urllib.error.URLError, OSError):
            return False

    def wait(self) -> int:
        """Block until Voila exits; return its exit code."""
        if self.process is None:
            return 0
        return self.process.wait()

    def stop(self, timeout: float = _STOP_LIMIT_SECONDS) -> int | None:
        """Ask Voila to shut down its kernels and exit (SIGTERM); kill it if it does not in ``timeout``."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        return process.returncode

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _Terminated(Exception):
    """SIGTERM arrived; unwind like Ctrl-C so Voila is stopped cleanly."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dashboard(args: argparse.Namespace) -> int:
    notebooks_dir = find_notebooks_dir(args.notebooks_dir)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    port = free_port(args.host) if args.port == 0 else args.port
    # Voila and its kernels are chatty; their output goes to a log file unless asked for.
    log_file = None if args.verbose else Path(tempfile.gettempdir()) / f"tradepulse-dashboard-{port}.log"
    server = DashboardServer(
        notebooks_dir, port=port, host=args.host, preheat=not args.no_preheat, verbose=args.verbose,
        log_file=log_file,
    )
    environment = _page_environment(args)
    server.environment.update(environment)
    say = (lambda *_: None) if args.json else (lambda text: print(text, flush=True))
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(f"tradepulse: note: listening on {args.host}: anyone who can reach it can view the dashboards "
              "(they are read-only)", file=sys.stderr)
    with _sigterm_raises():
        try:
            say(f"Starting Voila on {server.url} (serving {notebooks_dir})…")
            server.start()
            _announce(server, args.json, say)
            if not args.no_browser:
                webbrowser.open(server.page_url(DASHBOARD_PAGES[0]))
            code = server.wait()
            if code != 0:
                where = f"; see {server.log_file}" if server.log_file else ""
                print(f"tradepulse: error: Voila stopped unexpectedly (exit code {code}){where}", file=sys.stderr)
                return 1
            return 0
        except (KeyboardInterrupt, _Terminated):
            say("Stopping the dashboard…")
            server.stop()
            say("Stopped.")
            return 0
        finally:
            server.stop()


def _page_environment(args: argparse.Namespace) -> dict[str, str]:
    """Where the pages' kernels find the service and the job history (absolute: they run in the notebooks folder)."""
    from tradepulse.jobs.history import resolve_store_path

    environment = {JOBS_HISTORY_VARIABLE: str(resolve_store_path(args.jobs_history).resolve())}
    if args.config is not None:
        from tradepulse.client_base import state_dir_of

        environment[STATE_DIR_VARIABLE] = str(Path(state_dir_of(args.config)).resolve())
    return environment


def _announce(server: DashboardServer, as_json: bool, say: Any) -> None:
    if as_json:
        print_json({"url": server.url, "pages": server.pages, "preheat": server.preheat,
                    "notebooks_dir": str(server.notebooks_dir),
                    "state_dir": server.environment.get(STATE_DIR_VARIABLE),
                    "jobs_history": server.environment.get(JOBS_HISTORY_VARIABLE),
                    "log_file": str(server.log_file) if server.log_file else None})
        sys.stdout.flush()
        return
    say(f"TradePulse dashboard: {server.url}")
    for page, url in server.pages.items():
        say(f"  {Path(page).stem.replace('_', ' '):<22} {url}")
    if STATE_DIR_VARIABLE in server.environment:
        say(f"Live pages show the service of {server.environment[STATE_DIR_VARIABLE]}")
    if server.log_file is not None:
        say(f"Voila's log: {server.log_file}")
    say("Press Ctrl-C to stop.")

