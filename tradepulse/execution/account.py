"""One quote-currency account several symbols draw on: the money side of a portfolio strategy.

A single-symbol engine values its one position against its capital. A portfolio strategy trades
several symbols out of one cash balance, so sizing needs the *account's* equity (capital plus
every member's P&L, each marked at its own last price) and the account's cash, and the risk gate
needs every member's position and price to judge gross and net exposure. :class:`SharedAccount`
holds those marks and answers both; each symbol's :class:`~tradepulse.execution.engine.ExecutionEngine`
is given the same account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from tradepulse.execution.oms import OMS
from tradepulse.model.instruments import Instrument
from tradepulse.risk import LastTrade, RiskContext

__all__ = ["SharedAccount"]

ZERO = Decimal(0)


class SharedAccount:
    """Capital in one quote currency shared by the symbols of ``instruments``.

    Parameters
    ----------
    oms
        The OMS holding every member's orders and positions.
    instruments
        The members, by symbol; all must be quoted in the same currency.
    capital
        Quote currency the strategy started with.
    """

    def __init__(self, oms: OMS, instruments: Mapping[str, Instrument], capital: Decimal) -> None:
        quotes = {instrument.quote for instrument in instruments.values()}
        if len(quotes) != 1:
            raise ValueError(f"a shared account needs one quote currency, got {', '.join(sorted(quotes))}")
        self.oms = oms
        self.instruments = dict(instruments)
        self.quote = quotes.pop()
        self.capital = capital
        self._marks: dict[str, LastTrade] = {}

    @property
    def symbols(self) -> list[str]:
        return list(self.instruments)

    def mark(self, symbol: str, price: Decimal, at: datetime) -> None:
        """Remember ``price`` as ``symbol``'s latest (what its position is valued at)."""
        self._marks[symbol] = LastTrade(price, at)

    def price(self, symbol: str) -> Decimal | None:
        mark = self._marks.get(symbol)
        return mark.price if mark is not None else self.oms.position(symbol).mark_price

    def equity(self, prices: Mapping[str, Decimal] | None = None) -> Decimal:
        """Capital plus every member's net P&L, each position valued at ``prices`` or its latest mark."""
        total = self.capital
        for symbol in self.instruments:
            price = (prices or {}).get(symbol) or self.price(symbol)
            position = self.oms.position(symbol)
            total += self.oms.portfolio.valued(symbol, price).net_pnl if price is not None else position.net_pnl
        return total

    def cash(self) -> Decimal:
        """Quote currency not in any position: capital plus realised P&L, less cost bases and fees."""
        total = self.capital
        for symbol in self.instruments:
            position = self.oms.position(symbol)
            total += position.realized_pnl - position.cost_basis - position.fees_quote
        return total

    def positions(self) -> dict[str, Decimal]:
        return {symbol: self.oms.position(symbol).quantity for symbol in self.instruments}

    def exposures(self, prices: Mapping[str, Decimal] | None = None) -> dict[str, Decimal]:
        """Signed position value per member at ``prices`` (or the latest marks)."""
        values = {}
        for symbol, quantity in self.positions().items():
            price = (prices or {}).get(symbol) or self.price(symbol)
            values[symbol] = quantity * price if price is not None and quantity else ZERO
        return values

    def risk_context(self, symbol: str, price: Decimal, at: datetime) -> RiskContext:
        """What the gate needs to judge an order for ``symbol`` at ``price``: the whole account."""
        self.mark(symbol, price, at)
        return RiskContext(
            positions=self.positions(),
            open_orders=self.oms.open_orders(),
            last_trades=dict(self._marks),
            equity=self.equity({symbol: price}),
            instruments=self.instruments,
        )
