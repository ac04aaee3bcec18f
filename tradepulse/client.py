"""Talk to a running TradePulse service (``tradepulse serve`` / ``tradepulse live start``) from Python.

:class:`LiveClient` (blocking, for scripts and notebooks) and :class:`AsyncLiveClient` (for asyncio
code) have the same methods; each maps to one route of the service's REST API (docs/api.md) and
returns its JSON as plain Python values (money as decimal strings, times as ISO-8601 text).
``stream()`` follows the live WebSocket stream of journal events and status snapshots.

The bearer token comes from the argument, else ``TRADEPULSE_API_TOKEN``, else
``TRADEPULSE_API_OPERATE_TOKEN``, else ``TRADEPULSE_API_READ_TOKEN`` (each may instead be a
``…_FILE`` variable naming a file that holds it). The token never appears in an exception, a
``repr`` or a log line.

Examples
--------
>>> from tradepulse.client import LiveClient
>>> with LiveClient.from_config("live.toml") as client:          # doctest: +SKIP
...     client.status()["trading_state"]
...     client.kill("exchange maintenance", flatten=False)
...     for message in client.stream():
...         print(message["type"], message.get("kind"))

Every failure is a :class:`ServiceError` with one sentence that says what to do:
:class:`ServiceUnreachable` (nothing answers), :class:`ServiceUnauthorized` (401),
:class:`ServiceForbidden` (403, needs an operate or approve token), :class:`ServiceNotFound` (404),
:class:`ServiceInvalidRequest` (422), :class:`ServiceRefused` (409),
:class:`ServiceServerError` (5xx).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tradepulse.adapters.credentials import Secret
from tradepulse.client_base import (
    Call,
    Calls,
    ServiceError,
    ServiceForbidden,
    ServiceInvalidRequest,
    ServiceNotFound,
    ServiceRefused,
    ServiceServerError,
    ServiceUnauthorized,
    ServiceUnreachable,
    Token,
    decode,
    display_url,
    is_loopback,
    normalize_url,
    resolve_token,
    service_url_of,
    state_dir_of,
    stream_close_error,
    timed_out,
    unreachable,
    websocket_url,
)
from tradepulse.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AsyncLiveClient",
    "LiveClient",
    "ServiceError",
    "ServiceForbidden",
    "ServiceInvalidRequest",
    "ServiceNotFound",
    "ServiceRefused",
    "ServiceServerError",
    "ServiceUnauthorized",
    "ServiceUnreachable",
    "pnl_to_frame",
]

_MONEY_COLUMNS = ("equity", "realized_pnl", "unrealized_pnl", "fees_quote", "net_pnl")
_DEFAULT_REASON = "requested through the TradePulse client"
#: Stream messages can carry a full status snapshot; allow more than websockets' 1 MiB default.
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def pnl_to_frame(points: list[dict[str, Any]]) -> pd.DataFrame:
    """``pnl()`` points as a DataFrame indexed by UTC time, money columns as floats (for notebooks)."""
    import pandas as pd

    columns = ["ts", "strategy_id", *_MONEY_COLUMNS]
    frame = pd.DataFrame(points)
    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series(dtype="object")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    for column in _MONEY_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame.set_index("ts")[[c for c in frame.columns if c != "ts"]]


def _transport_detail(error: Exception, token: Token) -> str | None:
    text = str(error).strip()
    if token.secret is not None:
        text = text.replace(token.secret.reveal(), "***")
    if not text or len(text) > 160:
        return None
    return "connection refused" if "refused" in text.lower() else text


class _MaskingLogger(logging.LoggerAdapter):
    """websockets' logger with the token masked: at DEBUG it logs every handshake header."""

    def __init__(self, logger: logging.Logger, token: Token) -> None:
        super().__init__(logger, {})
        self.__secret = token.secret.reveal() if token.secret is not None else ""

    def _mask(self, value: Any) -> Any:
        if self.__secret and isinstance(value, str) and self.__secret in value:
            return value.replace(self.__secret, "***")
        return value

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            super().log(level, self._mask(msg), *(self._mask(arg) for arg in args), **kwargs)


