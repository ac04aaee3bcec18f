"""``LiveMonitor``: a running TradePulse service at a glance, for managers and operators.

The widget reads the service only through :mod:`tradepulse.client` (a :class:`~tradepulse.client.LiveClient`
or an :class:`~tradepulse.client.AsyncLiveClient`): trading state, uptime, venue and feeds; equity
and P&L; positions; recent orders and fills; execution quality per strategy and symbol (the
service computes it from its journals, ``GET /api/v1/execution``); risk state and breaker history;
alerts. A background thread refreshes it every ``refresh_seconds`` by *setting widget traits*
(HTML values, the chart's data), never with ``with output:`` from the thread, which Voila drops.

It is read-only unless the client's token has the operate scope, which the widget asks the service
once per connection (``GET /api/v1/token``). Only then are the operator buttons (kill with a
reason, resume, cancel all, flatten) shown and enabled. The token itself is never displayed.

When no service answers, the widget shows one clear "No TradePulse service at …" panel and keeps
retrying; built with :meth:`LiveMonitor.connect` it also finds a service restarted on another port.
"""

from __future__ import annotations

import asyncio
import copy
import html
import inspect
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradepulse.errors import ConfigError, TradePulseError
from tradepulse.model.kinds import ORDER_KIND_PREFIX, SERVICE_KIND_PREFIX, OmsEventKind, RiskKind

__all__ = ["LiveMonitor"]

logger = logging.getLogger(__name__)

STATE_COLORS = {"ACTIVE": ("#1d5e20", "#e6f4ea"), "REDUCING": ("#8a5a00", "#fff4d6"), "HALTED": ("#8b1a1a", "#fdecea")}
_UNKNOWN_COLORS = ("#444", "#eeeeee")
_STATUS_COLORS = {"FILLED": "#1d5e20", "PARTIALLY_FILLED": "#2f6fb0", "ACCEPTED": "#2f6fb0", "SUBMITTED": "#2f6fb0",
                  "CANCELED": "#666", "EXPIRED": "#666", "PENDING_CANCEL": "#8a5a00", "REJECTED": "#8b1a1a",
                  "DENIED": "#8b1a1a"}
_TABLE = "border-collapse:collapse;font-size:12.5px;width:100%"
_CELL = "padding:2px 8px;border-bottom:1px solid #e3e3e3;white-space:nowrap"
_HEAD = f"{_CELL};text-align:left;position:sticky;top:0;background:#fafafa;font-weight:600"
_SECTION = "font-weight:600;font-size:14px;margin:12px 0 4px;color:#333"
_ORDERS_FETCHED, _ORDERS_SHOWN, _FILLS_FETCHED, _FILLS_SHOWN = 50, 25, 200, 20
_PNL_POINTS, _HISTORY, _ALERTS = 500, 50, 50
#: Execution quality covers every order in the journals, so the service's answer costs more than the other
#: reads: it is asked again when the recent orders change, and otherwise at most this often (seconds).
_EXECUTION_MAX_AGE = 30.0
_DEFAULT_REASON = "requested from the live dashboard"
#: Operator actions: (button label, client method, button style, needs a typed reason).
_ACTIONS = {"kill": ("Kill (halt)", "danger", True), "resume": ("Resume", "success", True),
            "cancel_all": ("Cancel all orders", "warning", False), "flatten": ("Flatten", "danger", False)}
#: What the confirmation says each action does.
_CONSEQUENCES = {"kill": "Every engine halts and its open orders are cancelled.",
                 "resume": "Every engine goes back to ACTIVE and starts trading again.",
                 "cancel_all": "Every open order is cancelled; trading continues.",
                 "flatten": "Every engine halts and every position is closed at market."}
#: Journal events that change what the page shows: the stream wakes a refresh for these at once.
_WAKING_KINDS = (ORDER_KIND_PREFIX, str(OmsEventKind.PORTFOLIO_MARKS), str(OmsEventKind.PORTFOLIO_MARKED), str(RiskKind.STATE_CHANGE), str(RiskKind.BREAKER_TRIP),
                 SERVICE_KIND_PREFIX)
#: How long a woken refresh waits for the rest of a burst of events.
_COALESCE_SECONDS = 0.15


# -- formatting ----------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _money(value: Any) -> str:
    number = _number(value)
    return "" if number is None else f"{number:,.2f}"


def _qty(value: Any) -> str:
    number = _number(value)
    return "" if number is None else f"{number:,.8f}".rstrip("0").rstrip(".")


