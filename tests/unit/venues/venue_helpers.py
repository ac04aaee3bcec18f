"""Helpers for the paper venue tests: a hand-moved clock, orders, bars and recorded events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradepulse.execution import Order, OrderIntent, OrderType, Side, TimeInForce
from tradepulse.adapters.paper import PaperVenue
from tradepulse.model.events import Bar, BarClose, BarOpen
from tradepulse.adapters.paper.feeds import fine_instrument, get_recording

D = Decimal
START = datetime(2024, 8, 9, tzinfo=UTC)
BTC = fine_instrument("BTC/USDT")


class ManualClock:
    """A clock the test moves; the venue reads it for every timestamp and latency."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


def make_order(client_order_id: str, side: str, quantity: str, *, limit: str | None = None, tif: str = "GTC", symbol: str = "BTC/USDT") -> Order:
    """An order as the OMS hands it to a venue (submitted, with its client order id)."""
    intent = OrderIntent(
        "test", symbol, Side(side), D(quantity), OrderType.LIMIT if limit else OrderType.MARKET,
        D(limit) if limit else None, TimeInForce(tif),
    )
    return Order.from_intent(client_order_id, intent, START)


def paper_venue(clock: ManualClock, *, quote: str = "100000", base: str = "0", instrument=BTC, **options) -> PaperVenue:
    balances = {instrument.quote: D(quote)}
    if D(base):
        balances[instrument.base] = D(base)
    return PaperVenue([instrument], clock=clock, balances=balances, **options)


def bar_events(open_: float, high: float, low: float, close: float, volume: float = 100.0, *, at: datetime = START, minutes: int = 60):
    """The open and close events of one bar starting at ``at``."""
    end = at + timedelta(minutes=minutes)
    return BarOpen("BTC/USDT", at, open_), BarClose(Bar("BTC/USDT", at, end, open_, high, low, close, volume))


def recorded(name: str = "binance:BTC/USDT", first_file_only: bool = False):
    """The real recorded events of an embedded recording (as the replay feed yields them)."""
    from tradepulse.adapters.paper.feeds import RecordingFeed

    recording = get_recording(name)
    paths = recording.paths[:1] if first_file_only else recording.paths
    return RecordingFeed(paths, recording.symbol, instrument=recording.instrument).events()