class _Base:
    """What both clients share: URL, token and ``repr``; never the token's value."""

    def __init__(self, url: str, token: str | Secret | None = None, timeout: float = 10) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = normalize_url(url)
        self.timeout = float(timeout)
        self._token = resolve_token(token)

    @property
    def token_source(self) -> str:
        """Where the token came from (``"the token in TRADEPULSE_API_TOKEN"``, ...). Never the value."""
        return self._token.described

    def __repr__(self) -> str:
        return f"{type(self).__name__}({display_url(self.url)!r}, {self._token.described})"

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.url,
            "headers": {**self._token.header, "User-Agent": "tradepulse-client"},
            "timeout": self.timeout,
            # A proxy from the environment must not intercept a service on this machine.
            "trust_env": not is_loopback(self.url),
        }

    def _ws_options(self) -> dict[str, Any]:
        return {
            "additional_headers": self._token.header,
            "open_timeout": self.timeout,
            "proxy": None if is_loopback(self.url) else True,
            "max_size": _MAX_MESSAGE_BYTES,
            "user_agent_header": "tradepulse-client",
            "logger": _MaskingLogger(logging.getLogger("websockets.client"), self._token),
        }

    def _stream_failed(self, error: Exception) -> ServiceError:
        from websockets.exceptions import InvalidStatus

        if isinstance(error, InvalidStatus):
            status = error.response.status_code
            if status == 401:
                return decode_error(status, error.response.body or b"", self, "/stream")
            return ServiceUnreachable(f"{display_url(self.url)} does not serve the TradePulse stream (HTTP {status} on "
                                      f"/stream); the URL should be the service's API base, ending in /api/v1",
                                      status=status)
        if isinstance(error, TimeoutError):
            return timed_out(self.url, self.timeout)
        return unreachable(self.url, _transport_detail(error, self._token))

    def _closed(self, error: Exception) -> None:
        """Raise the error of a stream the service closed with an application code (bad token)."""
        received = getattr(error, "rcvd", None)
        if received is None:
            raise ServiceUnreachable(f"the stream from {display_url(self.url)} broke off without a goodbye (the service "
                                     "died or the connection failed); reconnect when it answers again") from None
        problem = stream_close_error(received.code, self.url, self._token)
        if problem is not None:
            raise problem from None


def decode_error(status: int, content: bytes, client: _Base, path: str) -> ServiceError:
    try:
        decode(status, content, call=Call("GET", path), url=client.url, token=client._token)
    except ServiceError as error:
        return error
    return ServiceUnreachable(f"{display_url(client.url)} refused the WebSocket handshake on {path} (HTTP {status})")


