"""The extension's settings (config traits) and its two JSON handlers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web
from traitlets import Float, Unicode, default
from traitlets.config import Configurable

__all__ = ["RunbooksHandler", "ServiceHandler", "TradePulseJupyter"]

URL_VARIABLE = "TRADEPULSE_SERVICE_URL"
STATE_DIR_VARIABLE = "TRADEPULSE_STATE_DIR"
RUNBOOKS_VARIABLE = "TRADEPULSE_RUNBOOKS_DIR"
#: Where the API token may come from; their values are scrubbed from anything this extension returns.
TOKEN_VARIABLES = ("TRADEPULSE_API_TOKEN", "TRADEPULSE_API_OPERATE_TOKEN", "TRADEPULSE_API_READ_TOKEN")


class NoService(Exception):
    """Nothing is configured, or nothing answers where the configuration points."""


class TradePulseJupyter(Configurable):
    """Settings of the TradePulse Jupyter extension (``c.TradePulseJupyter.<name>`` in a Jupyter config file,
    or ``--TradePulseJupyter.<name>=...`` on the ``jupyter server`` command line)."""

    service_url = Unicode(None, allow_none=True, config=True,
                          help=f"API base of the TradePulse service, e.g. http://127.0.0.1:8765/api/v1 "
                               f"(default: ${URL_VARIABLE}). Takes precedence over state_dir.")
    state_dir = Unicode(None, allow_none=True, config=True,
                        help=f"State directory of the service (its service.json says where it listens; "
                             f"default: ${STATE_DIR_VARIABLE}). Used when no service_url is set.")
    runbooks_dir = Unicode(None, allow_none=True, config=True,
                           help=f"Folder of runbook notebooks (default: ${RUNBOOKS_VARIABLE}, else runbooks/ "
                                "under the server's root directory).")
    timeout = Float(5.0, config=True, help="Seconds to wait for the service's answer.")

    @default("service_url")
    def _service_url_default(self) -> str | None:
        return os.environ.get(URL_VARIABLE) or None

    @default("state_dir")
    def _state_dir_default(self) -> str | None:
        return os.environ.get(STATE_DIR_VARIABLE) or None

    @default("runbooks_dir")
    def _runbooks_dir_default(self) -> str | None:
        return os.environ.get(RUNBOOKS_VARIABLE) or None

    def describe_target(self) -> str:
        """Where the service is looked for, safe to log (no token, no URL password)."""
        from tradepulse.client_base import display_url

        if self.service_url:
            return f"service at {display_url(self.service_url)}"
        if self.state_dir:
            return f"service running from {self.state_dir}"
        return f"no service configured: set {URL_VARIABLE} or {STATE_DIR_VARIABLE}"

    def resolve_url(self) -> str:
        """The service's API base, or :class:`NoService` saying what to configure."""
        from tradepulse.client import ServiceError
        from tradepulse.errors import ConfigError

        try:
            if self.service_url:
                from tradepulse.client_base import normalize_url

                return normalize_url(self.service_url)
            if self.state_dir:
                from tradepulse.client_base import service_url_of

                return service_url_of(Path(self.state_dir).expanduser())
        except (ServiceError, ConfigError) as error:
            raise NoService(str(error)) from None
        raise NoService(f"no TradePulse service is configured for this Jupyter server: set {URL_VARIABLE} (the API "
                        f"base, e.g. http://127.0.0.1:8765/api/v1) or {STATE_DIR_VARIABLE} (the service's state "
                        "directory), or c.TradePulseJupyter.service_url / state_dir, and restart the server")

    def runbooks_path(self) -> Path:
        if self.runbooks_dir:
            return Path(self.runbooks_dir).expanduser()
        root = getattr(self.parent, "root_dir", None) or os.getcwd()
        return Path(root).expanduser() / "runbooks"


def _scrub(text: str) -> str:
    """``text`` without the value of any token variable (belt and braces: the client's messages hold none)."""
    for variable in TOKEN_VARIABLES:
        for value in (os.environ.get(variable) or "").split(","):
            value = value.strip()
            if len(value) >= 4:
                text = text.replace(value, "***")
    return text


class _Handler(APIHandler):
    auth_resource = "tradepulse"

    @property
    def tradepulse(self) -> TradePulseJupyter:
        return self.settings["tradepulse_jupyter"]

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(_scrub(json.dumps(payload)))

    def _error(self, status: int, code: str, message: str, **extra: Any) -> None:
        self._answer(status, {"error": {"code": code, "message": message}, **extra})


class ServiceHandler(_Handler):
    """``GET /tradepulse/service``: the service's health and status (read scope is enough)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from tradepulse.client import AsyncLiveClient, ServiceError, ServiceUnreachable
        from tradepulse.client_base import display_url
        from tradepulse.errors import TradePulseError

        settings = self.tradepulse
        try:
            url = settings.resolve_url()
        except NoService as error:
            self._error(503, "service_unavailable", str(error))
            return
        shown = display_url(url)
        try:
            async with AsyncLiveClient(url, timeout=settings.timeout) as client:
                health = await client.health()
                status = await client.status()
        except ServiceUnreachable as error:
            self._error(503, "service_unavailable", str(error), url=shown)
            return
        except ServiceError as error:
            self._error(502, error.code or "service_error", str(error), url=shown, service_status=error.status)
            return
        except TradePulseError as error:  # e.g. a token _FILE variable naming a file that cannot be read
            self._error(503, "misconfigured", str(error), url=shown)
            return
        self._answer(200, {"url": shown, "health": health, "status": status})


class RunbooksHandler(_Handler):
    """``GET /tradepulse/runbooks``: ``{"runbooks_dir", "runbooks": [{"name", "file", "title"}]}``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        folder = self.tradepulse.runbooks_path()
        if not folder.is_dir():
            self._error(404, "not_found", f"no runbooks folder at {folder}; set c.TradePulseJupyter.runbooks_dir "
                                          f"or {RUNBOOKS_VARIABLE}")
            return
        runbooks = [{"name": path.stem, "file": path.name, "title": first_heading(path)}
                    for path in sorted(folder.glob("*.ipynb"))]
        self._answer(200, {"runbooks_dir": str(folder), "runbooks": runbooks})


def first_heading(path: Path) -> str | None:
    """The text of the first markdown heading in notebook ``path`` (``None`` if it has none or cannot be read)."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                return line.lstrip().lstrip("#").strip() or None
    return None
