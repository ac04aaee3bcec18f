"""What :mod:`tradepulse.client` shares between its sync and async clients.

Errors, the token rules, URL handling, the requests each method sends and how an answer (or a
failure) becomes a value or one clear :class:`ServiceError`. Nothing here does I/O on the network;
the clients do. The state-directory helpers (``service.json``, ``service.pid``, is that process
alive) are shared with ``tradepulse live start|stop``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tradepulse.adapters.credentials import Secret, read_secret_variable
from tradepulse.errors import ConfigError, TradePulseError

__all__ = [
    "API_PATH",
    "OPERATE_TOKEN_VARIABLE",
    "READ_TOKEN_VARIABLE",
    "SERVICE_FILE",
    "PID_FILE",
    "TOKEN_VARIABLE",
    "ServiceError",
    "ServiceForbidden",
    "ServiceInvalidRequest",
    "ServiceNotFound",
    "ServiceRefused",
    "ServiceServerError",
    "ServiceUnauthorized",
    "ServiceUnreachable",
]

API_PATH = "/api/v1"
#: The client's own variable; falls back to the service's operate, then read token variable.
TOKEN_VARIABLE = "TRADEPULSE_API_TOKEN"
OPERATE_TOKEN_VARIABLE = "TRADEPULSE_API_OPERATE_TOKEN"
READ_TOKEN_VARIABLE = "TRADEPULSE_API_READ_TOKEN"
#: The service's list of reviewers' ``name:token`` entries; a client never reads it (it is not one token).
APPROVE_TOKEN_VARIABLE = "TRADEPULSE_API_APPROVE_TOKEN"
TOKEN_VARIABLES = (TOKEN_VARIABLE, OPERATE_TOKEN_VARIABLE, READ_TOKEN_VARIABLE)
#: Files in the service's state directory: written by ``tradepulse serve`` / ``tradepulse live start``.
SERVICE_FILE = "service.json"
PID_FILE = "service.pid"
LOG_FILE = "service.log"
#: WebSocket close codes of the stream (see tradepulse.service.api).
WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_FORBIDDEN = 4403
_STATUS_HINT = "`tradepulse live status --config FILE` tells whether it runs"


# -- errors --------------------------------------------------------------------------------------


class ServiceError(TradePulseError):
    """The service could not be reached, or it answered with an error. One sentence, never a token.

    ``status`` is the HTTP status (``None`` when nothing answered), ``code`` the API's error code
    (``"forbidden"``, ``"validation_error"``, ...) when it sent one.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ServiceUnreachable(ServiceError):
    """Nothing answers at the URL (refused, timed out, not running, not a TradePulse service)."""


class ServiceUnauthorized(ServiceError):
    """401: no token was sent, or the service does not know it."""


class ServiceForbidden(ServiceError):
    """403: the token's scope does not cover the request (an action needs operate, a review approve)."""


class ServiceNotFound(ServiceError):
    """404: an unknown strategy id or route."""


class ServiceInvalidRequest(ServiceError):
    """400/405/422: the service rejected the request's parameters or body."""


class ServiceRefused(ServiceError):
    """409: the service refused an operator action (its message says why)."""


class ServiceServerError(ServiceError):
    """5xx: the service (or, for 502, the venue behind it) failed."""


# -- token ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """The bearer token and where it came from (the source is safe to print; the value never is)."""

    secret: Secret | None
    source: str

    @property
    def described(self) -> str:
        """``"the token in TRADEPULSE_API_TOKEN"``, ``"the token given to the client"`` or ``"no token"``."""
        if self.secret is None:
            return "no token"
        return f"the token in {self.source}" if self.source.startswith("TRADEPULSE_") else "the token given to the client"

    @property
    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret.reveal()}"} if self.secret else {}


def resolve_token(token: str | Secret | None = None, environ: Mapping[str, str] | None = None) -> Token:
    """The token to send: ``token`` if given, else the first of ``TRADEPULSE_API_TOKEN``,
    ``TRADEPULSE_API_OPERATE_TOKEN`` and ``TRADEPULSE_API_READ_TOKEN`` (or their ``_FILE`` twins).

    A service variable may list several tokens separated by commas (rotation); the first is used.
    """
    if token is not None:
        value = token.reveal() if isinstance(token, Secret) else token
        if not isinstance(value, str):
            raise TypeError("token must be a str (or a Secret)")
        value = value.strip()
        return Token(Secret(value) if value else None, "argument")
    env = os.environ if environ is None else environ
    for variable in TOKEN_VARIABLES:
        raw = read_secret_variable(variable, env)
        first = next((part.strip() for part in (raw or "").split(",") if part.strip()), None)
        if first:
            return Token(Secret(first), variable)
    return Token(None, "")


