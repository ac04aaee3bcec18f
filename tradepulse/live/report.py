"""What a replay (or a live session) did: fills, round-trip trades and P&L, comparable with a backtest.

:meth:`ReplayReport.to_dict` has the keys ``tradepulse backtest --json`` has for the same things
(``fills`` with ``time, side, quantity, price, fee, target``; ``trades`` as the number of positions
opened; ``trade_list``; ``final_equity``, ``total_return``, ``start``, ``end``, ``bars``), so the two
can be compared line by line. Amounts are exact Decimals inside; JSON output turns them into
numbers (the journal keeps the exact text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradepulse.model.events import Bar
from tradepulse.model.orders import Side
from tradepulse.model.venue import VenueFill

__all__ = ["FillRecord", "ReplayReport", "round_trips"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillRecord:
    """One applied fill, with the target exposure its order served."""

    time: datetime
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    target: float | None
    client_order_id: str
    trade_id: str
    symbol: str = ""

    def to_dict(self, *, with_symbol: bool = False) -> dict[str, Any]:
        """JSON-ready (numbers as floats), with the ``symbol`` when a report spans several."""
        return {
            "time": self.time,
            **({"symbol": self.symbol} if with_symbol else {}),
            "side": str(self.side),
            "quantity": float(self.quantity),
            "price": float(self.price),
            "fee": float(self.fee),
            "target": self.target,
            "client_order_id": self.client_order_id,
            "trade_id": self.trade_id,
        }


@dataclass
class ReplayReport:
    """Fills, bars and P&L of one engine run.

    ``capital`` is the quote currency the strategy started with; ``final_equity`` is capital plus
    net P&L with the position marked at the last bar's close (like the backtest's final value).
    """

    symbol: str
    capital: Decimal
    fills: list[FillRecord] = field(default_factory=list)
    bars: int = 0
    start: datetime | None = None
    end: datetime | None = None
    final_equity: Decimal | None = None
    position: Decimal = ZERO
    orders: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def record_fill(self, fill: VenueFill, target: float | None) -> None:
        """Add one applied fill."""
        self.fills.append(FillRecord(fill.at, fill.side, fill.quantity, fill.price, fill.fee, target, fill.client_order_id, fill.trade_id, fill.symbol))

    def record_bar(self, bar: Bar, equity: Decimal, position: Decimal) -> None:
        """Count a closed bar and remember equity and position at its close."""
        self.bars += 1
        self.start = self.start or bar.start
        self.end = bar.start
        self.final_equity = equity
        self.position = position

    @property
    def pnl(self) -> Decimal:
        """Final equity minus capital (net of fees)."""
        return (self.final_equity if self.final_equity is not None else self.capital) - self.capital

    @property
    def total_return(self) -> float:
        return float(self.pnl / self.capital) if self.capital else 0.0

    @property
    def fees_paid(self) -> Decimal:
        return sum((fill.fee for fill in self.fills), ZERO)

    def trade_list(self) -> list[dict[str, Any]]:
        """Round trips, as :func:`round_trips` builds them."""
        return round_trips(self.fills)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (numbers as floats, times as ISO-8601 UTC via the CLI's encoder)."""
        trades = self.trade_list()
        return {
            "symbol": self.symbol,
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "init_cash": float(self.capital),
            "final_equity": float(self.final_equity if self.final_equity is not None else self.capital),
            "pnl": float(self.pnl),
            "total_return": self.total_return,
            "fees_paid": float(self.fees_paid),
            "position": float(self.position),
            "trades": len(trades),
            "orders": dict(self.orders),
            **self.details,
            "fills": [fill.to_dict() for fill in self.fills],
            "trade_list": trades,
        }

    def summary_lines(self) -> list[str]:
        """Human-readable fills and P&L, one line each."""
        times = [_iso(fill.time) for fill in self.fills]
        width = max([len("time"), *map(len, times)]) + 2
        lines = [f"{'time':<{width}}{'side':<6}{'quantity':>16}{'price':>16}{'fee':>14}"]
        for text, fill in zip(times, self.fills, strict=True):
            lines.append(f"{text:<{width}}{fill.side!s:<6}{fill.quantity:>16.8f}{fill.price:>16.4f}{fill.fee:>14.6f}")
        lines += [
            "",
            f"bars            {self.bars}  ({_iso(self.start) if self.start else '-'} .. {_iso(self.end) if self.end else '-'})",
            f"fills           {len(self.fills)}",
            f"trades          {len(self.trade_list())}",
            f"fees paid       {self.fees_paid:.6f}",
            f"final equity    {float(self.final_equity or self.capital):,.4f}",
            f"pnl             {float(self.pnl):,.4f}",
            f"total return    {self.total_return:.4%}",
        ]
        return lines


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def round_trips(fills: list[FillRecord]) -> list[dict[str, Any]]:
    """Group fills into positions, as the backtest counts trades.

    A trade opens when the position leaves zero (or flips through it) and closes when it returns to
    zero (or flips); fills on the position's side add to it. P&L is net of the trade's fees.
    """
    trades: list[dict[str, Any]] = []
    position = ZERO
    current: dict[str, Any] | None = None
    for fill in fills:
        signed = fill.quantity * fill.side.sign
        remaining, fee_left = signed, fill.fee
        while remaining != 0:
            if current is None:
                current = {"entry_time": fill.time, "direction": 1 if remaining > 0 else -1, "entry_qty": ZERO, "entry_cost": ZERO,
                           "exit_qty": ZERO, "exit_value": ZERO, "fees": ZERO}
            direction = current["direction"]
            if (remaining > 0) == (direction > 0):  # adds to the position
                current["entry_qty"] += abs(remaining)
                current["entry_cost"] += abs(remaining) * fill.price
                current["fees"] += fee_left
                position += remaining
                remaining, fee_left = ZERO, ZERO
                continue
            closing = min(abs(remaining), abs(position))
            share = fee_left * closing / abs(remaining)
            current["exit_qty"] += closing
            current["exit_value"] += closing * fill.price
            current["fees"] += share
            fee_left -= share
            position += closing if remaining > 0 else -closing
            remaining += closing if remaining < 0 else -closing
            if position == 0:
                trades.append(_trade(current, fill.time, closed=True))
                current = None
    if current is not None:
        trades.append(_trade(current, None, closed=False))
    return trades


def _trade(current: dict[str, Any], exit_time: datetime | None, *, closed: bool) -> dict[str, Any]:
    entry_price = current["entry_cost"] / current["entry_qty"]
    exit_price = current["exit_value"] / current["exit_qty"] if current["exit_qty"] else None
    gross = (current["exit_value"] - entry_price * current["exit_qty"]) * current["direction"]
    return {
        "entry_time": current["entry_time"],
        "exit_time": exit_time,
        "side": "long" if current["direction"] > 0 else "short",
        "quantity": float(current["entry_qty"]),
        "entry_price": float(entry_price),
        "exit_price": float(exit_price) if exit_price is not None else None,
        "pnl": float(gross - current["fees"]) if closed else None,
        "fees": float(current["fees"]),
        "status": "closed" if closed else "open",
    }
