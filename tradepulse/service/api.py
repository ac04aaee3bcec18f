"""The HTTP and WebSocket API of the live service: :func:`create_app` turns a backend into FastAPI.

The API is a thin translation of :class:`tradepulse.service.contract.ServiceBackend`: HTTP in,
JSON out, bearer-token auth, no trading logic. docs/api.md describes every route;
docs/api/openapi.json (exported by tools/export_openapi.py, checked by a test) and
docs/api/asyncapi.yaml (the WebSocket stream) are the machine-readable contracts.

Request handling, outermost first:

1. :class:`_Gatekeeper` (pure ASGI) gives every HTTP request a correlation id (the client's
   ``X-Correlation-ID`` when it is a sane id, a new one otherwise; echoed on the response),
   answers 401 without a known bearer token and 403 for a token without the scope a ``POST`` needs
   (operate for ``/api/v1/actions/*``, approve for ``/api/v1/versions/*``) *before* anything reads the body, and turns any unexpected exception into a generic 500 (the
   exception's text, which could hold a secret, goes to the redacted log only).
2. FastAPI validates parameters and bodies (422), calls the backend and validates the answer
   against the models in :mod:`tradepulse.service.models`.
3. Exception handlers give every error the shape ``{"error": {"code", "message"}}``.

The backend's read methods are synchronous and are called on the event loop (the host keeps its
state there; reading it from a worker thread would race with the engines).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Security, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import AwareDatetime, BeforeValidator
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

import tradepulse
from tradepulse.errors import TradePulseError, VenueError
from tradepulse.model.orders import OrderStatus
from tradepulse.obs.json_logs import correlation, new_correlation_id
from tradepulse.obs.metrics import CONTENT_TYPE
from tradepulse.obs.redaction import redact_text
from tradepulse.service import models as m
from tradepulse.service.auth import ApiAuth, Grant, bearer_token
from tradepulse.service.contract import APPROVE, OPERATE, READ, ServiceBackend, UnknownStrategy, UnknownVersion
from tradepulse.service.api_versions import add_version_routes
from tradepulse.service.events import StreamMessage

__all__ = ["API_PREFIX", "CORRELATION_HEADER", "WS_CLOSE_FORBIDDEN", "WS_CLOSE_UNAUTHORIZED", "create_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
ACTIONS_PREFIX = f"{API_PREFIX}/actions/"
VERSIONS_PREFIX = f"{API_PREFIX}/versions/"
CORRELATION_HEADER = "X-Correlation-ID"
#: WebSocket close codes (4000-4999 are the application's): no or unknown token / scope too small.
WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_FORBIDDEN = 4403
#: Close code when the service stops and the stream ends (RFC 6455 "going away").
WS_CLOSE_GOING_AWAY = 1001

_PUBLIC_PATHS = frozenset({OPENAPI_PATH})
_QUERY_TOKEN = "tradepulse_query_token"
_CLIENT_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_REALM = 'Bearer realm="tradepulse"'

_DESCRIPTION = """\
Monitor and operate a running TradePulse service (`tradepulse serve`).

**Auth.** Every route needs `Authorization: Bearer <token>`. A *read* token
(`TRADEPULSE_API_READ_TOKEN`) may call every `GET` route, `/metrics` and the WebSocket stream; an
*operate* token (`TRADEPULSE_API_OPERATE_TOKEN`) may also call `POST /api/v1/actions/*`; an *approve*
token (`TRADEPULSE_API_APPROVE_TOKEN`, written `name:token`) may read and call
`POST /api/v1/versions/{id}/approve|reject`, and the name is recorded as who signed off. Without a
known token the answer is 401 (with `WWW-Authenticate: Bearer`); a token without the scope a POST
needs gets 403.
Only this document (`/api/v1/openapi.json`) is public.

**Errors** are JSON: `{"error": {"code": "...", "message": "..."}}`.

**Paging.** Lists take `limit` (1-1000) and `offset`; newest first unless a route says otherwise.