def _time(value: Any) -> str:
    """ISO-8601 text as ``YYYY-MM-DD HH:MM:SS`` (UTC, as the service sends it)."""
    if not value:
        return ""
    text = str(value).replace("T", " ").removesuffix("Z").split("+")[0]
    return text.split(".")[0]


def _duration(seconds: Any) -> str:
    number = _number(seconds)
    if number is None:
        return "n/a"
    whole = int(number)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{number:.1f}s"


def _colored(text: str, color: str, weight: int = 600) -> str:
    return f'<span style="color:{color};font-weight:{weight}">{html.escape(text)}</span>'


def _pnl(value: Any) -> str:
    number = _number(value)
    if number is None:
        return ""
    return _colored(f"{number:+,.2f}", "#1d5e20" if number >= 0 else "#8b1a1a", 500)


def _badge(state: str, css_class: str) -> str:
    color, background = STATE_COLORS.get(state, _UNKNOWN_COLORS)
    return (f'<span class="{css_class}" data-state="{html.escape(state)}" style="color:{color};background:{background};'
            f'padding:2px 10px;border-radius:4px;font-weight:700;letter-spacing:.5px">{html.escape(state)}</span>')


def _cell(kind: str, value: Any) -> str:
    if kind == "money":
        return html.escape(_money(value))
    if kind == "qty":
        return html.escape(_qty(value))
    if kind == "pnl":
        return _pnl(value)
    if kind == "time":
        return html.escape(_time(value))
    if kind == "bps":
        number = _number(value)
        return "" if number is None else f"{number:+.2f}"
    if kind == "ratio":
        number = _number(value)
        return "" if number is None else f"{number:.1%}"
    if kind in ("seconds", "ms"):
        number = _number(value)
        return "" if number is None else f"{number:,.1f}"
    if kind == "bool":
        return "" if value is None else ("yes" if value else "no")
    if kind == "status":
        text = str(value or "")
        return (f'<span data-status="{html.escape(text)}" style="color:{_STATUS_COLORS.get(text, "#444")};'
                f'font-weight:600">{html.escape(text)}</span>')
    if kind == "state":
        text = str(value or "")
        return _colored(text, STATE_COLORS.get(text, _UNKNOWN_COLORS)[0]) if text else ""
    return html.escape("" if value is None else str(value))


