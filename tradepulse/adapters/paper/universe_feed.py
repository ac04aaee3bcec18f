"""Several symbols' market data on one clock: a universe's bars, or several tick recordings, merged.

Events are merged by time. At one instant, bar closes come before bar opens, so every member's
bar of a period has closed (and the portfolio engine has decided) before the first price of the
next period arrives; otherwise members keep the order given, and each member's own events keep
theirs. That makes a universe replay deterministic and equal, bar for bar, to the portfolio
backtest's clock.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pandas as pd

from tradepulse.adapters.paper.feeds import BarReplayFeed, fine_instrument
from tradepulse.data.universe import Universe
from tradepulse.errors import ConfigError
from tradepulse.model.events import BarClose, MarketEvent
from tradepulse.model.instruments import Instrument

__all__ = ["MergedFeed", "UniverseReplayFeed"]


def _rank(event: MarketEvent) -> int:
    return 0 if isinstance(event, BarClose) else 1


class MergedFeed:
    """Merge several single-symbol feeds (each with ``kind``, ``instrument``, ``events()``) into one.

    Parameters
    ----------
    feeds
        One feed per member, all of the same kind (bars or ticks), each of a different symbol.
    """

    def __init__(self, feeds: Sequence[Any]) -> None:
        if not feeds:
            raise ConfigError("a merged feed needs at least one member feed")
        kinds = {feed.kind for feed in feeds}
        if len(kinds) != 1:
            raise ConfigError(f"cannot mix bar and tick sources in one replay ({', '.join(sorted(kinds))})")
        symbols = [feed.instrument.symbol for feed in feeds]
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"each member must be a different symbol, got {', '.join(symbols)}")
        self.feeds = list(feeds)
        self.kind = kinds.pop()

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(feed.instrument.symbol for feed in self.feeds)

    @property
    def instruments(self) -> list[Instrument]:
        return [feed.instrument for feed in self.feeds]

    @property
    def instrument(self) -> Instrument:
        """The first member's instrument (what single-symbol callers read)."""
        return self.feeds[0].instrument

    def __len__(self) -> int:
        return sum(len(feed) for feed in self.feeds)

    def events(self) -> Iterator[MarketEvent]:
        """Yield every member's events in time order (closes before opens at one instant)."""
        return heapq.merge(*(feed.events() for feed in self.feeds), key=lambda event: (event.at, _rank(event)))

    async def __aiter__(self) -> AsyncIterator[MarketEvent]:
        for event in self.events():
            yield event


class UniverseReplayFeed(MergedFeed):
    """Replay a :class:`~tradepulse.data.universe.Universe`'s members as bars on its one clock.

    Parameters
    ----------
    universe
        The members (already aligned: every member has a bar at every timestamp).
    instruments
        How to trade each member; :func:`fine_instrument` for any not given.
    """

    def __init__(self, universe: Universe, *, instruments: dict[str, Instrument] | None = None) -> None:
        period = universe.timeframe
        if period is None:
            raise ConfigError("a universe replay needs at least 2 bars to know the bar length")
        given = instruments or {}
        feeds = [
            BarReplayFeed(
                universe.member(symbol), symbol, instrument=given.get(symbol) or fine_instrument(symbol),
                period=pd.Timedelta(period).to_pytimedelta(),
            )
            for symbol in universe.symbols
        ]
        super().__init__(feeds)
        self.universe = universe

    @property
    def period(self) -> timedelta:
        return self.feeds[0].period