# -- URLs ----------------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """``http://host:port`` or ``http://host:port/api/v1`` -> the API base ``http://host:port/api/v1``.

    Raises :class:`ConfigError` for anything that is not an http(s) URL with a host.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("the service URL is empty; give one like http://127.0.0.1:8765/api/v1")
    text = url.strip()
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"{display_url(text)} is not a valid URL; give one like http://127.0.0.1:8765/api/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{display_url(text)} is not an http:// or https:// URL with a host; "
                          "give one like http://127.0.0.1:8765/api/v1")
    if parts.query or parts.fragment:
        raise ConfigError(f"{display_url(text)} has a query or fragment; give the API base like http://127.0.0.1:8765/api/v1")
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        path = f"{path}{API_PATH}"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def display_url(url: str) -> str:
    """``url`` without any user-info (a password in a URL is a secret too)."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return "the URL given"


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def websocket_url(base: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/stream", "", ""))


# -- requests and answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API request: method, path under the API base, query parameters and JSON body."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    text: bool = False


def _params(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _reason(reason: str, action: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{action} needs a reason (a short sentence; it is journaled with the action)")
    return reason.strip()


def _statuses(status: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    return [str(item).strip().upper() for item in items if str(item).strip()] or None


def _instant(value: datetime | str | None, name: str) -> str | None:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ConfigError(f"{name} needs a time zone (e.g. datetime.now(UTC)); a naive time could mean any zone")
    return value.isoformat()


class Calls:
    """The request each client method sends (shared by :class:`LiveClient` and :class:`AsyncLiveClient`)."""

    @staticmethod
    def get(path: str, **params: Any) -> Call:
        return Call("GET", path, _params(**params))

    @staticmethod
    def orders(status: Any, symbol: str | None, strategy_id: str | None, limit: int, offset: int) -> Call:
        return Call("GET", "/orders", _params(status=_statuses(status), symbol=symbol, strategy_id=strategy_id,
                                              limit=limit, offset=offset))

    @staticmethod
    def execution(since: datetime | str | None, strategy_id: str | None) -> Call:
        return Call("GET", "/execution", _params(since=_instant(since, "since"), strategy_id=strategy_id))

    @staticmethod
    def kill(reason: str, flatten: bool) -> Call:
        return Call("POST", "/actions/kill", body={"reason": _reason(reason, "kill"), "flatten": bool(flatten)})

    @staticmethod
    def action(name: str, reason: str) -> Call:
        return Call("POST", f"/actions/{name}", body={"reason": _reason(reason, name)})

    @staticmethod
    def metrics() -> Call:
        return Call("GET", "/metrics", text=True)

    @staticmethod
    def version(version_id: str) -> Call:
        return Call("GET", f"/versions/{_segment(version_id)}")

    @staticmethod
    def review(version_id: str, decision: str, comment: str) -> Call:
        if not isinstance(comment, str) or not comment.strip():
            raise ConfigError(f"to {decision} a version needs a comment saying what was reviewed and why")
        return Call("POST", f"/versions/{_segment(version_id)}/{decision}", body={"comment": comment.strip()})

    @staticmethod
    def rollback(strategy: str, reason: str) -> Call:
        return Call("POST", "/actions/rollback", body={"strategy": strategy, "reason": _reason(reason, "rollback")})


def _segment(value: str) -> str:
    """A path segment, refused when it could step elsewhere (the server checks its pattern too)."""
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        raise ConfigError(f"not a version id: {value!r}")
    return value


def unreachable(url: str, detail: str | None = None) -> ServiceUnreachable:
    why = f" ({detail})" if detail else ""
    return ServiceUnreachable(f"no TradePulse service answers at {display_url(url)}{why}; is it running? {_STATUS_HINT}")


def timed_out(url: str, timeout: float | None) -> ServiceUnreachable:
    return ServiceUnreachable(f"the TradePulse service at {display_url(url)} did not answer within {timeout:g} s; "
                              f"it may be overloaded or stuck ({_STATUS_HINT})")


def _error_body(content: bytes) -> tuple[str | None, str | None, list[Any]]:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None, None, []
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, []
    message = error.get("message")
    details = error.get("details")
    return (str(error.get("code")) if error.get("code") else None,
            str(message) if message else None,
            details if isinstance(details, list) else [])


def error_for(status: int, content: bytes, *, url: str, path: str, token: Token) -> ServiceError:
    """The :class:`ServiceError` of an HTTP error answer (the message never holds the token)."""
    code, message, details = _error_body(content)
    where = display_url(url)
    if status == 401:
        if token.secret is None:
            text = (f"no API token: set {TOKEN_VARIABLE} (or {OPERATE_TOKEN_VARIABLE} / {READ_TOKEN_VARIABLE}, "
                    f"or a _FILE twin naming a file that holds it) to a token the service at {where} accepts")
        else:
            text = (f"the service at {where} does not accept {token.described}; set {TOKEN_VARIABLE} to one "
                    f"of the service's {READ_TOKEN_VARIABLE} or {OPERATE_TOKEN_VARIABLE} values")
        return ServiceUnauthorized(text, status=status, code=code)
    if status == 403:
        if path.startswith("/versions/"):
            return ServiceForbidden(
                f"approving or rejecting a version needs your own approve token, and {token.described} is not one; "
                f"set {TOKEN_VARIABLE} to your token from the service's {APPROVE_TOKEN_VARIABLE}", status=status, code=code)
        held = re.search(r"has the (\w+) scope", message or "")
        which = f"has the {held.group(1)} scope" if held else "is not one"
        return ServiceForbidden(
            f"this action needs an operate token, and {token.described} {which}; "
            f"set {TOKEN_VARIABLE} to the service's {OPERATE_TOKEN_VARIABLE} value", status=status, code=code)
    if status == 404:
        if message is None:
            return ServiceUnreachable(f"{where} does not look like a TradePulse service API (HTTP 404 for {path}); "
                                      f"the URL should end in {API_PATH}", status=status)
        return ServiceNotFound(f"not found at {where}{path}: {message}", status=status, code=code)
    if status in (400, 405, 422):
        parts = [f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}" for d in details[:3]
                 if isinstance(d, dict)]
        why = "; ".join(parts) if parts else (message or f"HTTP {status}")
        return ServiceInvalidRequest(f"the service rejected the request to {path}: {why}", status=status, code=code)
    if status == 409:
        return ServiceRefused(f"the service refused {path}: {message or 'no reason given'}", status=status, code=code)
    if status >= 500:
        what = "the venue behind the service failed" if status == 502 and code == "venue_error" else "the service failed"
        return ServiceServerError(f"{what} on {path} (HTTP {status}): {message or 'no details; see the service log'}",
                                  status=status, code=code)
    return ServiceError(f"the service answered HTTP {status} to {path}: {message or 'no details'}", status=status, code=code)


def decode(status: int, content: bytes, *, call: Call, url: str, token: Token) -> Any:
    """The value of an answer: parsed JSON (text for ``/metrics``), or raise its :class:`ServiceError`."""
    if status >= 400:
        raise error_for(status, content, url=url, path=call.path, token=token)
    if call.text:
        return content.decode("utf-8", errors="replace")
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise ServiceUnreachable(f"{display_url(url)} answered {call.path} with something that is not JSON; "
                                 f"is it a TradePulse service API (the URL should end in {API_PATH})?",
                                 status=status) from None


def stream_close_error(code: int | None, url: str, token: Token) -> ServiceError | None:
    """The error of a stream the service closed with an application code, ``None`` for a normal end."""
    if code == WS_CLOSE_UNAUTHORIZED:
        return error_for(401, b"", url=url, path="/stream", token=token)
    if code == WS_CLOSE_FORBIDDEN:
        return ServiceForbidden(f"{token.described} may not read the stream", status=403)
    return None


# -- the state directory -------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # "pid (comm) S ..."; comm may hold spaces or parentheses, the state follows the last ')'.
    state = stat.rsplit(")", 1)[-1].split()
    return not state or state[0] not in ("Z", "X")


def is_service_process(pid: int) -> bool:
    """Whether ``pid`` is alive and (where the OS tells) a ``tradepulse serve`` process, not a reused pid."""
    if not pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    words = [part.decode(errors="replace") for part in argv]
    return "serve" in words and any("tradepulse" in word for word in words)


def read_service_file(state_dir: Path) -> dict[str, Any] | None:
    """``<state_dir>/service.json`` as written by ``tradepulse serve``, or ``None`` if absent or unreadable."""
    try:
        document = json.loads((state_dir / SERVICE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("url"), str):
        return None
    return document


def read_pid_file(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def state_dir_of(config_path: str | Path) -> Path:
    """The ``[service] state_dir`` of a service config file (relative to the file), without loading strategies."""
    import tomllib

    location = Path(config_path).expanduser()
    try:
        document = tomllib.loads(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{location}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{location}: cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{location}: not valid TOML ({error})") from None
    service = document.get("service", {})
    value = service.get("state_dir", "live-state") if isinstance(service, dict) else "live-state"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{location}: [service] state_dir must be a non-empty string, got {value!r}")
    state_dir = Path(value.strip()).expanduser()
    return state_dir if state_dir.is_absolute() else (location.resolve().parent / state_dir).resolve()


def service_url_of(state_dir: str | Path) -> str:
    """The API URL of the service running from ``state_dir``; :class:`ServiceUnreachable` when none runs."""
    directory = Path(state_dir).expanduser()
    document = read_service_file(directory)
    if document is None:
        raise ServiceUnreachable(f"no TradePulse service is running from {directory} (no {SERVICE_FILE} there); "
                                 "start one with `tradepulse live start --config FILE`")
    pid = document.get("pid")
    if isinstance(pid, int) and not pid_alive(pid):
        raise ServiceUnreachable(f"the service recorded in {directory / SERVICE_FILE} (pid {pid}) is not running any more; "
                                 "see service.log there, and start it again with `tradepulse live start --config FILE`")
    return normalize_url(document["url"])


def terminate(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to ``pid``; ``False`` when the process is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True