**Live events** stream over the WebSocket `/api/v1/stream` (see asyncapi.yaml beside this file).
"""

_TAGS = [
    {"name": "monitoring", "description": "Health, status and metrics."},
    {"name": "trading", "description": "Strategies, positions, orders, fills and P&L."},
    {"name": "risk", "description": "Trading state, breakers, alerts and the journal."},
    {"name": "actions", "description": "Operator actions (operate scope)."},
    {"name": "versions", "description": "Strategy versions and their promotion: read, approve or reject (approve scope)."},
]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A read token (GET routes, /metrics, the stream), an operate token (also POST /api/v1/actions/*) "
                "or an approve token (also POST /api/v1/versions/{id}/approve|reject).",
)

# -- OpenAPI response documentation -------------------------------------------------------------

_CID_DOC = {CORRELATION_HEADER: {"description": "The request's correlation id (also in the service's logs).",
                                 "schema": {"type": "string"}}}


def _error_doc(description: str, **headers: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"model": m.ErrorResponse, "description": description, "headers": dict(_CID_DOC)}
    for name, text in headers.items():
        doc["headers"][name.replace("_", "-")] = {"description": text, "schema": {"type": "string"}}
    return doc


_ERRORS = {
    401: _error_doc("No bearer token, or one the service does not know.",
                    WWW_Authenticate="`Bearer realm=\"tradepulse\"` (with `error=\"invalid_token\"` for an unknown one)."),
    404: _error_doc("An unknown `strategy_id` or strategy version."),
    422: _error_doc("A parameter or the body is invalid; `details` says which and why."),
}
_ACTION_ERRORS = {
    403: _error_doc("The token lacks the scope: actions need operate, approving or rejecting a version needs approve.",
                    WWW_Authenticate='`Bearer realm="tradepulse", error="insufficient_scope", scope="operate"` (or `"approve"`).'),
    409: _error_doc("The service refused the action (its message says why)."),
    502: _error_doc("The venue failed while carrying out the action; check its state and retry."),
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    table = {**_ERRORS, **_ACTION_ERRORS}
    # Every route may answer 401 (no token) and 422 (an unknown or invalid parameter).
    return {200: {"headers": dict(_CID_DOC)}, **{code: table[code] for code in sorted({401, 422, *codes})}}


# -- errors ------------------------------------------------------------------------------------

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "rejected", 422: "validation_error", 500: "internal_error", 502: "venue_error"}


def _error(status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None,
           details: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _unauthorized(token_sent: bool) -> JSONResponse:
    if token_sent:
        return _error(401, "unknown bearer token", headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'})
    return _error(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                  headers={"WWW-Authenticate": _REALM})


def _forbidden(needed: str, held: str) -> JSONResponse:
    what = "approving or rejecting a version" if needed == APPROVE else "this action"
    return _error(403, f"{what} needs a token with the {needed} scope; the token sent has the {held} scope",
                  headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope="{needed}"'})


def _scope_needed(method: str, path: str) -> str | None:
    """The scope a request needs beyond read: operate for actions, approve for reviewing a version."""
    if method != "POST":
        return None
    if path.startswith(ACTIONS_PREFIX):
        return OPERATE
    if path.startswith(VERSIONS_PREFIX):
        return APPROVE
    return None


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot even decode (not UTF-8); like malformed JSON, a 422.
        return _error(422, "invalid request (body)", details=[
            {"loc": ["body"], "msg": "the body cannot be decoded as JSON", "type": "json_invalid"}])
    messages = {404: "no such route", 405: "method not allowed on this route"}
    message = exc.detail if isinstance(exc.detail, str) and exc.status_code not in messages else messages.get(
        exc.status_code, "request failed")
    return _error(exc.status_code, message, headers=dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: the offending input is not echoed (it may be long, or someone's secret).
    details = [{"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")),
                "type": str(error.get("type", ""))} for error in exc.errors()]
    where = ", ".join(".".join(d["loc"]) for d in details[:3]) or "request"
    return _error(422, f"invalid request ({where})", details=details)


async def _unknown_strategy(request: Request, exc: Exception) -> Response:
    return _error(404, redact_text(str(exc)) or "unknown strategy id")


async def _unknown_version(request: Request, exc: Exception) -> Response:
    return _error(404, f"no strategy version {exc.args[0]!r} in the service's store" if exc.args else "unknown strategy version")


async def _venue_error(request: Request, exc: Exception) -> Response:
    logger.warning("API action failed at the venue", extra={"path": request.url.path, "error": str(exc)})
    return _error(502, redact_text(str(exc)) or "the venue failed")


async def _refused(request: Request, exc: Exception) -> Response:
    return _error(409, redact_text(str(exc)) or "the service refused the request")


# -- the gatekeeper middleware ------------------------------------------------------------------


class _Gatekeeper:
    """Correlation id, authentication and scope for every HTTP request; a generic 500 for surprises."""

    def __init__(self, app: ASGIApp, auth: ApiAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            _take_query_token(scope)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        offered = headers.get(CORRELATION_HEADER, "")
        cid = offered if _CLIENT_CORRELATION.fullmatch(offered) else new_correlation_id()
        started = False

        async def send_tagged(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[CORRELATION_HEADER] = cid
            await send(message)

        with correlation(cid):
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            if path not in _PUBLIC_PATHS:
                authorization = headers.get("authorization")
                granted = self.auth.scope_of(bearer_token(authorization))
                if granted is None:
                    await _unauthorized(bool(authorization))(scope, receive, send_tagged)
                    return
                needed = _scope_needed(scope["method"], path)
                if needed is not None and granted != needed:
                    await _forbidden(needed, granted)(scope, receive, send_tagged)
                    return
            start = time.perf_counter()
            try:
                await self.app(scope, receive, send_tagged)
            except Exception:
                # The text may hold a secret: it goes to the (redacted) log, never to the client.
                logger.exception("API request failed", extra={"method": scope["method"], "path": path})
                if started:
                    raise
                await _error(500, "internal error; the service log has the details under this correlation id")(
                    scope, receive, send_tagged)
            finally:
                logger.debug("API request", extra={"method": scope["method"], "path": path,
                                                   "duration_seconds": round(time.perf_counter() - start, 6)})


def _take_query_token(scope: Scope) -> None:
    """Move ``?token=`` out of a WebSocket's query string, in place, before anyone logs the URL.

    The server logs the path with its query string when it accepts the socket; the token is kept
    in ``scope["state"]`` for the stream handler instead.
    """
    raw = scope.get("query_string", b"")
    if b"token" not in raw:
        return
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    tokens = [value for name, value in pairs if name == "token"]
    if tokens:
        scope["query_string"] = urlencode([(name, value) for name, value in pairs if name != "token"]).encode("latin-1")
        scope.setdefault("state", {})[_QUERY_TOKEN] = tokens[0]


# -- dependencies ------------------------------------------------------------------------------


def _token_scope(request: Request, _credentials: Annotated[Any, Security(_bearer)] = None) -> Grant:
    """What the request's bearer token grants (the gatekeeper checked it already; this is the second lock)."""
    auth: ApiAuth = request.app.state.auth
    granted = auth.grant_of(bearer_token(request.headers.get("authorization")))
    if granted is None:
        raise StarletteHTTPException(401, "missing or unknown bearer token", headers={"WWW-Authenticate": _REALM})
    return granted


