"""What a replay (or a live session) did: fills, round-trip trades and P&L, comparable with a backtest.

:meth:`ReplayReport.to_dict` has the keys ``tradepulse backtest --json`` has for the same things
(``fills`` with ``time, side, quantity, price, fee, target``; ``trades`` as the number of positions
opened; ``trade_list``; ``final_equity``, ``total_return``, ``start``, ``end``, ``bars``), so the two
can be compared line by line. Amounts are exact Decimals inside; JSON output turns them into
numbers (the journal keeps the exact text).

A long replay makes tens of thousands of fills: :class:`FillLog` keeps the latest thousand in
memory and the rest in a temporary file, and :meth:`ReplayReport.to_json_parts` gives the report's
content with its lists as iterators, which ``tradepulse live replay --json`` writes an item at a
time. What the report holds stays the same size however long the replay.
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any, overload

from tradepulse.model.events import Bar
from tradepulse.model.orders import Side
from tradepulse.model.venue import VenueFill

__all__ = ["FillLog", "FillRecord", "ReplayReport", "iter_round_trips", "round_trips"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillRecord:
    """One applied fill, with the target exposure its order served."""

    time: datetime
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    target: float | None
    client_order_id: str
    trade_id: str
    symbol: str = ""

    def to_dict(self, *, with_symbol: bool = False) -> dict[str, Any]:
        """JSON-ready (numbers as floats), with the ``symbol`` when a report spans several."""
        return {
            "time": self.time,
            **({"symbol": self.symbol} if with_symbol else {}),
            "side": str(self.side),
            "quantity": float(self.quantity),
            "price": float(self.price),
            "fee": float(self.fee),
            "target": self.target,
            "client_order_id": self.client_order_id,
            "trade_id": self.trade_id,
        }


class FillLog(Sequence[FillRecord]):
    """The fills of a run, oldest first: a read-only sequence that holds at most ``buffer`` of them in memory.

    Every ``buffer`` fills (:attr:`BUFFER` unless given) go to a temporary file (pickled, exact)
    that is deleted with the log; iterating reads them back a ``buffer`` at a time. It compares
    equal to a list of the same fills.

    Examples
    --------
    >>> log = FillLog(buffer=2)
    >>> len(log), log == []
    (0, True)
    """

    #: Fills held in memory by default (a few hundred KB).
    BUFFER = 1_000
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, fills: Iterable[FillRecord] = (), *, buffer: int | None = None) -> None:
        buffer = self.BUFFER if buffer is None else buffer
        if buffer < 1:
            raise ValueError(f"buffer must be at least 1, got {buffer}")
        self._buffer = buffer
        self._recent: list[FillRecord] = []
        self._offsets: list[int] = []  # where each spilled block of ``buffer`` fills starts in the file
        self._file: IO[bytes] | None = None
        for fill in fills:
            self.append(fill)

    def append(self, fill: FillRecord) -> None:
        """Add the next fill."""
        self._recent.append(fill)
        if len(self._recent) >= self._buffer:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="tradepulse-fills-")
            weakref.finalize(self, self._file.close)
        self._file.seek(0, 2)
        self._offsets.append(self._file.tell())
        pickle.dump(self._recent, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._recent = []

    def _block(self, index: int) -> tuple[list[FillRecord], int]:
        """The block holding fill ``index`` (0 <= index < len) and the index of its first fill."""
        spilled = len(self._offsets) * self._buffer
        if index >= spilled:
            return self._recent, spilled
        block = index // self._buffer
        assert self._file is not None
        self._file.seek(self._offsets[block])
        return pickle.load(self._file), block * self._buffer

    def __len__(self) -> int:
        return len(self._offsets) * self._buffer + len(self._recent)

    def __iter__(self) -> Iterator[FillRecord]:
        return self._from(0)

    def _from(self, done: int) -> Iterator[FillRecord]:
        while done < len(self):  # fills appended while iterating are yielded too
            block, first = self._block(done)
            for fill in block[done - first:]:
                yield fill
                done += 1

    @overload
    def __getitem__(self, index: int) -> FillRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[FillRecord]: ...

    def __getitem__(self, index: int | slice) -> FillRecord | list[FillRecord]:
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            if not positions:
                return []
            low, high = min(positions), max(positions)
            window = list(itertools.islice(self._from(low), high + 1 - low))
            return [window[position - low] for position in positions]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("fill index out of range")
        block, first = self._block(position)
        return block[position - first]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (FillLog, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(mine == theirs for mine, theirs in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"FillLog({len(self)} fills)"

    def __reduce__(self) -> tuple[Any, ...]:
        return _fill_log, (list(self), self._buffer)


def _fill_log(fills: list[FillRecord], buffer: int) -> FillLog:
    return FillLog(fills, buffer=buffer)


@dataclass
class ReplayReport:
    """Fills, bars and P&L of one engine run.

    ``capital`` is the quote currency the strategy started with; ``final_equity`` is capital plus
    net P&L with the position marked at the last bar's close (like the backtest's final value).
    ``fills`` is a :class:`FillLog` (a list given here becomes one).
    """

    symbol: str
    capital: Decimal
    fills: FillLog = field(default_factory=FillLog)
    bars: int = 0
    start: datetime | None = None
    end: datetime | None = None
    final_equity: Decimal | None = None
    position: Decimal = ZERO
    orders: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.fills, FillLog):
            self.fills = FillLog(self.fills)

    def record_fill(self, fill: VenueFill, target: float | None) -> None:
        """Add one applied fill."""
        self.fills.append(FillRecord(fill.at, fill.side, fill.quantity, fill.price, fill.fee, target, fill.client_order_id, fill.trade_id, fill.symbol))

    def record_bar(self, bar: Bar, equity: Decimal, position: Decimal) -> None:
        """Count a closed bar and remember equity and position at its close."""
        self.bars += 1
        self.start = self.start or bar.start
        self.end = bar.start
        self.final_equity = equity
        self.position = position

    @property
    def pnl(self) -> Decimal:
        """Final equity minus capital (net of fees)."""
        return (self.final_equity if self.final_equity is not None else self.capital) - self.capital

    @property
    def total_return(self) -> float:
        return float(self.pnl / self.capital) if self.capital else 0.0

    @property
    def fees_paid(self) -> Decimal:
        return sum((fill.fee for fill in self.fills), ZERO)

    def trade_list(self) -> list[dict[str, Any]]:
        """Round trips, as :func:`round_trips` builds them."""
        return round_trips(self.fills)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (numbers as floats, times as ISO-8601 UTC via the CLI's encoder)."""
        trades = self.trade_list()
        return {**self._summary(len(trades)), "fills": [fill.to_dict() for fill in self.fills], "trade_list": trades}

    def to_json_parts(self) -> tuple[dict[str, Any], dict[str, Iterator[dict[str, Any]]]]:
        """:meth:`to_dict`'s content without building its lists: the other keys, and ``fills`` and
        ``trade_list`` as iterators (each reads the fills once), to follow them in that order."""
        trades = sum(1 for _ in iter_round_trips(self.fills))
        return self._summary(trades), {
            "fills": (fill.to_dict() for fill in self.fills),
            "trade_list": iter_round_trips(self.fills),
        }

    def _summary(self, trades: int) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "init_cash": float(self.capital),
            "final_equity": float(self.final_equity if self.final_equity is not None else self.capital),
            "pnl": float(self.pnl),
            "total_return": self.total_return,
            "fees_paid": float(self.fees_paid),
            "position": float(self.position),
            "trades": trades,
            "orders": dict(self.orders),
            **self.details,
        }

    def summary_lines(self) -> list[str]:
        """Human-readable fills and P&L, one line each."""
        width = max((len(_iso(fill.time)) for fill in self.fills), default=0)
        width = max(len("time"), width) + 2
        lines = [f"{'time':<{width}}{'side':<6}{'quantity':>16}{'price':>16}{'fee':>14}"]
        for fill in self.fills:
            lines.append(f"{_iso(fill.time):<{width}}{fill.side!s:<6}{fill.quantity:>16.8f}{fill.price:>16.4f}{fill.fee:>14.6f}")
        lines += [
            "",
            f"bars            {self.bars}  ({_iso(self.start) if self.start else '-'} .. {_iso(self.end) if self.end else '-'})",
            f"fills           {len(self.fills)}",
            f"trades          {len(self.trade_list())}",
            f"fees paid       {self.fees_paid:.6f}",
            f"final equity    {float(self.final_equity or self.capital):,.4f}",
            f"pnl             {float(self.pnl):,.4f}",
            f"total return    {self.total_return:.4%}",
        ]
        return lines


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def round_trips(fills: Iterable[FillRecord]) -> list[dict[str, Any]]:
    """Group fills into positions, as the backtest counts trades (the list :func:`iter_round_trips` yields)."""
    return list(iter_round_trips(fills))


