"""Market state per symbol, fed by the replay: book, trades, candles, tickers, and the streams they publish.

:class:`SymbolMarket` turns each recorded event into the payload Binance would send, applying the
current loop's offsets (timestamps shifted, update and trade ids continued), and answers the REST
market-data queries from the same state, so REST and streams always agree.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from tradepulse.emulator.book import OrderBook
from tradepulse.emulator.decimals import ZERO, fmt8
from tradepulse.emulator.klines import INTERVALS, KlineStore, bucket_start
from tradepulse.emulator.replay import KIND_BOOK_TICKER, KIND_DEPTH, KIND_TRADE, SymbolRecording, Timeline
from tradepulse.emulator.symbols import SymbolSpec

__all__ = ["MarketData", "StreamPublisher", "SymbolMarket", "TradePrint", "is_known_stream"]

_ZERO_QTY = "0.00000000"
_KLINE_SETTLE_MS = 500
_STREAM_PATTERN = re.compile(
    r"^(?P<symbol>[a-z0-9]+)@(?P<kind>trade|aggTrade|bookTicker|ticker|miniTicker|"
    r"depth(?:5|10|20)?(?:@100ms|@1000ms)?|kline_(?:" + "|".join(INTERVALS) + r"))$"
)


def is_known_stream(name: str, symbols: set[str]) -> bool:
    """Return True when ``name`` (e.g. ``btcusdt@depth@100ms``) is a stream this venue serves."""
    match = _STREAM_PATTERN.match(name)
    return bool(match) and match.group("symbol") in symbols


class StreamPublisher(Protocol):
    """Where market payloads go (the WebSocket hub)."""

    def wants(self, stream: str) -> bool: ...

    def publish(self, stream: str, payload: Any) -> None: ...

    def active_streams(self, prefix: str) -> list[str]: ...


TradePrint = tuple[str, Decimal, Decimal, bool, int]  # symbol, price, qty, buyer is maker, time


class SymbolMarket:
    """The replayed market of one symbol."""

    def __init__(self, spec: SymbolSpec, recording: SymbolRecording, publisher: StreamPublisher) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.recording = recording
        self.publisher = publisher
        self.stream = spec.stream_name
        self.book = OrderBook(spec.symbol)
        self.book.load_snapshot(recording.snapshot_update_id, recording.snapshot_bids, recording.snapshot_asks)
        self.klines = KlineStore(spec.symbol)
        # (id, price text, qty text, time, buyer is maker), newest last: GET /api/v3/trades
        self.recent_trades: deque[tuple[int, str, str, int, bool]] = deque(maxlen=1000)
        self._depth_first_id: int | None = None
        self._depth_bids: dict[str, str] = {}
        self._depth_asks: dict[str, str] = {}
        self._kline_sent: dict[str, tuple] = {}

    # --- replayed events -------------------------------------------------------------------

    def on_trade(self, payload: tuple, loop: int, shift_ms: int) -> TradePrint:
        event_ms, trade_id, price_text, qty_text, trade_ms, buyer_is_maker, price, qty = payload
        trade_id += loop * self.recording.trade_id_step
        event_ms += shift_ms
        trade_ms += shift_ms
        self.recent_trades.append((trade_id, price_text, qty_text, trade_ms, buyer_is_maker))
        self.klines.add_trade(trade_ms, price, qty, trade_id, buyer_is_maker)
        name = f"{self.stream}@trade"
        if self.publisher.wants(name):
            self.publisher.publish(name, {"e": "trade", "E": event_ms, "s": self.symbol, "t": trade_id,
                                          "p": price_text, "q": qty_text, "T": trade_ms, "m": buyer_is_maker,
                                          "M": True})
        name = f"{self.stream}@aggTrade"
        if self.publisher.wants(name):
            # Binance aggregates same-price fills of one taker order; the recording holds single trades.
            self.publisher.publish(name, {"e": "aggTrade", "E": event_ms, "s": self.symbol, "a": trade_id,
                                          "p": price_text, "q": qty_text, "f": trade_id, "l": trade_id,
                                          "T": trade_ms, "m": buyer_is_maker, "M": True})
        return (self.symbol, price, qty, buyer_is_maker, trade_ms)

    def on_book_ticker(self, payload: tuple, loop: int) -> None:
        name = f"{self.stream}@bookTicker"
        if self.publisher.wants(name):
            update_id, bid, bid_qty, ask, ask_qty = payload
            update_id += loop * self.recording.update_id_step
            self.publisher.publish(name, {"u": update_id, "s": self.symbol, "b": bid, "B": bid_qty, "a": ask,
                                          "A": ask_qty})

    def on_depth(self, payload: tuple, loop: int, shift_ms: int) -> None:
        event_ms, first_id, final_id, bids, asks = payload
        offset = loop * self.recording.update_id_step
        self._apply_and_publish(event_ms + shift_ms, first_id + offset, final_id + offset, bids, asks)

    def _apply_and_publish(self, event_ms: int, first_id: int, final_id: int, bids: list, asks: list) -> None:
        self.book.apply_diff(final_id, bids, asks)
        if self._depth_first_id is None:
            self._depth_first_id = first_id
        for price, qty in bids:
            self._depth_bids[price] = qty
        for price, qty in asks:
            self._depth_asks[price] = qty
        name = f"{self.stream}@depth@100ms"
        if self.publisher.wants(name):
            self.publisher.publish(name, {"e": "depthUpdate", "E": event_ms, "s": self.symbol, "U": first_id,
                                          "u": final_id, "b": bids, "a": asks})
        for levels in (5, 10, 20):
            name = f"{self.stream}@depth{levels}@100ms"
            if self.publisher.wants(name):
                self.publisher.publish(name, self.depth_snapshot(levels))

    def on_loop(self, loop: int, market_ms: int) -> None:
        """Bridge the book from the recording's end state back to its snapshot with one diff.

        The diff covers every id between the last diff of the previous loop and the first of
        ``loop``, so a client sees ``U == previous u + 1`` throughout.
        """
        rec = self.recording
        first_id = self.book.last_update_id + 1
        final_id = rec.first_update_id + loop * rec.update_id_step - 1
        current_bids, current_asks = self.book.all_levels()
        bids = _bridge_levels(current_bids, rec.snapshot_bids)
        asks = _bridge_levels(current_asks, rec.snapshot_asks)
        self._apply_and_publish(market_ms, first_id, final_id, bids, asks)
        self.book.reset_consumed()

    def on_tick(self, market_ms: int) -> None:
        """Publish the periodic streams: 1 s depth and tickers, 2 s kline updates, kline closes."""
        self.klines.roll_to(market_ms)
        publisher = self.publisher
        if self._depth_first_id is not None:
            for name in (f"{self.stream}@depth", f"{self.stream}@depth@1000ms"):
                if publisher.wants(name):
                    publisher.publish(name, {
                        "e": "depthUpdate", "E": market_ms, "s": self.symbol, "U": self._depth_first_id,
                        "u": self.book.last_update_id, "b": [[p, q] for p, q in self._depth_bids.items()],
                        "a": [[p, q] for p, q in self._depth_asks.items()]})
            self._depth_first_id = None
            self._depth_bids, self._depth_asks = {}, {}
        for levels in (5, 10, 20):
            for name in (f"{self.stream}@depth{levels}", f"{self.stream}@depth{levels}@1000ms"):
                if publisher.wants(name):
                    publisher.publish(name, self.depth_snapshot(levels))
        if publisher.wants(f"{self.stream}@ticker") or publisher.wants(f"{self.stream}@miniTicker"):
            stats = self.ticker_24h(market_ms)
            if stats is not None:
                if publisher.wants(f"{self.stream}@ticker"):
                    publisher.publish(f"{self.stream}@ticker", _ticker_event(stats, market_ms))
                if publisher.wants(f"{self.stream}@miniTicker"):
                    publisher.publish(f"{self.stream}@miniTicker", _mini_ticker_event(stats, market_ms))
        active = publisher.active_streams(f"{self.stream}@kline_")
        for name in [n for n in self._kline_sent if n not in active]:
            del self._kline_sent[name]  # a later subscriber starts from the open bar, not a stale one
        for name in active:
            self._publish_kline(name, market_ms)

    def _publish_kline(self, name: str, market_ms: int) -> None:
        interval = name.split("_", 1)[1]
        # The stream runs half a tick behind the clock: a trade stamped just before a period's end can
        # arrive a few ms after it, and the closing event (x=true) must include it.
        view_ms = market_ms - _KLINE_SETTLE_MS
        sent = self._kline_sent.get(name)  # (open time, trade count, close) of the bar last published
        if sent is not None and sent[0] < bucket_start(interval, view_ms):
            rows = self.klines.candles(interval, now_ms=view_ms, start_ms=sent[0], limit=1)
            if rows:
                bar, close_time = rows[0]
                self.publisher.publish(name, {"e": "kline", "E": market_ms, "s": self.symbol,
                                              "k": bar.stream_payload(self.symbol, interval, close_time, True)})
            sent = None
        current = self.klines.current(interval, view_ms)
        if current is None:
            return
        bar, close_time = current
        signature = (bar.open_time, bar.trades, bar.close)
        # Binance pushes an open kline every 2 s (every second for 1s klines), only when it changed.
        period_ms = 1000 if interval == "1s" else 2000
        if sent is None or (market_ms % period_ms < 1000 and signature != sent):
            self.publisher.publish(name, {"e": "kline", "E": market_ms, "s": self.symbol,
                                          "k": bar.stream_payload(self.symbol, interval, close_time, False)})
            self._kline_sent[name] = signature

    # --- queries (REST) ---------------------------------------------------------------------

    def depth_snapshot(self, limit: int) -> dict[str, Any]:
        bids, asks = self.book.top(limit)
        return {"lastUpdateId": self.book.last_update_id, "bids": [list(b) for b in bids],
                "asks": [list(a) for a in asks]}

    def book_ticker_event(self) -> dict[str, Any]:
        bid = self.book.best_bid() or ("0.00000000", _ZERO_QTY)
        ask = self.book.best_ask() or ("0.00000000", _ZERO_QTY)
        return {"u": self.book.last_update_id, "s": self.symbol, "b": bid[0], "B": bid[1], "a": ask[0], "A": ask[1]}

    def last_price(self) -> Decimal | None:
        return Decimal(self.recent_trades[-1][1]) if self.recent_trades else None

    def average_price(self, now_ms: int) -> Decimal | None:
        return self.klines.average_price(now_ms)

    def ticker_24h(self, now_ms: int) -> dict[str, Any] | None:
        """Return the rolling 24 h statistics (the numbers of ``ticker/24hr`` and ``@ticker``)."""
        window = self.klines.rolling(now_ms)
        if window is None or not self.recent_trades:
            return None
        last_id, last_price_text, last_qty_text, _, _ = self.recent_trades[-1]
        change = window.close - window.open
        percent = (change / window.open * 100) if window.open else ZERO
        weighted = window.quote_volume / window.volume if window.volume else window.close
        bid = self.book.best_bid() or ("0.00000000", _ZERO_QTY)
        ask = self.book.best_ask() or ("0.00000000", _ZERO_QTY)
        return {
            "symbol": self.symbol, "priceChange": fmt8(change), "priceChangePercent": f"{percent:.3f}",
            "weightedAvgPrice": fmt8(weighted), "prevClosePrice": fmt8(window.open), "lastPrice": last_price_text,
            "lastQty": last_qty_text, "bidPrice": bid[0], "bidQty": bid[1], "askPrice": ask[0], "askQty": ask[1],
            "openPrice": fmt8(window.open), "highPrice": fmt8(window.high), "lowPrice": fmt8(window.low),
            "volume": fmt8(window.volume), "quoteVolume": fmt8(window.quote_volume),
            "openTime": window.open_time, "closeTime": now_ms, "firstId": window.first_id, "lastId": last_id,
            "count": window.trades,
        }


def _bridge_levels(current: dict[float, tuple[str, str]], snapshot: list[list[str]]) -> list[list[str]]:
    target = {float(price): (price, qty) for price, qty in snapshot}
    changes = [[level[0], _ZERO_QTY] for key, level in current.items() if key not in target]
    changes += [[price, qty] for key, (price, qty) in target.items() if current.get(key) != (price, qty)]
    return changes


def _ticker_event(stats: dict[str, Any], event_ms: int) -> dict[str, Any]:
    return {"e": "24hrTicker", "E": event_ms, "s": stats["symbol"], "p": stats["priceChange"],
            "P": stats["priceChangePercent"], "w": stats["weightedAvgPrice"], "x": stats["prevClosePrice"],
            "c": stats["lastPrice"], "Q": stats["lastQty"], "b": stats["bidPrice"], "B": stats["bidQty"],
            "a": stats["askPrice"], "A": stats["askQty"], "o": stats["openPrice"], "h": stats["highPrice"],
            "l": stats["lowPrice"], "v": stats["volume"], "q": stats["quoteVolume"], "O": stats["openTime"],
            "C": stats["closeTime"], "F": stats["firstId"], "L": stats["lastId"], "n": stats["count"]}


def _mini_ticker_event(stats: dict[str, Any], event_ms: int) -> dict[str, Any]:
    return {"e": "24hrMiniTicker", "E": event_ms, "s": stats["symbol"], "c": stats["lastPrice"],
            "o": stats["openPrice"], "h": stats["highPrice"], "l": stats["lowPrice"], "v": stats["volume"],
            "q": stats["quoteVolume"]}


class MarketData:
    """All symbols' markets; the replay's sink. Recorded trades are passed on to ``on_trade_print``."""

    def __init__(self, timeline: Timeline, specs: dict[str, SymbolSpec], publisher: StreamPublisher) -> None:
        self.by_index = [SymbolMarket(specs[r.symbol], r, publisher) for r in timeline.recordings]
        self.by_symbol = {m.symbol: m for m in self.by_index}
        self.on_trade_print: Callable[[TradePrint], None] | None = None

    def on_event(self, symbol_index: int, kind: int, payload: tuple, loop: int, shift_ms: int) -> None:
        market = self.by_index[symbol_index]
        if kind == KIND_DEPTH:
            market.on_depth(payload, loop, shift_ms)
        elif kind == KIND_BOOK_TICKER:
            market.on_book_ticker(payload, loop)
        elif kind == KIND_TRADE:
            trade = market.on_trade(payload, loop, shift_ms)
            if self.on_trade_print is not None:
                self.on_trade_print(trade)

    def on_tick(self, market_ms: int) -> None:
        for market in self.by_index:
            market.on_tick(market_ms)

    def on_loop(self, loop: int, market_ms: int) -> None:
        for market in self.by_index:
            market.on_loop(loop, market_ms)
