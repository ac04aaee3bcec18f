"""Universes: several bar series on one clock, for portfolio strategies.

A universe is built from sources (files, ``sample:`` and ``cache:`` addresses, a folder of data
files, or a named ``universe:`` of embedded samples). Its bars are one wide frame whose columns are
``(field, symbol)`` pairs, so ``universe.bars["close"]`` is a ``bars x symbols`` frame, just as
``bars["close"]`` is a series for one symbol.

Alignment policy
----------------
Members must share a timeframe (mixed timeframes are an error, never resampled). Timestamps are
aligned, never filled:

- ``"intersect"`` (the default): keep only the timestamps at which *every* member has a bar. Every
  timestamp dropped is reported, per member that lacked it, in :attr:`Universe.alignment`.
- ``"strict"``: any timestamp that one member has and another lacks is a :class:`DataError`.

Members that do not overlap at all are an error under both policies.

Examples
--------
>>> from tradepulse.data.universe import load_universe
>>> universe = load_universe(["universe:binance-usdt-4h"])
>>> universe.symbols
('BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'BNB/USDT')
>>> universe.bars["close"].shape
(499, 4)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tradepulse.data.cache import CACHE_PREFIX, parse_cache_address
from tradepulse.data.readers import load_bars
from tradepulse.data.samples import SAMPLE_PREFIX, UNIVERSE_PREFIX, get_sample, get_universe
from tradepulse.data.schema import BAR_COLUMNS
from tradepulse.data.validate import format_timeframe, infer_timeframe
from tradepulse.errors import DataError

__all__ = [
    "ALIGNMENT_POLICIES",
    "AlignmentReport",
    "Universe",
    "expand_sources",
    "load_universe",
    "make_universe",
    "symbol_from_filename",
]

AlignmentPolicy = Literal["intersect", "strict"]
ALIGNMENT_POLICIES: tuple[str, ...] = ("intersect", "strict")
_DATA_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".parquet", ".pq")
# venue_BASE-QUOTE_timeframe.ext or venue_TICKER_timeframe.ext: binance_ETH-USDT_4h.csv.gz, yahoo_XLK_1d.csv.gz
_FILENAME = re.compile(r"^(?:[A-Za-z0-9]+_)?(?P<symbol>[A-Za-z0-9.]+(?:-[A-Za-z0-9.]+)*)_\d+[a-zA-Z]+$")
#: How many dropped timestamps each member lists in reports (the count is always complete).
EXAMPLES = 5


@dataclass(frozen=True)
class AlignmentReport:
    """What aligning the members on one clock did: the policy, the clock and every dropped timestamp."""

    policy: str
    timeframe: pd.Timedelta | None
    first: pd.Timestamp
    last: pd.Timestamp
    slots: int
    kept: int
    missing: Mapping[str, pd.DatetimeIndex] = field(default_factory=dict)
    outside_common_range: Mapping[str, int] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        """Timestamps some member had and the universe dropped because another lacked them."""
        return self.slots - self.kept

    @property
    def aligned(self) -> bool:
        """True when every member had a bar at every timestamp of the common range."""
        return self.dropped == 0

    def lines(self) -> list[str]:
        """Human-readable lines, one per member that lacked bars, for CLI output and notebooks."""
        lines = []
        for symbol, stamps in self.missing.items():
            if len(stamps):
                shown = ", ".join(t.isoformat() for t in stamps[:EXAMPLES])
                more = f" and {len(stamps) - EXAMPLES} more" if len(stamps) > EXAMPLES else ""
                lines.append(f"{symbol}: no bar at {len(stamps)} timestamp(s) the others have ({shown}{more}); dropped")
        for symbol, count in self.outside_common_range.items():
            if count:
                lines.append(f"{symbol}: {count} bar(s) outside the common range; dropped")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "timeframe": format_timeframe(self.timeframe),
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "slots": self.slots,
            "kept": self.kept,
            "dropped": self.dropped,
            "missing": {
                symbol: {"count": len(stamps), "examples": [t.isoformat() for t in stamps[:EXAMPLES]]}
                for symbol, stamps in self.missing.items()
                if len(stamps)
            },
            "outside_common_range": {s: n for s, n in self.outside_common_range.items() if n},
        }


@dataclass(frozen=True)
class Universe:
    """Several symbols' bars on one clock.

    ``bars`` has a UTC ``DatetimeIndex`` and ``(field, symbol)`` columns; ``bars["close"]`` is a
    ``bars x symbols`` frame in :attr:`symbols` order. ``sources`` maps each symbol to where its
    bars came from.
    """

    bars: pd.DataFrame
    symbols: tuple[str, ...]
    sources: Mapping[str, str]
    alignment: AlignmentReport

    @property
    def timeframe(self) -> pd.Timedelta | None:
        return self.alignment.timeframe

    def __len__(self) -> int:
        return len(self.bars)

    def member(self, symbol: str) -> pd.DataFrame:
        """Return one member's bars (on the universe's clock) as a single-symbol bar frame."""
        if symbol not in self.symbols:
            raise DataError(f"{symbol!r} is not in the universe; members: {', '.join(self.symbols)}")
        frame = self.bars.xs(symbol, axis=1, level="symbol")[list(BAR_COLUMNS)].copy()
        frame.columns.name = None
        frame.attrs["symbol"] = symbol
        frame.attrs["source"] = self.sources.get(symbol, "")
        return frame

    def field(self, name: str) -> pd.DataFrame:
        """Return one field (``"close"``, ``"open"`` ...) as a ``bars x symbols`` frame."""
        return self.bars[name]

    def slice(self, start: int | None = None, stop: int | None = None) -> Universe:
        """Return the universe restricted to rows ``start:stop`` (used by walk-forward windows)."""
        return Universe(self.bars.iloc[start:stop], self.symbols, self.sources, self.alignment)


def symbol_from_filename(path: str | Path) -> str | None:
    """Return the symbol a data file's name states, or None.

    ``binance_ETH-USDT_4h.csv.gz`` gives ``ETH/USDT`` (the first dash separates base and quote),
    ``yahoo_XLK_1d.csv.gz`` gives ``XLK``, ``binance_BTC-USDT-PERP_5m.csv.gz`` gives ``BTC/USDT-PERP``.
    """
    name = Path(str(path)).name
    for suffix in _DATA_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    match = _FILENAME.match(name)
    if not match:
        return None
    return match.group("symbol").replace("-", "/", 1)


def symbol_of_source(source: str, bars: pd.DataFrame | None = None) -> str | None:
    """Return the symbol a source names through its data (sample, cache entry, file), else from its file name."""
    if source.startswith(SAMPLE_PREFIX):
        return get_sample(source).symbol
    if source.startswith(CACHE_PREFIX):
        return parse_cache_address(source)[1]
    if bars is not None and bars.attrs.get("symbol"):
        return str(bars.attrs["symbol"])
    return symbol_from_filename(source)


def expand_sources(sources: Sequence[str | Path]) -> list[str]:
    """Expand ``universe:`` names and folders into member sources, keeping the given order.

    A folder contributes its data files (CSV, CSV.gz, Parquet) sorted by name; an empty folder is an error.
    """
    expanded: list[str] = []
    for source in sources:
        text = str(source)
        if text.startswith(UNIVERSE_PREFIX):
            expanded.extend(member.address for member in get_universe(text))
            continue
        if not text.startswith((SAMPLE_PREFIX, CACHE_PREFIX)):
            path = Path(text).expanduser()
            if path.is_dir():
                files = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_DATA_SUFFIXES))
                if not files:
                    raise DataError(f"{text}: the folder holds no data files (.csv, .csv.gz, .parquet)")
                expanded.extend(str(p) for p in files)
                continue
        expanded.append(text)
    return expanded


def load_universe(
    sources: Sequence[str | Path],
    *,
    symbols: Mapping[str, str] | None = None,
    align: AlignmentPolicy = "intersect",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> Universe:
    """Load several sources into a :class:`Universe` on one clock.

    Parameters
    ----------
    sources
        Files, ``sample:``/``cache:`` addresses, folders of data files or ``universe:<name>``.
    symbols
        Overrides ``{source: symbol}`` for members whose symbol their data and name do not give
        (``--symbol FILE=SYMBOL`` on the command line).
    align
        ``"intersect"`` or ``"strict"``; see the module documentation.
    start, end
        Optional inclusive bounds applied to every member before alignment.
    """
    overrides = {str(k): v for k, v in (symbols or {}).items()}
    members: dict[str, pd.DataFrame] = {}
    origin: dict[str, str] = {}
    expanded = expand_sources(sources)
    unused = set(overrides) - set(expanded) - {str(Path(s).name) for s in expanded}
    if unused:
        raise DataError(f"--symbol names {sorted(unused)[0]!r}, which is not one of the sources")
    for source in expanded:
        bars = load_bars(source, start=start, end=end)
        symbol = overrides.get(source) or overrides.get(Path(source).name) or symbol_of_source(source, bars)
        if not symbol:
            raise DataError(
                f"{source}: cannot tell its symbol from the data or the file name; "
                "name it venue_BASE-QUOTE_timeframe.csv or pass --symbol FILE=SYMBOL"
            )
        if symbol in members:
            raise DataError(f"{symbol} appears twice in the universe ({origin[symbol]} and {source})")
        members[symbol] = bars
        origin[symbol] = source
    return make_universe(members, sources=origin, align=align)


def make_universe(
    members: Mapping[str, pd.DataFrame], *, sources: Mapping[str, str] | None = None, align: AlignmentPolicy = "intersect"
) -> Universe:
    """Align ready-made bar frames ``{symbol: bars}`` into a :class:`Universe`."""
    if align not in ALIGNMENT_POLICIES:
        raise DataError(f"unknown alignment policy {align!r}; use one of {', '.join(ALIGNMENT_POLICIES)}")
    if len(members) < 1:
        raise DataError("a universe needs at least one member")
    timeframes = {symbol: infer_timeframe(bars.index) for symbol, bars in members.items()}
    distinct = {tf for tf in timeframes.values() if tf is not None}
    if len(distinct) > 1:
        listed = ", ".join(f"{s} {format_timeframe(tf)}" for s, tf in timeframes.items())
        raise DataError(f"members have different timeframes ({listed}); resample them to one before combining")
    timeframe = next(iter(distinct)) if distinct else None
    first = max(bars.index[0] for bars in members.values())
    last = min(bars.index[-1] for bars in members.values())
    if first > last:
        raise DataError("the members' time ranges do not overlap; there is no common clock")
    outside = {s: int(((b.index < first) | (b.index > last)).sum()) for s, b in members.items()}
    in_range = {s: b.loc[(b.index >= first) & (b.index <= last)] for s, b in members.items()}
    union = in_range[next(iter(in_range))].index
    for bars in in_range.values():
        union = union.union(bars.index)
    missing = {symbol: union.difference(bars.index) for symbol, bars in in_range.items()}
    common = union
    for stamps in missing.values():
        common = common.difference(stamps)
    if align == "strict":
        for symbol, stamps in missing.items():
            if len(stamps):
                raise DataError(
                    f"{symbol} has no bar at {stamps[0].isoformat()} (and {len(stamps) - 1} more timestamps) where other "
                    "members do; the strict alignment policy refuses it (the default, intersect, drops such timestamps)"
                )
    if len(common) == 0:
        raise DataError("the members share no timestamp; there is no common clock")
    report = AlignmentReport(
        policy=align,
        timeframe=timeframe,
        first=common[0],
        last=common[-1],
        slots=len(union),
        kept=len(common),
        missing=missing,
        outside_common_range=outside,
    )
    symbols = tuple(members)
    frames = {symbol: in_range[symbol].loc[common, list(BAR_COLUMNS)] for symbol in symbols}
    wide = pd.concat(frames, axis=1, names=["symbol", "field"]).swaplevel(axis=1)
    wide = wide.reindex(columns=pd.MultiIndex.from_product([list(BAR_COLUMNS), list(symbols)], names=["field", "symbol"]))
    wide.index.name = "timestamp"
    return Universe(bars=wide, symbols=symbols, sources=dict(sources or {}), alignment=report)
