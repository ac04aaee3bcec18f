"""The service's TOML configuration, validated once into frozen objects (design decision 8).

One file says what the service trades and how: strategies and symbols, the venue, risk limits,
the API's bind address, alerting and where state lives. Unknown keys are rejected, values are
type-checked, strategies and their parameters are loaded, and every error names the file, the
table and the key. Secrets never come from this file: API tokens, venue keys and the alert
webhook URL are read from ``TRADEPULSE_…`` environment variables (or ``…_FILE`` paths); a key
that looks like a secret is refused with a pointer to the variable to use instead.

Example (docs/configuration.md has every key)::

    [service]
    state_dir = "live-state"        # journals and the pid file; relative to this file

    [api]
    port = 8780                     # binds 127.0.0.1 unless host is set and allow_remote = true

    [venue]
    kind = "ccxt"                   # or "paper"
    exchange = "binance"            # keys: TRADEPULSE_BINANCE_API_KEY / _SECRET; TRADEPULSE_BINANCE_URL to point elsewhere

    [[strategies]]
    id = "btc-sma"
    strategy = "sma_cross"
    symbol = "BTC/USDT"
    params = { fast = 3, slow = 8 }
    bar = "10s"
    capital = 1000

    [risk]
    max_order_notional = 5000
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tradepulse.errors import ConfigError, StrategyError
from tradepulse.execution.venues.credentials import Secret
from tradepulse.risk import RiskLimits
from tradepulse.strategy import Strategy, load_strategy

__all__ = [
    "AlertsConfig",
    "ApiConfig",
    "ServiceConfig",
    "ServiceSection",
    "StrategyConfig",
    "VenueConfig",
    "load_config",
    "parse_config",
]

#: Environment variables of the alert webhook (the URL often carries a token, so it is a secret).
ALERT_URL_VARIABLE = "TRADEPULSE_ALERT_WEBHOOK_URL"
_SECRET_KEY = re.compile(r"(secret|token|password|passphrase|api_?key|webhook_url)", re.IGNORECASE)
_STRATEGY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class ServiceSection:
    """``[service]``: identity, state and lifecycle."""

    name: str = "tradepulse"
    state_dir: Path = Path("live-state")
    durability: str = "full"
    cancel_orders_on_stop: bool = True
    watchdog_seconds: float = 60.0
    status_interval_seconds: float = 5.0
    log_level: str = "INFO"


@dataclass(frozen=True)
class ApiConfig:
    """``[api]``: where the REST/WebSocket API listens. Tokens come from the environment."""

    host: str = "127.0.0.1"
    port: int = 8780  # not 8765: that is the local venue's default
    allow_remote: bool = False


@dataclass(frozen=True)
class VenueConfig:
    """``[venue]``: the paper venue (in-process, replayed data) or a ccxt exchange."""

    kind: str = "paper"
    exchange: str = "binance"
    init_cash: Decimal = Decimal(10_000)
    fees_bps: Decimal = Decimal(10)
    latency_ms: float = 0.0
    allow_short: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StrategyConfig:
    """One ``[[strategies]]`` entry: a strategy instance trading one symbol."""

    id: str
    strategy: Strategy
    symbol: str
    feed: str = "venue"
    bar: timedelta = timedelta(minutes=1)
    speed: float | None = None
    capital: Decimal | None = None
    cash_reserve_fraction: Decimal = Decimal("0.01")
    window_bars: int | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.strategy.params)


@dataclass(frozen=True)
class AlertsConfig:
    """``[alerts]``: the webhook format; the URL itself is ``TRADEPULSE_ALERT_WEBHOOK_URL`` (or ``_FILE``)."""

    format: str = "json"
    timeout_seconds: float = 5.0
    webhook_url: Secret | None = None


@dataclass(frozen=True)
class ServiceConfig:
    """The whole validated configuration (see :func:`load_config`)."""

    path: Path | None
    service: ServiceSection
    api: ApiConfig
    venue: VenueConfig
    strategies: tuple[StrategyConfig, ...]
    risk: RiskLimits
    alerts: AlertsConfig

    @property
    def state_dir(self) -> Path:
        return self.service.state_dir

    def strategy(self, strategy_id: str) -> StrategyConfig:
        for entry in self.strategies:
            if entry.id == strategy_id:
                return entry
        raise KeyError(strategy_id)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """Read and validate a service TOML file; relative paths in it are relative to the file.

    Raises
    ------
    ConfigError
        One sentence naming the file, the table and the key for anything wrong.
    """
    location = Path(path).expanduser()
    try:
        text = location.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{location}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{location}: cannot be read ({error})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{location}: not valid TOML ({error})") from None
    return parse_config(document, path=location, environ=environ)


def parse_config(document: Mapping[str, Any], *, path: Path | None = None, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """Validate an already-parsed TOML document (see :func:`load_config`)."""
    env = os.environ if environ is None else environ
    name = str(path) if path is not None else "config"
    base = path.parent if path is not None else Path.cwd()
    _reject_secrets(document, name)
    _only(document, {"service", "api", "venue", "strategies", "risk", "alerts"}, name)
    service = _service(_table(document, "service", name), name, base)
    api = _api(_table(document, "api", name), name)
    venue = _venue(_table(document, "venue", name), name)
    strategies = _strategies(document.get("strategies"), name, venue)
    risk_table = _table(document, "risk", name)
    risk = RiskLimits.from_mapping(risk_table, where=f"{name}: [risk]")
    alerts = _alerts(_table(document, "alerts", name), name, env)
    return ServiceConfig(path=path, service=service, api=api, venue=venue, strategies=strategies, risk=risk, alerts=alerts)


# -- tables --------------------------------------------------------------------------------------


def _service(table: Mapping[str, Any], name: str, base: Path) -> ServiceSection:
    where = f"{name}: [service]"
    _only(table, {"name", "state_dir", "durability", "cancel_orders_on_stop", "watchdog_seconds", "status_interval_seconds", "log_level"}, where)
    state_dir = Path(_str(table, "state_dir", where, "live-state")).expanduser()
    durability = _choice(table, "durability", where, ("full", "fast"), "full")
    level = _choice(table, "log_level", where, ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True)
    return ServiceSection(
        name=_str(table, "name", where, "tradepulse"),
        state_dir=state_dir if state_dir.is_absolute() else (base / state_dir).resolve(),
        durability=durability,
        cancel_orders_on_stop=_bool(table, "cancel_orders_on_stop", where, True),
        watchdog_seconds=_number(table, "watchdog_seconds", where, 60.0, minimum=1.0),
        status_interval_seconds=_number(table, "status_interval_seconds", where, 5.0, minimum=0.1),
        log_level=level,
    )


def _api(table: Mapping[str, Any], name: str) -> ApiConfig:
    where = f"{name}: [api]"
    _only(table, {"host", "port", "allow_remote"}, where)
    host = _str(table, "host", where, "127.0.0.1")
    port = table.get("port", 8780)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"{where} port must be an integer 0..65535 (0 picks a free port), got {port!r}")
    allow_remote = _bool(table, "allow_remote", where, False)
    if not _is_loopback(host) and not allow_remote:
        raise ConfigError(f"{where} host {host!r} is not a loopback address; set allow_remote = true to expose the API "
                          "(and put TLS in front of it, docs/deployment.md)")
    return ApiConfig(host=host, port=port, allow_remote=allow_remote)


def _venue(table: Mapping[str, Any], name: str) -> VenueConfig:
    where = f"{name}: [venue]"
    _only(table, {"kind", "exchange", "init_cash", "fees_bps", "latency_ms", "allow_short", "options"}, where)
    kind = _choice(table, "kind", where, ("paper", "ccxt"), "paper")
    exchange = _str(table, "exchange", where, "binance").lower()
    options = table.get("options", {})
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where} options must be a table of ccxt options, got {options!r}")
    if kind == "paper":
        for key in ("options",):
            if key in table:
                raise ConfigError(f"{where} {key} applies to kind = \"ccxt\" only")
    else:
        for key in ("init_cash", "fees_bps", "latency_ms", "allow_short"):
            if key in table:
                raise ConfigError(f"{where} {key} applies to kind = \"paper\" only (a ccxt venue has its own balances and fees)")
    return VenueConfig(
        kind=kind, exchange=exchange,
        init_cash=_decimal(table, "init_cash", where, Decimal(10_000), positive=True),
        fees_bps=_decimal(table, "fees_bps", where, Decimal(10)),
        latency_ms=_number(table, "latency_ms", where, 0.0, minimum=0.0),
        allow_short=_bool(table, "allow_short", where, False),
        options=dict(options),
    )


_STRATEGY_KEYS = {"id", "strategy", "symbol", "params", "feed", "bar", "speed", "capital", "cash_reserve_fraction", "window_bars"}


def _strategies(entries: Any, name: str, venue: VenueConfig) -> tuple[StrategyConfig, ...]:
    from tradepulse.live.bars import parse_period

    if entries is None or entries == []:
        raise ConfigError(f"{name}: no [[strategies]]; the service needs at least one strategy to host")
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ConfigError(f"{name}: strategies must be an array of tables ([[strategies]])")
    built: list[StrategyConfig] = []
    seen_ids: set[str] = set()
    seen_assets: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{name}: [[strategies]] #{number}"
        _only(entry, _STRATEGY_KEYS, where)
        strategy_id = _str(entry, "id", where, None)
        if not _STRATEGY_ID.match(strategy_id):
            raise ConfigError(f"{where} id {strategy_id!r} must be 1-32 letters, digits, '-' or '_' (it names the journal file)")
        if strategy_id in seen_ids:
            raise ConfigError(f"{where} id {strategy_id!r} is used twice; ids must be unique")
        seen_ids.add(strategy_id)
        where = f"{name}: [[strategies]] {strategy_id!r}"
        symbol = _str(entry, "symbol", where, None).upper()
        if symbol.count("/") != 1:
            raise ConfigError(f"{where} symbol {symbol!r} must look like BASE/QUOTE, e.g. BTC/USDT")
        base_asset = symbol.split("/")[0]
        # Reconciliation checks each engine's position against the venue's balance of its base
        # asset, which only works when no two engines move the same asset.
        if base_asset in seen_assets:
            raise ConfigError(f"{where} trades {base_asset}, which strategy {seen_assets[base_asset]!r} already trades; "
                              "one strategy per base asset per account (positions are reconciled against balances)")
        seen_assets[base_asset] = strategy_id
        params = entry.get("params", {})
        if not isinstance(params, Mapping):
            raise ConfigError(f"{where} params must be a table, e.g. params = {{ fast = 3, slow = 8 }}")
        try:
            strategy = load_strategy(_str(entry, "strategy", where, None))(**dict(params))
        except (StrategyError, ConfigError) as error:
            raise ConfigError(f"{where}: {error}") from None
        feed = _str(entry, "feed", where, "venue")
        if venue.kind == "paper" and feed == "venue":
            raise ConfigError(f"{where} a paper venue has no market data of its own: set feed to a replay source, "
                              "e.g. feed = \"recording:binance:BTC/USDT\" or \"sample:binance:BTC/USDT:1h\"")
        if venue.kind == "ccxt" and feed != "venue":
            raise ConfigError(f"{where} a ccxt venue trades on its own market data: leave feed out (or set feed = \"venue\")")
        speed = entry.get("speed")
        if speed is not None:
            if venue.kind != "paper":
                raise ConfigError(f"{where} speed paces a replay and applies to a paper venue only")
            speed = _number(entry, "speed", where, 1.0, minimum=1e-6)
        try:
            bar = parse_period(_str(entry, "bar", where, "1m"))
        except (ConfigError, ValueError) as error:
            raise ConfigError(f"{where} bar: {error}") from None
        window = entry.get("window_bars")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise ConfigError(f"{where} window_bars must be a positive integer, got {window!r}")
        reserve = _decimal(entry, "cash_reserve_fraction", where, Decimal("0.01"))
        if not Decimal(0) <= reserve < Decimal(1):
            raise ConfigError(f"{where} cash_reserve_fraction must be within [0, 1), got {reserve}")
        built.append(StrategyConfig(
            id=strategy_id, strategy=strategy, symbol=symbol, feed=feed, bar=bar, speed=speed,
            capital=_decimal(entry, "capital", where, None, positive=True), cash_reserve_fraction=reserve, window_bars=window,
        ))
    return tuple(built)


def _alerts(table: Mapping[str, Any], name: str, env: Mapping[str, str]) -> AlertsConfig:
    from tradepulse.execution.venues.credentials import _read_variable

    where = f"{name}: [alerts]"
    _only(table, {"format", "timeout_seconds"}, where)
    alert_format = _choice(table, "format", where, ("json", "slack"), "json")
    try:
        url = _read_variable(ALERT_URL_VARIABLE, env)
    except ConfigError as error:
        raise ConfigError(f"{where} {error}") from None
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"{ALERT_URL_VARIABLE} must be an http:// or https:// URL")
    return AlertsConfig(format=alert_format, timeout_seconds=_number(table, "timeout_seconds", where, 5.0, minimum=0.1),
                        webhook_url=Secret(url) if url else None)


# -- helpers -------------------------------------------------------------------------------------


def _reject_secrets(value: Any, name: str, trail: str = "") -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{trail}.{key}" if trail else str(key)
            if _SECRET_KEY.search(str(key)) and not isinstance(item, Mapping):
                raise ConfigError(f"{name}: {here} looks like a secret; secrets never go in the config file — use the "
                                  "TRADEPULSE_… environment variables or their _FILE forms (docs/configuration.md)")
            _reject_secrets(item, name, here)
    elif isinstance(value, list):
        for item in value:
            _reject_secrets(item, name, trail)


def _is_loopback(host: str) -> bool:
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _table(document: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    table = document.get(key, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name}: [{key}] must be a table")
    return table


def _only(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where} unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None) -> str:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where} needs {key}")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _bool(table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key} must be true or false, got {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str, where: str, default: float, *, minimum: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{where} {key} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _decimal(table: Mapping[str, Any], key: str, where: str, default: Decimal | None, *, positive: bool = False) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where} {key} must be a number, got {value!r}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise ConfigError(f"{where} {key} must be a number, got {value!r}") from None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise ConfigError(f"{where} {key} must be {'positive' if positive else 'non-negative'}, got {value!r}")
    return number


def _choice(table: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...], default: str, *, upper: bool = False) -> str:
    value = table.get(key, default)
    text = value.upper() if upper and isinstance(value, str) else value
    if text not in choices:
        raise ConfigError(f"{where} {key} must be one of {', '.join(choices)}, got {value!r}")
    return str(text)
