"""Data-quality report for a universe: every member's own report, and how the members align on one clock.

Members are read as they are (duplicates and disorder kept, since finding them is the point) and each
gets :func:`tradepulse.data.validate_bars`. The alignment is the one :func:`tradepulse.data.load_universe`
would make; when it cannot be made (mixed timeframes, no overlap, the strict policy meeting a missing
bar, a symbol twice) that is one error line of the universe, not an exception, so the members'
reports are still shown.

Examples
--------
>>> from tradepulse.data.universe_quality import validate_universe
>>> report = validate_universe(["universe:bittrex-btc-5m"])
>>> report.ok, report.alignment.dropped
(True, 52)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tradepulse.data.readers import read_bars_unchecked
from tradepulse.data.universe import AlignmentPolicy, AlignmentReport, expand_sources, make_universe, symbol_of_source
from tradepulse.data.validate import QualityReport, validate_bars
from tradepulse.errors import DataError

__all__ = ["MemberReport", "UniverseQualityReport", "validate_universe"]


@dataclass(frozen=True)
class MemberReport:
    """One member: the symbol it goes by in the universe, where its bars came from, and its report."""

    symbol: str
    source: str
    report: QualityReport


@dataclass
class UniverseQualityReport:
    """What :func:`validate_universe` found, with :meth:`to_dict` for ``--json``."""

    policy: str
    members: list[MemberReport] = field(default_factory=list)
    alignment: AlignmentReport | None = None
    universe_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Each member's errors prefixed with its symbol, then the universe's own."""
        found = [f"{m.symbol}: {line}" for m in self.members for line in m.report.errors]
        return found + [f"universe: {line}" for line in self.universe_errors]

    @property
    def warnings(self) -> list[str]:
        """Each member's warnings prefixed with its symbol, then the timestamps alignment dropped."""
        found = [f"{m.symbol}: {line}" for m in self.members for line in m.report.warnings]
        if self.alignment is not None and self.alignment.dropped:
            found.append(
                f"universe: {self.alignment.dropped} of {self.alignment.slots} timestamp(s) dropped, "
                "some member lacks a bar there"
            )
        return found

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        alignment: dict[str, Any] | None = None
        if self.alignment is not None:
            alignment = {**self.alignment.to_dict(), "lines": self.alignment.lines()}
        return {
            "ok": self.ok,
            "policy": self.policy,
            "symbols": [m.symbol for m in self.members],
            "errors": self.errors,
            "warnings": self.warnings,
            "universe_errors": list(self.universe_errors),
            "members": [{"symbol": m.symbol, **m.report.to_dict()} for m in self.members],
            "alignment": alignment,
        }


def validate_universe(
    sources: Sequence[str | Path],
    *,
    symbols: Mapping[str, str] | None = None,
    align: AlignmentPolicy = "intersect",
    calendar: str | None = None,
    stale_bars: int = 24,
    outlier_z: float = 12.0,
) -> UniverseQualityReport:
    """Validate every member of a universe and the alignment of their timestamps.

    Parameters
    ----------
    sources
        As for :func:`tradepulse.data.load_universe`: files, ``sample:``/``cache:`` addresses,
        folders of data files or ``universe:<name>``.
    symbols
        Overrides ``{source or file name: symbol}`` for members whose data and name do not tell it.
    align
        ``"intersect"`` (dropped timestamps are warnings) or ``"strict"`` (any is an error).
    calendar, stale_bars, outlier_z
        Passed to :func:`tradepulse.data.validate_bars` for each member.

    Raises
    ------
    DataError
        A source cannot be read at all (missing file, missing columns, unknown sample or universe,
        an empty folder), or ``symbols`` names a file that is not one of the sources.
    """
    overrides = {str(k): v for k, v in (symbols or {}).items()}
    expanded = expand_sources(sources)
    unused = set(overrides) - set(expanded) - {Path(s).name for s in expanded}
    if unused:
        raise DataError(f"--symbol names {sorted(unused)[0]!r}, which is not one of the sources")
    result = UniverseQualityReport(policy=align)
    frames: dict[str, pd.DataFrame] = {}
    origin: dict[str, str] = {}
    for source in expanded:
        bars = read_bars_unchecked(source)
        symbol = overrides.get(source) or overrides.get(Path(source).name) or symbol_of_source(source, bars)
        if not symbol:
            result.universe_errors.append(
                f"{source}: cannot tell its symbol from the data or the file name; "
                "name it venue_BASE-QUOTE_timeframe.csv or pass --symbol FILE=SYMBOL"
            )
            symbol = Path(source).name
        report = validate_bars(bars, source=source, stale_bars=stale_bars, outlier_z=outlier_z, calendar=calendar)
        result.members.append(MemberReport(symbol, source, report))
        if symbol in frames:
            result.universe_errors.append(f"{symbol} appears twice in the universe ({origin[symbol]} and {source})")
            continue
        # Aligned on each member's distinct timestamps in order; its duplicates and disorder are its own errors.
        frames[symbol] = bars[~bars.index.duplicated()].sort_index()
        origin[symbol] = source
    empty = [symbol for symbol, bars in frames.items() if bars.empty]
    if empty:
        result.universe_errors.append(f"{', '.join(empty)}: no rows, so there is nothing to align")
        return result
    try:
        result.alignment = make_universe(frames, sources=origin, align=align).alignment
    except DataError as exc:
        result.universe_errors.append(str(exc))
    return result