def _table(rows: list[Mapping[str, Any]], columns: list[tuple[str, str, str]], css_class: str, empty: str,
           limit: int | None = None) -> str:
    """Rows as an HTML table; each cell carries ``data-column`` so tests read values without layout."""
    if not rows:
        return f'<p class="{css_class} tp-live-empty" style="color:#666;font-size:12.5px;margin:2px 0">{html.escape(empty)}</p>'
    shown = rows if limit is None else rows[:limit]
    note = (f'<p style="color:#666;font-size:12px;margin:2px 0">Latest {len(shown)} of {len(rows)}.</p>'
            if len(shown) < len(rows) else "")
    head = "".join(f'<th style="{_HEAD}">{html.escape(label)}</th>' for _, label, _ in columns)
    body = "".join(
        "<tr>" + "".join(f'<td data-column="{key}" style="{_CELL}">{_cell(kind, row.get(key))}</td>'
                         for key, _, kind in columns) + "</tr>"
        for row in shown
    )
    return (f'{note}<div style="max-height:320px;overflow:auto"><table class="{css_class}" style="{_TABLE}">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _section(title: str) -> widgets.HTML:
    return widgets.HTML(f'<div style="{_SECTION}">{html.escape(title)}</div>')


def _summary(payload: Any, limit: int = 140) -> str:
    """A breaker-history payload in one short line (scalars only)."""
    if not isinstance(payload, Mapping):
        return "" if payload is None else str(payload)[:limit]
    parts = [f"{key}={value}" for key, value in payload.items()
             if key != "kind" and (value is None or isinstance(value, str | int | float | bool))]
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the widget ----------------------------------------------------------------------------------


class LiveMonitor(widgets.VBox):
    """The live service's state, P&L, positions, orders, execution quality, risk and alerts.

    Parameters
    ----------
    client
        A :class:`~tradepulse.client.LiveClient` or :class:`~tradepulse.client.AsyncLiveClient`, or a
        function of no arguments that builds one. A function is called again after the service stops
        answering, so a service restarted on another port is found (see :meth:`connect`).
    refresh_seconds
        Seconds between refreshes of the background thread.
    where
        How the "no service" panel names the place it looked (default: the client's URL).
    start
        Start the background refresh (off: call :meth:`refresh` yourself).

    Examples
    --------
    >>> from tradepulse.widgets import LiveMonitor
    >>> monitor = LiveMonitor.connect(state_dir="live-state")     # doctest: +SKIP
    >>> monitor.snapshot()["trading_state"]                        # doctest: +SKIP
    'ACTIVE'
    """

    def __init__(self, client: Any, refresh_seconds: float = 2.0, *, where: str | None = None,
                 start: bool = True) -> None:
        if isinstance(refresh_seconds, bool) or not isinstance(refresh_seconds, int | float) or not refresh_seconds > 0:
            raise ConfigError(f"refresh_seconds must be a positive number, got {refresh_seconds!r}")
        self.refresh_seconds = float(refresh_seconds)
        builds = callable(client) and not hasattr(client, "status")
        self._factory: Callable[[], Any] | None = client if builds else None
        self._client: Any = None if builds else client
        self._where = where or (getattr(client, "url", None) if not builds else None) or "the configured address"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream_thread: threading.Thread | None = None
        self.stream_events = 0  # events the live stream delivered that woke a refresh
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._can_operate: bool | None = None
        self._execution: tuple[Any, float, list[dict[str, Any]]] | None = None  # (orders seen, when, answer)
        self._rendered: dict[str, Any] = {"connected": False, "message": "not refreshed yet", "where": self._where}
        self._last_action: dict[str, Any] | None = None
        self._ever_connected = False

        first = self._fetch()  # before the chart exists, so it is created holding its data
        self.banner = widgets.HTML(layout={"width": "100%"})
        self.header = widgets.HTML(layout={"width": "100%"})
        self.access_note = widgets.HTML()
        self.reason = widgets.Text(placeholder="Reason (required for kill and resume; journaled)",
                                   layout={"width": "420px"})
        self.reason.add_class("tp-live-reason")
        self.buttons: dict[str, widgets.Button] = {}
        for name, (label, style, _) in _ACTIONS.items():
            button = widgets.Button(description=label, button_style=style, disabled=True, layout={"width": "auto"})
            button.add_class(f"tp-live-{name.replace('_', '-')}")
            button.on_click(lambda _button, action=name: self.ask(action))
            self.buttons[name] = button
        self.kill_button, self.resume_button = self.buttons["kill"], self.buttons["resume"]
        self.cancel_all_button, self.flatten_button = self.buttons["cancel_all"], self.buttons["flatten"]
        self.action_result = widgets.HTML()
        self.operator_panel = widgets.VBox(
            [_section("Operator actions"), widgets.HBox([self.reason, *self.buttons.values()]), self.action_result],
            layout={"display": "none", "border": "1px solid #e0c0c0", "padding": "4px 10px", "margin": "8px 0"},
        )
        self.confirm_text = widgets.HTML()
        self.confirm_button = widgets.Button(description="Confirm", button_style="danger", layout={"width": "auto"})
        self.confirm_button.add_class("tp-live-confirm")
        self.cancel_confirm_button = widgets.Button(description="Cancel", layout={"width": "auto"})
        self.cancel_confirm_button.add_class("tp-live-confirm-cancel")
        self.confirm_button.on_click(lambda _button: self.confirm())
        self.cancel_confirm_button.on_click(lambda _button: self.ask(None))
        self.confirm_bar = widgets.HBox([self.confirm_text, self.confirm_button, self.cancel_confirm_button],
                                        layout={"display": "none", "align_items": "center"})
        self.confirm_bar.add_class("tp-live-confirm-bar")
        self._pending_action: str | None = None
        self.operator_panel.children = (*self.operator_panel.children[:2], self.confirm_bar, self.action_result)
        self.body = widgets.VBox(self._make_body(first), layout={"width": "100%"})
        super().__init__([self.banner, self.access_note, self.operator_panel, self.body], layout={"width": "100%"})
        self.add_class("tp-live-monitor")
        self._apply(first)
        if start:
            self.start()

    def _make_body(self, first: dict[str, Any]) -> list[widgets.Widget]:
        """The widgets under the header and the operator panel (a subclass shows other panels)."""
        self.engines_view = widgets.HTML(layout={"width": "100%"})
        self.figure = go.FigureWidget(self._figure(first.get("pnl", [])))
        self.positions_view = widgets.HTML(layout={"width": "100%"})
        self.orders_view = widgets.HTML(layout={"width": "100%"})
        self.fills_view = widgets.HTML(layout={"width": "100%"})
        self.quality_view = widgets.HTML(layout={"width": "100%"})
        self.risk_view = widgets.HTML(layout={"width": "100%"})
        self.alerts_view = widgets.HTML(layout={"width": "100%"})
        return [
            self.header, self.engines_view, _section("Equity and P&L"), self.figure,
            _section("Positions"), self.positions_view, _section("Recent orders"), self.orders_view,
            _section("Fills"), self.fills_view, _section("Execution quality"), self.quality_view,
            _section("Risk"), self.risk_view, _section("Alerts"), self.alerts_view,
        ]

    @classmethod
    def connect(cls, service_url: str | None = None, state_dir: str | Path | None = "live-state", *,
                config: str | Path | None = None, token: str | None = None, refresh_seconds: float = 2.0,
                timeout: float = 5.0, start: bool = True) -> LiveMonitor:
        """A monitor of the service at ``service_url``, else the one started with ``config``, else the one
        running from ``state_dir``; shows "No TradePulse service at …" (and keeps looking) while none answers.

        The token comes from ``token``, else ``TRADEPULSE_API_TOKEN`` (or the service's token variables).
        """
        from tradepulse.client import LiveClient

        if service_url:
            from tradepulse.client_base import display_url

            where = display_url(str(service_url))
            factory: Callable[[], Any] = lambda: LiveClient(str(service_url), token=token, timeout=timeout)  # noqa: E731
        elif config is not None:
            where = f"the state directory of {config}"
            factory = lambda: LiveClient.from_config(config, token=token, timeout=timeout)  # noqa: E731
        elif state_dir is not None:
            where = str(state_dir)
            factory = lambda: LiveClient.from_state_dir(state_dir, token=token, timeout=timeout)  # noqa: E731
        else:
            raise ConfigError("give the service's URL, its config file or its state directory")
        return cls(factory, refresh_seconds, where=where, start=start)

    # -- public -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the last refresh reached the service."""
        return bool(self._rendered.get("connected"))

    @property
    def can_operate(self) -> bool:
        """Whether the client's token has the operate scope (the operator buttons are shown)."""
        return bool(self._can_operate)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the data last rendered: ``connected``, ``message``, ``trading_state``, ``status``,
        ``health``, ``positions``, ``orders``, ``fills``, ``pnl``, ``risk``, ``alerts``, ``execution``,
        ``can_operate``, ``last_action``, ``updated_at``."""
        with self._lock:
            return copy.deepcopy(self._rendered)

    def refresh(self) -> dict[str, Any]:
        """Fetch everything now, render it, and return :meth:`snapshot`."""
        with self._lock:
            self._apply(self._fetch())
        return self.snapshot()

    def start(self) -> LiveMonitor:
        """Start refreshing in the background (idempotent): at once when the service's live stream
        reports an event that changes the page (a fill, a mark, a state change), and at least every
        ``refresh_seconds`` (which is all there is when the stream cannot be followed)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="tradepulse-live-monitor", daemon=True)
            self._thread.start()
        if self._stream_thread is None or not self._stream_thread.is_alive():
            self._stream_thread = threading.Thread(target=self._follow_stream, name="tradepulse-live-stream", daemon=True)
            self._stream_thread.start()
        return self

    def stop(self) -> None:
        """Stop the background refresh."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def close(self) -> None:
        """Stop refreshing, close a client this widget built, and close the widget."""
        self.stop()
        if self._factory is not None:
            self._drop_client()
        if self._async_loop is not None:
            self._async_loop.call_soon_threadsafe(self._async_loop.stop)
        super().close()

    def ask(self, action: str | None) -> None:
        """What a button does: say what ``action`` will do and wait for Confirm (``None`` withdraws the question)."""
        if action is not None and action not in _ACTIONS:
            raise ConfigError(f"unknown action {action!r}; one of {', '.join(_ACTIONS)}")
        self._pending_action = action
        if action is None:
            self.confirm_bar.layout.display = "none"
            return
        label = _ACTIONS[action][0]
        self.confirm_text.value = (f'<span class="tp-live-confirm-text" data-action="{action}" style="font-weight:600;'
                                   f'color:#8b1a1a">{html.escape(_CONSEQUENCES[action])} Confirm {html.escape(label)}?</span>')
        self.confirm_button.description = f"Yes: {label}"
        self.confirm_bar.layout.display = None

    def confirm(self) -> dict[str, Any] | None:
        """Carry out the action asked for with :meth:`ask` (what the Confirm button does)."""
        action, self._pending_action = self._pending_action, None
        self.confirm_bar.layout.display = "none"
        return self.act(action) if action is not None else None

    def act(self, action: str) -> dict[str, Any] | None:
        """Run an operator action (``kill``, ``resume``, ``cancel_all``, ``flatten``) as its button does.

        Uses the reason typed in the reason box. Returns the service's answer, or ``None`` when the
        action was not sent (read-only token, missing reason) or failed; the widget says which.
        """
        if action not in _ACTIONS:
            raise ConfigError(f"unknown action {action!r}; one of {', '.join(_ACTIONS)}")
        label, _, needs_reason = _ACTIONS[action]
        reason = self.reason.value.strip()
        client = self._client
        if not self._can_operate:
            return self._action_done(action, False, "read-only: this dashboard's token cannot act on the service")
        if client is None or not self.connected:
            return self._action_done(action, False, "not connected to the service; nothing was sent")
        if needs_reason and not reason:
            return self._action_done(action, False, f"type a reason before '{label}'; it is journaled with the action")
        try:
            answer = self._call(getattr(client, action), reason or _DEFAULT_REASON)
        except (TradePulseError, OSError) as error:
            return self._action_done(action, False, str(error))
        if action == "cancel_all":
            text = f"cancelled {len(answer.get('cancelled', []))} open order(s)"
        else:
            text = f"trading state is now {answer.get('trading_state', 'unknown')}"
        self._action_done(action, True, text, answer)
        self.refresh()
        return answer

    # -- fetching (background thread, or the caller of refresh) -----------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.refresh_seconds)
            # A burst of events (a fill and its mark) is one refresh, not several.
            self._stop.wait(_COALESCE_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a bug in rendering must not end the refreshes silently
                logger.exception("live monitor refresh failed")

    def _follow_stream(self) -> None:
        """Wake a refresh for each journal event that changes the page, as the service streams it.

        Only a blocking client's stream is followed (an asyncio client's page refreshes on its
        timer); a dropped stream is opened again after ``refresh_seconds``.
        """
        while not self._stop.is_set():
            client = self._client
            stream = getattr(client, "stream", None)
            if client is None or stream is None or inspect.isasyncgenfunction(stream):
                self._stop.wait(self.refresh_seconds)
                continue
            try:
                for message in stream():
                    if self._stop.is_set():
                        return
                    if message.get("type") == "event" and str(message.get("kind", "")).startswith(_WAKING_KINDS):
                        self.stream_events += 1
                        self._wake.set()
            except Exception:  # noqa: BLE001 - the timer keeps the page fresh while the stream is down
                logger.debug("live stream ended", exc_info=True)
            self._stop.wait(self.refresh_seconds)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            if self._async_loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="tradepulse-live-monitor-io", daemon=True).start()
                self._async_loop = loop
            timeout = float(getattr(self._client, "timeout", 10.0)) * 3
            result = asyncio.run_coroutine_threadsafe(result, self._async_loop).result(timeout)
        return result

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._can_operate = None
        self._execution = None
        closer = getattr(client, "close", None) or getattr(client, "aclose", None)
        if closer is not None:
            try:
                self._call(closer)
            except Exception:  # noqa: BLE001 - closing a dead connection pool may fail; nothing to do
                logger.debug("closing the live client failed", exc_info=True)

    def _probe_scope(self) -> bool:
        """Whether the token may act (``GET /token`` names its scope; the token is never shown)."""
        return str(self._call(self._client.scope)) == "operate"

    def _execution_of(self, client: Any, orders: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The service's execution quality, asked again only when the recent orders changed or the last answer aged."""
        seen = [(order.get("client_order_id"), order.get("last_seq")) for order in orders]
        cached = self._execution
        if cached is not None and cached[0] == seen and time.monotonic() - cached[1] < _EXECUTION_MAX_AGE:
            return cached[2]
        answer = self._call(client.execution)
        self._execution = (seen, time.monotonic(), answer)
        return answer

    def _fetch(self) -> dict[str, Any]:
        from tradepulse.client_base import ServiceUnauthorized, ServiceUnreachable

        try:
            if self._client is None and self._factory is not None:
                self._client = self._factory()
                self._where = getattr(self._client, "url", None) or self._where
            client = self._client
            status = self._call(client.status)
            health = self._call(client.health)
            if self._can_operate is None:
                self._can_operate = self._probe_scope()
            positions = self._call(client.positions)
            orders = self._call(client.orders, limit=_ORDERS_FETCHED)
            fills = self._call(client.fills, limit=_FILLS_FETCHED)
            pnl = self._call(client.pnl, limit=_PNL_POINTS)
            risk = self._call(client.risk, limit=_HISTORY)
            alerts = self._call(client.alerts, limit=_ALERTS)
            execution = self._execution_of(client, orders)
        except Exception as error:  # noqa: BLE001 - the page must say what went wrong, never fail
            if not isinstance(error, TradePulseError | OSError):
                logger.exception("reading the live service failed")
            if isinstance(error, ServiceUnreachable):
                title = f"No TradePulse service at {self._where}"
                if self._factory is not None:
                    self._drop_client()  # look again next time: it may come back on another port
            elif isinstance(error, ServiceUnauthorized):
                title = f"The service at {self._where} did not accept this dashboard's token"
            else:
                title = f"The service at {self._where} could not be read"
            message = str(error) if isinstance(error, TradePulseError | OSError) else f"{type(error).__name__}: {error}"
            return {**self._rendered, "connected": False, "title": title, "message": message,
                    "where": self._where, "can_operate": False, "updated_at": _now()}
        return {
            "connected": True, "title": None, "message": None, "where": self._where, "url": getattr(client, "url", None),
            "can_operate": bool(self._can_operate), "trading_state": status.get("trading_state"),
            "status": status, "health": health, "positions": positions, "orders": orders, "fills": fills,
            "pnl": pnl, "risk": risk, "alerts": alerts,
            "execution": execution, "updated_at": _now(),
        }

    # -- rendering (sets traits only) -------------------------------------------------------------

    def _apply(self, data: dict[str, Any]) -> None:
        data["last_action"] = self._last_action
        connected = bool(data.get("connected"))
        self._ever_connected = self._ever_connected or connected
        if connected:
            self.banner.value = ""
        else:
            seen = (f" Showing what it last answered, as of {html.escape(_time(self._rendered.get('updated_at')))} UTC."
                    if self._ever_connected else "")
            self.banner.value = (
                f'<div class="tp-live-no-service" style="padding:10px 14px;border-radius:6px;background:#fdecea;'
                f'color:#8b1a1a;border:1px solid #f1b5ae"><div style="font-weight:700;font-size:15px">'
                f'{html.escape(str(data.get("title") or "No TradePulse service"))}</div>'
                f'<div style="margin-top:4px">{html.escape(str(data.get("message") or ""))}</div>'
                f'<div style="margin-top:4px;color:#555">Retrying every {self.refresh_seconds:g} s.{seen}</div></div>'
            )
        self.body.layout.display = None if self._ever_connected else "none"
        can_operate = connected and bool(self._can_operate)
        self.operator_panel.layout.display = None if can_operate else "none"
        for button in self.buttons.values():
            button.disabled = not can_operate
        self.access_note.value = ("" if not connected else (
            '<div class="tp-live-access" data-scope="operate" style="color:#8b1a1a;font-size:12.5px">'
            "Operator token: actions below act on the live service.</div>" if can_operate else
            '<div class="tp-live-access" data-scope="read" style="color:#666;font-size:12.5px">'
            "Read-only view (the dashboard's token has the read scope).</div>"))
        if connected:
            self._render_service(data)
        self._rendered = data

    def _render_header(self, data: dict[str, Any]) -> None:
        """The header line: trading state, health, uptime, venue, start mode, version, last update."""
        status, health = data["status"], data["health"] or {}
        service, venue = status.get("service", {}), status.get("venue", {})
        state = str(status.get("trading_state") or health.get("trading_state") or "UNKNOWN")
        venue_text = (_colored("connected", "#1d5e20") if venue.get("connected") else _colored("disconnected", "#8b1a1a"))
        healthy = health.get("status", "unknown")
        facts = [
            f"health {_colored(str(healthy), '#1d5e20' if healthy == 'ok' else '#8a5a00')}",
            f"uptime {html.escape(_duration(service.get('uptime_seconds')))}",
            f"venue {html.escape(str(venue.get('name', '?')))} ({html.escape(str(venue.get('kind', '?')))}) {venue_text}",
            f"{html.escape(str(service.get('start_mode', '?')))} start",
            f"version {html.escape(str(service.get('version', '?')))}",
            f"updated {html.escape(_time(data.get('updated_at')))} UTC",
        ]
        self.header.value = (
            '<div class="tp-live-header" style="display:flex;align-items:center;gap:14px;flex-wrap:wrap;'
            'font-size:13px;padding:6px 0">'
            f'<span style="font-size:15px;font-weight:600">Trading state</span>{_badge(state, "tp-live-state")}'
            + "".join(f"<span>{fact}</span>" for fact in facts) + "</div>"
        )

    def _render_service(self, data: dict[str, Any]) -> None:
        self._render_header(data)
        status, health, risk = data["status"], data["health"] or {}, data["risk"] or {}
        state = str(status.get("trading_state") or health.get("trading_state") or "UNKNOWN")
        watchdog = status.get("watchdog", {})
        limit = _number(watchdog.get("limit_seconds"))
        stalled = set(watchdog.get("stalled") or [])
        engines = []
        for engine in status.get("engines", []):
            row = dict(engine)
            stale = _number(engine.get("feed_stale_seconds"))
            row["feed"] = "stalled" if engine.get("strategy_id") in stalled or engine.get("stalled") else (
                "stale" if stale is not None and limit and stale > limit / 2 else "live")
            engines.append(row)
        self.engines_view.value = _table(engines, [
            ("strategy_id", "Strategy", "text"), ("symbol", "Symbol", "text"), ("running", "Running", "bool"),
            ("outcome", "Outcome", "text"), ("trading_state", "State", "state"), ("feed", "Feed", "text"),
            ("feed_stale_seconds", "Feed stale (s)", "seconds"), ("last_bar_end", "Last bar", "time"),
            ("reconnects", "Reconnects", "text"), ("error", "Error", "text"),
        ], "tp-live-engines", "No engines.")
        self._update_figure(data["pnl"])
        self.positions_view.value = _table(data["positions"], [
            ("strategy_id", "Strategy", "text"), ("symbol", "Symbol", "text"), ("quantity", "Quantity", "qty"),
            ("average_cost", "Avg cost", "money"), ("mark_price", "Mark", "money"),
            ("unrealized_pnl", "Unrealized", "pnl"), ("realized_pnl", "Realized", "pnl"),
            ("fees_quote", "Fees", "money"), ("net_pnl", "Net P&L", "pnl"), ("equity", "Equity", "money"),
        ], "tp-live-positions", "No positions.")
        self.orders_view.value = _table(data["orders"], [
            ("created_at", "Created", "time"), ("strategy_id", "Strategy", "text"), ("symbol", "Symbol", "text"),
            ("side", "Side", "text"), ("order_type", "Type", "text"), ("quantity", "Quantity", "qty"), ("status", "Status", "status"),
            ("filled_quantity", "Filled", "qty"), ("average_fill_price", "Avg price", "money"),
            ("fees", "Fees", "money"), ("client_order_id", "Order id", "text"),
        ], "tp-live-orders", "No orders yet.", _ORDERS_SHOWN)
        self.fills_view.value = _table(data["fills"], [
            ("filled_at", "Filled", "time"), ("strategy_id", "Strategy", "text"), ("symbol", "Symbol", "text"),
            ("side", "Side", "text"), ("fill_quantity", "Quantity", "qty"), ("fill_price", "Price", "money"),
            ("fee_quote", "Fee", "money"), ("is_maker", "Maker", "bool"),
            ("client_order_id", "Order id", "text"),
        ], "tp-live-fills", "No fills yet.", _FILLS_SHOWN)
        self.quality_view.value = _table(data["execution"], [
            ("strategy_id", "Strategy", "text"), ("symbol", "Symbol", "text"), ("orders", "Orders", "text"),
            ("fill_ratio", "Fill ratio", "ratio"), ("slippage_bps_avg", "Slippage avg (bps)", "bps"),
            ("slippage_bps_worst", "Worst (bps)", "bps"), ("ack_ms_p50", "Ack p50 (ms)", "ms"),
            ("ack_ms_p95", "Ack p95 (ms)", "ms"), ("ack_ms_max", "Ack max (ms)", "ms"), ("fees_quote", "Fees", "money"),
            ("rejects", "Rejected", "text"), ("denials", "Denied", "text"),
        ], "tp-live-quality", "No orders yet.")
        self.risk_view.value = self._risk_html(risk, state)
        self.alerts_view.value = _table(data["alerts"], [
            ("ts", "Time", "time"), ("severity", "Severity", "text"), ("kind", "Kind", "text"),
            ("title", "Title", "text"), ("detail", "Detail", "text"), ("delivered", "Delivered", "bool"),
        ], "tp-live-alerts", "No alerts.")

    @staticmethod
    def _risk_html(risk: Mapping[str, Any], state: str) -> str:
        rows = []
        for engine in risk.get("engines", []):
            status = engine.get("status") or {}
            mode = status.get("state") or {}
            tripped = set((status.get("tripped") or {}).keys()) | set((status.get("breakers") or {}).get("tripped") or [])
            rows.append({"strategy_id": engine.get("strategy_id"), "symbol": engine.get("symbol"),
                         "mode": mode.get("mode"), "since": mode.get("since"), "reason": mode.get("reason"),
                         "actor": mode.get("actor"), "tripped": ", ".join(sorted(map(str, tripped))) or "none"})
        history = [{**entry, "detail": _summary(entry.get("payload"))} for entry in risk.get("history", [])]
        tripped_any = any(row["tripped"] != "none" for row in rows)
        summary = (f'<div class="tp-live-risk" style="margin:2px 0 6px">Service {_badge(state, "tp-live-risk-state")} '
                   f'· breakers tripped: {_colored("yes", "#8b1a1a") if tripped_any else _colored("none", "#1d5e20")}</div>')
        engines = _table(rows, [
            ("strategy_id", "Strategy", "text"), ("symbol", "Symbol", "text"), ("mode", "State", "state"),
            ("since", "Since", "time"), ("reason", "Reason", "text"), ("actor", "By", "text"),
            ("tripped", "Tripped breakers", "text"),
        ], "tp-live-risk-engines", "No engines.")
        past = _table(history, [
            ("ts", "Time", "time"), ("strategy_id", "Strategy", "text"), ("kind", "Event", "text"),
            ("detail", "Detail", "text"),
        ], "tp-live-breaker-history", "No breaker or trading-state changes yet.")
        return f'{summary}{engines}<div style="{_SECTION};font-size:13px">Breaker history</div>{past}'

    @staticmethod
    def _figure(pnl: list[Mapping[str, Any]]) -> go.Figure:
        figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38],
                               subplot_titles=("Equity", "Net P&L"))
        for strategy_id, (x, equity, net) in _series(pnl).items():
            figure.add_trace(go.Scatter(x=x, y=equity, name=f"equity · {strategy_id}", mode="lines"), row=1, col=1)
            figure.add_trace(go.Scatter(x=x, y=net, name=f"net P&L · {strategy_id}", mode="lines"), row=2, col=1)
        figure.update_layout(height=420, margin={"l": 60, "r": 20, "t": 40, "b": 30}, template="plotly_white",
                             uirevision="live", legend={"orientation": "h", "y": -0.12})
        if not pnl:
            figure.add_annotation(text="No P&L points yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        return figure

    def _update_figure(self, pnl: list[Mapping[str, Any]]) -> None:
        if pnl == self._rendered.get("pnl"):
            return
        series = _series(pnl)
        names = [f"{kind} · {sid}" for sid in series for kind in ("equity", "net P&L")]
        if pnl and [trace.name for trace in self.figure.data] == names:
            with self.figure.batch_update():
                for index, (x, equity, net) in enumerate(series.values()):
                    self.figure.data[2 * index].update(x=x, y=equity)
                    self.figure.data[2 * index + 1].update(x=x, y=net)
        else:
            fresh = self._figure(pnl)
            with self.figure.batch_update():
                self.figure.data = ()
                self.figure.add_traces(list(fresh.data))
                self.figure.layout = fresh.layout
        # A view opened later is built from the synced state; refresh it as plotly does on display.
        self.figure._widget_data = copy.deepcopy(self.figure._data)
        self.figure._widget_layout = copy.deepcopy(self.figure._layout_obj._props)

    def _action_done(self, action: str, ok: bool, text: str, answer: Any = None) -> None:
        label = _ACTIONS[action][0]
        self._last_action = {"action": action, "ok": ok, "message": text, "answer": answer, "at": _now()}
        color = "#1d5e20" if ok else "#8b1a1a"
        self.action_result.value = (f'<div class="tp-live-action" data-ok="{str(ok).lower()}" style="color:{color}">'
                                    f"{html.escape(label)}: {html.escape(text)}</div>")
        with self._lock:
            self._rendered["last_action"] = copy.deepcopy(self._last_action)
        return None


def _series(pnl: list[Mapping[str, Any]]) -> dict[str, tuple[list[str], list[float | None], list[float | None]]]:
    """P&L points grouped by strategy: (times as naive-UTC text, equity, net P&L)."""
    grouped: dict[str, tuple[list[str], list[float | None], list[float | None]]] = {}
    for point in pnl:
        x, equity, net = grouped.setdefault(str(point.get("strategy_id", "")), ([], [], []))
        x.append(str(point.get("ts", "")).replace("T", " ").removesuffix("Z"))
        equity.append(_number(point.get("equity")))
        net.append(_number(point.get("net_pnl")))
    return grouped


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
