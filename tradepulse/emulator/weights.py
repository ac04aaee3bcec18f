"""Request weights and the IP rate limiter: ``X-MBX-USED-WEIGHT-1M``, then 429, then 418.

Binance counts a weight per request against a per-IP budget per clock minute. Over the budget it
answers 429 with ``Retry-After``; a client that sends anything before that time is up is banned
with 418 (2 minutes at first, doubling for repeat offenders up to 3 days). The weights below are
Binance's published spot weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tradepulse.emulator.errors import ApiError

__all__ = ["WeightLimiter", "endpoint_weight", "order_count_headers"]

_MAX_BAN_SECONDS = 3 * 24 * 3600.0

# (method, path under /api/v3) -> weight; entries that depend on parameters are in endpoint_weight.
_FIXED_WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "ping"): 1,
    ("GET", "time"): 1,
    ("GET", "exchangeInfo"): 20,
    ("GET", "trades"): 25,
    ("GET", "aggTrades"): 4,
    ("GET", "klines"): 2,
    ("GET", "uiKlines"): 2,
    ("GET", "avgPrice"): 2,
    ("POST", "order"): 1,
    ("POST", "order/test"): 1,
    ("GET", "order"): 4,
    ("DELETE", "order"): 1,
    ("DELETE", "openOrders"): 1,
    ("GET", "allOrders"): 20,
    ("GET", "account"): 20,
    ("GET", "myTrades"): 20,
}


def endpoint_weight(method: str, path: str, params: Mapping[str, str]) -> int:
    """Return Binance's request weight of ``method /api/v3/<path>`` with ``params``.

    Examples
    --------
    >>> endpoint_weight("GET", "depth", {"limit": "1000"})
    50
    """
    if path == "depth":
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            limit = 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path in ("ticker/24hr", "ticker"):
        return 2 if "symbol" in params else 80
    if path in ("ticker/price", "ticker/bookTicker"):
        return 2 if "symbol" in params else 4
    if path == "openOrders" and method == "GET":
        return 6 if "symbol" in params else 80
    if path == "myTrades" and "orderId" in params:
        return 5
    return _FIXED_WEIGHTS.get((method, path), 1)


def order_count_headers(count_10s: int, count_1d: int) -> dict[str, str]:
    """Return the order-count headers Binance adds to order placement answers."""
    return {"X-MBX-ORDER-COUNT-10S": str(count_10s), "X-MBX-ORDER-COUNT-1D": str(count_1d)}


@dataclass
class _IpState:
    minute: int = -1
    used: int = 0
    throttled_until: float = 0.0
    banned_until: float = 0.0
    bans: int = 0


class WeightLimiter:
    """Per-IP weight budget with Binance's 429-then-418 escalation.

    Parameters
    ----------
    limit_per_minute
        The REQUEST_WEIGHT budget per IP and clock minute.
    ban_seconds
        Length of the first ban; each further ban of the same IP doubles it (cap 3 days).
    """

    def __init__(self, limit_per_minute: int, ban_seconds: float) -> None:
        self.limit_per_minute = limit_per_minute
        self.ban_seconds = ban_seconds
        self._ips: dict[str, _IpState] = {}

    def _state(self, ip: str, now_s: float) -> _IpState:
        state = self._ips.setdefault(ip, _IpState())
        minute = int(now_s // 60)
        if minute != state.minute:
            state.minute, state.used = minute, 0
        return state

    def used(self, ip: str, now_s: float) -> int:
        """Return the weight ``ip`` has used in the current minute."""
        return self._state(ip, now_s).used

    def admit(self, ip: str, weight: int, now_s: float, *, force_429: bool = False) -> int:
        """Count ``weight`` for ``ip`` and return the minute's total, or raise the 429/418 answer.

        ``force_429`` answers 429 as if over the budget (the rate-limit fault), with a one-second
        ``Retry-After`` so a test that backs off correctly need not wait for the minute to end.
        """
        state = self._state(ip, now_s)
        if state.banned_until > now_s:
            raise self._banned(state, now_s)
        if state.throttled_until > now_s:
            # The client was told to wait and did not: that is what earns a ban on Binance.
            seconds = min(self.ban_seconds * (2 ** state.bans), _MAX_BAN_SECONDS)
            state.bans += 1
            state.banned_until = now_s + seconds
            raise self._banned(state, now_s)
        if force_429 or state.used + weight > self.limit_per_minute:
            window_end = (state.minute + 1) * 60.0
            state.throttled_until = now_s + 1.0 if force_429 else window_end
            retry_after = max(1, math.ceil(state.throttled_until - now_s))
            raise ApiError(
                -1003,
                f"Too much request weight used; current limit is {self.limit_per_minute} request weight per "
                "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        state.used += weight
        return state.used

    def _banned(self, state: _IpState, now_s: float) -> ApiError:
        until_ms = int(state.banned_until * 1000)
        return ApiError(
            -1003,
            f"Way too much request weight used; IP banned until {until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            status=418,
            headers={"Retry-After": str(max(1, math.ceil(state.banned_until - now_s)))},
        )

    def ban(self, ip: str | None, seconds: float, now_s: float) -> None:
        """Ban ``ip`` (every IP seen so far and loopback when None) for ``seconds``."""
        targets = [ip] if ip is not None else sorted(set(self._ips) | {"127.0.0.1"})
        for target in targets:
            state = self._state(target, now_s)
            state.banned_until = now_s + seconds
            state.bans += 1

    def reset(self) -> None:
        """Forget every budget, throttle and ban."""
        self._ips.clear()
