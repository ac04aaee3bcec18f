"""Replay feeds: OHLCV bars from any source ``load_bars`` reads, and recorded Binance tick streams.

A feed is an async iterable of market events (:mod:`tradepulse.model.events`) for one symbol, in
time order, plus the :class:`~tradepulse.execution.Instrument` to trade it with. Replay feeds do
not pace themselves: the engine's clock does (``SimulatedClock(speed=...)``).

Bar replay emits, for each bar, a :class:`BarOpen` at the bar's start (the open price: the
"next available price" after the previous bar closed, where the backtest fills) and a
:class:`BarClose` at its end. Recorded streams emit trades, book tickers, depth diffs and the
REST depth snapshot exactly as recorded (see ``tradepulse/data/recordings/ATTRIBUTION.md``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tradepulse.errors import DataError
from tradepulse.model.events import Bar, BarClose, BarOpen, BookTicker, DepthDiff, DepthSnapshot, MarketEvent, Trade
from tradepulse.model.instruments import Instrument

if TYPE_CHECKING:
    from tradepulse.data.streaming import BarStream

__all__ = [
    "RECORDINGS",
    "RECORDING_PREFIX",
    "BarReplayFeed",
    "Recording",
    "RecordingFeed",
    "fine_instrument",
    "get_recording",
    "is_recording_source",
    "open_feed",
]

RECORDING_PREFIX = "recording:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Finer than any real venue, so a replay of research data rounds quantities by at most 1e-8
# units: the backtest trades float fractions and parity should hold to that rounding.
FINE_STEP = Decimal("0.00000001")


def fine_instrument(symbol: str) -> Instrument:
    """A paper instrument for research data: tick and lot 1e-8, no minimums.

    ``BTC/USDT`` and ``BTC/USDT-PERP`` both trade BTC against USDT.

    Examples
    --------
    >>> fine_instrument("BTC/USDT-PERP").quote
    'USDT'
    """
    base, _, rest = symbol.partition("/")
    quote = rest.split("-")[0].split(":")[0] if rest else "QUOTE"
    return Instrument(symbol, base or "ASSET", quote, tick_size=FINE_STEP, lot_size=FINE_STEP)


@dataclass(frozen=True)
class Recording:
    """One embedded tick recording: a symbol's consecutive capture files and its real venue filters."""

    name: str
    symbol: str
    filenames: tuple[str, ...]
    instrument: Instrument
    description: str

    @property
    def paths(self) -> list[Path]:
        folder = resources.files("tradepulse.data") / "recordings"
        return [Path(str(folder / filename)) for filename in self.filenames]

    @property
    def address(self) -> str:
        return f"{RECORDING_PREFIX}{self.name}"


def _spot(symbol: str, base: str, lot: str) -> Instrument:
    # Binance spot filters for these pairs in August 2024 (PRICE_FILTER, LOT_SIZE, NOTIONAL).
    return Instrument(symbol, base, "USDT", tick_size=Decimal("0.01"), lot_size=Decimal(lot), min_notional=Decimal("5"))


RECORDINGS: dict[str, Recording] = {
    recording.name: recording
    for recording in (
        Recording(
            "binance:BTC/USDT",
            "BTC/USDT",
            ("binance_spot_BTCUSDT_20240808_stream.jsonl.gz", "binance_spot_BTCUSDT_20240809_stream.jsonl.gz"),
            _spot("BTC/USDT", "BTC", "0.00001"),
            "Binance spot BTCUSDT trade, bookTicker, depth@100ms and a REST snapshot, 2024-08-08 23:54 to 08-09 00:05 UTC",
        ),
        Recording(
            "binance:ETH/USDT",
            "ETH/USDT",
            ("binance_spot_ETHUSDT_20240808_stream.jsonl.gz", "binance_spot_ETHUSDT_20240809_stream.jsonl.gz"),
            _spot("ETH/USDT", "ETH", "0.0001"),
            "Binance spot ETHUSDT trade, bookTicker, depth@100ms and a REST snapshot, 2024-08-08 23:54 to 08-09 00:05 UTC",
        ),
    )
}


def get_recording(name: str) -> Recording:
    """Return the embedded recording ``name`` (``binance:BTC/USDT``, with or without ``recording:``)."""
    key = name[len(RECORDING_PREFIX) :] if name.startswith(RECORDING_PREFIX) else name
    try:
        return RECORDINGS[key]
    except KeyError:
        known = ", ".join(recording.address for recording in RECORDINGS.values())
        raise DataError(f"unknown recording {name!r}; available: {known}") from None


