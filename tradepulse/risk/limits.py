"""Risk limits: one frozen, validated configuration model for the gate and the breakers.

Built in code (``RiskLimits(max_order_notional=Decimal("10000"))``) or from the ``[risk]`` table
of the service's TOML file (:meth:`RiskLimits.from_mapping`). Either way every value is checked
when the object is built, so a typo or a negative limit is a :class:`~tradepulse.errors.ConfigError`
at start-up, not a surprise in the middle of a trading day. ``None`` switches a limit off.

Conventions: money limits are in the instrument's quote currency (USDT for ``BTC/USDT``);
quantities in base units; ``*_bps`` in basis points; ``*_fraction`` between 0 and 1;
``*_seconds`` in seconds. Gate limits are inclusive maxima (an order exactly at a limit passes);
breakers trip when their threshold is reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.model.kinds import RiskKind
from tradepulse.risk._common import jsonable, to_decimal
from tradepulse.risk.state import TradingMode

__all__ = ["RiskLimits", "SymbolLimits"]

# How each field is checked: (kind, lower bound, upper bound, lower bound inclusive).
_AMOUNT = ("decimal", Decimal(0), None, False)  # strictly positive
_FRACTION = ("decimal", Decimal(0), Decimal(1), False)  # 0 < x <= 1
_BPS = ("decimal", Decimal(0), Decimal(10_000), False)
_COUNT = ("int", 1, None, True)
_SECONDS = ("float", 0.0, None, False)
_RATIO = ("decimal", Decimal(1), None, True)  # at least 1: one order message per trade

_RULES: dict[str, tuple[Any, ...]] = {
    "max_order_notional": _AMOUNT,
    "max_position_quantity": _AMOUNT,
    "max_position_notional": _AMOUNT,
    "max_gross_exposure": _AMOUNT,
    "max_gross_leverage": _AMOUNT,
    "max_net_exposure": _AMOUNT,
    "max_net_leverage": _AMOUNT,
    "max_open_orders": _COUNT,
    "price_band_bps": _BPS,
    "last_trade_max_age_seconds": _SECONDS,
    "max_orders_per_window": _COUNT,
    "order_window_seconds": _SECONDS,
    "approval_ttl_seconds": _SECONDS,
    "max_daily_loss": _AMOUNT,
    "max_daily_loss_fraction": _FRACTION,
    "max_drawdown": _AMOUNT,
    "max_drawdown_fraction": _FRACTION,
    "stale_after_seconds": _SECONDS,
    "venue_error_window_seconds": _SECONDS,
    "max_venue_errors": _COUNT,
    "max_venue_error_fraction": _FRACTION,
    "venue_error_min_requests": _COUNT,
    "reject_window_seconds": _SECONDS,
    "max_rejects": _COUNT,
    "max_order_to_trade_ratio": _RATIO,
    "order_to_trade_window_seconds": _SECONDS,
    "order_to_trade_min_orders": _COUNT,
}
# Windows and ages cannot be switched off: a throttle or a breaker without a window is meaningless,
# and an approval that never expires could send an order priced for a market long gone.
_REQUIRED = {
    "last_trade_max_age_seconds",
    "order_window_seconds",
    "approval_ttl_seconds",
    "venue_error_window_seconds",
    "venue_error_min_requests",
    "reject_window_seconds",
    "order_to_trade_window_seconds",
    "order_to_trade_min_orders",
}
_ACTIONS = (
    "daily_loss_action",
    "drawdown_action",
    "stale_data_action",
    "venue_error_action",
    "reject_storm_action",
    "order_to_trade_action",
)
_HINTS = {"decimal": "a number such as 10000 or \"0.5\"", "int": "a whole number such as 20", "float": "a number of seconds"}


def _check(where: str, name: str, value: Any) -> Any:
    kind, low, high, low_inclusive = _RULES[name]
    if value is None:
        if name in _REQUIRED:
            raise ConfigError(f"{where}.{name} cannot be switched off; give {_HINTS[kind]}")
        return None
    try:
        number = to_decimal(value)
    except ValueError:
        raise ConfigError(f"{where}.{name} must be {_HINTS[kind]}, got {value!r}") from None
    if kind == "int" and number != number.to_integral_value():
        raise ConfigError(f"{where}.{name} must be a whole number, got {value!r}")
    too_low = number < low if low_inclusive else number <= low
    if too_low or (high is not None and number > high):
        bound = f"at least {low}" if low_inclusive else f"greater than {low}"
        if high is not None:
            bound += f" and at most {high}"
        raise ConfigError(f"{where}.{name} must be {bound}, got {value!r}")
    if kind == "int":
        return int(number)
    if kind == "float":
        return float(number)
    return number


def _check_action(where: str, name: str, value: Any) -> TradingMode:
    allowed = (TradingMode.REDUCING.value, TradingMode.HALTED.value)
    text = str(value).strip().upper() if isinstance(value, (str, TradingMode)) else None
    if text not in allowed:
        raise ConfigError(f"{where}.{name} must be one of {', '.join(allowed)}, got {value!r}")
    return TradingMode(text)


def _check_time(where: str, name: str, value: Any) -> time:
    if isinstance(value, time):
        moment = value
    else:
        try:
            moment = time.fromisoformat(str(value).strip())
        except ValueError:
            raise ConfigError(f"{where}.{name} must be a UTC time of day such as \"00:00\" or \"21:30\", got {value!r}") from None
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() != 0:
        raise ConfigError(f"{where}.{name} is a UTC time of day; drop the offset from {value!r}")
    return moment.replace(tzinfo=None)


def _reject_unknown(where: str, mapping: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


@dataclass(frozen=True)
class SymbolLimits:
    """Per-instrument overrides of the global limits; ``None`` means "use the global value".

    Parameters
    ----------
    max_order_notional : Decimal or None
        Largest single order, in quote currency.
    max_position_quantity : Decimal or None
        Largest absolute position, in base units (BTC for ``BTC/USDT``).
    max_position_notional : Decimal or None
        Largest absolute position value, in quote currency.
    price_band_bps : Decimal or None
        Widest distance of a limit price from the last trade, in basis points.
    """

    max_order_notional: Decimal | None = None
    max_position_quantity: Decimal | None = None
    max_position_notional: Decimal | None = None
    price_band_bps: Decimal | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _check("risk.symbols", f.name, getattr(self, f.name)))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], where: str = "risk.symbols") -> SymbolLimits:
        """Build overrides from a TOML table, rejecting unknown keys."""
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{where} must be a table of limits, got {mapping!r}")
        _reject_unknown(where, mapping, {f.name for f in fields(cls)})
        values = {}
        for name, value in mapping.items():
            values[name] = _check(where, name, value)
        return cls(**values)


@dataclass(frozen=True)
class RiskLimits:
    """Every limit the gate checks and every breaker threshold, validated at construction.

    See docs/risk.md for what each limit protects against. ``None`` switches a limit off; the
    defaults switch on everything that does not depend on the size of the account.

    Raises
    ------
    ConfigError
        For a value of the wrong type, out of range, or (via :meth:`from_mapping`) an unknown key.

    Examples
    --------
    >>> limits = RiskLimits.from_mapping({"max_order_notional": 10000, "price_band_bps": 200})
    >>> limits.max_order_notional, limits.price_band_bps
    (Decimal('10000'), Decimal('200'))
    """

    # Pre-trade gate
    max_order_notional: Decimal | None = None
    max_position_quantity: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_gross_leverage: Decimal | None = None
    max_net_exposure: Decimal | None = None
    max_net_leverage: Decimal | None = None
    max_open_orders: int | None = 50
    price_band_bps: Decimal | None = Decimal(500)
    last_trade_max_age_seconds: float = 60.0
    max_orders_per_window: int | None = 30
    order_window_seconds: float = 60.0
    approval_ttl_seconds: float = 5.0
    symbols: Mapping[str, SymbolLimits] = field(default_factory=dict, hash=False)
    # Breakers
    max_daily_loss: Decimal | None = None
    max_daily_loss_fraction: Decimal | None = Decimal("0.05")
    trading_day_start_utc: time = time(0, 0)
    daily_loss_action: TradingMode = TradingMode.HALTED
    max_drawdown: Decimal | None = None
    max_drawdown_fraction: Decimal | None = Decimal("0.20")
    drawdown_action: TradingMode = TradingMode.HALTED
    stale_after_seconds: float | None = 60.0
    stale_data_action: TradingMode = TradingMode.HALTED
    venue_error_window_seconds: float = 60.0
    max_venue_errors: int | None = 10
    max_venue_error_fraction: Decimal | None = Decimal("0.5")
    venue_error_min_requests: int = 10
    venue_error_action: TradingMode = TradingMode.HALTED
    reject_window_seconds: float = 60.0
    max_rejects: int | None = 5
    reject_storm_action: TradingMode = TradingMode.HALTED
    # Ethical trading: order messages (new orders and cancels) per trade in a rolling window.
    max_order_to_trade_ratio: Decimal | None = Decimal(20)
    order_to_trade_window_seconds: float = 600.0
    order_to_trade_min_orders: int = 20
    order_to_trade_action: TradingMode = TradingMode.HALTED
    flatten_on_breaker_halt: bool = False

    def __post_init__(self) -> None:
        where = "risk"
        for name in _RULES:
            object.__setattr__(self, name, _check(where, name, getattr(self, name)))
        for name in _ACTIONS:
            object.__setattr__(self, name, _check_action(where, name, getattr(self, name)))
        object.__setattr__(
            self, "trading_day_start_utc", _check_time(where, "trading_day_start_utc", self.trading_day_start_utc)
        )
        if not isinstance(self.flatten_on_breaker_halt, bool):
            raise ConfigError(f"{where}.flatten_on_breaker_halt must be true or false, got {self.flatten_on_breaker_halt!r}")
        symbols = self.symbols
        if not isinstance(symbols, Mapping):
            raise ConfigError(f"{where}.symbols must be a table keyed by symbol, got {symbols!r}")
        checked = {}
        for symbol, overrides in symbols.items():
            if not isinstance(symbol, str) or not symbol.strip():
                raise ConfigError(f"{where}.symbols keys must be symbols such as \"BTC/USDT\", got {symbol!r}")
            if not isinstance(overrides, SymbolLimits):
                overrides = SymbolLimits.from_mapping(overrides, f"{where}.symbols.{symbol!r}")
            checked[symbol] = overrides
        # Read-only so a shared RiskLimits cannot be changed behind the gate's back.
        object.__setattr__(self, "symbols", MappingProxyType(checked))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], where: str = "risk") -> RiskLimits:
        """Build limits from the ``[risk]`` table of the service TOML, rejecting unknown keys.

        Parameters
        ----------
        mapping : Mapping[str, Any]
            Keys are the field names; ``[risk.symbols."BTC/USDT"]`` sub-tables hold overrides.
        where : str
            Prefix for error messages, e.g. the file name and table.

        Raises
        ------
        ConfigError
            Naming the key and the expected value.
        """
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{where} must be a table of risk limits, got {mapping!r}")
        _reject_unknown(where, mapping, {f.name for f in fields(cls)})
        values = dict(mapping)
        if "symbols" in values:
            table = values["symbols"]
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}.symbols must be a table keyed by symbol, got {table!r}")
            values["symbols"] = {
                symbol: SymbolLimits.from_mapping(overrides, f"{where}.symbols.{symbol!r}")
                for symbol, overrides in table.items()
            }
        return cls(**values)

    def for_symbol(self, symbol: str) -> SymbolLimits:
        """Return the effective per-instrument limits: the override where set, else the global value."""
        # Limits are immutable, and the gate asks on every order: keep each symbol's answer.
        effective = self.__dict__.get("_effective")
        if effective is None:
            effective = {}
            object.__setattr__(self, "_effective", effective)
        limits = effective.get(symbol)
        if limits is None:
            override = self.symbols.get(symbol, SymbolLimits())
            limits = effective[symbol] = SymbolLimits(
                **{
                    f.name: getattr(override, f.name) if getattr(override, f.name) is not None else getattr(self, f.name)
                    for f in fields(SymbolLimits)
                }
            )
        return limits

    def to_payload(self) -> dict[str, Any]:
        """Return the limits as JSON-safe data (journal them at start-up: what was in force)."""
        payload: dict[str, Any] = {"kind": RiskKind.LIMITS}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "symbols":
                payload["symbols"] = {symbol: jsonable(limits) for symbol, limits in value.items()}
            elif f.name == "trading_day_start_utc":
                payload[f.name] = value.isoformat()
            else:
                payload[f.name] = jsonable(value)
        return payload
