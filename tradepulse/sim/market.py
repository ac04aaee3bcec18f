"""What the paper venue knows about the market, and its cost and latency models.

Per symbol it keeps the order book (snapshot + sequenced diffs), the latest book ticker, the last
price (trade, or a bar replay's open/close) and the last closed bar. From these it answers "what
liquidity could a taker order get right now": the book's levels when the book is in sync, else
the best quote, else nothing known (then the bar-based slippage model prices the fill, exactly as
the backtest does).

Simulated fills do not change the recorded book, so a second order between two book updates
would find the same liquidity again; the liquidity we took is remembered per price level until a
diff rewrites that level.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pandas as pd

from tradepulse.errors import ConfigError
from tradepulse.model.book import OrderBook
from tradepulse.model.costs import FixedSlippage, RangeSlippage, SlippageModel, rate_from_bps
from tradepulse.model.events import Bar, BarClose, BarOpen, BookTicker, DepthDiff, DepthSnapshot, MarketEvent, PriceLevel, Trade
from tradepulse.model.orders import ZERO, Side

__all__ = ["FeeSchedule", "LatencyModel", "MarketState", "slippage_fraction"]



def _decimal(value: float | int | str | Decimal) -> Decimal:
    # Through the shortest repr: 0.0005 becomes Decimal("0.0005"), not its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))


@dataclass(frozen=True)
class FeeSchedule:
    """Maker and taker fees in basis points of the filled notional, charged in the quote currency.

    Examples
    --------
    >>> FeeSchedule(maker_bps=2, taker_bps=10).rate(is_maker=False)
    Decimal('0.001')
    """

    maker_bps: Decimal = Decimal(10)
    taker_bps: Decimal = Decimal(10)

    def __post_init__(self) -> None:
        for name in ("maker_bps", "taker_bps"):
            value = _decimal(getattr(self, name))
            if not value.is_finite() or value < 0 or value > 1_000:
                raise ConfigError(f"{name} must be between 0 and 1000 bps, got {value}")
            object.__setattr__(self, name, value)

    def rate(self, is_maker: bool) -> Decimal:
        """The fee as a fraction of notional."""
        return rate_from_bps(self.maker_bps if is_maker else self.taker_bps)


@dataclass(frozen=True)
class LatencyModel:
    """Delay between a request and the venue acting on it: ``fixed_ms`` plus a seeded uniform jitter.

    The delay is measured on the venue's clock, which in a replay is simulated time: a 250 ms
    latency costs no wall time at all.

    Examples
    --------
    >>> sample = LatencyModel(fixed_ms=50, jitter_ms=20, seed=7).sampler()
    >>> first = sample(); LatencyModel(fixed_ms=50, jitter_ms=20, seed=7).sampler()() == first
    True
    """

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fixed_ms", "jitter_ms"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"latency {name} must be a non-negative number of milliseconds, got {value!r}")

    @property
    def is_zero(self) -> bool:
        return self.fixed_ms == 0 and self.jitter_ms == 0

    def sampler(self):  # noqa: ANN201 - a zero-argument callable returning a timedelta
        """Return a function giving successive delays, the same sequence for the same seed."""
        generator = random.Random(self.seed)

        def sample() -> timedelta:
            jitter = generator.uniform(0.0, self.jitter_ms) if self.jitter_ms else 0.0
            return timedelta(milliseconds=self.fixed_ms + jitter)

        return sample


def slippage_fraction(model: SlippageModel | None, signal_bar: Bar | None, notional: float) -> Decimal:
    """Slippage for a fill priced from bars, as a fraction of price: the backtest's cost model.

    ``FixedSlippage`` is the same on every fill. ``RangeSlippage`` uses the signal bar (the last
    bar closed before the order) and ``notional`` (the backtest passes its initial cash), so a
    replay charges what the backtest charges for the same fill.
    """
    if model is None:
        return ZERO
    if isinstance(model, FixedSlippage):
        return rate_from_bps(model.bps)
    if not isinstance(model, RangeSlippage):
        raise ConfigError(f"unknown slippage model {model!r}")
    if signal_bar is None:
        return rate_from_bps(model.base_bps)
    frame = pd.DataFrame(
        {"high": [signal_bar.high], "low": [signal_bar.low], "close": [signal_bar.close], "volume": [signal_bar.volume]}
    )
    return rate_from_bps(float(model.signal_bar_bps(frame, notional)[0]))


@dataclass
class MarketState:
    """The market of one symbol as the paper venue has seen it."""

    symbol: str
    book: OrderBook = field(init=False)
    ticker: BookTicker | None = None
    last_price: Decimal | None = None
    last_bar: Bar | None = None
    taken: dict[tuple[str, Decimal], Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.book = OrderBook(self.symbol)

    def on_event(self, event: MarketEvent) -> None:
        """Update the state with one market event."""
        # A bar replay's two events per bar are checked first (the kinds are disjoint, so order is free).
        if isinstance(event, BarClose):
            self.last_bar = event.bar
            self.last_price = _decimal(event.bar.close)
        elif isinstance(event, BarOpen):
            self.last_price = _decimal(event.price)
        elif isinstance(event, Trade):
            self.last_price = event.price
        elif isinstance(event, BookTicker):
            if self.ticker is None or event.update_id >= self.ticker.update_id:
                self.ticker = event
                self.taken.pop(("asks", event.ask), None)
                self.taken.pop(("bids", event.bid), None)
        elif isinstance(event, DepthDiff):
            if self.book.apply_diff(event):
                for price, _ in event.bids:
                    self.taken.pop(("bids", price), None)
                for price, _ in event.asks:
                    self.taken.pop(("asks", price), None)
        elif isinstance(event, DepthSnapshot):
            self.book.apply_snapshot(event)
            self.taken.clear()

    def has_depth(self) -> bool:
        """Whether fills can be priced from the book or the best quote."""
        return (self.book.synced and (self.book.best_bid() is not None or self.book.best_ask() is not None)) or self.ticker is not None

    def liquidity(self, taker_side: Side) -> Iterator[PriceLevel]:
        """Levels a taker on ``taker_side`` could trade against, best first, net of what we took.

        A buyer takes asks, a seller bids. With the book out of sync only the best quote counts.
        """
        side = "asks" if taker_side is Side.BUY else "bids"
        if self.book.synced:
            raw = self.book.levels(side)
        elif self.ticker is not None:
            quote = (self.ticker.ask, self.ticker.ask_quantity) if side == "asks" else (self.ticker.bid, self.ticker.bid_quantity)
            raw = iter([quote])
        else:
            return
        for price, quantity in raw:
            left = quantity - self.taken.get((side, price), ZERO)
            if left > 0:
                yield price, left

    def take(self, taker_side: Side, price: Decimal, quantity: Decimal) -> None:
        """Remember that we took ``quantity`` at ``price`` (until the level is updated)."""
        key = ("asks" if taker_side is Side.BUY else "bids", price)
        self.taken[key] = self.taken.get(key, ZERO) + quantity
