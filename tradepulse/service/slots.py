"""One hosted strategy: its journal, venue connection, feed and engine (an :class:`EngineSlot`).

Each ``[[strategies]]`` entry gets a slot with its own journal file
(``<state_dir>/journals/<id>.sqlite``), its own venue connection and its own feed. Separate
journals keep the OMS's "one journal, one writer" rule and let each engine be rebuilt and
reconciled on its own; the API merges them for reading.

A paper account lives in the service process and cannot outlive it, so every start of a paper
service is a cold start: an earlier paper journal is kept, renamed with its time, and a new one
begins. Against a real venue (ccxt) an existing journal means a warm start.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradepulse.adapters.kit import MarketRequest, build_venue_kit
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.live.portfolio_engine import PortfolioEngine, PortfolioEngineConfig
from tradepulse.model.events import MarketEvent
from tradepulse.model.kinds import EngineKind
from tradepulse.risk import RiskControls
from tradepulse.service.config import ServiceConfig, StrategyConfig
from tradepulse.store import Journal

__all__ = ["EngineSlot", "WatchedFeed", "build_slot", "journal_location", "journal_path"]


def journal_path(state_dir: Path, strategy_id: str) -> Path:
    """Where a strategy's journal lives (a SQLite file; see :func:`journal_location`)."""
    return state_dir / "journals" / f"{strategy_id}.sqlite"


def journal_location(config: ServiceConfig, name: str) -> Any:
    """Where the journal ``name`` (a strategy id, or ``service``) of this service lives: a file in the state
    directory, or, with ``[service] store = "postgresql://..."``, the schema ``<service name>.<name>``."""
    if config.service.store:
        from tradepulse.store.postgres import PgLocation

        return PgLocation.parse(config.service.store, journal=f"{config.service.name}.{name}")
    if name == "service":
        return config.state_dir / "service.sqlite"
    return journal_path(config.state_dir, name)


