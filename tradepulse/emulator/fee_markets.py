"""A fee asset's market at a configured price: BNBUSDT, which the recordings cannot replay.

Binance lists BNBUSDT, and whoever values commissions charged in BNB reads the price there (the
ccxt adapter fetches the ``BNB/USDT`` ticker). The recordings hold BTCUSDT and ETHUSDT only, and no
BNB ticks exist for their dates, so the venue lists BNBUSDT with a **constant** price
(``VenueConfig.fee_asset_prices``) instead of a replay:

- ``exchangeInfo`` shows it with Binance's filters and status ``BREAK`` (not trading); ccxt loads it
  as an inactive spot market.
- The public REST endpoints describe a market that stands still: ``ticker/24hr`` (last, open, high,
  low = the price; no volume, ``count`` 0), ``ticker/price``, ``avgPrice`` (the price),
  ``ticker/bookTicker`` and ``depth`` (one level each side, one tick from the price). ``trades``,
  ``aggTrades`` and ``klines`` are empty: nothing has traded.
- No WebSocket stream is served for it, and a new order is refused as Binance refuses one on a
  symbol that is not trading (``-2010 Market is closed.``, from the matching engine).
- Commissions an account pays in BNB are valued at the same price (the matching engine reads
  :meth:`FixedPriceMarket.last_price`), so the venue's fee and the client's valuation agree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradepulse.emulator.book import OrderBook
from tradepulse.emulator.decimals import fmt8
from tradepulse.emulator.klines import KlineStore
from tradepulse.emulator.symbols import FEE_ASSET_SYMBOLS, SymbolSpec

__all__ = ["FixedPriceMarket", "fee_asset_markets"]

_DAY_MS = 86_400_000
# What the one-level book shows on each side; nothing can take it, so it is only a number to read.
_BOOK_QTY = Decimal(1)


class FixedPriceMarket:
    """The market of ``spec`` at ``price``, answering the same REST queries as a replayed market.

    Parameters
    ----------
    spec
        The instrument (its ``trading`` is false: orders are refused).
    price
        Quote per unit; a multiple of the tick size with a tick of room on both sides.
    """

    def __init__(self, spec: SymbolSpec, price: Decimal) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.price = price
        self.book = OrderBook(spec.symbol)
        self.book.load_snapshot(1, [[fmt8(price - spec.tick_size), fmt8(_BOOK_QTY)]],
                                [[fmt8(price + spec.tick_size), fmt8(_BOOK_QTY)]])
        # Nothing trades here: no public trades and no candles, as on a market in a trading break.
        self.klines = KlineStore(spec.symbol)
        self.recent_trades: deque[tuple[int, str, str, int, bool]] = deque(maxlen=1)

    def depth_snapshot(self, limit: int) -> dict[str, Any]:
        bids, asks = self.book.top(limit)
        return {"lastUpdateId": self.book.last_update_id, "bids": [list(b) for b in bids],
                "asks": [list(a) for a in asks]}

    def book_ticker_event(self) -> dict[str, Any]:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is not None and ask is not None  # the static book always has both sides
        return {"u": self.book.last_update_id, "s": self.symbol, "b": bid[0], "B": bid[1], "a": ask[0], "A": ask[1]}

    def last_price(self) -> Decimal:
        return self.price

    def average_price(self, now_ms: int) -> Decimal:
        return self.price

    def ticker_24h(self, now_ms: int) -> dict[str, Any]:
        """The rolling 24 h statistics of a market whose price has not moved and that has not traded."""
        price, zero = fmt8(self.price), fmt8(0)
        event = self.book_ticker_event()
        return {
            "symbol": self.symbol, "priceChange": zero, "priceChangePercent": "0.000", "weightedAvgPrice": price,
            "prevClosePrice": price, "lastPrice": price, "lastQty": zero, "bidPrice": event["b"],
            "bidQty": event["B"], "askPrice": event["a"], "askQty": event["A"], "openPrice": price,
            "highPrice": price, "lowPrice": price, "volume": zero, "quoteVolume": zero,
            "openTime": now_ms - _DAY_MS, "closeTime": now_ms, "firstId": -1, "lastId": -1, "count": 0,
        }


def fee_asset_markets(prices: Mapping[str, Decimal]) -> dict[str, FixedPriceMarket]:
    """The listed markets of ``prices`` (asset -> USDT price, as validated by ``VenueConfig``), by symbol."""
    markets = [FixedPriceMarket(FEE_ASSET_SYMBOLS[asset], price) for asset, price in prices.items()]
    return {market.symbol: market for market in markets}
