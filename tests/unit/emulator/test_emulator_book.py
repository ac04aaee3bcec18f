"""The replayed order book: snapshot plus diffs, top of book, and client consumption marks."""

from __future__ import annotations

from decimal import Decimal

from tradepulse.emulator.book import OrderBook


def _book() -> OrderBook:
    book = OrderBook("BTCUSDT")
    book.load_snapshot(100, bids=[["99.00000000", "1.00000000"], ["98.50000000", "2.00000000"]],
                       asks=[["100.00000000", "0.50000000"], ["101.00000000", "3.00000000"]])
    return book


def test_diffs_replace_add_and_remove_levels_and_keep_the_recorded_text():
    book = _book()
    book.apply_diff(105, bids=[["99.00000000", "0.00000000"], ["97.00000000", "4.00000000"]],
                    asks=[["100.00000000", "0.75000000"]])
    bids, asks = book.top(5)
    assert bids == [("98.50000000", "2.00000000"), ("97.00000000", "4.00000000")]
    assert asks == [("100.00000000", "0.75000000"), ("101.00000000", "3.00000000")]
    assert book.last_update_id == 105 and book.depth() == (2, 2)


def test_removing_a_level_that_is_not_there_changes_nothing():
    book = _book()
    book.apply_diff(101, bids=[["50.00000000", "0.00000000"]], asks=[])
    assert book.depth() == (2, 2)


def test_liquidity_stops_at_the_limit_price_and_walks_best_first():
    book = _book()
    asks = [(price, qty) for price, qty, _ in book.liquidity("BUY", Decimal("100.5"))]
    bids = [(price, qty) for price, qty, _ in book.liquidity("SELL", None)]
    assert asks == [(Decimal("100"), Decimal("0.5"))]
    assert bids == [(Decimal("99"), Decimal("1")), (Decimal("98.5"), Decimal("2"))]


def test_consumed_quantity_is_unavailable_until_the_level_next_changes():
    book = _book()
    _, _, key = next(book.liquidity("BUY", None))
    book.consume("BUY", key, Decimal("0.3"))
    assert next(book.liquidity("BUY", None))[1] == Decimal("0.2")
    book.consume("BUY", key, Decimal("0.2"))
    assert next(book.liquidity("BUY", None))[0] == Decimal("101")  # the level is used up for clients
    assert book.best_ask() == ("100.00000000", "0.50000000")  # ... but the published book is unchanged
    book.apply_diff(106, bids=[], asks=[["100.00000000", "0.60000000"]])
    assert next(book.liquidity("BUY", None))[:2] == (Decimal("100"), Decimal("0.6"))
