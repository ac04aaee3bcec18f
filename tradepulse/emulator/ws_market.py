"""Market-data WebSocket streams: ``/ws``, ``/stream/ws/<n>`` (raw events) and ``/stream`` (combined).

ccxt.pro opens ``<urls.api.ws.spot>/<n>`` per subscription group and sends
``{"method": "SUBSCRIBE", "params": [...], "id": 1}``; the venue answers ``{"result": null, "id": 1}``
before any data of those streams. As on Binance, ``/ws/<stream>`` subscribes at connect time and
``/stream?streams=a/b`` wraps each event as ``{"stream": ..., "data": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from tradepulse.emulator.connections import WsConnection
from tradepulse.emulator.market import is_known_stream

__all__ = ["MarketStreamHub", "add_market_routes"]

_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class MarketStreamHub:
    """Who listens to which stream, and delivery of each payload to them (serialised once)."""

    def __init__(self, symbols: set[str], heartbeat_s: float = 20.0) -> None:
        self.symbols = symbols
        self.heartbeat_s = heartbeat_s
        self.connections: set[WsConnection] = set()
        self.connections_opened = 0  # ever, so a test can tell a reconnect from a surviving socket
        self._subscribers: dict[str, set[WsConnection]] = {}

    # StreamPublisher
    def wants(self, stream: str) -> bool:
        return stream in self._subscribers

    def active_streams(self, prefix: str) -> list[str]:
        return [name for name in self._subscribers if name.startswith(prefix)]

    def publish(self, stream: str, payload: Any) -> None:
        listeners = self._subscribers.get(stream)
        if not listeners:
            return
        data = _dumps(payload)
        wrapped: str | None = None
        for connection in list(listeners):
            if connection.combined:
                if wrapped is None:
                    wrapped = f'{{"stream":"{stream}","data":{data}}}'
                connection.send_text(wrapped)
            else:
                connection.send_text(data)

    def subscribe(self, connection: WsConnection, streams: list[str]) -> None:
        for stream in streams:
            connection.streams.add(stream)
            self._subscribers.setdefault(stream, set()).add(connection)

    def unsubscribe(self, connection: WsConnection, streams: list[str]) -> None:
        for stream in streams:
            connection.streams.discard(stream)
            listeners = self._subscribers.get(stream)
            if listeners is not None:
                listeners.discard(connection)
                if not listeners:
                    del self._subscribers[stream]

    def drop_all(self) -> int:
        """Cut every market-data connection (fault injection); return how many were cut."""
        dropped = list(self.connections)
        for connection in dropped:
            connection.drop()
        return len(dropped)

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await connection.close()

    # --- the WebSocket handler -----------------------------------------------------------------

    def _bad_streams(self, streams: list[Any]) -> list[str]:
        return [str(s) for s in streams if not isinstance(s, str) or not is_known_stream(s, self.symbols)]

    def _handle_request(self, connection: WsConnection, text: str) -> dict[str, Any]:
        try:
            message = json.loads(text)
        except ValueError as exc:
            return {"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None}
        if not isinstance(message, dict):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}, "id": None}
        request_id = message.get("id")
        method = message.get("method")
        params = message.get("params", [])
        if not isinstance(params, list):
            return {"error": {"code": 2, "msg": "Invalid request: params must be an array"}, "id": request_id}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            bad = self._bad_streams(params)
            if bad:
                return {"error": {"code": 2, "msg": f"Invalid request: unknown stream {bad[0]!r}"}, "id": request_id}
            if method == "SUBSCRIBE":
                # The ack is queued before the subscription starts, so it precedes the stream's data.
                connection.send_text(_dumps({"result": None, "id": request_id}))
                self.subscribe(connection, params)
                return {}
            self.unsubscribe(connection, params)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(connection.streams), "id": request_id}
        if method == "SET_PROPERTY" and len(params) == 2 and params[0] == "combined":
            if not isinstance(params[1], bool):
                return {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": request_id}
            connection.combined = params[1]
            return {"result": None, "id": request_id}
        if method == "GET_PROPERTY" and params == ["combined"]:
            return {"result": connection.combined, "id": request_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return {"error": {"code": 0, "msg": "Unknown property"}, "id": request_id}
        return {"error": {"code": 2, "msg": f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}"},
                "id": request_id}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        combined = request.path.rstrip("/") == "/stream"
        initial: list[str] = []
        if combined:
            initial = [s for s in request.query.get("streams", "").split("/") if s]
        else:
            tail = request.match_info.get("tail", "")
            # ccxt puts a connection number here (/stream/ws/0); Binance puts stream names (/ws/btcusdt@trade).
            initial = [s for s in tail.split("/") if "@" in s]
        bad = self._bad_streams(initial)
        if bad:
            raise web.HTTPBadRequest(text=json.dumps({"code": -1100, "msg": f"Invalid stream name {bad[0]!r}."}),
                                     content_type="application/json")
        ws = web.WebSocketResponse(autoping=True, heartbeat=self.heartbeat_s or None, max_msg_size=1 << 20)
        await ws.prepare(request)
        connection = WsConnection(ws, request, combined=combined)
        self.connections.add(connection)
        self.connections_opened += 1
        self.subscribe(connection, initial)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    reply = self._handle_request(connection, message.data)
                    if reply:
                        connection.send_text(_dumps(reply))
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self.unsubscribe(connection, list(connection.streams))
            self.connections.discard(connection)
            await connection.close()
        return ws


def add_market_routes(app: web.Application, hub: MarketStreamHub) -> None:
    """Register the market-data WebSocket endpoints on ``app``."""
    for path in ("/ws", "/ws/{tail:.*}", "/stream/ws", "/stream/ws/{tail:.*}", "/stream"):
        app.router.add_get(path, hub.handle)
