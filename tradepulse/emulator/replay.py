"""Reading the recorded Binance streams and replaying them on the market clock, looping forever.

The recordings are ``binance_spot_<SYMBOL>_2024080{8,9}_stream.jsonl.gz`` (see the data README):
the 0809 file continues the 0808 file, and only the 0808 file starts with a REST depth snapshot.
Both symbols are merged into one timeline ordered by receive time; each event is due at its
receive time plus the collector's clock lag (so its ``E`` is never in the future of market time).

Looping: after the last event, the timeline starts again one ``loop_ms`` later. Each loop shifts
every timestamp by ``loop_ms`` and offsets depth update ids and trade ids so they keep increasing
without a gap; :class:`~tradepulse.emulator.market.SymbolMarket` applies those offsets and bridges
the book back to the snapshot with one synthetic diff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import gzip
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

from tradepulse.emulator.clock import VenueClock
from tradepulse.errors import DataError

__all__ = ["KIND_BOOK_TICKER", "KIND_DEPTH", "KIND_TRADE", "Replayer", "SymbolRecording", "Timeline", "load_timeline"]

log = logging.getLogger(__name__)

KIND_TRADE, KIND_BOOK_TICKER, KIND_DEPTH = 0, 1, 2
RECORDING_DAYS = ("20240808", "20240809")
# Spacing between the last event of one loop and the first of the next (one depth interval).
LOOP_GAP_MS = 100
# Events handled before the replay task yields to the server, so REST stays responsive at high speed.
_EVENTS_PER_SLICE = 2000


def recording_filenames(symbol: str) -> list[str]:
    """Return the recording files of ``symbol``, in replay order."""
    return [f"binance_spot_{symbol}_{day}_stream.jsonl.gz" for day in RECORDING_DAYS]


@dataclass(frozen=True)
class SymbolRecording:
    """What the replay needs to know about one symbol's recording.

    ``first_update_id``/``last_update_id`` span the applied depth diffs (the first one straddles
    the snapshot's ``lastUpdateId``); ``first_trade_id``/``last_trade_id`` span the trades.
    """

    symbol: str
    snapshot_update_id: int
    snapshot_bids: list[list[str]]
    snapshot_asks: list[list[str]]
    first_update_id: int
    last_update_id: int
    first_trade_id: int
    last_trade_id: int
    first_book_ticker_id: int
    last_book_ticker_id: int

    @property
    def update_id_step(self) -> int:
        """Offset added per loop to depth and bookTicker ids (they share Binance's id sequence).

        It spans both streams' ids plus at least one id for the bridging diff, so each loop's ids
        are all above the previous loop's: bookTicker ids run slightly beyond the depth diffs'.
        """
        low = min(self.first_update_id, self.first_book_ticker_id)
        high = max(self.last_update_id, self.last_book_ticker_id)
        return high - low + 2

    @property
    def trade_id_step(self) -> int:
        return self.last_trade_id - self.first_trade_id + 1


@dataclass(frozen=True)
class Timeline:
    """Both symbols' events, merged and ordered: ``(due_ms, symbol index, kind, payload)``.

    Payloads: trade ``(E, t, p, q, T, m, price, qty)``, bookTicker ``(u, b, B, a, A)``,
    depth ``(E, U, u, bids, asks)``; texts are the recorded strings.
    """

    recordings: tuple[SymbolRecording, ...]
    events: list[tuple[int, int, int, tuple]]
    loop_ms: int

    @property
    def first_due_ms(self) -> int:
        return self.events[0][0]


def _open_text_lines(source: Traversable | Path) -> Any:
    return gzip.open(source.open("rb"), "rt", encoding="utf-8")  # type: ignore[union-attr]


def _locate(recordings_dir: Path | None, filename: str) -> Traversable | Path:
    if recordings_dir is not None:
        path = Path(recordings_dir) / filename
        if not path.is_file():
            raise DataError(f"recording {filename} not found in {recordings_dir}")
        return path
    source = resources.files("tradepulse.data") / "recordings" / filename
    if not source.is_file():
        raise DataError(
            f"recording {filename} is missing from the installed package (tradepulse/data/recordings); "
            "reinstall TradePulse or pass recordings_dir"
        )
    return source


def _read_symbol(symbol: str, recordings_dir: Path | None) -> tuple[list[tuple[int, str, Any]], dict]:
    rows: list[tuple[int, str, Any]] = []
    snapshot: dict | None = None
    for filename in recording_filenames(symbol):
        with _open_text_lines(_locate(recordings_dir, filename)) as lines:
            for line in lines:
                record = json.loads(line)
                stream, data = record["stream"], record["data"]
                if stream.startswith("rest:"):
                    snapshot = snapshot or data
                    continue
                rows.append((record["recv_ns"] // 1_000_000, stream.split("@", 1)[1], data))
    if snapshot is None:
        raise DataError(f"the {symbol} recording has no REST depth snapshot")
    return rows, snapshot


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: building ~180k long-lived objects otherwise triggers
    repeated full collections that make loading three times slower."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.lru_cache(maxsize=4)
def _load_timeline_cached(symbols: tuple[str, ...], recordings_dir: str | None) -> Timeline:
    with _gc_paused():
        return _build_timeline(symbols, recordings_dir)


def _build_timeline(symbols: tuple[str, ...], recordings_dir: str | None) -> Timeline:
    directory = Path(recordings_dir) if recordings_dir is not None else None
    raw = [_read_symbol(symbol, directory) for symbol in symbols]
    # The collector's clock lagged Binance's by ~1.27 s; due = receive time + the largest lag seen.
    lag = max(data["E"] - recv_ms for rows, _ in raw for recv_ms, kind, data in rows if "E" in data)
    events: list[tuple[int, int, int, tuple]] = []
    recordings = []
    for index, (symbol, (rows, snapshot)) in enumerate(zip(symbols, raw)):
        snapshot_id = snapshot["lastUpdateId"]
        first_u = last_u = first_t = last_t = first_bt = last_bt = None
        for recv_ms, kind, d in rows:
            due = recv_ms + lag
            if kind == "trade":
                first_t = d["t"] if first_t is None else first_t
                last_t = d["t"]
                payload = (d["E"], d["t"], d["p"], d["q"], d["T"], d["m"], Decimal(d["p"]), Decimal(d["q"]))
                events.append((due, index, KIND_TRADE, payload))
            elif kind == "bookTicker":
                first_bt = d["u"] if first_bt is None else first_bt
                last_bt = d["u"]
                events.append((due, index, KIND_BOOK_TICKER, (d["u"], d["b"], d["B"], d["a"], d["A"])))
            elif kind.startswith("depth"):
                if d["u"] <= snapshot_id:
                    continue  # already contained in the snapshot
                first_u = d["U"] if first_u is None else first_u
                last_u = d["u"]
                events.append((due, index, KIND_DEPTH, (d["E"], d["U"], d["u"], d["b"], d["a"])))
        if None in (first_u, last_u, first_t, last_t, first_bt, last_bt):
            raise DataError(f"the {symbol} recording lacks depth updates, trades or book tickers after its snapshot")
        recordings.append(SymbolRecording(
            symbol=symbol, snapshot_update_id=snapshot_id, snapshot_bids=snapshot["bids"],
            snapshot_asks=snapshot["asks"], first_update_id=first_u, last_update_id=last_u,  # type: ignore[arg-type]
            first_trade_id=first_t, last_trade_id=last_t,  # type: ignore[arg-type]
            first_book_ticker_id=first_bt, last_book_ticker_id=last_bt,  # type: ignore[arg-type]
        ))
    events.sort(key=lambda event: event[0])  # stable: each file's own order is kept
    loop_ms = events[-1][0] - events[0][0] + LOOP_GAP_MS
    return Timeline(recordings=tuple(recordings), events=events, loop_ms=loop_ms)


def load_timeline(symbols: Sequence[str], recordings_dir: Path | None = None) -> Timeline:
    """Read the recordings of ``symbols`` into one merged timeline (cached per process).

    Raises
    ------
    DataError
        If a recording file is missing or lacks its snapshot.
    """
    return _load_timeline_cached(tuple(symbols), str(recordings_dir) if recordings_dir is not None else None)


class ReplaySink(Protocol):
    """Receives the replay: events, clock ticks and loop boundaries (all in market time)."""

    def on_event(self, symbol_index: int, kind: int, payload: tuple, loop: int, shift_ms: int) -> None: ...

    def on_tick(self, market_ms: int) -> None: ...

    def on_loop(self, loop: int, market_ms: int) -> None: ...


class Replayer:
    """Drives a :class:`Timeline` through a sink on the market clock.

    ``shift_ms`` passed with each event is what to add to its recorded ``E``/``T``. The replay
    starts ``start_offset_ms`` into the recording, with that part handled at once by
    :meth:`warm_up`, so history exists before the first client arrives.
    """

    def __init__(self, timeline: Timeline, clock: VenueClock, sink: ReplaySink, start_offset_ms: int) -> None:
        self.timeline = timeline
        self.clock = clock
        self.sink = sink
        self.loop = 0
        self.position = 0
        self.paused = False
        self._pause_started_ms = 0
        now = clock.market_ms()
        self.base_shift_ms = now - (timeline.first_due_ms + start_offset_ms)
        self._next_tick_ms = timeline.first_due_ms + self.base_shift_ms
        self._next_tick_ms -= self._next_tick_ms % 1000
        self._task: asyncio.Task | None = None
        self._stopping = False

    def shift_ms(self) -> int:
        return self.base_shift_ms + self.loop * self.timeline.loop_ms

    def next_due_ms(self) -> int:
        return self.timeline.events[self.position][0] + self.shift_ms()

    def advance_to(self, market_ms: int, budget: int | None = None) -> int:
        """Handle every event and tick due at or before ``market_ms`` (at most ``budget`` events)."""
        events = self.timeline.events
        handled = 0
        while budget is None or handled < budget:
            due = self.next_due_ms() if not self.paused else None
            tick = self._next_tick_ms
            if (due is None or due > market_ms) and tick > market_ms:
                break
            if due is None or tick <= due:
                self._next_tick_ms = tick + 1000
                self.sink.on_tick(tick)
                continue
            _, symbol_index, kind, payload = events[self.position]
            loop, shift = self.loop, self.shift_ms()
            # State moves on before the handler runs, so a failing handler cannot replay an event twice.
            self.position += 1
            handled += 1
            if self.position == len(events):
                self.position = 0
                self.loop += 1
            self.sink.on_event(symbol_index, kind, payload, loop, shift)
            if self.loop != loop:
                self.sink.on_loop(self.loop, due + 1)
        return handled

    def warm_up(self) -> None:
        """Handle the part of the recording before the start position, without waiting."""
        self.advance_to(self.clock.market_ms())

    def pause(self) -> None:
        """Stop publishing recorded events (the clocks keep running)."""
        if not self.paused:
            self.paused = True
            self._pause_started_ms = self.clock.market_ms()

    def resume(self) -> None:
        """Continue from the same recording position, shifted by the length of the pause."""
        if self.paused:
            self.base_shift_ms += self.clock.market_ms() - self._pause_started_ms
            self.paused = False

    async def run(self) -> None:
        """Replay forever (until :meth:`stop`)."""
        while not self._stopping:
            try:
                handled = self.advance_to(self.clock.market_ms(), budget=_EVENTS_PER_SLICE)
            except Exception:  # a bug in a handler must not silently stop the market
                log.exception("replay handler failed; continuing with the next event")
                handled = 0
            if handled >= _EVENTS_PER_SLICE:
                await asyncio.sleep(0)
                continue
            next_due = self._next_tick_ms if self.paused else min(self.next_due_ms(), self._next_tick_ms)
            wait = self.clock.wall_seconds_until(next_due)
            await asyncio.sleep(min(max(wait, 0.0), 0.05))

    def start(self) -> asyncio.Task:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="venue-replay")
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