def is_recording_source(source: str | Path) -> bool:
    """Whether ``source`` names tick data (``recording:...`` or a ``.jsonl``/``.jsonl.gz`` file)."""
    text = str(source)
    return text.startswith(RECORDING_PREFIX) or text.endswith((".jsonl", ".jsonl.gz"))


class BarReplayFeed:
    """Replay bars as :class:`BarOpen` / :class:`BarClose` events.

    Parameters
    ----------
    bars
        A frame as :func:`tradepulse.data.load_bars` returns it (open times, OHLCV), or a
        :class:`~tradepulse.data.streaming.BarStream` of a Parquet file (what :meth:`from_source`
        opens for one): its bars are read a batch at a time while they are replayed, so a
        replay of a million bars does not hold them all.
    symbol
        The symbol the bars are of.
    instrument
        How to trade it; :func:`fine_instrument` by default.
    period
        Bar length; inferred from the most common spacing when omitted.
    """

    kind = "bars"

    def __init__(self, bars: pd.DataFrame | BarStream, symbol: str, *, instrument: Instrument | None = None, period: timedelta | None = None) -> None:
        if len(bars) < 2 and period is None:
            raise DataError(f"{symbol}: a bar replay needs at least 2 bars to know the bar length")
        self._frame = bars if isinstance(bars, pd.DataFrame) else None
        self._stream = None if isinstance(bars, pd.DataFrame) else bars
        self._count = len(bars)
        self.symbol = symbol
        self.instrument = instrument or fine_instrument(symbol)
        if period is None:
            if self._stream is not None:
                inferred = self._stream.step
            else:
                from tradepulse.data import infer_timeframe

                inferred = infer_timeframe(bars.index)  # type: ignore[union-attr]
            period = pd.Timedelta(inferred).to_pytimedelta()
        self.period = period

    @classmethod
    def from_source(
        cls, source: str | Path, *, symbol: str | None = None, start: str | None = None, end: str | None = None
    ) -> BarReplayFeed:
        """Open ``source`` (a sample or a file, as :func:`tradepulse.data.load_bars` reads them) for a replay.

        A Parquet file is streamed (:func:`~tradepulse.data.streaming.open_bar_stream`); other
        sources are loaded whole with ``load_bars``.
        """
        from tradepulse.data import get_sample, load_bars
        from tradepulse.data.samples import SAMPLE_PREFIX
        from tradepulse.data.streaming import open_bar_stream

        bars: pd.DataFrame | BarStream | None = open_bar_stream(source, start=start, end=end)
        if bars is None:
            bars = load_bars(source, start=start, end=end)
        if symbol is None:
            symbol = get_sample(str(source)).symbol if str(source).startswith(SAMPLE_PREFIX) else "ASSET/QUOTE"
        return cls(bars, symbol)

    @property
    def bars(self) -> pd.DataFrame:
        """The bars as one frame (a streamed file is read whole for it, once)."""
        if self._frame is None:
            assert self._stream is not None
            self._frame = self._stream.frame()
        return self._frame

    @property
    def streamed(self) -> bool:
        """Whether the replay reads its bars from the file a batch at a time."""
        return self._stream is not None

    def __len__(self) -> int:
        """Number of events the replay yields (two per bar)."""
        return 2 * self._count

    def events(self, chunk: int = 10_000) -> Iterator[MarketEvent]:
        """Yield the events in order (synchronously; ``async for`` over the feed does the same).

        Bars are converted ``chunk`` at a time: a million bars as Python datetimes and floats at
        once would hold a hundred-odd MB for the whole replay.
        """
        if self._stream is not None:
            parts: Iterable[pd.DataFrame] = self._stream.frames(chunk)
        else:
            frame = self.bars
            parts = (frame.iloc[first:first + chunk] for first in range(0, len(frame), chunk))
        for part in parts:
            starts = part.index.to_pydatetime()
            values = part[["open", "high", "low", "close", "volume"]].to_numpy(dtype=float).tolist()
            for start, (open_, high, low, close, volume) in zip(starts, values, strict=True):
                yield BarOpen(self.symbol, start, open_)
                yield BarClose(Bar(self.symbol, start, start + self.period, open_, high, low, close, volume))

    async def __aiter__(self) -> AsyncIterator[MarketEvent]:
        for event in self.events():
            yield event