def iter_round_trips(fills: Iterable[FillRecord]) -> Iterator[dict[str, Any]]:
    """Yield the trades ``fills`` make, in the order they close (a trade still open last).

    A trade opens when the position leaves zero (or flips through it) and closes when it returns to
    zero (or flips); fills on the position's side add to it. P&L is net of the trade's fees.
    """
    position = ZERO
    current: dict[str, Any] | None = None
    for fill in fills:
        signed = fill.quantity * fill.side.sign
        remaining, fee_left = signed, fill.fee
        while remaining != 0:
            if current is None:
                current = {"entry_time": fill.time, "direction": 1 if remaining > 0 else -1, "entry_qty": ZERO, "entry_cost": ZERO,
                           "exit_qty": ZERO, "exit_value": ZERO, "fees": ZERO}
            direction = current["direction"]
            if (remaining > 0) == (direction > 0):  # adds to the position
                current["entry_qty"] += abs(remaining)
                current["entry_cost"] += abs(remaining) * fill.price
                current["fees"] += fee_left
                position += remaining
                remaining, fee_left = ZERO, ZERO
                continue
            closing = min(abs(remaining), abs(position))
            share = fee_left * closing / abs(remaining)
            current["exit_qty"] += closing
            current["exit_value"] += closing * fill.price
            current["fees"] += share
            fee_left -= share
            position += closing if remaining > 0 else -closing
            remaining += closing if remaining < 0 else -closing
            if position == 0:
                yield _trade(current, fill.time, closed=True)
                current = None
    if current is not None:
        yield _trade(current, None, closed=False)


def _trade(current: dict[str, Any], exit_time: datetime | None, *, closed: bool) -> dict[str, Any]:
    entry_price = current["entry_cost"] / current["entry_qty"]
    exit_price = current["exit_value"] / current["exit_qty"] if current["exit_qty"] else None
    gross = (current["exit_value"] - entry_price * current["exit_qty"]) * current["direction"]
    return {
        "entry_time": current["entry_time"],
        "exit_time": exit_time,
        "side": "long" if current["direction"] > 0 else "short",
        "quantity": float(current["entry_qty"]),
        "entry_price": float(entry_price),
        "exit_price": float(exit_price) if exit_price is not None else None,
        "pnl": float(gross - current["fees"]) if closed else None,
        "fees": float(current["fees"]),
        "status": "closed" if closed else "open",
    }
