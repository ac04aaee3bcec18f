"""Run the local venue and the live service as child processes, for drills, trials, demos and tests.

A drill needs the same things every time: the local Binance-compatible venue
(``tradepulse venue serve --json``, whose first stdout line holds its URLs), one or more services
(``tradepulse serve --config FILE``, ready once ``<state_dir>/service.json`` names its pid), keys
and API tokens made for this run only and handed to the children in their environment, faults
injected through the venue's ``/_control`` API, and every child stopped at the end, also when a
step fails.

- :class:`LocalVenue` and :class:`ServiceProcess`: one child each; ``start()`` waits until it is
  ready (bounded) or raises :class:`ProcessFailed` naming its log file; ``stop()`` is SIGTERM (the
  graceful stop; SIGKILL after a timeout) and returns the exit code; ``kill()`` is ``kill -9``.
- :class:`Drill`: a folder (temporary unless given), fresh :class:`Credentials` and the children
  started in it; closing it stops them all, newest first, and removes a temporary folder. It is
  also registered with :mod:`atexit`, so a notebook kernel that exits mid-drill leaves nothing behind.
- :func:`wait_for` polls a condition with a deadline; :func:`token_from` reads a token the way an
  operator passes it; :func:`shown_url` is a URL safe to print; :func:`ask_venue` reads the venue
  account's own view (balances, orders, trades) with ccxt, from synchronous code such as a notebook cell.

Children run in their own session, so a Ctrl-C meant for the parent (a demo, a notebook cell) does
not reach them: the parent decides how they stop. On Linux each child also gets SIGTERM when the
thread that started it dies (``PR_SET_PDEATHSIG``), so a killed kernel or test worker does not leave
a service trading on its own.

Examples
--------
>>> from tradepulse.service.processes import Drill
>>> with Drill() as drill:                                   # doctest: +SKIP
...     venue = drill.venue(speed=10, balances={"USDT": "2000", "BTC": "0.01"})
...     service = drill.service(config_path)                 # a ccxt "binance" config
...     with service.client() as client:
...         venue.faults(rest_error_rate=1.0)
...         client.status()["trading_state"]
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from tradepulse.errors import TradePulseError
from tradepulse.service.drill_support import OPERATE_TOKEN as _OPERATE_TOKEN
from tradepulse.service.drill_support import Credentials, ask_venue, generated_credentials

if TYPE_CHECKING:
    from tradepulse.client import LiveClient

__all__ = [
    "Credentials",
    "Drill",
    "LocalVenue",
    "ProcessFailed",
    "ServiceProcess",
    "ask_venue",
    "generated_credentials",
    "shown_url",
    "token_from",
    "wait_for",
]

T = TypeVar("T")

#: The last log line quoted in an error is cut here: the message stays one readable line.
_QUOTED_CHARS = 300
#: The drill service of the runbooks: the paper venue replaying recorded BTC/USDT trades.
_PAPER_CONFIG = (
    'service = {{ state_dir = "state", watchdog_seconds = 30 }}\n'
    "api = {{ port = 0 }}\n"
    'venue = {{ kind = "paper", init_cash = 10000, fees_bps = 10 }}\n'
    '[[strategies]]\nid = "btc-sma"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\nparams = {{ fast = 3, slow = 8 }}\n'
    'feed = "recording:binance:BTC/USDT"\nbar = "{bar}"\nspeed = {speed:g}\n'
)


class ProcessFailed(TradePulseError):
    """A child process did not start (or answer) as expected; the message names its log file."""


def _die_with_parent_hook() -> Callable[[], None] | None:
    # Looked up here, in the parent, so the child only makes the system call between fork and exec.
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:
        prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG

    return die_with_parent


_DIE_WITH_PARENT = _die_with_parent_hook()


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll ``condition()`` until it returns something truthy, and return that.

    Parameters
    ----------
    condition
        Called every ``interval`` seconds; an exception it raises ends the wait (a child that
        exited is better reported at once than after the timeout).
    timeout
        Seconds to wait before giving up.
    what
        What is awaited, for the error message (``"the first fill"``).
    interval
        Seconds between polls.

    Returns
    -------
    The first truthy value ``condition()`` returned.

    Raises
    ------
    TimeoutError
        ``condition()`` stayed falsy for ``timeout`` seconds; the message names ``what``.
    """
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)
    return value


