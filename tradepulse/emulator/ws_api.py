"""The WebSocket API at ``/ws-api/v3``: user-data subscriptions (what ccxt ≥ 4.5.6 uses).

A client sends ``{"id": "1", "method": "userDataStream.subscribe.signature", "params": {apiKey,
timestamp, recvWindow, signature}}`` (signature over the key-sorted raw params); the venue answers
``{"id": "1", "status": 200, "result": {"subscriptionId": 0}}`` and from then on pushes
``{"subscriptionId": 0, "event": {...}}`` with ``executionReport``, ``outboundAccountPosition`` and
``balanceUpdate`` events of that account. Errors are ``{"id", "status": 4xx, "error": {code, msg}}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from tradepulse.emulator.accounts import Account
from tradepulse.emulator.auth import Authenticator
from tradepulse.emulator.clock import VenueClock
from tradepulse.emulator.connections import WsConnection
from tradepulse.emulator.decimals import fmt8
from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.orders import Fill, Order, execution_report

__all__ = ["UserStreamHub", "add_ws_api_routes"]


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class UserStreamHub:
    """User-data subscriptions by account, and the matching engine's listener that feeds them.

    Parameters
    ----------
    authenticator, clock
        Check subscription signatures against server time.
    latency_ms
        Callable returning the injected reply latency (fault injection).
    """

    def __init__(self, authenticator: Authenticator, clock: VenueClock, latency_ms: Callable[[], int],
                 heartbeat_s: float = 20.0) -> None:
        self.authenticator = authenticator
        self.clock = clock
        self.latency_ms = latency_ms
        self.heartbeat_s = heartbeat_s
        self.connections: set[WsConnection] = set()
        self.connections_opened = 0  # ever, so a test can tell a reconnect from a surviving socket
        # api key -> {(connection, subscription id)}
        self._subscriptions: dict[str, set[tuple[WsConnection, int]]] = {}
        self._next_ids: dict[WsConnection, int] = {}

    # --- ExecutionListener ---------------------------------------------------------------------

    def _push(self, account: Account, event: dict[str, Any]) -> None:
        for connection, subscription_id in list(self._subscriptions.get(account.api_key, ())):
            connection.send_text(_dumps({"subscriptionId": subscription_id, "event": event}))

    def on_execution(self, order: Order, execution_type: str, fill: Fill | None, event_ms: int) -> None:
        if order.account.api_key in self._subscriptions:
            self._push(order.account, execution_report(order, execution_type, event_ms, fill))

    def on_balances(self, account: Account, assets: set[str], event_ms: int) -> None:
        if account.api_key in self._subscriptions:
            self._push(account, {"e": "outboundAccountPosition", "E": event_ms, "u": account.update_time_ms,
                                 "B": account.position_json(assets)})

    def on_balance_update(self, account: Account, asset: str, delta: Decimal, event_ms: int) -> None:
        if account.api_key in self._subscriptions:
            self._push(account, {"e": "balanceUpdate", "E": event_ms, "a": asset, "d": fmt8(delta), "T": event_ms})

    # --- subscriptions -------------------------------------------------------------------------

    def _subscribe(self, connection: WsConnection, account: Account) -> int:
        subscription_id = self._next_ids.get(connection, 0)
        self._next_ids[connection] = subscription_id + 1
        self._subscriptions.setdefault(account.api_key, set()).add((connection, subscription_id))
        return subscription_id

    def _unsubscribe(self, connection: WsConnection, subscription_id: int | None = None) -> None:
        for key in list(self._subscriptions):
            entries = self._subscriptions[key]
            for entry in list(entries):
                if entry[0] is connection and (subscription_id is None or entry[1] == subscription_id):
                    entries.discard(entry)
            if not entries:
                del self._subscriptions[key]

    def _active(self, connection: WsConnection) -> list[dict[str, Any]]:
        return [{"subscriptionId": sid, "eventType": "userDataStream"}
                for entries in self._subscriptions.values() for conn, sid in entries if conn is connection]

    def subscription_count(self, api_key: str) -> int:
        """Return how many user-data subscriptions ``api_key`` has (tests wait for one before trading)."""
        return len(self._subscriptions.get(api_key, ()))

    def drop_all(self) -> int:
        """Cut every WebSocket API connection (fault injection); return how many were cut."""
        dropped = list(self.connections)
        for connection in dropped:
            connection.drop()
        return len(dropped)

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await connection.close()

    # --- requests ------------------------------------------------------------------------------

    def _result(self, connection: WsConnection, method: Any, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.clock.server_ms()}
        if method == "userDataStream.subscribe.signature":
            account = self.authenticator.verify_ws(params, self.clock.server_ms())
            return {"subscriptionId": self._subscribe(connection, account)}
        if method == "userDataStream.unsubscribe":
            raw = params.get("subscriptionId")
            self._unsubscribe(connection, None if raw is None else int(raw))
            return {}
        if method == "session.subscriptions":
            return self._active(connection)
        raise ApiError(-1000, f"Method '{method}' is not supported by this venue.")

    async def _reply(self, connection: WsConnection, text: str) -> None:
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise ValueError("expected an object")
        except ValueError:
            connection.send_text(_dumps({"id": None, "status": 400,
                                         "error": {"code": -1000, "msg": "Malformed request."}}))
            return
        request_id = message.get("id")
        params = message.get("params") or {}
        latency = self.latency_ms()
        if latency:
            await asyncio.sleep(latency / 1000)
        try:
            if not isinstance(params, dict):
                raise ApiError(-1100, "Illegal characters found in parameter 'params'.")
            result = self._result(connection, message.get("method"), params)
        except (ApiError, ValueError, TypeError) as exc:
            error = exc if isinstance(exc, ApiError) else ApiError(-1100, f"Bad parameter: {exc}")
            connection.send_text(_dumps({"id": request_id, "status": error.status, "error": error.body()}))
            return
        connection.send_text(_dumps({"id": request_id, "status": 200, "result": result}))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=self.heartbeat_s or None)
        await ws.prepare(request)
        connection = WsConnection(ws, request)
        self.connections.add(connection)
        self.connections_opened += 1
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._reply(connection, message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._unsubscribe(connection)
            self._next_ids.pop(connection, None)
            self.connections.discard(connection)
            await connection.close()
        return ws


def add_ws_api_routes(app: web.Application, hub: UserStreamHub) -> None:
    """Register the WebSocket API endpoint on ``app``."""
    app.router.add_get("/ws-api/v3", hub.handle)
