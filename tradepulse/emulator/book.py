"""The replayed order book of one symbol: a REST snapshot plus ``depthUpdate`` diffs.

Levels keep the recorded price and quantity strings, so snapshots and top-of-book answers are the
recorded bytes. Client orders never change this book (they are invisible to the recording), but a
client order that takes liquidity marks it *consumed* at that level; the mark lasts until the next
recorded change of the level, which states the level's real quantity again.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from decimal import Decimal

from tradepulse.emulator.decimals import ZERO

__all__ = ["OrderBook", "Level"]

Level = tuple[str, str]  # (price, quantity) as Binance prints them


class _Side:
    """One side of the book: price -> (price text, qty text), plus an ascending price list."""

    __slots__ = ("levels", "prices", "consumed")

    def __init__(self) -> None:
        self.levels: dict[float, Level] = {}
        self.prices: list[float] = []
        self.consumed: dict[float, Decimal] = {}

    def clear(self) -> None:
        self.levels.clear()
        self.prices.clear()
        self.consumed.clear()

    def set(self, price_text: str, qty_text: str) -> None:
        price = float(price_text)
        self.consumed.pop(price, None)
        if float(qty_text) == 0.0:
            if self.levels.pop(price, None) is not None:
                del self.prices[bisect_left(self.prices, price)]
            return
        if price not in self.levels:
            insort(self.prices, price)
        self.levels[price] = (price_text, qty_text)


class OrderBook:
    """Bids and asks with the id of the last applied update (``lastUpdateId``)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.last_update_id = 0
        self._bids = _Side()
        self._asks = _Side()

    def load_snapshot(self, last_update_id: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        """Replace the whole book with a snapshot."""
        self._bids.clear()
        self._asks.clear()
        for price, qty in bids:
            self._bids.set(price, qty)
        for price, qty in asks:
            self._asks.set(price, qty)
        self.last_update_id = last_update_id

    def apply_diff(self, final_update_id: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        """Apply one ``depthUpdate``: each level's quantity is replaced (zero removes it)."""
        for price, qty in bids:
            self._bids.set(price, qty)
        for price, qty in asks:
            self._asks.set(price, qty)
        self.last_update_id = final_update_id

    def best_bid(self) -> Level | None:
        side = self._bids
        return side.levels[side.prices[-1]] if side.prices else None

    def best_ask(self) -> Level | None:
        side = self._asks
        return side.levels[side.prices[0]] if side.prices else None

    def top(self, limit: int) -> tuple[list[Level], list[Level]]:
        """Return the best ``limit`` bids (high to low) and asks (low to high)."""
        bids = [self._bids.levels[p] for p in reversed(self._bids.prices[-limit:])] if limit > 0 else []
        asks = [self._asks.levels[p] for p in self._asks.prices[:limit]]
        return bids, asks

    def all_levels(self) -> tuple[dict[float, Level], dict[float, Level]]:
        """Return copies of every bid and ask level (used to build the loop-bridging diff)."""
        return dict(self._bids.levels), dict(self._asks.levels)

    def depth(self) -> tuple[int, int]:
        """Return the number of bid and ask levels."""
        return len(self._bids.prices), len(self._asks.prices)

    # --- liquidity for the matching engine -------------------------------------------------

    def liquidity(self, taker_side: str, limit_price: Decimal | None) -> Iterator[tuple[Decimal, Decimal, float]]:
        """Yield ``(price, available qty, key)`` a taker on ``taker_side`` can trade, best first.

        A BUY taker walks the asks upwards, a SELL taker the bids downwards, stopping beyond
        ``limit_price``. Available is the recorded quantity minus what clients already consumed.
        """
        side = self._asks if taker_side == "BUY" else self._bids
        prices = side.prices if taker_side == "BUY" else reversed(side.prices)
        for key in list(prices):
            level = side.levels.get(key)
            if level is None:
                continue
            price = Decimal(level[0])
            if limit_price is not None:
                if taker_side == "BUY" and price > limit_price:
                    return
                if taker_side == "SELL" and price < limit_price:
                    return
            available = Decimal(level[1]) - side.consumed.get(key, ZERO)
            if available > 0:
                yield price, available, key

    def consume(self, taker_side: str, key: float, qty: Decimal) -> None:
        """Mark ``qty`` at level ``key`` as taken by a client order (until the level next changes)."""
        side = self._asks if taker_side == "BUY" else self._bids
        side.consumed[key] = side.consumed.get(key, ZERO) + qty

    def reset_consumed(self) -> None:
        """Forget every consumption mark (the loop bridge restates every level)."""
        self._bids.consumed.clear()
        self._asks.consumed.clear()
