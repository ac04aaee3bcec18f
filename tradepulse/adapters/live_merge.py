"""Several live feeds as one: the market data of a portfolio's members, in arrival order.

Each member feed (e.g. a :class:`~tradepulse.adapters.ccxt.feed.CcxtFeed` per symbol) runs in a task
of its own and hands its events to one queue; the merged feed yields them as they arrive. A
member feed that ends or fails ends the merged feed (the engine must not trade a portfolio on part
of its data without knowing); its error is raised to the consumer. ``stats`` adds the members'
counters up, so reconnects are still counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.model.events import MarketEvent

__all__ = ["LiveMergedFeed"]

_END = object()


class LiveMergedFeed:
    """Merge live member feeds (async iterables with optional ``stop``/``aclose``/``stats``)."""

    def __init__(self, feeds: Sequence[Any]) -> None:
        if not feeds:
            raise ConfigError("a merged feed needs at least one member feed")
        self.feeds = list(feeds)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._stopped = False

    @property
    def stats(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for feed in self.feeds:
            total.update(getattr(feed, "stats", {}))
        return total

    def stop(self) -> None:
        """End the iteration after the events already queued."""
        if not self._stopped:
            self._stopped = True
            for feed in self.feeds:
                stop = getattr(feed, "stop", None)
                if callable(stop):
                    stop()
            self._queue.put_nowait(_END)

    async def aclose(self) -> None:
        """Stop, cancel the member tasks and close every member feed."""
        self.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for feed in self.feeds:
            aclose = getattr(feed, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _pump(self, feed: Any) -> None:
        try:
            async for event in feed:
                self._queue.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which decides
            self._queue.put_nowait(error)
            return
        self._queue.put_nowait(_END)

    async def __aiter__(self) -> AsyncIterator[MarketEvent]:
        self._tasks = [asyncio.create_task(self._pump(feed), name=f"tradepulse-merged-feed-{i}") for i, feed in enumerate(self.feeds)]
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self.aclose()
