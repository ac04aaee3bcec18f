"""Fault injection: the failures a real venue has, on demand and repeatable.

Settings come from ``--faults key=value`` flags at start and from the control API
(``POST /_control/faults``) at run time. ``*_next`` settings are counters: the next N requests
fail, then the fault switches itself off. Random faults draw from one ``random.Random(seed)``, so
the same requests in the same order fail the same way on every run.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, fields
from typing import Any

from tradepulse.errors import ConfigError

__all__ = ["FaultInjector", "FaultSettings", "parse_fault_flags"]

_REST_ERROR_STATUSES = (500, 502, 503, 504)


@dataclass
class FaultSettings:
    """The fault knobs (all off by default).

    Attributes
    ----------
    latency_ms
        Delay added before every REST answer and WebSocket API reply.
    rest_error_rate
        Probability (0..1) that a REST request fails with ``rest_error_status`` before it runs.
    rest_error_next
        The next N REST requests fail with ``rest_error_status`` before they run.
    rest_error_status
        HTTP status of injected server errors: 500, 502, 503 or 504.
    rate_limit_next
        The next N REST requests get HTTP 429 as if over the weight limit; a client that keeps
        going is then banned with 418, exactly as with real weight exhaustion.
    lose_order_response_next
        The next N accepted ``POST /api/v3/order`` requests are placed, then the connection is
        closed without an answer: the client must look the order up by its client order id.
    land_order_late_next
        The next N ``POST /api/v3/order`` requests are taken in, the connection is closed at once
        without an answer, and the order reaches the matching engine only ``land_order_late_ms``
        later, after the client has given up waiting and, typically, after it looked the order up
        and found nothing. As on Binance, the order is still placed if it reaches the engine within
        the request's recvWindow (counted from its timestamp), and dropped otherwise.
    land_order_late_ms
        How late such an order lands (default 1500 ms).
    clock_skew_ms
        Offset of the server clock (``/api/v3/time`` and the timestamp check); beyond the
        client's recvWindow, signed requests fail with ``-1021``.
    ws_drop_every_s
        Close every market-data WebSocket this often (0: never).
    user_ws_drop_every_s
        Close every WebSocket API (user data) connection this often (0: never).
    """

    latency_ms: int = 0
    rest_error_rate: float = 0.0
    rest_error_next: int = 0
    rest_error_status: int = 503
    rate_limit_next: int = 0
    lose_order_response_next: int = 0
    land_order_late_next: int = 0
    land_order_late_ms: int = 1500
    clock_skew_ms: int = 0
    ws_drop_every_s: float = 0.0
    user_ws_drop_every_s: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first setting outside its range."""
        if self.latency_ms < 0 or self.latency_ms > 60_000:
            raise ValueError("latency_ms must be between 0 and 60000")
        if not 0.0 <= self.rest_error_rate <= 1.0:
            raise ValueError("rest_error_rate must be between 0 and 1")
        if self.rest_error_status not in _REST_ERROR_STATUSES:
            raise ValueError(f"rest_error_status must be one of {', '.join(map(str, _REST_ERROR_STATUSES))}")
        if self.land_order_late_ms < 0 or self.land_order_late_ms > 120_000:
            raise ValueError("land_order_late_ms must be between 0 and 120000")
        for name in ("rest_error_next", "rate_limit_next", "lose_order_response_next", "land_order_late_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("ws_drop_every_s", "user_ws_drop_every_s"):
            value = getattr(self, name)
            if value < 0 or (0 < value < 0.1):
                raise ValueError(f"{name} must be 0 (off) or at least 0.1 seconds")

    def to_json(self) -> dict[str, Any]:
        """Return the settings as a JSON object (the control API's answer)."""
        return dataclasses.asdict(self)

    def updated(self, changes: dict[str, Any]) -> FaultSettings:
        """Return a copy with ``changes`` applied; raise ValueError for unknown keys or bad values."""
        known = {f.name: f for f in fields(self)}
        values = self.to_json()
        for key, raw in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault setting {key!r}; known: {', '.join(known)}")
            values[key] = _coerce(key, raw, known[key].type)
        return FaultSettings(**values)


def _coerce(key: str, raw: Any, type_name: Any) -> Any:
    kind = {"int": int, "float": float}.get(type_name if isinstance(type_name, str) else type_name.__name__)
    if kind is None:  # pragma: no cover - every field is int or float
        raise ValueError(f"setting {key!r} has an unsupported type")
    if isinstance(raw, bool):
        raise ValueError(f"{key} must be a number, got {raw!r}")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{key} must be a finite number, got {raw!r}")
    if kind is int:
        if number != int(number):
            raise ValueError(f"{key} must be a whole number, got {raw!r}")
        return int(number)
    return number


def parse_fault_flags(flags: list[str] | None) -> FaultSettings:
    """Build settings from ``key=value`` strings (one per flag, or comma-separated).

    Raises
    ------
    ConfigError
        For an unknown key or a bad value, with the list of valid keys.

    Examples
    --------
    >>> parse_fault_flags(["latency_ms=50,rest_error_rate=0.1"]).rest_error_rate
    0.1
    """
    changes: dict[str, str] = {}
    for flag in flags or []:
        for item in flag.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--faults expects key=value, got {item!r}")
            changes[key.strip()] = value.strip()
    try:
        return FaultSettings().updated(changes)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from None


class FaultInjector:
    """The live fault state of one venue: current settings, counters and the seeded random source."""

    def __init__(self, settings: FaultSettings | None = None, seed: int = 0) -> None:
        self.seed = seed
        self._random = random.Random(seed)
        self.settings = FaultSettings(**(settings or FaultSettings()).to_json())

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Apply a partial update (ValueError on a bad key or value) and return the new settings."""
        self.settings = self.settings.updated(changes)
        return self.settings

    def reset(self) -> None:
        """Turn every fault off and restart the random sequence from the seed."""
        self.settings = FaultSettings()
        self._random = random.Random(self.seed)

    def rest_error_status(self) -> int | None:
        """Return the HTTP status to fail this REST request with, or None to let it run."""
        s = self.settings
        if s.rest_error_next > 0:
            s.rest_error_next -= 1
            return s.rest_error_status
        if s.rest_error_rate > 0 and self._random.random() < s.rest_error_rate:
            return s.rest_error_status
        return None

    def take_forced_rate_limit(self) -> bool:
        """Return True (and count it) when this request must get a forced 429."""
        if self.settings.rate_limit_next > 0:
            self.settings.rate_limit_next -= 1
            return True
        return False

    def take_late_order_ms(self) -> int | None:
        """Return how late this order request must land (and count it), or None to handle it now."""
        if self.settings.land_order_late_next > 0:
            self.settings.land_order_late_next -= 1
            return self.settings.land_order_late_ms
        return None

    def take_lost_order_response(self) -> bool:
        """Return True (and count it) when this accepted order's answer must be lost."""
        if self.settings.lose_order_response_next > 0:
            self.settings.lose_order_response_next -= 1
            return True
        return False
