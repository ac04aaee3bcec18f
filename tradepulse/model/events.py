"""Market events the live engine consumes: trades, quotes, depth, and bars.

Feeds (replays of bar files and of recorded Binance streams, and later exchange WebSockets)
yield these; the engine turns them into bars and prices, and the paper venue matches orders
against them. Prices and quantities of tick events are :class:`~decimal.Decimal` (they come from
the venue as exact strings); bars carry floats because strategies compute on float arrays.
Every event has ``at``, the exchange time it happened (UTC), which drives the engine's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

__all__ = ["Bar", "BarClose", "BarOpen", "BookTicker", "DepthDiff", "DepthSnapshot", "MarketEvent", "PriceLevel", "Trade"]

#: One price level of a book side: ``(price, quantity)``; quantity 0 in a diff removes the level.
PriceLevel = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade.

    Parameters
    ----------
    buyer_is_maker
        Binance's ``m``: true when the buyer's order was resting, i.e. the seller crossed the spread.
    """

    symbol: str
    at: datetime
    price: Decimal
    quantity: Decimal
    trade_id: str = ""
    buyer_is_maker: bool | None = None


@dataclass(frozen=True, slots=True)
class BookTicker:
    """Best bid and ask with their sizes (Binance ``bookTicker``); ``update_id`` orders them."""

    symbol: str
    at: datetime
    bid: Decimal
    bid_quantity: Decimal
    ask: Decimal
    ask_quantity: Decimal
    update_id: int = 0


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """Changes to the order book between two update ids (Binance ``depthUpdate``: ``U`` .. ``u``)."""

    symbol: str
    at: datetime
    first_update_id: int
    last_update_id: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A full book (Binance ``GET /api/v3/depth``); diffs after ``last_update_id`` apply on top."""

    symbol: str
    at: datetime
    last_update_id: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar covering ``[start, end)``; ``start`` is the open time, as in the bar files."""

    symbol: str
    start: datetime
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class BarOpen:
    """A bar replay's first price of a bar: the open, at the bar's start time.

    It is the "next available price" after the previous bar closed, which is where the backtest
    fills; the engine sizes and sends pending orders on it.
    """

    symbol: str
    at: datetime
    price: float


@dataclass(frozen=True, slots=True)
class BarClose:
    """A finished bar, delivered at its end time (bars as given, from a bar file or a kline stream)."""

    bar: Bar

    @property
    def symbol(self) -> str:
        return self.bar.symbol

    @property
    def at(self) -> datetime:
        return self.bar.end


MarketEvent = Trade | BookTicker | DepthDiff | DepthSnapshot | BarOpen | BarClose