class WatchedFeed:
    """Wrap a feed so the service can stop it at any moment and see when it last spoke.

    ``last_event_monotonic`` and ``last_event_at`` feed the watchdog and the status page;
    ``last_received_monotonic`` timestamps the event being handled, which is how tick-to-order
    latency is measured (the engine submits while handling the event that triggered the order).
    """

    def __init__(self, inner: Any, on_event: Callable[[MarketEvent], None] | None = None) -> None:
        self.inner = inner
        self.on_event = on_event
        self.started_monotonic = time.monotonic()
        self.last_event_monotonic: float | None = None
        self.last_event_at: datetime | None = None
        self.events = 0
        self._stop = asyncio.Event()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        inner_stop = getattr(self.inner, "stop", None)
        if callable(inner_stop):
            inner_stop()

    def silent_seconds(self) -> float:
        """Seconds since the last event (since start when there was none)."""
        return time.monotonic() - (self.last_event_monotonic or self.started_monotonic)

    async def __aiter__(self) -> AsyncIterator[MarketEvent]:
        iterator = self.inner.__aiter__()
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                next_event = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({next_event, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if next_event not in done:
                    next_event.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await next_event
                    break
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    break
                self.events += 1
                self.last_event_monotonic = time.monotonic()
                self.last_event_at = datetime.now(UTC)
                if self.on_event is not None:
                    self.on_event(event)
                yield event
        finally:
            stop_wait.cancel()
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()


@dataclass
class EngineSlot:
    """Everything one hosted strategy is made of, plus what the service tracks about it."""

    config: StrategyConfig
    journal: Journal
    reader: Journal | None
    venue: Any
    feed: WatchedFeed
    engine: LiveEngine | PortfolioEngine
    risk: RiskControls
    clock: Any
    start_mode: str
    archived_journal: Any = None
    task: asyncio.Task | None = None
    outcome: str = "starting"  # starting | running | completed | stopped | failed
    error: str | None = None
    reconciliation: dict[str, Any] | None = None
    stalled: bool = False
    last_signal: tuple[int, dict[str, Any]] | None = None  # (journal seq, payload) of the last strategy.target
    submitted_monotonic: dict[str, float] = field(default_factory=dict)
    version: str | None = None  # the stored strategy version running now (changes when a new one is loaded)

    def __post_init__(self) -> None:
        if self.version is None:
            self.version = self.config.version

    @property
    def follows(self) -> str | None:
        """The strategy name whose promoted version this slot follows (``promoted:<name>``), if any."""
        return self.config.follows

    @property
    def strategy_id(self) -> str:
        return self.config.id

    @property
    def symbol(self) -> str:
        return self.config.symbol

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the slot trades (a portfolio's members, or its one symbol)."""
        return self.config.members

    @property
    def running(self) -> bool:
        return self.outcome == "running"

    def trading_state(self) -> str:
        return str(self.risk.state.mode.value)

    def open_reader(self) -> Journal:
        """A read-only connection for the API (WAL lets it read while the engine writes)."""
        if self.reader is None:
            self.reader = Journal(self.journal.path, read_only=True)
        return self.reader

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        self.journal.close()


def _has_started(path: Any) -> bool:
    from tradepulse.store.postgres import PgLocation, journal_exists

    if isinstance(path, PgLocation):
        if not journal_exists(path):
            return False
    elif not path.exists() or path.stat().st_size == 0:
        return False
    with Journal(path, read_only=True) as journal:
        return bool(journal.events(kinds=[EngineKind.STARTED], limit=1))


def _archive(path: Any) -> Any:
    from tradepulse.store.postgres import PgLocation, archive_journal

    if isinstance(path, PgLocation):
        return archive_journal(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.{stamp}.sqlite")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(Path(f"{target}{suffix}"))
    return target


def build_slot(config: ServiceConfig, entry: StrategyConfig, environ: Mapping[str, str]) -> EngineSlot:
    """Build (not start) the slot of one strategy entry: journal, venue kit (venue, feed, clock), risk and engine."""
    market = MarketRequest(symbol=entry.symbol, feed=entry.feed, bar=entry.bar, speed=entry.speed,
                           cash_reserve_fraction=entry.cash_reserve_fraction, symbols=entry.symbols, feeds=entry.feeds)
    kit = build_venue_kit(config.venue, market, environ)
    path = journal_location(config, entry.id)
    archived = None
    if kit.persistent:
        start_mode = "warm" if _has_started(path) else "cold"
    else:
        # The venue's orders and balances died with the last process: nothing to reconcile against.
        if _has_started(path):
            archived = _archive(path)
        start_mode = "cold"
    clock, venue, inner = kit.clock, kit.venue, kit.feed
    journal = Journal(path, durability=config.service.durability, clock=clock.now)
    risk = RiskControls(config.risk, clock=clock.now, symbols=list(entry.members), currency=entry.symbol.split("/")[1])
    feed = WatchedFeed(inner)
    capital = entry.capital if entry.capital is not None else kit.default_capital
    engine: LiveEngine | PortfolioEngine
    if entry.is_portfolio:
        engine = PortfolioEngine(entry.strategy, feed, venue, journal, risk=risk, clock=clock, config=PortfolioEngineConfig(
            symbols=entry.members, strategy_id=entry.id, capital=capital, bar_period=kit.bar_period,
            window_bars=entry.window_bars, sizing_costs=kit.costs, cash_reserve_fraction=kit.cash_reserve_fraction,
            heartbeat_seconds=1.0,
        ))
        return EngineSlot(config=entry, journal=journal, reader=None, venue=venue, feed=feed, engine=engine, risk=risk,
                          clock=clock, start_mode=start_mode, archived_journal=archived)
    engine_config = EngineConfig(
        symbol=entry.symbol, strategy_id=entry.id, capital=capital,
        bar_period=kit.bar_period, window_bars=entry.window_bars, sizing_costs=kit.costs,
        cash_reserve_fraction=kit.cash_reserve_fraction, heartbeat_seconds=1.0,
    )
    engine = LiveEngine(entry.strategy, feed, venue, journal, risk=risk, clock=clock, config=engine_config)
    return EngineSlot(config=entry, journal=journal, reader=None, venue=venue, feed=feed, engine=engine, risk=risk,
                      clock=clock, start_mode=start_mode, archived_journal=archived)
