"""A local order book kept in sync from a depth snapshot plus sequenced diffs (Binance rules).

Binance's rule for a local book: buffer the ``depthUpdate`` events, fetch a REST snapshot with
``lastUpdateId`` L, drop every buffered event with ``u <= L``, and start with the first event
where ``U <= L + 1 <= u``; from then on every event must have ``U == previous u + 1``. A hole in
the sequence means updates were lost, so the book is marked out of sync (``synced`` false) until
a new snapshot arrives: a stale book must never be used for fills.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Decimal

from tradepulse.model.events import DepthDiff, DepthSnapshot, PriceLevel

__all__ = ["OrderBook"]

ZERO = Decimal(0)
# Diffs kept while waiting for a snapshot; Binance sends one every 100 ms, so this is minutes.
_MAX_BUFFERED = 5_000


class _Side:
    """One side of the book: price -> quantity, with prices kept sorted ascending."""

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.quantities: dict[Decimal, Decimal] = {}
        self.prices: list[Decimal] = []

    def clear(self) -> None:
        self.quantities.clear()
        self.prices.clear()

    def set(self, price: Decimal, quantity: Decimal) -> None:
        if quantity == 0:
            if self.quantities.pop(price, None) is not None:
                del self.prices[bisect_left(self.prices, price)]
            return
        if price not in self.quantities:
            insort(self.prices, price)
        self.quantities[price] = quantity

    def best(self) -> PriceLevel | None:
        if not self.prices:
            return None
        price = self.prices[-1] if self.descending else self.prices[0]
        return price, self.quantities[price]

    def best_first(self) -> Iterator[PriceLevel]:
        prices = reversed(self.prices) if self.descending else iter(self.prices)
        for price in prices:
            yield price, self.quantities[price]


class OrderBook:
    """The book of one symbol: snapshot + diffs, with sequence checks.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from decimal import Decimal as D
    >>> at = datetime(2024, 8, 8, tzinfo=timezone.utc)
    >>> book = OrderBook("BTC/USDT")
    >>> book.apply_snapshot(DepthSnapshot("BTC/USDT", at, 10, ((D("100"), D("1")),), ((D("101"), D("2")),)))
    >>> book.apply_diff(DepthDiff("BTC/USDT", at, 11, 12, ((D("100"), D("0")),), ((D("100.5"), D("1")),)))
    True
    >>> book.best_bid(), book.best_ask()
    (None, (Decimal('100.5'), Decimal('1')))
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = _Side(descending=True)
        self.asks = _Side(descending=False)
        self.last_update_id: int | None = None
        self.synced = False
        self.gaps = 0
        self._buffer: deque[DepthDiff] = deque(maxlen=_MAX_BUFFERED)
        self._bridged = False  # the first diff after the snapshot has been applied

    # -- updates ---------------------------------------------------------------------------------

    def apply_snapshot(self, snapshot: DepthSnapshot) -> None:
        """Replace the book with ``snapshot``, then apply the buffered diffs that follow it."""
        self.bids.clear()
        self.asks.clear()
        for price, quantity in snapshot.bids:
            self.bids.set(price, quantity)
        for price, quantity in snapshot.asks:
            self.asks.set(price, quantity)
        self.last_update_id = snapshot.last_update_id
        self.synced = True
        self._bridged = False
        buffered, self._buffer = list(self._buffer), deque(maxlen=_MAX_BUFFERED)
        for diff in buffered:
            self.apply_diff(diff)

    def apply_diff(self, diff: DepthDiff) -> bool:
        """Apply one diff; return whether it changed the book.

        Before a snapshot the diff is buffered; a diff at or before the book's update id is
        dropped; a diff that leaves a hole in the sequence marks the book out of sync.
        """
        if not self.synced:
            self._buffer.append(diff)
            return False
        assert self.last_update_id is not None
        if diff.last_update_id <= self.last_update_id:
            return False  # already contained in the snapshot
        expected = self.last_update_id + 1
        in_sequence = diff.first_update_id <= expected if not self._bridged else diff.first_update_id == expected
        if not in_sequence:
            self.synced = False
            self.gaps += 1
            self._buffer.clear()
            self._buffer.append(diff)
            return False
        self._set_levels(self.bids, diff.bids)
        self._set_levels(self.asks, diff.asks)
        self.last_update_id = diff.last_update_id
        self._bridged = True
        return True

    @staticmethod
    def _set_levels(side: _Side, levels: Iterable[PriceLevel]) -> None:
        for price, quantity in levels:
            side.set(price, quantity)

    # -- reading ---------------------------------------------------------------------------------

    def best_bid(self) -> PriceLevel | None:
        """The highest bid ``(price, quantity)``, or ``None``."""
        return self.bids.best()

    def best_ask(self) -> PriceLevel | None:
        """The lowest ask ``(price, quantity)``, or ``None``."""
        return self.asks.best()

    def levels(self, side: str) -> Iterator[PriceLevel]:
        """Levels of ``"bids"`` or ``"asks"``, best first."""
        return (self.bids if side == "bids" else self.asks).best_first()

    def depth(self, side: str) -> Decimal:
        """Total quantity on one side."""
        return sum((quantity for _, quantity in self.levels(side)), ZERO)

    @property
    def crossed(self) -> bool:
        """Whether the best bid is at or above the best ask (a book built wrongly)."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]
