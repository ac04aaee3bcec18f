"""The service's TOML configuration, validated once into frozen objects (design decision 8).

One file says what the service trades and how: strategies and symbols, the venue, risk limits,
the API's bind address, alerting and where state lives. Unknown keys are rejected, values are
type-checked, strategies and their parameters are loaded, and every error names the file, the
table and the key; all mistakes found are reported together, one line each. What the service could
not run is refused here too, so ``serve --check`` catches it: a replay feed of another symbol than
the strategy's, a ``bar`` a bar feed cannot honour, an unknown sample or recording, a missing file,
and strategies sharing one account's quote balance without ``capital``. Every relative path in the
file (``state_dir``, strategy files, feed files) is relative to the file itself, not to the working
directory, so a service started by systemd or cron finds what its config names.

Secrets never come from this file: API tokens, venue keys and the alert webhook URL are read
from ``TRADEPULSE_…`` environment variables (or ``…_FILE`` paths, which like any path in the
environment are taken as given, relative to the working directory); a key that looks like a
secret is refused with a pointer to the variable to use instead.

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
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tradepulse.adapters.credentials import Secret
from tradepulse.adapters.kit import VENUE_KINDS, VenueSettings
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.risk import RiskLimits
from tradepulse.service.governance import FOLLOW_PREFIX, VERSION_PREFIX, GovernanceConfig, parse_governance, resolve_stored
from tradepulse.strategy import Strategy, load_strategy

__all__ = [
    "AlertsConfig",
    "ApiConfig",
    "ConfigProblems",
    "ServiceConfig",
    "ServiceSection",
    "StrategyConfig",
    "VenueConfig",
    "load_config",
    "parse_config",
]


class ConfigProblems(ConfigError):
    """Every mistake validation found, one line each (``str`` joins them with newlines)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


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
    store: str | None = None  # a postgresql:// URL: journals in PostgreSQL, one active service per name (a lease)


@dataclass(frozen=True)
class ApiConfig:
    """``[api]``: where the REST/WebSocket API listens. Tokens come from the environment."""

    host: str = "127.0.0.1"
    port: int = 8780  # not 8765: that is the local venue's default
    allow_remote: bool = False


# The [venue] table's settings belong to the adapters that use them; the config names them VenueConfig.
VenueConfig = VenueSettings


@dataclass(frozen=True)
class StrategyConfig:
    """One ``[[strategies]]`` entry: a strategy instance trading one symbol, or a portfolio's ``symbols``.

    For a portfolio, ``symbol`` is the first member and ``feeds`` holds one replay source per
    member (paper venue); ``symbols`` is empty for a single-symbol strategy.
    """

    id: str
    strategy: Strategy
    symbol: str
    feed: str = "venue"
    bar: timedelta = timedelta(minutes=1)
    speed: float | None = None
    capital: Decimal | None = None
    cash_reserve_fraction: Decimal = Decimal("0.01")
    window_bars: int | None = None
    symbols: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    version: str | None = None  # the stored version it runs (``version:`` or ``promoted:``)
    follows: str | None = None  # ``promoted:<name>``: the strategy name whose promoted version it follows

    @property
    def members(self) -> tuple[str, ...]:
        """Every symbol the strategy trades."""
        return self.symbols or (self.symbol,)

    @property
    def is_portfolio(self) -> bool:
        return bool(self.symbols)

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
    governance: GovernanceConfig

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
    # The file's real directory, as `tradepulse live status --config` finds state_dir, so that a
    # symlinked config resolves the same way for the service and for the commands that find it.
    base = path.resolve().parent if path is not None else Path.cwd()
    _reject_secrets(document, name)
    _only(document, {"service", "api", "venue", "strategies", "risk", "alerts", "governance"}, name)
    problems: list[str] = []

    def checked(build: Any) -> Any:
        # Each table is checked even when an earlier one failed, so one run shows every mistake.
        try:
            return build()
        except ConfigProblems as error:
            problems.extend(error.problems)
        except ConfigError as error:
            problems.append(str(error))
        return None

    service = checked(lambda: _service(_table(document, "service", name), name, base))
    api = checked(lambda: _api(_table(document, "api", name), name))
    venue = checked(lambda: _venue(_table(document, "venue", name), name))
    governance = checked(lambda: parse_governance(_table(document, "governance", name), f"{name}: [governance]", base, env,
                                                  venue.kind)) if venue is not None else None
    # Strategies are judged against the venue (feeds, capital) and the governance rules; a broken
    # [venue] says so first, a broken [governance] is reported and the strategies checked without it.
    rules = governance or GovernanceConfig(store=base / ".tradepulse" / "store", require_versions=False)
    strategies = checked(lambda: _strategies(document.get("strategies"), name, venue, base, env, rules)) if venue is not None else None
    risk = checked(lambda: _risk(_table(document, "risk", name), name))
    alerts = checked(lambda: _alerts(_table(document, "alerts", name), name, env))
    if problems:
        raise ConfigProblems(problems)
    return ServiceConfig(path=path, service=service, api=api, venue=venue, strategies=strategies, risk=risk, alerts=alerts,
                         governance=governance)


