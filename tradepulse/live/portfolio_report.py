"""What a portfolio replay (or live session) did: fills per symbol, trades and the account's P&L.

:meth:`PortfolioReplayReport.to_dict` has the keys ``tradepulse backtest --json`` has for a universe
(``symbols``, ``per_symbol``, ``fills`` with a ``symbol``, ``trades`` as the number of positions
opened across members, ``trade_list``, ``final_equity``, ``total_return``), so the two compare line
by line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradepulse.live.report import FillRecord, round_trips
from tradepulse.model.events import Bar
from tradepulse.model.venue import VenueFill

__all__ = ["PortfolioReplayReport"]

ZERO = Decimal(0)


@dataclass
class PortfolioReplayReport:
    """Fills, periods and P&L of one portfolio engine run; ``capital`` is the shared account's."""

    symbols: tuple[str, ...]
    capital: Decimal
    fills: list[FillRecord] = field(default_factory=list)
    bars: int = 0
    start: datetime | None = None
    end: datetime | None = None
    final_equity: Decimal | None = None
    positions: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def symbol(self) -> str:
        return self.symbols[0]

    def record_fill(self, fill: VenueFill, target: float | None) -> None:
        """Add one applied fill (``target`` is the member's weight the order served)."""
        self.fills.append(FillRecord(fill.at, fill.side, fill.quantity, fill.price, fill.fee, target, fill.client_order_id, fill.trade_id, fill.symbol))

    def record_period(self, bar: Bar, equity: Decimal, positions: dict[str, Decimal]) -> None:
        """Count a closed period (every member's bar) and remember the account at its close."""
        self.bars += 1
        self.start = self.start or bar.start
        self.end = bar.start
        self.final_equity = equity
        self.positions = dict(positions)

    @property
    def pnl(self) -> Decimal:
        return (self.final_equity if self.final_equity is not None else self.capital) - self.capital

    @property
    def total_return(self) -> float:
        return float(self.pnl / self.capital) if self.capital else 0.0

    @property
    def fees_paid(self) -> Decimal:
        return sum((fill.fee for fill in self.fills), ZERO)

    def fills_of(self, symbol: str) -> list[FillRecord]:
        return [fill for fill in self.fills if fill.symbol == symbol]

    def trade_list(self) -> list[dict[str, Any]]:
        """Round trips per member (each with its ``symbol``), ordered by entry time."""
        trades = []
        for symbol in self.symbols:
            trades += [{"symbol": symbol, **trade} for trade in round_trips(self.fills_of(symbol))]
        return sorted(trades, key=lambda trade: (trade["entry_time"], self.symbols.index(trade["symbol"])))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (numbers as floats; times through the CLI's encoder)."""
        trades = self.trade_list()
        per_symbol = {}
        for symbol in self.symbols:
            fills = self.fills_of(symbol)
            per_symbol[symbol] = {
                "fills": len(fills),
                "trades": sum(1 for trade in trades if trade["symbol"] == symbol),
                "fees_paid": float(sum((fill.fee for fill in fills), ZERO)),
                "position": float(self.positions.get(symbol, ZERO)),
            }
        return {
            "symbols": list(self.symbols),
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "init_cash": float(self.capital),
            "final_equity": float(self.final_equity if self.final_equity is not None else self.capital),
            "pnl": float(self.pnl),
            "total_return": self.total_return,
            "fees_paid": float(self.fees_paid),
            "positions": {symbol: float(quantity) for symbol, quantity in self.positions.items()},
            "trades": len(trades),
            "orders": dict(self.orders),
            **self.details,
            "per_symbol": per_symbol,
            "fills": [fill.to_dict(with_symbol=True) for fill in self.fills],
            "trade_list": trades,
        }

    def summary_lines(self) -> list[str]:
        """Human-readable fills and P&L, one line each."""
        lines = [f"{'time':<30}{'symbol':<12}{'side':<6}{'quantity':>16}{'price':>16}{'fee':>14}"]
        for fill in self.fills:
            when = fill.time.isoformat().replace("+00:00", "Z")
            lines.append(f"{when:<30}{fill.symbol:<12}{fill.side!s:<6}{fill.quantity:>16.8f}{fill.price:>16.4f}{fill.fee:>14.6f}")
        lines += [
            "",
            f"symbols         {', '.join(self.symbols)}",
            f"periods         {self.bars}",
            f"fills           {len(self.fills)}",
            f"trades          {len(self.trade_list())}",
            f"fees paid       {self.fees_paid:.6f}",
            f"final equity    {float(self.final_equity or self.capital):,.4f}",
            f"pnl             {float(self.pnl):,.4f}",
            f"total return    {self.total_return:.4%}",
        ]
        return lines
