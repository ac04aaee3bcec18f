"""Public REST endpoints under ``/api/v3``: time, exchangeInfo, depth, trades, klines, tickers.

Every answer is built from the replay's current state, so it agrees with the streams: a depth
snapshot's ``lastUpdateId`` is the last diff already published, and klines hold only trades
already published ("now" never leaks the future).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradepulse.emulator.decimals import fmt8
from tradepulse.emulator.errors import ApiError
from tradepulse.emulator.klines import INTERVALS
from tradepulse.emulator.params import RequestContext, int_param, required, symbol_param
from tradepulse.emulator.symbols import exchange_info_symbol

__all__ = ["PUBLIC_ROUTES"]

Handler = Callable[[RequestContext], Any]
PUBLIC_ROUTES: dict[tuple[str, str], Handler] = {}


def _route(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        PUBLIC_ROUTES[(method, path)] = handler
        return handler
    return register


def _symbols_param(ctx: RequestContext) -> list[str] | None:
    """Return the symbols of ``symbol`` or ``symbols`` (a JSON array), or None when neither is sent."""
    if ctx.params.get("symbol"):
        return [symbol_param(ctx)]  # type: ignore[list-item]
    raw = ctx.params.get("symbols")
    if not raw:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        raise ApiError.illegal("symbols", '["SYMBOL1","SYMBOL2"]') from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError.illegal("symbols", '["SYMBOL1","SYMBOL2"]')
    unknown = [n for n in names if n.upper() not in ctx.venue.markets]
    if unknown:
        raise ApiError.bad_symbol()
    return [n.upper() for n in names]


@_route("GET", "ping")
def ping(ctx: RequestContext) -> dict:
    return {}


@_route("GET", "time")
def server_time(ctx: RequestContext) -> dict:
    return {"serverTime": ctx.venue.clock.server_ms()}


@_route("GET", "exchangeInfo")
def exchange_info(ctx: RequestContext) -> dict:
    venue = ctx.venue
    symbols = _symbols_param(ctx) or list(venue.markets)
    config = venue.config
    return {
        "timezone": "UTC",
        "serverTime": venue.clock.server_ms(),
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": config.weight_limit_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": config.orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": [exchange_info_symbol(venue.specs[s]) for s in symbols],
    }


@_route("GET", "depth")
def depth(ctx: RequestContext) -> dict:
    symbol = symbol_param(ctx)
    limit = int_param(ctx.params, "limit", default=100, minimum=1, maximum=5000)
    return ctx.venue.markets[symbol].depth_snapshot(limit)  # type: ignore[index,arg-type]


@_route("GET", "trades")
def recent_trades(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx)
    limit = int_param(ctx.params, "limit", default=500, minimum=1, maximum=1000)
    trades = list(ctx.venue.markets[symbol].recent_trades)[-limit:]  # type: ignore[index,operator]
    return [{"id": t, "price": p, "qty": q, "quoteQty": fmt8(_mul(p, q)), "time": ms, "isBuyerMaker": m,
             "isBestMatch": True} for t, p, q, ms, m in trades]


@_route("GET", "aggTrades")
def agg_trades(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx)
    params = ctx.params
    limit = int_param(params, "limit", default=500, minimum=1, maximum=1000)
    from_id = int_param(params, "fromId")
    start = int_param(params, "startTime")
    end = int_param(params, "endTime")
    trades = list(ctx.venue.markets[symbol].recent_trades)  # type: ignore[index]
    if from_id is not None:
        trades = [t for t in trades if t[0] >= from_id][:limit]
    elif start is not None or end is not None:
        trades = [t for t in trades if (start is None or t[3] >= start) and (end is None or t[3] <= end)][:limit]
    else:
        trades = trades[-limit:]  # type: ignore[operator]
    return [{"a": t, "p": p, "q": q, "f": t, "l": t, "T": ms, "m": m, "M": True} for t, p, q, ms, m in trades]


def _klines(ctx: RequestContext) -> list:
    symbol = symbol_param(ctx)
    interval = required(ctx.params, "interval")
    if interval not in INTERVALS:
        raise ApiError(-1120, "Invalid interval.")
    limit = int_param(ctx.params, "limit", default=500, minimum=1, maximum=1000)
    start = int_param(ctx.params, "startTime")
    end = int_param(ctx.params, "endTime")
    if start is not None and end is not None and start > end:
        raise ApiError(-1023, "Start time is greater than end time.")
    venue = ctx.venue
    rows = venue.markets[symbol].klines.candles(  # type: ignore[index]
        interval, now_ms=venue.clock.market_ms(), start_ms=start, end_ms=end, limit=limit)  # type: ignore[arg-type]
    return [bar.rest_row(close_time) for bar, close_time in rows]


PUBLIC_ROUTES[("GET", "klines")] = _klines
PUBLIC_ROUTES[("GET", "uiKlines")] = _klines


@_route("GET", "avgPrice")
def avg_price(ctx: RequestContext) -> dict:
    symbol = symbol_param(ctx)
    now = ctx.venue.clock.market_ms()
    price = ctx.venue.markets[symbol].average_price(now)  # type: ignore[index]
    return {"mins": 5, "price": fmt8(price), "closeTime": now}


def _ticker(ctx: RequestContext, symbol: str, mini: bool) -> dict:
    market = ctx.venue.markets[symbol]
    now = ctx.venue.clock.market_ms()
    stats = market.ticker_24h(now) or _empty_ticker(symbol, now)
    if mini:
        keys = ("symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume", "openTime",
                "closeTime", "firstId", "lastId", "count")
        return {k: stats[k] for k in keys}
    return stats


def _empty_ticker(symbol: str, now: int) -> dict:
    zero = fmt8(0)
    return {"symbol": symbol, "priceChange": zero, "priceChangePercent": "0.000", "weightedAvgPrice": zero,
            "prevClosePrice": zero, "lastPrice": zero, "lastQty": zero, "bidPrice": zero, "bidQty": zero,
            "askPrice": zero, "askQty": zero, "openPrice": zero, "highPrice": zero, "lowPrice": zero,
            "volume": zero, "quoteVolume": zero, "openTime": now, "closeTime": now, "firstId": -1, "lastId": -1,
            "count": 0}


@_route("GET", "ticker/24hr")
def ticker_24hr(ctx: RequestContext) -> Any:
    mini = ctx.params.get("type", "FULL") == "MINI"
    symbols = _symbols_param(ctx)
    if ctx.params.get("symbol"):
        return _ticker(ctx, symbols[0], mini)  # type: ignore[index]
    return [_ticker(ctx, s, mini) for s in (symbols or ctx.venue.markets)]


@_route("GET", "ticker/price")
def ticker_price(ctx: RequestContext) -> Any:
    def one(symbol: str) -> dict:
        price = ctx.venue.markets[symbol].last_price()
        return {"symbol": symbol, "price": fmt8(price)}
    symbols = _symbols_param(ctx)
    if ctx.params.get("symbol"):
        return one(symbols[0])  # type: ignore[index]
    return [one(s) for s in (symbols or ctx.venue.markets)]


@_route("GET", "ticker/bookTicker")
def ticker_book(ctx: RequestContext) -> Any:
    def one(symbol: str) -> dict:
        event = ctx.venue.markets[symbol].book_ticker_event()
        return {"symbol": symbol, "bidPrice": event["b"], "bidQty": event["B"], "askPrice": event["a"],
                "askQty": event["A"]}
    symbols = _symbols_param(ctx)
    if ctx.params.get("symbol"):
        return one(symbols[0])  # type: ignore[index]
    return [one(s) for s in (symbols or ctx.venue.markets)]


def _mul(price: str, qty: str) -> Decimal:
    return Decimal(price) * Decimal(qty)