# -- tables --------------------------------------------------------------------------------------


def _service(table: Mapping[str, Any], name: str, base: Path) -> ServiceSection:
    where = f"{name}: [service]"
    _only(table, {"name", "state_dir", "durability", "cancel_orders_on_stop", "watchdog_seconds", "status_interval_seconds", "log_level",
                  "store"}, where)
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
        store=_store_url(table, where),
    )


def _store_url(table: Mapping[str, Any], where: str) -> str | None:
    from tradepulse.store.postgres import PgLocation

    if "store" not in table:
        return None
    text = _str(table, "store", where, None)
    try:
        return PgLocation.parse(text, journal="check").url
    except ConfigError as error:
        raise ConfigError(f"{where} store: {error}") from None


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
    kind = _choice(table, "kind", where, VENUE_KINDS, "paper")
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


_STRATEGY_KEYS = {"id", "strategy", "symbol", "symbols", "params", "feed", "bar", "speed", "capital", "cash_reserve_fraction", "window_bars"}


def _strategies(entries: Any, name: str, venue: VenueConfig, base: Path, env: Mapping[str, str],
                governance: GovernanceConfig) -> tuple[StrategyConfig, ...]:
    if entries is None or entries == []:
        raise ConfigError(f"{name}: no [[strategies]]; the service needs at least one strategy to host")
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ConfigError(f"{name}: strategies must be an array of tables ([[strategies]])")
    built: list[StrategyConfig] = []
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_assets: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        try:
            built.append(_strategy(entry, number, name, venue, base, env, seen_ids, seen_assets, governance))
        except ConfigProblems as error:
            problems.extend(error.problems)
        except ConfigError as error:
            problems.append(str(error))
    if venue.kind == "ccxt":
        problems.extend(_shared_quote_problems(built, name, venue))
    if problems:
        raise ConfigProblems(problems)
    return tuple(built)