Scoped = Annotated[Grant, Depends(_token_scope)]


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _known_query_only(request: Request) -> None:
    """Refuse query parameters a route does not take: a typo (``?limt=5``) must not be silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _query_names(dependant)
    unknown = sorted({name for name in request.query_params.keys() if name not in allowed})  # noqa: SIM118
    if unknown:
        raise RequestValidationError([{"loc": ("query", name), "msg": "unknown query parameter", "type": "extra_forbidden"}
                                      for name in unknown])


def _operate_scope(grant: Scoped) -> Grant:
    if grant.scope != OPERATE:
        raise StarletteHTTPException(403, "this action needs a token with the operate scope",
                                     headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope"'})
    return grant


def _approve_scope(grant: Scoped) -> Grant:
    if grant.scope != APPROVE or not grant.name:
        raise StarletteHTTPException(403, "approving or rejecting a version needs a named token with the approve scope",
                                     headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope"'})
    return grant


Operator = Annotated[Grant, Depends(_operate_scope)]
Approver = Annotated[Grant, Depends(_approve_scope)]


def _actor(grant: Grant) -> str:
    """Who the journal says acted: the token holder's name or scope and the channel, never the token."""
    return grant.actor


# -- query parameters --------------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="How many items to skip.")]
StrategyId = Annotated[str | None, Query(pattern=m.STRATEGY_ID_PATTERN, description="Only this strategy (404 if unknown).")]
Symbol = Annotated[str | None, Query(min_length=1, max_length=64, description="Only this symbol, e.g. `BTC/USDT`.")]

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time_text(value: Any) -> Any:
    # pydantic would also read a bare number as seconds since 1970; a typo must not become a time.
    if isinstance(value, str) and not _DATE_TIME.match(value):
        raise ValueError("expected an ISO-8601 date and time with a time zone, e.g. 2026-11-22T00:00:00Z")
    return value


