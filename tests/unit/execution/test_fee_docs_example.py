"""The worked example of a fee paid in the base asset (docs/execution.md) is what the code computes.

The numbers are read from the doc's two tables, so the doc cannot drift from the code: change
either and this fails.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from execution_helpers import BTC_USDT, limit, make_fill

from tradepulse.execution import Side
from tradepulse.execution.portfolio import Position, fee_in_quote, position_after_fill

DOC = Path(__file__).resolve().parents[3] / "docs" / "execution.md"
HEADING = "### Worked example: a fee paid in the base asset"


def example_tables() -> list[dict[str, str]]:
    """The example's tables, each as {first column: second column}."""
    text = DOC.read_text(encoding="utf-8")
    assert HEADING in text, f"docs/execution.md lost its section {HEADING!r}"
    section = re.split(r"\n#{2,3} ", text.split(HEADING, 1)[1], maxsplit=1)[0]
    tables: list[dict[str, str]] = []
    rows: dict[str, str] | None = None
    for line in section.splitlines():
        if not line.startswith("|"):
            rows = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if rows is None:  # the header row opens a table
            rows = {}
            tables.append(rows)
        elif not set(cells[0]) <= set("-: "):
            rows[cells[0]] = cells[1]
    return tables


def numbers(cell: str) -> list[Decimal]:
    """Every number in a cell, in order (thousands separators and a typographic minus allowed)."""
    return [Decimal(found.replace(",", "").replace("−", "-")) for found in re.findall(r"[−-]?\d[\d,]*(?:\.\d+)?", cell)]


def one(cell: str) -> Decimal:
    (value,) = numbers(cell)
    return value


def test_the_worked_example_is_what_the_accounting_computes():
    buy, sell = example_tables()
    quantity, price = numbers(buy["bought"])
    fee = one(buy["fee"])
    assert "BTC" in buy["fee"]

    fee_quote = fee_in_quote(BTC_USDT, make_fill("tp-1", "1", str(quantity), str(price), fee=str(fee), fee_currency="BTC"))
    assert fee_quote == one(buy["fee valued in quote"])
    after = position_after_fill(Position("BTC/USDT"), BTC_USDT, Side.BUY, quantity, price, fee_quote, fee_base=fee)
    assert after.quantity == one(buy["position"]) == quantity - fee
    assert after.cost_basis == one(buy["cost basis"])
    assert after.average_cost == one(buy["average cost"])
    assert after.realized_pnl == one(buy["realised P&L"])
    assert after.fees_quote == one(buy["fees"])
    # What the venue credits and debits: the position is exactly the base the account received.
    received, paid = numbers(buy["account"])
    assert received == quantity - fee == after.quantity and paid == -(quantity * price)


def test_the_worked_example_holds_through_the_oms_round_trip(oms):
    buy, sell = example_tables()
    quantity, price = numbers(buy["bought"])
    bought = oms.prepare_submit(limit(Side.BUY, str(quantity), str(price)))
    oms.apply_fill(make_fill(bought.client_order_id, "1", str(quantity), str(price), fee=str(one(buy["fee"])), fee_currency="BTC"))
    marked = oms.mark_to_market({"BTC/USDT": price})["BTC/USDT"]
    assert marked.net_pnl == one(buy["net P&L, marked at the fill price"])

    sold_quantity, sell_price = numbers(sell["sold"])
    assert sold_quantity == oms.position("BTC/USDT").quantity  # the whole position, which the account holds
    sell_fee = one(sell["fee"])
    assert sell_fee == sold_quantity * sell_price * Decimal("0.001")  # the 10 bps the doc says
    sold = oms.prepare_submit(limit(Side.SELL, str(sold_quantity), str(sell_price)))
    result = oms.apply_fill(make_fill(sold.client_order_id, "2", str(sold_quantity), str(sell_price), fee=str(sell_fee), fee_currency="USDT"))
    final = result.position
    assert final.quantity == one(sell["position"]) == 0
    assert final.realized_pnl == one(sell["realised P&L"])
    assert final.fees_quote == one(sell["fees"])
    assert final.net_pnl == one(sell["net P&L"])
    # Net P&L is the account's quote change over the round trip, to the last digit.
    usdt_change = -(quantity * price) + sold_quantity * sell_price - sell_fee
    assert final.net_pnl == usdt_change