def _strategy(entry: Mapping[str, Any], number: int, name: str, venue: VenueConfig, base: Path, env: Mapping[str, str],
              seen_ids: set[str], seen_assets: dict[str, str], governance: GovernanceConfig) -> StrategyConfig:
    from tradepulse.live.bars import parse_period

    where = f"{name}: [[strategies]] #{number}"
    _only(entry, _STRATEGY_KEYS, where)
    strategy_id = _str(entry, "id", where, None)
    if not _STRATEGY_ID.match(strategy_id):
        raise ConfigError(f"{where} id {strategy_id!r} must be 1-32 letters, digits, '-' or '_' (it names the journal file)")
    if strategy_id in seen_ids:
        raise ConfigError(f"{where} id {strategy_id!r} is used twice; ids must be unique")
    seen_ids.add(strategy_id)
    where = f"{name}: [[strategies]] {strategy_id!r}"
    members = _members(entry, where)
    symbol = members[0]
    for member in members:
        base_asset = member.split("/")[0]
        # Reconciliation checks each position against the venue's balance of its base asset,
        # which only works when no two engines (or members) move the same asset.
        if base_asset in seen_assets:
            raise ConfigError(f"{where} trades {base_asset}, which strategy {seen_assets[base_asset]!r} already trades; "
                              "one strategy per base asset per account (positions are reconciled against balances)")
        seen_assets[base_asset] = strategy_id
    spec = _str(entry, "strategy", where, None)
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where} params must be a table, e.g. params = {{ fast = 3, slow = 8 }}")
    feed_texts = _member_feeds(entry, where, members, base, env)
    feed_text = feed_texts[0]
    if venue.kind == "paper" and feed_text == "venue":
        raise ConfigError(f"{where} a paper venue has no market data of its own: set feed to a replay source, "
                          "e.g. feed = \"recording:binance:BTC/USDT\" or \"sample:binance:BTC/USDT:1h\"")
    if venue.kind == "ccxt" and any(text != "venue" for text in feed_texts):
        raise ConfigError(f"{where} a ccxt venue trades on its own market data: leave feed out (or set feed = \"venue\")")
    speed = entry.get("speed")
    if speed is not None:
        if venue.kind != "paper":
            raise ConfigError(f"{where} speed paces a replay and applies to a paper venue only")
        speed = _number(entry, "speed", where, 1.0, minimum=1e-6)
    bar_text = _str(entry, "bar", where, "1m")
    try:
        bar = parse_period(bar_text)
    except (ConfigError, ValueError) as error:
        raise ConfigError(f"{where} bar: {error}") from None
    window = entry.get("window_bars")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ConfigError(f"{where} window_bars must be a positive integer, got {window!r}")
    reserve = _decimal(entry, "cash_reserve_fraction", where, Decimal("0.01"))
    if not Decimal(0) <= reserve < Decimal(1):
        raise ConfigError(f"{where} cash_reserve_fraction must be within [0, 1), got {reserve}")
    capital = _decimal(entry, "capital", where, None, positive=True)

    # What follows needs the strategy code and the market data; each mistake is its own line.
    problems: list[str] = []
    strategy: Strategy | None = None
    version_id = None
    follows = spec[len(FOLLOW_PREFIX):] if spec.startswith(FOLLOW_PREFIX) else None
    if spec.startswith((VERSION_PREFIX, FOLLOW_PREFIX)):
        strategy, version_id, problem = resolve_stored(spec, params, venue.kind, governance.store)
        if problem:
            problems.append(f"{where} strategy {spec!r}: {problem}")
    elif governance.require_versions:
        problems.append(f"{where} strategy {spec!r}: this service trades only reviewed strategy versions ([governance] "
                        f"require_versions, the default on an exchange): write strategy = \"promoted:<name>\" or "
                        f"\"version:<id>\" (docs/governance.md), or set require_versions = false to run unreviewed code")
    else:
        try:
            strategy_class = load_strategy(_from_base(spec, base))
        except (StrategyError, ConfigError) as error:
            problems.append(f"{where} strategy {spec!r}: {error}")
        else:
            try:
                strategy = strategy_class(**dict(params))
            except (StrategyError, ConfigError) as error:
                problems.append(f"{where} params: {error}")
    if strategy is not None:
        problems += _portfolio_problems(strategy, entry, where, members)
    resolved: list[str] = []
    periods: dict[str, timedelta] = {}
    if "live" in feed_texts and (venue.kind != "paper" or set(feed_texts) != {"live"}):
        problems.append(f"{where} feed = \"live\" is paper trading on the exchange's live prices: it needs [venue] kind = \"paper\" "
                        "and every member on live data")
    for member, text in zip(members, feed_texts, strict=True):
        if text in ("venue", "live"):
            resolved.append(text)
            continue
        replay = _replay_feed(text, base, env)
        resolved.append(replay.source)
        if replay.problem is not None:
            problems.append(f"{where} feed {text!r}: {replay.problem}")
        if replay.symbol is not None and replay.symbol.upper() != member:
            problems.append(f"{where} symbol {member!r} is not what feed {text!r} replays ({replay.symbol}), so the strategy "
                            f"would trade {member} at {replay.symbol} prices; set symbol = \"{replay.symbol}\" or replay data of {member}")
        if replay.timeframe is not None:
            # A bar feed replays its bars as they are: nothing rebuilds them at another length.
            if "bar" in entry and bar != replay.period:
                fix = f"leave bar out or set bar = \"{replay.timeframe}\"" if replay.period is not None else "leave bar out"
                problems.append(f"{where} bar {bar_text!r} cannot be honoured: feed {text!r} replays its own "
                                f"{replay.timeframe} bars as they are; {fix}")
            elif replay.period is not None:
                periods[member] = replay.period
    if len(set(periods.values())) > 1:
        listed = ", ".join(f"{member} {_period_text(period)}" for member, period in periods.items())
        problems.append(f"{where} the members' feeds have different bar lengths ({listed}); a portfolio decides once per period")
    elif periods and "bar" not in entry:
        bar = next(iter(periods.values()))
    if problems:
        raise ConfigProblems(problems)
    assert strategy is not None
    portfolio = len(members) > 1
    return StrategyConfig(
        id=strategy_id, strategy=strategy, symbol=symbol, feed=resolved[0], bar=bar, speed=speed,
        capital=capital, cash_reserve_fraction=reserve, window_bars=window,
        symbols=members if portfolio else (), feeds=tuple(resolved) if portfolio else (), version=version_id, follows=follows,
    )