Since = Annotated[AwareDatetime | None, BeforeValidator(_date_time_text), Query(
    description="Only orders submitted at or after this time (ISO-8601 with a time zone, e.g. "
                "`2026-11-22T00:00:00Z`); everything that happened to them afterwards counts.")]


# -- the app -----------------------------------------------------------------------------------


def create_app(backend: ServiceBackend, auth: ApiAuth, *, version: str = tradepulse.__version__ or "0.1.0") -> FastAPI:
    """Build the API of ``backend``, guarded by ``auth``.

    Parameters
    ----------
    backend
        The running service (:class:`tradepulse.service.host.ServiceHost`).
    auth
        Which bearer tokens grant which scope (:meth:`ApiAuth.from_environ`).
    version
        The version the OpenAPI document states.

    Returns
    -------
    FastAPI
        An ASGI app; serve it with uvicorn in the backend's event loop.
    """
    app = FastAPI(
        title="TradePulse service API",
        version=version,
        description=_DESCRIPTION,
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
        openapi_tags=_TAGS,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.backend = backend
    app.state.auth = auth
    app.add_middleware(_Gatekeeper, auth=auth)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UnknownStrategy, _unknown_strategy)
    app.add_exception_handler(UnknownVersion, _unknown_version)
    app.add_exception_handler(VenueError, _venue_error)
    app.add_exception_handler(TradePulseError, _refused)

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(_token_scope), Depends(_known_query_only)], route_class=APIRoute)

    @api.get("/health", tags=["monitoring"], response_model=m.Health, responses=_responses(401),
             summary="Liveness and the trading state")
    async def health() -> Any:
        return backend.health()

    @api.get("/token", tags=["monitoring"], response_model=m.TokenInfo, responses=_responses(401),
             summary="The scope of the token sent (dashboards show operator controls only for operate)")
    async def token(grant: Scoped) -> Any:
        return {"scope": grant.scope, "name": grant.name}

    @api.get("/status", tags=["monitoring"], response_model=m.Status, responses=_responses(401),
             summary="Service, venue, engines, reconciliation and watchdog")
    async def status() -> Any:
        return backend.status()

    @api.get("/strategies", tags=["trading"], response_model=list[m.StrategyInfo], responses=_responses(401),
             summary="The strategies the service runs")
    async def strategies() -> Any:
        return backend.strategies()

    @api.get("/positions", tags=["trading"], response_model=list[m.Position], responses=_responses(401),
             summary="Positions and P&L, one per strategy")
    async def positions() -> Any:
        return backend.positions()

    @api.get("/orders", tags=["trading"], response_model=list[m.Order], responses=_responses(401, 404, 422),
             summary="Orders as they are now, newest first")
    async def orders(
        limit: Limit = 100,
        offset: Offset = 0,
        status: Annotated[list[OrderStatus] | None, Query(
            description="Only orders in these states; repeat for several (`?status=FILLED&status=CANCELED`).")] = None,
        symbol: Symbol = None,
        strategy_id: StrategyId = None,
    ) -> Any:
        statuses = [str(item.value) for item in status] if status else None
        return backend.orders(status=statuses, symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset)

    @api.get("/fills", tags=["trading"], response_model=list[m.Fill], responses=_responses(401, 404, 422),
             summary="Applied fills, newest first")
    async def fills(limit: Limit = 100, offset: Offset = 0, symbol: Symbol = None,
                    strategy_id: StrategyId = None) -> Any:
        return backend.fills(symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset)

    @api.get("/pnl", tags=["trading"], response_model=list[m.PnlPoint], responses=_responses(401, 404, 422),
             summary="Equity and P&L series, oldest first")
    async def pnl(
        strategy_id: StrategyId = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="The last `limit` points per strategy.")] = 1000,
    ) -> Any:
        return backend.pnl(strategy_id=strategy_id, limit=limit)

    @api.get("/execution", tags=["trading"], response_model=list[m.ExecutionQuality],
             responses=_responses(401, 404, 422),
             summary="Execution quality per strategy and symbol: slippage, fill ratio, order-to-ack time")
    async def execution(since: Since = None, strategy_id: StrategyId = None) -> Any:
        return backend.execution(since=since, strategy_id=strategy_id)

    @api.get("/risk", tags=["risk"], response_model=m.RiskState, responses=_responses(401, 422),
             summary="Trading state, each engine's risk controls and breaker history")
    async def risk(limit: Annotated[int, Query(ge=1, le=1000, description="History entries (newest first).")] = 100) -> Any:
        return backend.risk(limit=limit)

    @api.get("/alerts", tags=["risk"], response_model=list[m.Alert], responses=_responses(401, 422),
             summary="Alerts raised, newest first")
    async def alerts(limit: Limit = 100, offset: Offset = 0) -> Any:
        return backend.alerts(limit=limit, offset=offset)

    @api.get("/events", tags=["risk"], response_model=list[m.Event], responses=_responses(401, 404, 422),
             summary="Journal events, oldest first (page with after_seq)")
    async def events(
        limit: Limit = 100,
        after_seq: Annotated[int, Query(ge=0, le=2**62, description="Only events after this sequence number.")] = 0,
        kind_prefix: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$",
                                                 description="Only kinds starting with this, e.g. `order.`.")] = None,
        strategy_id: StrategyId = None,
    ) -> Any:
        return backend.events(kind_prefix=kind_prefix, strategy_id=strategy_id, after_seq=after_seq, limit=limit)

    @api.post("/actions/kill", tags=["actions"], response_model=m.TradingStateResult,
              responses=_responses(401, 403, 409, 422, 502), summary="Halt trading (kill switch)")
    async def kill(body: Annotated[m.KillRequest, Body()], grant: Operator) -> Any:
        actor = _actor(grant)
        _audit("kill", actor, body.reason, flatten=body.flatten)
        return await backend.kill(actor=actor, reason=body.reason, flatten=body.flatten)

    @api.post("/actions/resume", tags=["actions"], response_model=m.TradingStateResult,
              responses=_responses(401, 403, 409, 422, 502), summary="Resume trading (back to ACTIVE)")
    async def resume(body: Annotated[m.ActionRequest, Body()], grant: Operator) -> Any:
        actor = _actor(grant)
        _audit("resume", actor, body.reason)
        return await backend.resume(actor=actor, reason=body.reason)

    @api.post("/actions/cancel-all", tags=["actions"], response_model=m.CancelAllResult,
              responses=_responses(401, 403, 409, 422, 502), summary="Cancel every open order")
    async def cancel_all(body: Annotated[m.ActionRequest, Body()], grant: Operator) -> Any:
        actor = _actor(grant)
        _audit("cancel_all", actor, body.reason)
        return await backend.cancel_all(actor=actor)

    @api.post("/actions/flatten", tags=["actions"], response_model=m.TradingStateResult,
              responses=_responses(401, 403, 409, 422, 502), summary="Halt and close every position at market")
    async def flatten(body: Annotated[m.ActionRequest, Body()], grant: Operator) -> Any:
        actor = _actor(grant)
        _audit("flatten", actor, body.reason)
        return await backend.flatten(actor=actor)

    metrics_doc: dict[str, Any] = {
        "tags": ["monitoring"],
        "response_class": Response,
        "summary": "Prometheus metrics (text exposition format; scrape with a read token)",
        "responses": {200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                            "description": "The metrics listed in docs/observability.md.",
                            "headers": dict(_CID_DOC)},
                      401: _ERRORS[401], 422: _ERRORS[422]},
    }

    async def metrics(_scope: Scoped) -> Response:
        return Response(backend.metrics(), media_type=CONTENT_TYPE)

    api.add_api_route("/metrics", metrics, methods=["GET"], name="metrics", **metrics_doc)
    add_version_routes(api, backend, responses=_responses, operator=Operator, approver=Approver, actor=_actor, audit=_audit)
    app.include_router(api)
    # Prometheus looks at /metrics unless told otherwise; serve it there too.
    app.add_api_route("/metrics", metrics, methods=["GET"], name="metrics_root", dependencies=[Depends(_known_query_only)],
                      **metrics_doc)

    @app.websocket(f"{API_PREFIX}/stream", name="stream")
    async def stream(websocket: WebSocket) -> None:
        token = (websocket.scope.get("state", {}).get(_QUERY_TOKEN) or websocket.query_params.get("token")
                 or bearer_token(websocket.headers.get("authorization")))
        granted = auth.scope_of(token)
        # Accept first, then close with an application code: a refused handshake would only show
        # the client an HTTP 403 without saying why.
        await websocket.accept()
        if granted is None:
            await websocket.close(code=WS_CLOSE_UNAUTHORIZED, reason="missing or unknown bearer token")
            return
        if granted not in (READ, OPERATE, APPROVE):  # pragma: no cover - every scope reads today
            await websocket.close(code=WS_CLOSE_FORBIDDEN, reason="token lacks the read scope")
            return
        with correlation() as cid:
            logger.info("stream subscriber connected", extra={"scope": granted, "stream_id": cid})
            ended = await _forward(backend.subscribe(), websocket, backend.status)
            logger.info("stream subscriber gone", extra={"stream_id": cid, "service_stopped": ended})

    return app