def token_from(variable: str) -> str | None:
    """The token an operator passed in the environment variable ``variable``.

    Parameters
    ----------
    variable
        The variable's name; its ``_FILE`` twin, naming a file that holds the token, works too.

    Returns
    -------
    The token, or ``None`` when neither is set (the client then falls back to its defaults).
    """
    from tradepulse.adapters.credentials import read_secret_variable

    return read_secret_variable(variable, os.environ) or None


def shown_url(url: str) -> str:
    """``url`` without any user-info: safe to print (a password in a URL is a secret too).

    Parameters
    ----------
    url
        Any URL, e.g. a client's ``url``.

    Returns
    -------
    The URL with user name and password removed.
    """
    from tradepulse.client_base import display_url

    return display_url(url)


class _Child:
    """What a venue and a service process share: launch, log, stop, kill, ``with``."""

    name = "child"

    def __init__(self, log: Path, env: Mapping[str, str] | None, start_timeout: float, stop_timeout: float) -> None:
        self.log = Path(log)
        self.env = dict(os.environ if env is None else env)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pid={self.pid}, running={self.running}, log={str(self.log)!r})"

    def start(self) -> Any:  # pragma: no cover - every child defines it
        raise NotImplementedError

    def _launch(self, args: Sequence[str], stdout: int | IO[bytes]) -> subprocess.Popen:
        """Start ``tradepulse <args>``; stderr goes to the log, stdout too when it is ``subprocess.STDOUT``."""
        if self.running:
            raise ProcessFailed(f"the {self.name} is already running (pid {self.pid})")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # The child holds its own copy of the log's descriptor; ours can close at once.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tradepulse.cli", *args], env=self.env, stdin=subprocess.DEVNULL,
                stdout=log if stdout is subprocess.STDOUT else stdout, stderr=log,
                start_new_session=True, preexec_fn=_DIE_WITH_PARENT)
        return self.process

    @property
    def pid(self) -> int | None:
        """The process id of the current (or last) process, ``None`` before the first start."""
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        """Whether a process was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop gracefully: SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds.

        Parameters
        ----------
        timeout
            Seconds to wait after SIGTERM (default: the ``stop_timeout`` given at construction).

        Returns
        -------
        The exit code (0 for a clean stop, negative for a signal), ``None`` if it never started.
        """
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._closed()
        return self.process.returncode

    def kill(self) -> int | None:
        """``kill -9``: no chance to clean up, as in a crash.

        Returns
        -------
        The exit code (``-9`` unless it had exited already), ``None`` if it never started.
        """
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._closed()
        return self.process.returncode

    def _closed(self) -> None:
        """Release what the parent holds for a process that has exited."""

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the log file (``"(no log)"`` when there is none).

        Parameters
        ----------
        lines
            How many lines.

        Returns
        -------
        The lines, joined by newlines.
        """
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])

    def _failed(self, what: str) -> ProcessFailed:
        """A one-line error: what happened, the last thing the child logged, and where its log is."""
        last = self.log_tail(1).strip()
        if last == "(no log)":
            last = ""
        if len(last) > _QUOTED_CHARS:
            last = last[:_QUOTED_CHARS] + "..."
        return ProcessFailed(f"the {self.name} {what}" + (f": {last}" if last else "") + f" (log: {self.log})")

    def __enter__(self) -> Any:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class LocalVenue(_Child):
    """The local Binance-compatible venue (``tradepulse venue serve``) as a child process.

    Parameters
    ----------
    directory
        Where its log (``venue.log``) goes.
    env
        Its environment (default: this process's); the account is ``TRADEPULSE_VENUE_API_KEY`` /
        ``_SECRET`` in it (see :meth:`Credentials.environ`).
    speed
        Replay speed of the recorded market (10: ten times real time).
    seed
        Seed of the venue's random faults and generated ids.
    start_offset
        Seconds into the recording where the replay opens (``--start-offset``; what comes before is
        replayed at once, unpublished, so history exists). Default: the venue's (300).
    balances
        The account's starting balances (``{"USDT": "3000", "BTC": "0.02"}``); default: the venue's.
    fee_asset
        Pay commissions in this asset (``"BNB"``: ``--fee-asset BNB``, a BNBUSDT market fixed at 560
        USDT values them). Default balances gain 1 BNB; given ``balances`` must name the asset.
    start_timeout, stop_timeout
        Seconds to wait for its URLs, and for its graceful stop.

    Examples
    --------
    >>> with LocalVenue(folder, env, balances={"USDT": "1000"}) as venue:   # doctest: +SKIP
    ...     venue.faults(rest_error_rate=0.1)
    ...     venue.control("ws/drop", {"target": "user"})
    """

    name = "local venue"

    def __init__(self, directory: Path, env: Mapping[str, str] | None = None, *, speed: float = 10.0, seed: int = 0,
                 balances: Mapping[str, str | float] | None = None, fee_asset: str | None = None,
                 start_offset: float | None = None, start_timeout: float = 90.0, stop_timeout: float = 30.0) -> None:
        super().__init__(Path(directory) / "venue.log", env, start_timeout, stop_timeout)
        self.args = ["venue", "serve", "--port", "0", "--json", "--speed", str(speed), "--seed", str(seed)]
        if start_offset is not None:
            self.args += ["--start-offset", str(start_offset)]
        for asset, amount in (balances or {}).items():
            self.args += ["--balance", f"{asset}={amount}"]
        if fee_asset is not None:
            self.args += ["--fee-asset", fee_asset]
        self.urls: dict[str, Any] = {}
        self._http: Any = None

    def start(self) -> LocalVenue:
        """Start the venue and wait for its first stdout line (its URLs, as JSON).

        Returns
        -------
        LocalVenue
            This venue, started.

        Raises
        ------
        ProcessFailed
            It exited, or printed nothing within ``start_timeout``; it is not left running.
        """
        process = self._launch(self.args, subprocess.PIPE)
        try:
            self.urls = self._first_line(process)
        except BaseException:
            self.kill()
            raise
        import httpx

        # trust_env=False: a proxy from the environment must not sit between a drill and its venue.
        self._http = httpx.Client(base_url=self.control_url + "/", timeout=10, trust_env=False)
        return self

    def _first_line(self, process: subprocess.Popen) -> dict[str, Any]:
        assert process.stdout is not None
        # A selector, not a blocking readline: a venue that hangs before printing must not hang us.
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = process.stdout.readline()
                    if line.strip():
                        return json.loads(line)
                    if not line:  # end of file: it exited
                        break
        if process.poll() is not None:
            process.wait()
            raise self._failed(f"exited with code {process.returncode} while starting")
        raise self._failed(f"printed no URLs within {self.start_timeout:g} s")

    def _url(self, name: str) -> str:
        if not self.urls:
            raise ProcessFailed(f"the {self.name} has not been started (log: {self.log})")
        return str(self.urls[name])

    @property
    def rest_url(self) -> str:
        """The REST API (``http://127.0.0.1:PORT/api/v3``)."""
        return self._url("rest")

    @property
    def base_url(self) -> str:
        """The venue's root URL, which ``TRADEPULSE_BINANCE_URL`` takes (ccxt adds ``/api/v3``)."""
        return self.rest_url.removesuffix("/api/v3")

    @property
    def control_url(self) -> str:
        """The control API (``.../_control``): faults, replay, dropped streams; emulator-only."""
        return self._url("control")

    def control(self, path: str, body: Mapping[str, Any] | None = None, method: str = "POST") -> Any:
        """Call the venue's control API (docs/emulator.md).

        Parameters
        ----------
        path
            Relative to ``/_control``: ``"faults"``, ``"ws/drop"``, ``"replay"``, ``"state"``...
        body
            The JSON body, if any.
        method
            ``"POST"``, ``"GET"`` or ``"DELETE"``.

        Returns
        -------
        The venue's JSON answer (``None`` if it sent no body).

        Raises
        ------
        httpx.HTTPStatusError
            The venue refused the call.
        """
        if self._http is None:
            raise ProcessFailed(f"the {self.name} has not been started (log: {self.log})")
        response = self._http.request(method, path.lstrip("/"), json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def faults(self, **settings: Any) -> Any:
        """Change fault settings (``rest_error_rate=1.0``, ``latency_ms=15``, ``lose_order_response_next=1``...).

        Parameters
        ----------
        **settings
            The settings to change; the others keep their values.

        Returns
        -------
        The venue's answer (its fault settings now).
        """
        return self.control("faults", settings)

    def clear_faults(self) -> Any:
        """Switch every fault off.

        Returns
        -------
        The venue's answer.
        """
        return self.control("faults", method="DELETE")

    def _closed(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


class ServiceProcess(_Child):
    """A live service (``tradepulse serve --config FILE``) as a child process.

    Parameters
    ----------
    config
        The service's config file; its ``[service] state_dir`` is where ``service.json`` appears.
    env
        Its environment (default: this process's): API tokens, venue keys and URL.
    log
        Its stdout and stderr (default: ``service.log`` next to the config file); appended to, so a
        restarted service continues the same file.
    start_timeout, stop_timeout
        Seconds to wait for ``service.json``, and for the graceful stop.

    Examples
    --------
    >>> with ServiceProcess(Path("live.toml"), env) as service:      # doctest: +SKIP
    ...     service.client().status()["trading_state"]
    ...     service.kill()       # a crash
    ...     service.start()      # the warm start
    """

    name = "service"

    def __init__(self, config: Path, env: Mapping[str, str] | None = None, *, log: Path | None = None,
                 start_timeout: float = 90.0, stop_timeout: float = 60.0) -> None:
        config = Path(config)
        super().__init__(config.parent / "service.log" if log is None else log, env, start_timeout, stop_timeout)
        self.config = config
        #: ``service.json`` of the running service: pid, url, started_at, config, state_dir, mode.
        self.info: dict[str, Any] = {}

    @property
    def state_dir(self) -> Path:
        """The config's ``[service] state_dir``, resolved against the config file's folder."""
        from tradepulse.client_base import state_dir_of

        return state_dir_of(self.config)

    def start(self) -> ServiceProcess:
        """Start the service and wait until its ``service.json`` names this process.

        Also starts a service that was stopped or killed: the same config, a new process (a warm
        start when its journal exists).

        Returns
        -------
        ServiceProcess
            This service, listening.

        Raises
        ------
        ProcessFailed
            It exited while starting, or did not listen within ``start_timeout`` (it is then
            killed); the one-line message quotes its last log line and names the log.
        """
        from tradepulse.client_base import read_service_file

        state_dir = self.state_dir
        self.info = {}
        process = self._launch(["serve", "--config", str(self.config)], subprocess.STDOUT)

        def listening() -> dict[str, Any] | None:
            if process.poll() is not None:
                raise self._failed(f"exited with code {process.returncode} while starting")
            document = read_service_file(state_dir)
            # A service.json a killed predecessor left behind names another pid.
            return document if document is not None and document.get("pid") == process.pid else None

        try:
            self.info = wait_for(listening, self.start_timeout, f"the {self.name} listening", interval=0.05)
        except TimeoutError:
            self.kill()
            raise self._failed(f"did not listen within {self.start_timeout:g} s") from None
        return self

    @property
    def url(self) -> str:
        """The API base the running service advertised (``http://127.0.0.1:PORT/api/v1``)."""
        if not self.info:
            raise ProcessFailed(f"the {self.name} has not been started (log: {self.log})")
        return str(self.info["url"])

    def client(self, token: str | None = None, timeout: float = 10.0) -> LiveClient:
        """A :class:`tradepulse.client.LiveClient` of this service.

        Parameters
        ----------
        token
            The bearer token; by default the operate token this service was given (its
            ``TRADEPULSE_API_OPERATE_TOKEN`` or ``_FILE`` twin).
        timeout
            Seconds to wait for each answer.

        Returns
        -------
        tradepulse.client.LiveClient
            Close it, or use it in a ``with`` block.
        """
        from tradepulse.adapters.credentials import read_secret_variable
        from tradepulse.client import LiveClient

        return LiveClient(self.url, token=token if token is not None else read_secret_variable(_OPERATE_TOKEN, self.env),
                          timeout=timeout)


class Drill:
    """A folder, fresh credentials, and the venue and services started in it; :meth:`close` stops them all.

    Parameters
    ----------
    folder
        Where logs, configs and state go. ``None``: a new temporary folder, removed on close.
    prefix
        Names the temporary folder and starts the venue key.
    base_env
        What the children's environment starts from (default: this process's).
    token_file
        Hand the operate token over in this file (mode 0600) instead of the environment.

    Attributes
    ----------
    folder : Path
    credentials : Credentials
    env : dict
        The children's environment; starting a venue adds its URL, so services started after it
        trade there.

    Examples
    --------
    >>> with Drill() as drill:                                   # doctest: +SKIP
    ...     client = drill.paper_service().client()
    ...     client.kill("drill")
    """

    def __init__(self, folder: Path | None = None, *, prefix: str = "drill", base_env: Mapping[str, str] | None = None,
                 token_file: Path | None = None) -> None:
        self.temporary = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix=f"tradepulse-{prefix}-")) if folder is None else Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.credentials = generated_credentials(prefix)
        self.env = self.credentials.environ(base_env, token_file=token_file)
        self.children: list[_Child] = []
        self._closed = False
        # Also when a notebook step fails and the kernel exits without reaching the tear-down cell.
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"Drill({str(self.folder)!r}, {len(self.children)} processes)"

    def venue(self, *, speed: float = 10.0, seed: int = 0, balances: Mapping[str, str | float] | None = None,
              fee_asset: str | None = None, start_offset: float | None = None, timeout: float = 90.0) -> LocalVenue:
        """Start the local venue in the folder; services started afterwards trade on it.

        Parameters
        ----------
        speed, seed, balances, fee_asset, start_offset
            As for :class:`LocalVenue`.
        timeout
            Seconds it may take to start.

        Returns
        -------
        LocalVenue
            Started.
        """
        venue = LocalVenue(self.folder, self.env, speed=speed, seed=seed, balances=balances, fee_asset=fee_asset,
                           start_offset=start_offset, start_timeout=timeout)
        self.children.append(venue)
        venue.start()
        self.env["TRADEPULSE_BINANCE_URL"] = venue.base_url
        return venue

    def service(self, config: Path, *, start: bool = True, timeout: float = 90.0) -> ServiceProcess:
        """A service on ``config``, logging to ``service.log`` next to it.

        Parameters
        ----------
        config
            The config file.
        start
            Start it now (``False``: call ``start()`` when it should run).
        timeout
            Seconds it may take to start listening.

        Returns
        -------
        ServiceProcess
            Started unless ``start`` is false.
        """
        service = ServiceProcess(config, self.env, start_timeout=timeout)
        self.children.append(service)
        return service.start() if start else service

    def paper_service(self, *, bar: str = "5s", speed: float = 10.0, timeout: float = 90.0) -> ServiceProcess:
        """The runbooks' drill service: ``sma_cross`` on the paper venue, replaying recorded BTC/USDT trades.

        Parameters
        ----------
        bar
            Bar length (in replay time).
        speed
            Replay speed.
        timeout
            Seconds it may take to start listening.

        Returns
        -------
        ServiceProcess
            Started, with its state in ``<folder>/state``.
        """
        config = self.folder / "live.toml"
        config.write_text(_PAPER_CONFIG.format(bar=bar, speed=speed), encoding="utf-8")
        return self.service(config, timeout=timeout)

    def close(self) -> dict[str, int | None]:
        """Stop every child, newest first (services before the venue they trade on); remove a temporary folder.

        Returns
        -------
        dict
            Exit code by child (``"service"``, ``"local venue"``; a pid is added to repeated names).
            Closing again returns ``{}``.
        """
        if self._closed:
            return {}
        self._closed = True
        atexit.unregister(self.close)
        codes: dict[str, int | None] = {}
        try:
            for child in reversed(self.children):
                code = child.stop()
                codes[child.name if child.name not in codes else f"{child.name} {child.pid}"] = code
        finally:
            if self.temporary:
                shutil.rmtree(self.folder, ignore_errors=True)
        return codes

    def __enter__(self) -> Drill:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
