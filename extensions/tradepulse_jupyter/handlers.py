"""The extension's settings (config traits) and its JSON handlers."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web
from traitlets import Float, Unicode, default
from traitlets.config import Configurable

__all__ = ["RunbooksHandler", "ServiceHandler", "StrategiesHandler", "TradePulseJupyter"]

URL_VARIABLE = "TRADEPULSE_SERVICE_URL"
STATE_DIR_VARIABLE = "TRADEPULSE_STATE_DIR"
RUNBOOKS_VARIABLE = "TRADEPULSE_RUNBOOKS_DIR"
#: The strategy store's variable, as `tradepulse strategies` reads it (tradepulse.promotion).
STORE_VARIABLE = "TRADEPULSE_STORE"
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
    store_dir = Unicode(None, allow_none=True, config=True,
                        help=f"The strategy store (default: ${STORE_VARIABLE}, else .tradepulse/store under the "
                             "server's root directory, where `tradepulse strategies` run from that folder keeps it).")
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

    @default("store_dir")
    def _store_dir_default(self) -> str | None:
        return os.environ.get(STORE_VARIABLE) or None

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

    def root_path(self) -> Path:
        """The Jupyter server's root directory (what its file browser shows)."""
        return Path(getattr(self.parent, "root_dir", None) or os.getcwd()).expanduser()

    def runbooks_path(self) -> Path:
        if self.runbooks_dir:
            return Path(self.runbooks_dir).expanduser()
        return self.root_path() / "runbooks"

    def store_path(self) -> Path:
        if self.store_dir:
            return Path(self.store_dir).expanduser()
        return self.root_path() / ".tradepulse" / "store"

    def contents_path(self, path: Path) -> str | None:
        """``path`` as the Jupyter contents API names it (relative to the root, ``/``-separated), or ``None``
        when it lies outside the root (JupyterLab cannot open it then)."""
        try:
            return path.resolve().relative_to(self.root_path().resolve()).as_posix()
        except ValueError:
            return None


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


#: How many working orders one answer lists at most (the API's page size limit).
ORDERS_LIMIT = 1000


def open_order_states() -> list[str]:
    """The states of orders still working at the venue, as the order model defines them."""
    from tradepulse.model.orders import OrderStatus

    return [state.value for state in OrderStatus if state.is_open]


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _exact_sum(values: list[Decimal | None]) -> str | None:
    """The sum of the known values as a plain decimal string (no exponent), ``None`` when none is known."""
    known = [value for value in values if value is not None]
    return format(sum(known, Decimal(0)), "f") if known else None


def summarize(health: dict[str, Any], status: dict[str, Any], positions: list[dict[str, Any]],
              open_orders: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline a panel shows: state, health, equity and P&L summed exactly, what is open."""
    venue = status.get("venue") or {}
    return {
        "trading_state": status.get("trading_state") or health.get("trading_state"),
        "health": health.get("status"),
        "uptime_seconds": health.get("uptime_seconds"),
        "venue": venue.get("name"),
        "venue_connected": venue.get("connected"),
        "engines": len(status.get("engines") or []),
        "engines_running": sum(1 for engine in status.get("engines") or [] if engine.get("running")),
        "equity": _exact_sum([_decimal(row.get("equity")) for row in positions]),
        "net_pnl": _exact_sum([_decimal(row.get("net_pnl")) for row in positions]),
        "positions_open": sum(1 for row in positions if (_decimal(row.get("quantity")) or 0) != 0),
        "open_orders": len(open_orders),
    }


class ServiceHandler(_Handler):
    """``GET /tradepulse/service``: the service's health, status, positions and open orders (read scope is enough)."""

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
                positions = await client.positions()
                open_orders = await client.orders(status=open_order_states(), limit=ORDERS_LIMIT)
        except ServiceUnreachable as error:
            self._error(503, "service_unavailable", str(error), url=shown)
            return
        except ServiceError as error:
            self._error(502, error.code or "service_error", str(error), url=shown, service_status=error.status)
            return
        except TradePulseError as error:  # e.g. a token _FILE variable naming a file that cannot be read
            self._error(503, "misconfigured", str(error), url=shown)
            return
        self._answer(200, {"url": shown, "health": health, "status": status, "positions": positions,
                           "open_orders": open_orders, "summary": summarize(health, status, positions, open_orders)})


class RunbooksHandler(_Handler):
    """``GET /tradepulse/runbooks``: ``{"runbooks_dir", "runbooks": [{"name", "file", "title", "path"}]}``.

    ``path`` is the notebook's path for JupyterLab (relative to the server's root), ``None`` outside it.
    """

    @web.authenticated
    @authorized
    async def get(self) -> None:
        folder = self.tradepulse.runbooks_path()
        if not folder.is_dir():
            self._error(404, "not_found", f"no runbooks folder at {folder}; set c.TradePulseJupyter.runbooks_dir "
                                          f"or {RUNBOOKS_VARIABLE}")
            return
        runbooks = [{"name": path.stem, "file": path.name, "title": first_heading(path),
                     "path": self.tradepulse.contents_path(path)}
                    for path in sorted(folder.glob("*.ipynb"))]
        self._answer(200, {"runbooks_dir": str(folder), "runbooks": runbooks})


class StrategiesHandler(_Handler):
    """``GET /tradepulse/strategies``: the strategy store's versions with their stage, read only.

    ``{"store", "exists", "stages", "versions": [{"id", "name", "class", "params", "author", "created_at",
    "checks_passed", "stage"}]}``, oldest first. A store that does not exist yet is an empty list
    (nothing is created); a store that cannot be read is a 500 with one line saying why.
    """

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from tradepulse.errors import TradePulseError

        folder = self.tradepulse.store_path()
        try:
            answer = await asyncio.to_thread(read_store, folder)
        except (TradePulseError, OSError, ValueError, KeyError) as error:
            self._error(500, "store_unreadable", f"the strategy store at {folder} cannot be read: {error}")
            return
        self._answer(200, answer)


def read_store(folder: Path) -> dict[str, Any]:
    """The versions in the store at ``folder`` with their stage; an empty list when there is no store there."""
    from tradepulse.promotion import STAGES, StrategyStore

    answer: dict[str, Any] = {"store": str(folder), "exists": False, "stages": list(STAGES), "versions": []}
    # StrategyStore creates a missing store; only open one that is there (this route writes nothing).
    if not (folder / "versions").is_dir() or not (folder / "promotions.sqlite").is_file():
        return answer
    with StrategyStore(folder) as store:
        answer["exists"] = True
        answer["versions"] = [
            {"id": version.id, "name": version.name, "class": version.class_name, "params": version.params,
             "author": version.author, "created_at": version.created_at,
             "checks_passed": bool(version.checks.get("passed")), "stage": store.stage(version.id)}
            for version in store.versions()
        ]
    return answer


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
