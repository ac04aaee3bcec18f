"""Signed REST endpoints under ``/api/v3``: account, order (new, query, cancel), open/all orders, myTrades.

Parameter checks follow Binance's order: missing parameters ``-1102``, malformed ones ``-1100``,
unsupported order type ``-1116``, bad timeInForce ``-1115``, parameters that do not belong to the
order type ``-1106``; then the symbol filters (``-1013``) and funds (``-2010``) in the engine.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.matching import OrderRequest
from tradepulse.emulator.orders import Order, cancel_json, new_order_json, order_json, trade_json
from tradepulse.emulator.params import RequestContext, decimal_param, enum_param, int_param, symbol_param
from tradepulse.emulator.symbols import STP_MODES, SUPPORTED_ORDER_TYPES
from tradepulse.emulator.weights import order_count_headers

__all__ = ["OrderRateCounter", "SIGNED_ROUTES"]

Handler = Callable[[RequestContext], Any]
SIGNED_ROUTES: dict[tuple[str, str], Handler] = {}
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9\-_.]{1,36}$")
_CLIENT_ID_RANGE = "^[a-zA-Z0-9-_.]{1,36}$"
_DAY_MS = 86_400_000


def _route(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        SIGNED_ROUTES[(method, path)] = handler
        return handler
    return register


class OrderRateCounter:
    """New orders per account in the last 10 seconds and the current day (Binance's ORDERS limits)."""

    def __init__(self, limit_10s: int) -> None:
        self.limit_10s = limit_10s
        self._recent: dict[str, deque[float]] = {}
        self._daily: dict[str, tuple[int, int]] = {}

    def count(self, api_key: str, now_s: float) -> tuple[int, int]:
        """Count one new order; raise ``-1015`` (HTTP 429) when over the 10-second limit."""
        recent = self._recent.setdefault(api_key, deque())
        while recent and recent[0] <= now_s - 10:
            recent.popleft()
        if len(recent) >= self.limit_10s:
            raise ApiError(-1015, f"Too many new orders; current limit is {self.limit_10s} orders per 10 SECOND.",
                           status=429)
        recent.append(now_s)
        day = int(now_s * 1000) // _DAY_MS
        last_day, count = self._daily.get(api_key, (day, 0))
        count = count + 1 if last_day == day else 1
        self._daily[api_key] = (day, count)
        return len(recent), count


def _order_request(ctx: RequestContext) -> tuple[OrderRequest, str]:
    """Parse and check a new-order request; return it with its response type."""
    params = ctx.params
    symbol = symbol_param(ctx)
    side = enum_param(params, "side", ("BUY", "SELL"))
    if side is None:
        raise ApiError.mandatory("side")
    order_type = params.get("type")
    if not order_type:
        raise ApiError.mandatory("type")
    if order_type not in SUPPORTED_ORDER_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    time_in_force = enum_param(params, "timeInForce", ("GTC", "IOC", "FOK"), code=-1115, msg="Invalid timeInForce.")
    quantity = decimal_param(params, "quantity")
    quote_qty = decimal_param(params, "quoteOrderQty")
    price = decimal_param(params, "price")
    if order_type == "LIMIT":
        if time_in_force is None:
            raise ApiError.mandatory("timeInForce")
        if price is None:
            raise ApiError.mandatory("price")
        if quantity is None:
            raise ApiError.mandatory("quantity")
        if quote_qty is not None:
            raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    elif order_type == "LIMIT_MAKER":
        if time_in_force is not None:
            raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        if price is None:
            raise ApiError.mandatory("price")
        if quantity is None:
            raise ApiError.mandatory("quantity")
    else:  # MARKET
        if time_in_force is not None:
            raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        if price is not None:
            raise ApiError(-1106, "Parameter 'price' sent when not required.")
        if quantity is None and quote_qty is None:
            raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        if quantity is not None and quote_qty is not None:
            raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if quote_qty is not None and quote_qty <= 0:
            raise ApiError.filter_failure("NOTIONAL")
    client_order_id = params.get("newClientOrderId") or None
    if client_order_id is not None and not _CLIENT_ID.match(client_order_id):
        raise ApiError.illegal("newClientOrderId", _CLIENT_ID_RANGE)
    default_response = "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
    response_type = enum_param(params, "newOrderRespType", ("ACK", "RESULT", "FULL"), default=default_response)
    stp_mode = enum_param(params, "selfTradePreventionMode", STP_MODES, default="EXPIRE_MAKER")
    request = OrderRequest(symbol=symbol, side=side, type=order_type, quantity=quantity,  # type: ignore[arg-type]
                           quote_order_qty=quote_qty, price=price, time_in_force=time_in_force,
                           client_order_id=client_order_id, stp_mode=stp_mode)  # type: ignore[arg-type]
    return request, response_type  # type: ignore[return-value]


@_route("POST", "order")
def new_order(ctx: RequestContext) -> dict:
    request, response_type = _order_request(ctx)
    venue, account = ctx.venue, ctx.signed_account
    count_10s, count_day = venue.order_rate.count(account.api_key, venue.clock.server_ms() / 1000)
    ctx.headers.update(order_count_headers(count_10s, count_day))
    order, fills = venue.engine.place(account, request)
    # The order now exists; the lost-response fault drops only the answer.
    ctx.lose_response = venue.faults.take_lost_order_response()
    return new_order_json(order, response_type, fills)


@_route("POST", "order/test")
def test_order(ctx: RequestContext) -> dict:
    _order_request(ctx)
    return {}


def _find(ctx: RequestContext, *, for_cancel: bool) -> tuple[str, Order | None]:
    symbol = symbol_param(ctx)
    order_id = int_param(ctx.params, "orderId")
    client_order_id = ctx.params.get("origClientOrderId") or None
    if order_id is None and client_order_id is None:
        raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    order = ctx.venue.engine.find(ctx.signed_account, symbol, order_id=order_id,  # type: ignore[arg-type]
                                  client_order_id=client_order_id)
    if order is None:
        raise ApiError.unknown_order_cancel() if for_cancel else ApiError.order_does_not_exist()
    return symbol, order  # type: ignore[return-value]


@_route("GET", "order")
def query_order(ctx: RequestContext) -> dict:
    _, order = _find(ctx, for_cancel=False)
    return order_json(order)  # type: ignore[arg-type]


@_route("DELETE", "order")
def cancel_order(ctx: RequestContext) -> dict:
    symbol, order = _find(ctx, for_cancel=True)
    cancel_id = ctx.params.get("newClientOrderId") or None
    if cancel_id is not None and not _CLIENT_ID.match(cancel_id):
        raise ApiError.illegal("newClientOrderId", _CLIENT_ID_RANGE)
    venue = ctx.venue
    canceled = venue.engine.cancel(ctx.signed_account, symbol, order_id=order.order_id,  # type: ignore[union-attr]
                                   client_order_id=None, cancel_client_order_id=cancel_id)
    return cancel_json(canceled, venue.clock.market_ms())


@_route("DELETE", "openOrders")
def cancel_open_orders(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx)
    venue = ctx.venue
    canceled = venue.engine.cancel_all(ctx.signed_account, symbol)  # type: ignore[arg-type]
    now = venue.clock.market_ms()
    return [cancel_json(order, now) for order in canceled]


@_route("GET", "openOrders")
def open_orders(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx, optional=True)
    return [order_json(o) for o in ctx.venue.engine.open_orders(ctx.signed_account, symbol)]


def _time_window(ctx: RequestContext) -> tuple[int | None, int | None, int]:
    start = int_param(ctx.params, "startTime")
    end = int_param(ctx.params, "endTime")
    limit = int_param(ctx.params, "limit", default=500, minimum=1, maximum=1000)
    if start is not None and end is not None:
        if start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        if end - start > _DAY_MS:
            raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
    return start, end, limit  # type: ignore[return-value]


def _select(items: list, *, id_of: Callable[[Any], int], time_of: Callable[[Any], int], from_id: int | None,
            start: int | None, end: int | None, limit: int) -> list:
    """Binance's paging: from an id, or a time window (oldest first), else the newest ``limit``."""
    if from_id is not None:
        return [i for i in items if id_of(i) >= from_id][:limit]
    if start is not None or end is not None:
        return [i for i in items if (start is None or time_of(i) >= start) and (end is None or time_of(i) <= end)][:limit]
    return items[-limit:]


@_route("GET", "allOrders")
def all_orders(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx)
    start, end, limit = _time_window(ctx)
    orders = ctx.venue.engine.orders(ctx.signed_account, symbol)  # type: ignore[arg-type]
    chosen = _select(orders, id_of=lambda o: o.order_id, time_of=lambda o: o.time_ms,
                     from_id=int_param(ctx.params, "orderId"), start=start, end=end, limit=limit)
    return [order_json(o) for o in chosen]


@_route("GET", "myTrades")
def my_trades(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx)
    start, end, limit = _time_window(ctx)
    fills = ctx.venue.engine.fills(ctx.signed_account, symbol)  # type: ignore[arg-type]
    order_id = int_param(ctx.params, "orderId")
    if order_id is not None:
        fills = [f for f in fills if f.order_id == order_id]
    chosen = _select(fills, id_of=lambda f: f.trade_id, time_of=lambda f: f.time_ms,
                     from_id=int_param(ctx.params, "fromId"), start=start, end=end, limit=limit)
    return [trade_json(f) for f in chosen]


@_route("GET", "account")
def account_info(ctx: RequestContext) -> dict:
    account = ctx.signed_account
    config = ctx.venue.config
    maker_bps = int(config.maker_fee * 10000)
    taker_bps = int(config.taker_fee * 10000)
    omit_zero = ctx.params.get("omitZeroBalances", "false").lower() == "true"
    return {
        "makerCommission": maker_bps, "takerCommission": taker_bps, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": f"{config.maker_fee:.8f}", "taker": f"{config.taker_fee:.8f}",
                            "buyer": "0.00000000", "seller": "0.00000000"},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": account.update_time_ms,
        "accountType": "SPOT", "balances": account.to_json(omit_zero=omit_zero), "permissions": ["SPOT"],
        "uid": account.uid,
    }