def _members(entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``symbol = "BTC/USDT"`` or ``symbols = ["BTC/USDT", "ETH/USDT"]`` (a portfolio), checked."""
    if "symbol" in entry and "symbols" in entry:
        raise ConfigError(f"{where} give symbol (one) or symbols (a portfolio), not both")
    if "symbols" not in entry:
        texts = [_str(entry, "symbol", where, None)]
    else:
        raw = entry["symbols"]
        if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(item, str) for item in raw):
            raise ConfigError(f"{where} symbols must list two or more symbols, e.g. symbols = [\"BTC/USDT\", \"ETH/USDT\"]")
        texts = raw
    members = tuple(text.upper() for text in texts)
    for member in members:
        if member.count("/") != 1:
            raise ConfigError(f"{where} symbol {member!r} must look like BASE/QUOTE, e.g. BTC/USDT")
    if len(set(members)) != len(members):
        raise ConfigError(f"{where} symbols lists a symbol twice: {', '.join(members)}")
    quotes = {_quote_asset(member) for member in members}
    if len(quotes) > 1:
        raise ConfigError(f"{where} symbols must share one quote currency (one account's cash pays for them), "
                          f"got {', '.join(sorted(quotes))}")
    return members


def _member_feeds(entry: Mapping[str, Any], where: str, members: tuple[str, ...], base: Path, env: Mapping[str, str]) -> tuple[str, ...]:
    """One feed text per member: ``feed = "venue"``, one source for one symbol, or a list (or a universe) for a portfolio."""
    raw = entry.get("feed", "venue")
    if isinstance(raw, str) and raw.startswith("universe:") and len(members) > 1:
        from tradepulse.data.universe import expand_sources

        raw = expand_sources([raw])
    if isinstance(raw, list):
        if len(members) == 1:
            raise ConfigError(f"{where} feed is a list, but the strategy trades one symbol; give one source")
        if len(raw) != len(members) or not all(isinstance(item, str) for item in raw):
            raise ConfigError(f"{where} feed must list one source per symbol ({len(members)}), in the order of symbols")
        return tuple(raw)
    if not isinstance(raw, str):
        raise ConfigError(f"{where} feed must be text, e.g. feed = \"sample:binance:BTC/USDT:1h\"")
    if len(members) > 1 and raw not in ("venue", "live"):
        raise ConfigError(f"{where} a portfolio needs one feed per symbol: feed = [\"...\", \"...\"] in the order of symbols, "
                          "or feed = \"universe:<name>\"")
    return (raw,) * len(members) if raw in ("venue", "live") else (raw,)


def _portfolio_problems(strategy: Strategy, entry: Mapping[str, Any], where: str, members: tuple[str, ...]) -> list[str]:
    from tradepulse.strategy.portfolio import PortfolioStrategy

    if not isinstance(strategy, PortfolioStrategy):
        return []
    try:
        strategy.check_universe(members)
    except StrategyError as error:
        key = "symbols" if "symbols" in entry else "symbol"
        return [f"{where} {key}: {error}"]
    return []


def _shared_quote_problems(entries: list[StrategyConfig], name: str, venue: VenueConfig) -> list[str]:
    """Strategies on one account that share a quote currency: each needs its own ``capital``.

    Without it an engine sizes its orders from the account's whole free quote balance, so every
    one of them would believe it may spend all of it.
    """
    by_quote: dict[str, list[StrategyConfig]] = {}
    for entry in entries:
        by_quote.setdefault(_quote_asset(entry.symbol), []).append(entry)
    problems = []
    for quote, group in by_quote.items():
        if len(group) < 2:
            continue
        for entry in group:
            if entry.capital is None:
                others = ", ".join(repr(other.id) for other in group if other is not entry)
                problems.append(f"{name}: [[strategies]] {entry.id!r} capital is required: it shares the {quote} balance of "
                                f"one {venue.exchange} account with {others}, and without capital each would size its "
                                f"orders from the whole free balance")
    return problems


def _quote_asset(symbol: str) -> str:
    # BTC/USDT, BTC/USDT:USDT (a ccxt perpetual) and BTC/USDT-PERP all draw on the USDT balance.
    return symbol.partition("/")[2].split(":")[0].split("-")[0]


def _from_base(path_text: str, base: Path) -> str:
    """``path_text`` with a relative path made relative to ``base`` (``~`` expanded); other text as it is."""
    from tradepulse.strategy.loader import split_file_spec

    file_part, class_name = split_file_spec(path_text)
    if file_part is None:
        return path_text  # a built-in name or package.module:Class
    path = Path(file_part).expanduser()
    resolved = str(path if path.is_absolute() else base / path)
    return f"{resolved}:{class_name}" if class_name else resolved


@dataclass(frozen=True)
class _Replay:
    """What validation learns about a replay feed before the service opens it."""

    source: str  # what the slot opens: the address, or a file's absolute path
    symbol: str | None = None  # the symbol its data is of, when the address says
    timeframe: str | None = None  # a bar feed's own bar length as written ("5m"); None for ticks
    period: timedelta | None = None  # that length, when it is a fixed one (not "1M")
    problem: str | None = None


def _replay_feed(text: str, base: Path, env: Mapping[str, str]) -> _Replay:
    from tradepulse.adapters.paper.feeds import RECORDING_PREFIX, get_recording, is_recording_source
    from tradepulse.data.cache import CACHE_PREFIX, cache_path, default_cache_dir, parse_cache_address
    from tradepulse.data.samples import SAMPLE_PREFIX, get_sample
    from tradepulse.errors import DataError

    try:
        if text.startswith(RECORDING_PREFIX):
            return _Replay(text, symbol=get_recording(text).symbol)
        if text.startswith(SAMPLE_PREFIX):
            sample = get_sample(text)
            return _Replay(text, symbol=sample.symbol, timeframe=sample.timeframe, period=_timeframe_period(sample.timeframe))
        if text.startswith(CACHE_PREFIX):
            exchange, symbol, timeframe = parse_cache_address(text)
            replay = _Replay(text, symbol=symbol, timeframe=timeframe, period=_timeframe_period(timeframe))
            path = cache_path(exchange, symbol, timeframe, default_cache_dir(env))
            if not path.exists():
                return replace(replay, problem=f"not in the cache ({path}); fetch it with `tradepulse data download "
                                               f"--exchange {exchange} --symbol {symbol} --timeframe {timeframe} --since <date>`")
            return replay
    except DataError as error:
        return _Replay(text, problem=str(error))
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if not path.is_file():
        return _Replay(str(path), problem=f"no such file {path}")
    if is_recording_source(path):
        return _Replay(str(path))
    # A bar file says nothing of its symbol, but its bars say their length: read them now rather
    # than let the service find a bad file after it has started.
    from tradepulse.data import infer_timeframe, load_bars

    try:
        inferred = infer_timeframe(load_bars(path).index)
    except DataError as error:
        return _Replay(str(path), problem=str(error))
    if inferred is None:
        return _Replay(str(path), problem="a bar replay needs at least 2 bars to know the bar length")
    period = inferred.to_pytimedelta()
    return _Replay(str(path), timeframe=_period_text(period), period=period)


def _timeframe_period(timeframe: str) -> timedelta | None:
    from tradepulse.live.bars import parse_period

    if timeframe.endswith("M"):
        return None  # a calendar month: no fixed length
    if timeframe.endswith("w") and timeframe[:-1].isdigit():
        return timedelta(weeks=int(timeframe[:-1]))
    try:
        return parse_period(timeframe)
    except ConfigError:
        return None


def _period_text(period: timedelta) -> str:
    milliseconds = round(period.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


def _risk(table: Mapping[str, Any], name: str) -> RiskLimits:
    try:
        return RiskLimits.from_mapping(table, where=f"{name}: [risk]")
    except ConfigError as error:
        # A limit's own range check names the key (risk.max_order_notional) but not the file.
        message = str(error)
        raise ConfigError(message if message.startswith(name) else f"{name}: {message}") from None


def _alerts(table: Mapping[str, Any], name: str, env: Mapping[str, str]) -> AlertsConfig:
    from tradepulse.adapters.credentials import read_secret_variable

    where = f"{name}: [alerts]"
    _only(table, {"format", "timeout_seconds"}, where)
    alert_format = _choice(table, "format", where, ("json", "slack"), "json")
    try:
        url = read_secret_variable(ALERT_URL_VARIABLE, env)
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