class LiveClient(_Base):
    """A blocking client of a running service's API.

    Parameters
    ----------
    url
        The API base, e.g. ``http://127.0.0.1:8765/api/v1`` (``/api/v1`` is added when missing).
    token
        The bearer token; by default ``TRADEPULSE_API_TOKEN``, then the operate, then the read
        token variable (or their ``_FILE`` twins).
    timeout
        Seconds to wait for each answer (and for the stream's handshake).
    transport
        An ``httpx.BaseTransport`` to send requests through instead of the network (httpx's own
        seam: ``httpx.WSGITransport``, a recording or retrying transport, a test double). The
        stream still uses a WebSocket to ``url``.

    Examples
    --------
    >>> with LiveClient("http://127.0.0.1:8765/api/v1") as client:   # doctest: +SKIP
    ...     client.positions()
    """

    def __init__(self, url: str, token: str | Secret | None = None, timeout: float = 10,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url, token, timeout)
        self._http = httpx.Client(**self._client_options(), transport=transport)

    @classmethod
    def from_state_dir(cls, path: str | Path, token: str | Secret | None = None, timeout: float = 10,
                       transport: httpx.BaseTransport | None = None) -> LiveClient:
        """The client of the service running from ``path`` (its ``service.json`` says where it listens)."""
        return cls(service_url_of(path), token=token, timeout=timeout, transport=transport)

    @classmethod
    def from_config(cls, path: str | Path, token: str | Secret | None = None, timeout: float = 10,
                    transport: httpx.BaseTransport | None = None) -> LiveClient:
        """The client of the service started with the config file ``path`` (via its ``[service] state_dir``)."""
        return cls.from_state_dir(state_dir_of(path), token=token, timeout=timeout, transport=transport)

    # -- plumbing --

    def _send(self, call: Call) -> Any:
        try:
            response = self._http.request(call.method, call.path.lstrip("/"), params=call.params or None, json=call.body)
        except httpx.TimeoutException:
            raise timed_out(self.url, self.timeout) from None
        except (httpx.TransportError, OSError) as error:
            raise unreachable(self.url, _transport_detail(error, self._token)) from None
        return decode(response.status_code, response.content, call=call, url=self.url, token=self._token)

    def close(self) -> None:
        """Close the connection pool (a ``with`` block does it for you)."""
        self._http.close()

    def __enter__(self) -> LiveClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reads --

    def health(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "uptime_seconds", "trading_state"}``."""
        return self._send(Calls.get("/health"))

    def scope(self) -> str:
        """The scope of this client's token: ``"read"``, ``"operate"`` (may also act) or ``"approve"`` (may review versions)."""
        return str(self._send(Calls.get("/token"))["scope"])

    # -- strategy versions (docs/governance.md) --

    def versions(self, name: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        """Stored strategy versions with their stage, oldest first (``name``/``stage`` filter)."""
        return self._send(Calls.get("/versions", name=name, stage=stage))

    def version(self, version_id: str) -> dict[str, Any]:
        """One version: its checks, backtest, data fingerprint and promotion record."""
        return self._send(Calls.version(version_id))

    def approve(self, version_id: str, comment: str) -> dict[str, Any]:
        """Sign off a version at paper for live (an approve token; its name is recorded as the approver).

        Returns ``{"decision": {...}, "service": [what the service did, e.g. loaded the version]}``.
        """
        return self._send(Calls.review(version_id, "approve", comment))

    def reject(self, version_id: str, comment: str) -> dict[str, Any]:
        """Send a version at paper back to research, with the reasons (an approve token)."""
        return self._send(Calls.review(version_id, "reject", comment))

    def rollback(self, strategy: str, reason: str) -> dict[str, Any]:
        """Make the previous approved version of ``strategy`` live again (an operate token)."""
        return self._send(Calls.rollback(strategy, reason))

    def status(self) -> dict[str, Any]:
        """Service, trading state, venue, engines, reconciliation and watchdog."""
        return self._send(Calls.get("/status"))

    def strategies(self) -> list[dict[str, Any]]:
        """The strategies the service runs, with their parameters, target and position."""
        return self._send(Calls.get("/strategies"))

    def positions(self) -> list[dict[str, Any]]:
        """One position per strategy, with P&L (money as decimal strings)."""
        return self._send(Calls.get("/positions"))

    def orders(self, status: str | list[str] | None = None, symbol: str | None = None, strategy_id: str | None = None,
               limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Orders as they are now, newest first; ``status`` may be one state or a list (``["NEW", "FILLED"]``)."""
        return self._send(Calls.orders(status, symbol, strategy_id, limit, offset))

    def fills(self, symbol: str | None = None, strategy_id: str | None = None, limit: int = 100,
              offset: int = 0) -> list[dict[str, Any]]:
        """Applied fills, newest first."""
        return self._send(Calls.get("/fills", symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset))

    def pnl(self, strategy_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Equity and P&L points, oldest first, the last ``limit`` per strategy (see :meth:`pnl_frame`)."""
        return self._send(Calls.get("/pnl", strategy_id=strategy_id, limit=limit))

    def pnl_frame(self, strategy_id: str | None = None, limit: int = 1000) -> pd.DataFrame:
        """:meth:`pnl` as a pandas DataFrame indexed by time, money as floats."""
        return pnl_to_frame(self.pnl(strategy_id=strategy_id, limit=limit))

    def execution(self, since: datetime | str | None = None, strategy_id: str | None = None) -> list[dict[str, Any]]:
        """Execution quality per strategy and symbol (slippage in bps against the arrival price, fill ratio,
        order-to-ack milliseconds, fees, rejects, denials) of the orders submitted since ``since`` (a
        timezone-aware time or ISO-8601 text; all orders when ``None``)."""
        return self._send(Calls.execution(since, strategy_id))

    def risk(self, limit: int = 100) -> dict[str, Any]:
        """Trading state, each engine's risk controls and the breaker history (newest first)."""
        return self._send(Calls.get("/risk", limit=limit))

    def alerts(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Alerts raised, newest first."""
        return self._send(Calls.get("/alerts", limit=limit, offset=offset))

    def events(self, kind_prefix: str | None = None, strategy_id: str | None = None, after_seq: int = 0,
               limit: int = 100) -> list[dict[str, Any]]:
        """Journal events, oldest first; page with ``after_seq`` (the last ``seq`` you saw)."""
        return self._send(Calls.get("/events", kind_prefix=kind_prefix, strategy_id=strategy_id, after_seq=after_seq,
                                    limit=limit))

    def metrics(self) -> str:
        """The Prometheus text exposition of the service's metrics."""
        return self._send(Calls.metrics())

    # -- operator actions (operate token) --

    def kill(self, reason: str, flatten: bool = False) -> dict[str, Any]:
        """Halt every engine and cancel open orders (``flatten``: also close positions). Returns the new state."""
        return self._send(Calls.kill(reason, flatten))

    def resume(self, reason: str) -> dict[str, Any]:
        """Move every engine back to ACTIVE. Returns the new state."""
        return self._send(Calls.action("resume", reason))

    def cancel_all(self, reason: str = _DEFAULT_REASON) -> dict[str, Any]:
        """Cancel every open order and say how each went.

        Returns ``{"cancelled": [id, ...], "failed": [{"client_order_id", "reason", ...}], "pending": [id, ...],
        "orders": [...]}``: only an order in ``cancelled`` is known to be gone. A failed cancel of an order
        the venue may still be working is sent again by the next ``cancel_all()`` or ``kill()``.
        """
        return self._send(Calls.action("cancel-all", reason))

    def flatten(self, reason: str = _DEFAULT_REASON) -> dict[str, Any]:
        """Halt and close every position at market. Returns the new state."""
        return self._send(Calls.action("flatten", reason))

    # -- the live stream --

    def stream(self) -> Iterator[dict[str, Any]]:
        """Live messages until the service stops (or you stop iterating): first a ``{"type": "status", ...}``
        snapshot, then ``{"type": "event", "strategy_id", "seq", "ts", "kind", "payload", ...}`` for every
        journal event and a status snapshot every few seconds.

        The connection opens on the first ``next()`` and closes when the loop ends (``break`` included).
        """
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        try:
            connection = connect(websocket_url(self.url), **self._ws_options())
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
            raise self._stream_failed(error) from None
        with connection:
            while True:
                try:
                    raw = connection.recv()
                except ConnectionClosed as closed:
                    self._closed(closed)
                    return
                yield json.loads(raw)


class AsyncLiveClient(_Base):
    """The asyncio twin of :class:`LiveClient`: the same methods, awaited; ``stream()`` is an async iterator.

    Examples
    --------
    >>> async with AsyncLiveClient.from_config("live.toml") as client:   # doctest: +SKIP
    ...     state = (await client.status())["trading_state"]
    ...     async for message in client.stream():
    ...         ...
    """

    def __init__(self, url: str, token: str | Secret | None = None, timeout: float = 10,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url, token, timeout)
        self._http = httpx.AsyncClient(**self._client_options(), transport=transport)

    @classmethod
    def from_state_dir(cls, path: str | Path, token: str | Secret | None = None, timeout: float = 10,
                       transport: httpx.AsyncBaseTransport | None = None) -> AsyncLiveClient:
        """The client of the service running from ``path`` (its ``service.json`` says where it listens)."""
        return cls(service_url_of(path), token=token, timeout=timeout, transport=transport)

    @classmethod
    def from_config(cls, path: str | Path, token: str | Secret | None = None, timeout: float = 10,
                    transport: httpx.AsyncBaseTransport | None = None) -> AsyncLiveClient:
        """The client of the service started with the config file ``path`` (via its ``[service] state_dir``)."""
        return cls.from_state_dir(state_dir_of(path), token=token, timeout=timeout, transport=transport)

    async def _send(self, call: Call) -> Any:
        try:
            response = await self._http.request(call.method, call.path.lstrip("/"), params=call.params or None,
                                                json=call.body)
        except httpx.TimeoutException:
            raise timed_out(self.url, self.timeout) from None
        except (httpx.TransportError, OSError) as error:
            raise unreachable(self.url, _transport_detail(error, self._token)) from None
        return decode(response.status_code, response.content, call=call, url=self.url, token=self._token)

    async def aclose(self) -> None:
        """Close the connection pool (an ``async with`` block does it for you)."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncLiveClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def health(self) -> dict[str, Any]:
        """See :meth:`LiveClient.health`."""
        return await self._send(Calls.get("/health"))

    async def scope(self) -> str:
        """See :meth:`LiveClient.scope`."""
        return str((await self._send(Calls.get("/token")))["scope"])

    async def versions(self, name: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.versions`."""
        return await self._send(Calls.get("/versions", name=name, stage=stage))

    async def version(self, version_id: str) -> dict[str, Any]:
        """See :meth:`LiveClient.version`."""
        return await self._send(Calls.version(version_id))

    async def approve(self, version_id: str, comment: str) -> dict[str, Any]:
        """See :meth:`LiveClient.approve`."""
        return await self._send(Calls.review(version_id, "approve", comment))

    async def reject(self, version_id: str, comment: str) -> dict[str, Any]:
        """See :meth:`LiveClient.reject`."""
        return await self._send(Calls.review(version_id, "reject", comment))

    async def rollback(self, strategy: str, reason: str) -> dict[str, Any]:
        """See :meth:`LiveClient.rollback`."""
        return await self._send(Calls.rollback(strategy, reason))

    async def status(self) -> dict[str, Any]:
        """See :meth:`LiveClient.status`."""
        return await self._send(Calls.get("/status"))

    async def strategies(self) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.strategies`."""
        return await self._send(Calls.get("/strategies"))

    async def positions(self) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.positions`."""
        return await self._send(Calls.get("/positions"))

    async def orders(self, status: str | list[str] | None = None, symbol: str | None = None,
                     strategy_id: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.orders`."""
        return await self._send(Calls.orders(status, symbol, strategy_id, limit, offset))

    async def fills(self, symbol: str | None = None, strategy_id: str | None = None, limit: int = 100,
                    offset: int = 0) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.fills`."""
        return await self._send(Calls.get("/fills", symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset))

    async def pnl(self, strategy_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.pnl`."""
        return await self._send(Calls.get("/pnl", strategy_id=strategy_id, limit=limit))

    async def pnl_frame(self, strategy_id: str | None = None, limit: int = 1000) -> pd.DataFrame:
        """See :meth:`LiveClient.pnl_frame`."""
        return pnl_to_frame(await self.pnl(strategy_id=strategy_id, limit=limit))

    async def execution(self, since: datetime | str | None = None,
                        strategy_id: str | None = None) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.execution`."""
        return await self._send(Calls.execution(since, strategy_id))

    async def risk(self, limit: int = 100) -> dict[str, Any]:
        """See :meth:`LiveClient.risk`."""
        return await self._send(Calls.get("/risk", limit=limit))

    async def alerts(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.alerts`."""
        return await self._send(Calls.get("/alerts", limit=limit, offset=offset))

    async def events(self, kind_prefix: str | None = None, strategy_id: str | None = None, after_seq: int = 0,
                     limit: int = 100) -> list[dict[str, Any]]:
        """See :meth:`LiveClient.events`."""
        return await self._send(Calls.get("/events", kind_prefix=kind_prefix, strategy_id=strategy_id,
                                          after_seq=after_seq, limit=limit))

    async def metrics(self) -> str:
        """See :meth:`LiveClient.metrics`."""
        return await self._send(Calls.metrics())

    async def kill(self, reason: str, flatten: bool = False) -> dict[str, Any]:
        """See :meth:`LiveClient.kill`."""
        return await self._send(Calls.kill(reason, flatten))

    async def resume(self, reason: str) -> dict[str, Any]:
        """See :meth:`LiveClient.resume`."""
        return await self._send(Calls.action("resume", reason))

    async def cancel_all(self, reason: str = _DEFAULT_REASON) -> dict[str, Any]:
        """See :meth:`LiveClient.cancel_all`."""
        return await self._send(Calls.action("cancel-all", reason))

    async def flatten(self, reason: str = _DEFAULT_REASON) -> dict[str, Any]:
        """See :meth:`LiveClient.flatten`."""
        return await self._send(Calls.action("flatten", reason))

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        """See :meth:`LiveClient.stream`; ``async for message in client.stream(): ...``."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        try:
            connection = await connect(websocket_url(self.url), **self._ws_options())
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
            raise self._stream_failed(error) from None
        try:
            while True:
                try:
                    raw = await connection.recv()
                except ConnectionClosed as closed:
                    self._closed(closed)
                    return
                yield json.loads(raw)
        finally:
            await connection.close()