class RecordingFeed:
    """Replay recorded Binance combined-stream lines (``{"recv_ns", "stream", "data"}`` per line).

    Event times are Binance's own (``T`` for trades, ``E`` for depth); book tickers and the REST
    snapshot carry none, so they get the receive time corrected by the collector's clock offset
    measured on the latest event that had one. Times never go backwards.

    Parameters
    ----------
    paths
        One or more ``.jsonl.gz`` files, replayed one after the other (a recording split at
        midnight is two consecutive files).
    symbol
        TradePulse's symbol for the stream (``BTC/USDT``).
    instrument
        How to trade it (the embedded recordings use Binance's real spot filters).
    """

    kind = "ticks"

    def __init__(self, paths: Sequence[str | Path], symbol: str, *, instrument: Instrument | None = None) -> None:
        self.paths = [Path(path) for path in paths]
        for path in self.paths:
            if not path.exists():
                raise DataError(f"{path}: no such recording file")
        self.symbol = symbol
        self.instrument = instrument or fine_instrument(symbol)

    @classmethod
    def from_source(cls, source: str | Path, *, symbol: str | None = None) -> RecordingFeed:
        """Open ``recording:<name>`` (embedded) or a ``.jsonl.gz`` file of the same format."""
        text = str(source)
        if text.startswith(RECORDING_PREFIX):
            recording = get_recording(text)
            return cls(recording.paths, symbol or recording.symbol, instrument=recording.instrument)
        return cls([Path(text).expanduser()], symbol or "ASSET/QUOTE")

    def events(self) -> Iterator[MarketEvent]:
        """Yield every event of every file, in recorded order."""
        offset_ns = 0
        last_at = _EPOCH
        for path in self.paths:
            for number, line in enumerate(_lines(path), start=1):
                try:
                    record = json.loads(line)
                    event, offset_ns = self._event(record, offset_ns)
                except (KeyError, TypeError, ValueError, ArithmeticError) as error:
                    raise DataError(f"{path.name} line {number}: not a recorded Binance stream event ({error})") from None
                if event is None:
                    continue
                if event.at < last_at:
                    event = _retimed(event, last_at)
                last_at = event.at
                yield event

    async def __aiter__(self) -> AsyncIterator[MarketEvent]:
        for event in self.events():
            yield event

    def _event(self, record: dict[str, Any], offset_ns: int) -> tuple[MarketEvent | None, int]:
        stream, data, received_ns = record["stream"], record["data"], int(record["recv_ns"])
        if "E" in data:
            offset_ns = int(data["E"]) * 1_000_000 - received_ns
        corrected = _from_ns(received_ns + offset_ns)
        if stream.endswith("@trade"):
            event = Trade(self.symbol, _from_ms(data["T"]), Decimal(data["p"]), Decimal(data["q"]), str(data["t"]), bool(data["m"]))
        elif stream.endswith("@bookTicker"):
            event = BookTicker(self.symbol, corrected, Decimal(data["b"]), Decimal(data["B"]), Decimal(data["a"]), Decimal(data["A"]), int(data["u"]))
        elif "@depth" in stream:
            event = DepthDiff(self.symbol, _from_ms(data["E"]), int(data["U"]), int(data["u"]), _levels(data["b"]), _levels(data["a"]))
        elif stream.startswith("rest:") and "depth" in stream:
            event = DepthSnapshot(self.symbol, corrected, int(data["lastUpdateId"]), _levels(data["bids"]), _levels(data["asks"]))
        else:
            event = None  # a stream this replay does not model
        return event, offset_ns


def open_feed(
    source: str | Path, *, symbol: str | None = None, start: str | None = None, end: str | None = None
) -> BarReplayFeed | RecordingFeed:
    """Open a replay feed: tick data for ``recording:...`` or ``.jsonl.gz``, else bars via ``load_bars``."""
    if is_recording_source(source):
        if start is not None or end is not None:
            raise DataError("--start/--end select bars; a tick recording is replayed whole")
        return RecordingFeed.from_source(source, symbol=symbol)
    return BarReplayFeed.from_source(source, symbol=symbol, start=start, end=end)


def _lines(path: Path) -> Iterable[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield line
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None


def _levels(rows: list[list[str]]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(price), Decimal(quantity)) for price, quantity in rows)


def _from_ms(milliseconds: int | str) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(milliseconds))


def _from_ns(nanoseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=nanoseconds // 1_000)


def _retimed(event: MarketEvent, at: datetime) -> MarketEvent:
    from dataclasses import replace

    return replace(event, at=at)  # type: ignore[type-var]
