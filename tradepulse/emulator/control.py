"""The emulator-only control API under ``/_control`` (never part of Binance's API).

- ``GET /_control/state``: replay position, loop, clocks, books' top, connection counts.
- ``GET|POST|DELETE /_control/faults``: read, change (partial JSON object) or clear fault settings;
  DELETE also lifts bans and resets weight counters.
- ``POST /_control/ws/drop`` ``{"target": "market"|"user"|"all"}``: cut WebSocket connections now.
- ``POST /_control/ban`` ``{"seconds": 30}``: ban every client IP now (418 until it expires).
- ``POST /_control/replay`` ``{"paused": true, "speed": 5}``: pause/resume the replay, change speed.
- ``POST /_control/accounts`` ``{"apiKey", "apiSecret", "balances": {"USDT": "1000"}}``: add an account;
  optional ``"feeAsset": "BNB"`` and ``"feeAssetDiscount": "0.25"`` pay its commissions in that asset,
  valued at the venue's price for it (a replayed market, or a listed fixed-price one such as BNBUSDT).
- ``POST /_control/balances`` ``{"apiKey", "asset", "delta"}``: deposit or withdraw (``balanceUpdate``).

The venue listens on loopback by default; anyone who can reach it can use these endpoints.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradepulse.emulator.appkeys import VENUE_KEY

if TYPE_CHECKING:
    from tradepulse.emulator.app import Venue
from tradepulse.emulator.config import AccountSpec, fee_asset_problem
from tradepulse.emulator.decimals import to_decimal
from tradepulse.emulator.errors import ApiError
from tradepulse.errors import ConfigError

__all__ = ["add_control_routes"]


def _answer(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)


def _bad(message: str) -> web.Response:
    return _answer({"error": message}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, ValueError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json")
    return body


def _venue(request: web.Request) -> Venue:
    return request.app[VENUE_KEY]


async def get_state(request: web.Request) -> web.Response:
    return _answer(_venue(request).state())


async def get_faults(request: web.Request) -> web.Response:
    return _answer(_venue(request).faults.settings.to_json())


async def post_faults(request: web.Request) -> web.Response:
    venue = _venue(request)
    try:
        settings = venue.faults.update(await _body(request))
    except ValueError as exc:
        return _bad(str(exc))
    venue.apply_fault_settings()
    return _answer(settings.to_json())


async def delete_faults(request: web.Request) -> web.Response:
    venue = _venue(request)
    venue.faults.reset()
    venue.limiter.reset()
    venue.apply_fault_settings()
    return _answer(venue.faults.settings.to_json())


async def drop_ws(request: web.Request) -> web.Response:
    venue = _venue(request)
    target = (await _body(request)).get("target", "all")
    if target not in ("market", "user", "all"):
        return _bad("target must be 'market', 'user' or 'all'")
    dropped = 0
    if target in ("market", "all"):
        dropped += venue.market_hub.drop_all()
    if target in ("user", "all"):
        dropped += venue.user_hub.drop_all()
    return _answer({"dropped": dropped})


async def ban(request: web.Request) -> web.Response:
    venue = _venue(request)
    body = await _body(request)
    seconds = body.get("seconds", venue.config.ban_seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds <= 0:
        return _bad("seconds must be a positive number")
    ip = body.get("ip")
    if ip is not None and not isinstance(ip, str):
        return _bad("ip must be a string")
    venue.limiter.ban(ip, float(seconds), time.time())
    return _answer({"bannedSeconds": seconds, "ip": ip or "all"})


async def replay(request: web.Request) -> web.Response:
    venue = _venue(request)
    body = await _body(request)
    if "speed" in body:
        speed = body["speed"]
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.01 <= speed <= 1000:
            return _bad("speed must be a number between 0.01 and 1000")
        venue.clock.set_speed(float(speed))
    if "paused" in body:
        if not isinstance(body["paused"], bool):
            return _bad("paused must be true or false")
        if body["paused"]:
            venue.replayer.pause()
        else:
            venue.replayer.resume()
    return _answer(venue.state())


async def add_account(request: web.Request) -> web.Response:
    venue = _venue(request)
    body = await _body(request)
    api_key, api_secret = body.get("apiKey"), body.get("apiSecret")
    balances = body.get("balances", {})
    if not isinstance(api_key, str) or not isinstance(api_secret, str) or not isinstance(balances, dict):
        return _bad("apiKey and apiSecret must be strings and balances an object of asset -> amount")
    if body.get("feeAssetPrice") is not None:
        # One price per asset, the venue's: an account's own would charge fees no client can check.
        return _bad("an account has no fee asset price of its own: the venue values BNB at its BNBUSDT price "
                    "(fee_asset_prices, --fee-asset-price when it starts)")
    fee_options = {name: body[key] for key, name in _FEE_OPTIONS.items() if body.get(key) is not None}
    if not all(isinstance(value, (str, int, float)) and not isinstance(value, bool) for value in fee_options.values()):
        return _bad("feeAsset must be a string and feeAssetDiscount a number")
    try:
        spec = AccountSpec(api_key, api_secret, {str(k): str(v) for k, v in balances.items()},
                           **{name: str(value) for name, value in fee_options.items()})
    except ConfigError as exc:
        return _bad(str(exc))
    problem = fee_asset_problem(spec, venue.config.symbols, venue.config.fee_asset_prices)
    if problem:
        return _bad(problem)
    account = venue.accounts.add(spec.api_key, spec.api_secret, spec.balances, spec.fee_payment)
    payment = account.fee_payment
    return _answer({"apiKey": account.api_key, "uid": account.uid, "balances": account.to_json(),
                    "feeAsset": payment.asset, "feeAssetDiscount": str(payment.discount) if payment.asset else None})


_FEE_OPTIONS = {"feeAsset": "fee_asset", "feeAssetDiscount": "fee_asset_discount"}


async def adjust_balance(request: web.Request) -> web.Response:
    venue = _venue(request)
    body = await _body(request)
    account = venue.accounts.by_api_key(str(body.get("apiKey", "")))
    if account is None:
        return _bad("unknown apiKey")
    asset = body.get("asset")
    if not isinstance(asset, str) or not asset:
        return _bad("asset must be a non-empty string")
    try:
        delta = to_decimal(str(body.get("delta")))
    except ValueError:
        return _bad("delta must be a number")
    try:
        venue.engine.adjust_balance(account, asset.upper(), delta)
    except ApiError as exc:
        return _bad(exc.msg)
    return _answer({"apiKey": account.api_key, "balances": account.to_json()})


def add_control_routes(app: web.Application) -> None:
    """Register the ``/_control`` endpoints on ``app``."""
    router = app.router
    router.add_get("/_control/state", get_state)
    router.add_get("/_control/faults", get_faults)
    router.add_post("/_control/faults", post_faults)
    router.add_delete("/_control/faults", delete_faults)
    router.add_post("/_control/ws/drop", drop_ws)
    router.add_post("/_control/ban", ban)
    router.add_post("/_control/replay", replay)
    router.add_post("/_control/accounts", add_account)
    router.add_post("/_control/balances", adjust_balance)