def _frame(message: dict[str, Any]) -> str:
    # A bus message is serialised once for every subscriber; a status snapshot is per client.
    if isinstance(message, StreamMessage):
        return message.frame()
    return json.dumps(message, default=str, separators=(",", ":"))


def _audit(action: str, actor: str, reason: str, **fields: Any) -> None:
    logger.warning("operator action", extra={"action": action, "actor": actor, "reason": reason, **fields})


async def _forward(messages: AsyncIterator[dict[str, Any]], websocket: WebSocket,
                   snapshot: Callable[[], dict[str, Any]] | None = None) -> bool:
    """Send a status snapshot, then each message, as JSON text frames until the client leaves or the stream ends.

    Returns whether the stream ended (the service is stopping); the socket is then closed with
    1001. A slow client makes ``send_text`` wait; meanwhile the backend's bounded queue for this
    subscriber drops the oldest messages, so the engines never wait for a client.
    """

    async def pump() -> None:
        iterator = aiter(messages)
        pending = asyncio.ensure_future(anext(iterator))
        try:
            # Let the subscription register before the snapshot, so nothing falls between the two.
            await asyncio.sleep(0)
            if snapshot is not None:
                await websocket.send_text(_frame({"type": "status", **snapshot()}))
            while True:
                try:
                    message = await pending
                except StopAsyncIteration:
                    return
                await websocket.send_text(_frame(message))
                pending = asyncio.ensure_future(anext(iterator))
        finally:
            pending.cancel()

    async def watch() -> None:
        # Clients do not send anything meaningful; reading notices when they leave.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                incoming = await websocket.receive()
                if incoming["type"] == "websocket.disconnect":
                    return

    sender, watcher = asyncio.create_task(pump()), asyncio.create_task(watch())
    try:
        done, _ = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, watcher):
            task.cancel()
        outcomes = await asyncio.gather(sender, watcher, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, (WebSocketDisconnect, OSError, RuntimeError)):
                logger.warning("stream forwarding failed", exc_info=outcome)
        closer = getattr(messages, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
    ended = sender in done and not sender.cancelled() and sender.exception() is None
    if ended and websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code=WS_CLOSE_GOING_AWAY, reason="service stopping")
    return ended
