"""Positions and P&L per instrument, in exact Decimal quote currency.

Accounting rules (also in ``docs/execution.md``):

- A position has a signed base ``quantity`` (long > 0, short < 0) and a signed ``cost_basis`` in
  quote currency (the sum of ``quantity * price`` over the open part; negative for a short).
  ``average_cost`` is ``cost_basis / quantity`` rounded half-even to the tick.
- A fill on the side of the position (or from flat) adds to quantity and cost basis.
- A fill against the position closes ``min(|fill|, |position|)``. The closed part takes its share
  of the cost basis (all of it when the position closes completely) and realises
  ``closed * fill_price - that share`` (sign-adjusted for shorts). What is left of the fill opens a
  new position at ``fill_price``: a flip through zero realises P&L on the closed part and starts
  the opened part at a fresh average cost.
- Every stored quote amount is rounded half-even to the instrument's ``quote_quantum``. The only
  inexact step is a *partial* close's share of the cost basis; a full close removes exactly what
  is left, so over a round trip realised P&L equals proceeds minus cost, to the last digit.
- Fees are kept apart from realised P&L, in quote currency: a quote fee as charged; a base fee
  times the fill price; a fee in a third currency times the fill's ``fee_quote_rate``.
- A fee paid in the base asset leaves the position: the venue keeps those units (Binance takes a
  buyer's commission in the asset bought), so the account receives the traded quantity minus the
  fee, and the position follows the account. :func:`position_after_fill` takes the units out as
  if sold at the fill price, which realises nothing at the fill that bought them; the fee is
  expensed once, in ``fees_quote``. Reconciliation therefore compares the venue's base balance
  with the position directly. Worked example (``docs/execution.md``): buy 0.010 BTC at 50,000.00
  USDT with a fee of 0.00001 BTC -> position 0.00999 BTC, cost basis 499.50 USDT (average cost
  50,000.00), realised P&L 0, ``fees_quote`` 0.50 USDT; the account holds 0.00999 BTC more and
  500.00 USDT less.
- Unrealised P&L is ``quantity * mark_price - cost_basis``. A fill sets the mark to the fill price
  (the latest trade we know of); :meth:`Portfolio.mark` sets it from market data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.model.instruments import Instrument
from tradepulse.model.orders import ZERO, Fill, InvalidOrder, Side, decimal_text, parse_decimal
from tradepulse.store.journal import encode_value

_PRECISION = 60
# The arithmetic of ``_valued_exactly`` without entering a local context (a mark runs on every bar).
_EXACT = Context(prec=_PRECISION)


@dataclass(frozen=True)
class Position:
    """One instrument's position and P&L, all amounts in the instrument's quote currency."""

    symbol: str
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    average_cost: Decimal | None = None
    realized_pnl: Decimal = ZERO
    fees_quote: Decimal = ZERO
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def net_pnl(self) -> Decimal:
        """Realised plus unrealised P&L minus fees."""
        return self.realized_pnl + self.unrealized_pnl - self.fees_quote

    @property
    def notional(self) -> Decimal | None:
        """Signed position value at the mark (``None`` before any price is known)."""
        return None if self.mark_price is None else self.quantity * self.mark_price

    def to_payload(self) -> dict[str, Any]:
        """Return a JSON-ready dict (Decimals as strings)."""
        return {
            "symbol": self.symbol,
            "quantity": decimal_text(self.quantity),
            "cost_basis": decimal_text(self.cost_basis),
            "average_cost": decimal_text(self.average_cost),
            "realized_pnl": decimal_text(self.realized_pnl),
            "fees_quote": decimal_text(self.fees_quote),
            "mark_price": decimal_text(self.mark_price),
            "unrealized_pnl": decimal_text(self.unrealized_pnl),
            "net_pnl": decimal_text(self.net_pnl),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Position:
        """Rebuild a position from :meth:`to_payload` output."""
        return cls(
            symbol=payload["symbol"],
            quantity=parse_decimal(payload["quantity"]),
            cost_basis=parse_decimal(payload["cost_basis"]),
            average_cost=parse_decimal(payload.get("average_cost")),
            realized_pnl=parse_decimal(payload["realized_pnl"]),
            fees_quote=parse_decimal(payload["fees_quote"]),
            mark_price=parse_decimal(payload.get("mark_price")),
            unrealized_pnl=parse_decimal(payload.get("unrealized_pnl", "0")),
        )


@dataclass(frozen=True)
class PnlSummary:
    """P&L summed over the instruments that share one quote currency."""

    quote: str
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees_quote: Decimal = ZERO

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees_quote

    def to_payload(self) -> dict[str, Any]:
        return {
            "quote": self.quote,
            "realized_pnl": decimal_text(self.realized_pnl),
            "unrealized_pnl": decimal_text(self.unrealized_pnl),
            "fees_quote": decimal_text(self.fees_quote),
            "net_pnl": decimal_text(self.net_pnl),
        }


def fee_in_quote(instrument: Instrument, fill: Fill) -> Decimal:
    """Convert a fill's fee to the instrument's quote currency, rounded to its quantum.

    A base-currency fee is valued at the fill price; a third-currency fee (e.g. BNB) at the fill's
    ``fee_quote_rate``, which the venue adapter must supply. A rebate (negative fee) keeps its sign.
    """
    currency = fill.fee_currency or instrument.quote
    if fill.fee == 0 or currency == instrument.quote:
        return instrument.quantize_quote(fill.fee)
    if currency == instrument.base:
        return instrument.quantize_quote(fill.fee * fill.fill_price)
    if fill.fee_quote_rate is None:
        raise InvalidOrder(
            f"fill {fill.trade_id}: fee in {currency} needs fee_quote_rate ({instrument.quote} per {currency}) to be accounted"
        )
    return instrument.quantize_quote(fill.fee * fill.fee_quote_rate)


def position_after_fill(
    position: Position, instrument: Instrument, side: Side, fill_quantity: Decimal, fill_price: Decimal, fee_quote: Decimal,
    fee_base: Decimal = ZERO,
) -> Position:
    """Return ``position`` after a fill (see the module docstring for the rules).

    ``fee_base`` is a fee the venue took in the base asset (Binance charges a buyer's commission
    so): those units never reach the account, so they leave the position as if sold at the fill
    price, and the proceeds are the fee (``fee_quote`` already values it, and is the only place it
    is expensed). Without this the position would exceed the balance and every full sell would be
    refused for lack of funds. Buying 0.010 BTC at 50,000.00 with ``fee_base`` 0.00001 and
    ``fee_quote`` 0.50 gives quantity 0.00999, cost basis 499.50, realised P&L 0, fees 0.50.
    A negative ``fee_base`` is a rebate paid in the base asset: those units did reach the account,
    so they join the position as if bought at the fill price.
    """
    with localcontext() as context:
        # Sums and products of on-grid amounts must never round: give them room beyond the default 28 digits.
        context.prec = _PRECISION
        after = _position_after_fill(position, instrument, side, fill_quantity, fill_price, fee_quote)
        if fee_base:
            fee_side = Side.SELL if fee_base > 0 else Side.BUY
            after = _position_after_fill(after, instrument, fee_side, abs(fee_base), fill_price, ZERO)
        return after


def _position_after_fill(
    position: Position, instrument: Instrument, side: Side, fill_quantity: Decimal, fill_price: Decimal, fee_quote: Decimal
) -> Position:
    delta = fill_quantity * Side(side).sign
    quantity, cost_basis, realized = position.quantity, position.cost_basis, position.realized_pnl
    if quantity == 0 or (quantity > 0) == (delta > 0):
        quantity += delta
        cost_basis += delta * fill_price
    else:
        closed = min(abs(delta), abs(quantity))
        if closed == abs(quantity):
            removed_cost = cost_basis
        else:
            removed_cost = instrument.quantize_quote(cost_basis * closed / abs(quantity))
        direction = 1 if quantity > 0 else -1
        realized += instrument.quantize_quote(direction * closed * fill_price - removed_cost)
        quantity += delta
        cost_basis -= removed_cost
        opened = abs(delta) - closed
        if opened > 0:  # flipped through zero: the rest opens a new position at the fill price
            cost_basis = quantity * fill_price
    cost_basis = instrument.quantize_quote(cost_basis)
    fees = position.fees_quote + fee_quote
    booked = replace(position, quantity=quantity, cost_basis=cost_basis, realized_pnl=realized, fees_quote=fees)
    return _valued(booked, instrument, fill_price)


def _valued(position: Position, instrument: Instrument, mark_price: Decimal | None) -> Position:
    with localcontext() as context:
        context.prec = _PRECISION
        return _valued_exactly(position, instrument, mark_price)


def _valued_exactly(position: Position, instrument: Instrument, mark_price: Decimal | None) -> Position:
    average_cost = None
    if position.quantity != 0:
        average_cost = instrument.round_price(position.cost_basis / position.quantity, ROUND_HALF_EVEN)
    unrealized = ZERO
    if mark_price is not None and position.quantity != 0:
        unrealized = instrument.quantize_quote(position.quantity * mark_price - position.cost_basis)
    # Built directly, not with dataclasses.replace (which walks the fields): this runs on every bar.
    return Position(position.symbol, position.quantity, position.cost_basis, average_cost, position.realized_pnl,
                    position.fees_quote, mark_price, unrealized)


class Marked:
    """Positions valued at a mark, their totals, and both as the journal encodes them (see :meth:`Portfolio.marked`).

    A mark of one position held alone (every bar of an engine) gives its totals as the amounts
    they sum; the :class:`PnlSummary` is built only if someone asks for :attr:`totals`.
    """

    __slots__ = ("positions", "positions_json", "totals_json", "_totals", "_total_parts")

    def __init__(self, positions: tuple[Position, ...], totals: tuple[PnlSummary, ...] | None, positions_json: str,
                 totals_json: str, total_parts: tuple[str, Decimal, Decimal, Decimal] | None = None) -> None:
        self.positions = positions
        self.positions_json = positions_json  # {symbol: Position.to_payload()}, as encode_value writes it
        self.totals_json = totals_json  # {quote: PnlSummary.to_payload()}, likewise
        self._totals = totals
        self._total_parts = total_parts

    @property
    def totals(self) -> tuple[PnlSummary, ...]:
        if self._totals is None:
            assert self._total_parts is not None
            self._totals = (PnlSummary(*self._total_parts),)
        return self._totals


class _MarkBasis:
    """What a mark of one position reuses while no fill changes it."""

    __slots__ = ("position", "instrument", "positions_json_head", "totals_json_head", "total_fees_text", "realized_total",
                 "fees_total")

    def __init__(self, position: Position, instrument: Instrument, positions_json_head: str, totals_json_head: str,
                 realized_total: Decimal, fees_total: Decimal) -> None:
        self.position = position  # the position this basis last produced (stored unless a fill replaced it)
        self.instrument = instrument
        self.positions_json_head = positions_json_head  # '{"SYMBOL":{' and the payload's fields up to fees_quote
        self.totals_json_head = totals_json_head  # '{"QUOTE":{"quote":...,"realized_pnl":...' without what a mark changes
        # What totals() sums for one position: each amount added to zero, in the ambient context.
        self.realized_total = realized_total
        self.fees_total = fees_total
        self.total_fees_text = decimal_text(fees_total)


class Portfolio:
    """Positions of every instrument the OMS trades, updated by fills and marks.

    Parameters
    ----------
    instruments
        The instruments, by symbol; a fill for a symbol not listed is a ``ConfigError``.
    """

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._positions: dict[str, Position] = {}
        self._mark_basis: dict[str, _MarkBasis] = {}

    def position(self, symbol: str) -> Position:
        """Return the position in ``symbol`` (flat if never traded)."""
        return self._positions.get(symbol) or Position(symbol)

    @property
    def positions(self) -> dict[str, Position]:
        """Every position ever opened, by symbol (flat ones included: they carry realised P&L)."""
        return dict(self._positions)

    def after_fill(self, symbol: str, side: Side, fill_quantity: Decimal, fill_price: Decimal, fee_quote: Decimal,
                   fee_base: Decimal = ZERO) -> Position:
        """Return the position in ``symbol`` after a fill, without storing it (see :func:`position_after_fill`)."""
        return position_after_fill(self.position(symbol), self._instrument(symbol), side, fill_quantity, fill_price, fee_quote,
                                   fee_base)

    def apply_fill(self, symbol: str, side: Side, fill_quantity: Decimal, fill_price: Decimal, fee_quote: Decimal,
                   fee_base: Decimal = ZERO) -> Position:
        """Book one fill and return the new position."""
        updated = self.after_fill(symbol, side, fill_quantity, fill_price, fee_quote, fee_base)
        self._positions[symbol] = updated
        return updated

    def valued(self, symbol: str, mark_price: Decimal) -> Position:
        """Return the position in ``symbol`` valued at ``mark_price``, without storing it."""
        return _valued(self.position(symbol), self._instrument(symbol), mark_price)

    def restore(self, position: Position) -> None:
        """Store a position computed elsewhere (the OMS computes a change, journals it, then stores it)."""
        self._instrument(position.symbol)
        self._positions[position.symbol] = position

    def mark(self, symbol: str, mark_price: Decimal) -> Position:
        """Value the position in ``symbol`` at ``mark_price`` and return it."""
        updated = self.valued(symbol, mark_price)
        self._positions[symbol] = updated
        return updated

    def marked(self, prices: Mapping[str, Decimal]) -> Marked:
        """Value the positions in ``prices``' symbols at those prices, with totals, without storing them.

        Equal, field for field and digit for digit, to :meth:`valued` per symbol and :meth:`totals`
        of the result. One symbol held alone (the engine's every bar) reuses what the last mark
        computed from the same booked position, so only the unrealised P&L is new.
        """
        if len(prices) == 1:
            (symbol, price), = prices.items()
            if len(self._positions) == 0 or (len(self._positions) == 1 and symbol in self._positions):
                return self._marked_alone(symbol, price)
        positions = tuple(self.valued(symbol, price) for symbol, price in prices.items())
        totals = tuple(self.totals(positions).values())
        return Marked(positions, totals, encode_value({position.symbol: position.to_payload() for position in positions}),
                      encode_value({summary.quote: summary.to_payload() for summary in totals}))

    def _marked_alone(self, symbol: str, price: Decimal) -> Marked:
        stored = self._positions.get(symbol)
        basis = self._mark_basis.get(symbol)
        if basis is None or stored is None or basis.position is not stored:
            # A fill (or the first mark) since the last one: the full valuation, and a new basis.
            position = self.valued(symbol, price)
            instrument = self._instrument(symbol)
            payload = position.to_payload()
            head = {key: payload[key] for key in ("symbol", "quantity", "cost_basis", "average_cost", "realized_pnl", "fees_quote")}
            realized_total = ZERO + position.realized_pnl
            quote_head = {"quote": instrument.quote, "realized_pnl": decimal_text(realized_total)}
            basis = _MarkBasis(position, instrument, encode_value({symbol: head})[:-2], encode_value({instrument.quote: quote_head})[:-2],
                               realized_total, ZERO + position.fees_quote)
            self._mark_basis[symbol] = basis
        else:
            booked = basis.position
            quantity = booked.quantity
            unrealized = ZERO if quantity == 0 else basis.instrument.quantize_quote(
                _EXACT.subtract(_EXACT.multiply(quantity, price), booked.cost_basis))
            position = Position(symbol, quantity, booked.cost_basis, booked.average_cost, booked.realized_pnl, booked.fees_quote,
                                price, unrealized)
            basis.position = position
        unrealized_pnl = position.unrealized_pnl
        unrealized_total = ZERO + unrealized_pnl
        # PnlSummary.net_pnl, spelled out (the same operations in the same order) since no summary is built.
        net_total = basis.realized_total + unrealized_total - basis.fees_total
        # The rest of each payload after the kept head; decimal texts are digits, sign and point,
        # so nothing in them needs escaping.
        positions_json = (f'{basis.positions_json_head},"mark_price":"{price:f}",'
                          f'"unrealized_pnl":"{unrealized_pnl:f}","net_pnl":"{position.net_pnl:f}"}}}}')
        totals_json = (f'{basis.totals_json_head},"unrealized_pnl":"{unrealized_total:f}",'
                       f'"fees_quote":"{basis.total_fees_text}","net_pnl":"{net_total:f}"}}}}')
        return Marked((position,), None, positions_json, totals_json,
                      (basis.instrument.quote, basis.realized_total, unrealized_total, basis.fees_total))

    def totals(self, changed: Iterable[Position] = ()) -> dict[str, PnlSummary]:
        """P&L summed per quote currency (amounts in different currencies are never added).

        ``changed`` positions replace the stored ones in the sum (totals of a change not yet stored).
        """
        positions = {**self._positions, **{position.symbol: position for position in changed}}
        sums: dict[str, PnlSummary] = {}
        for symbol, position in sorted(positions.items()):
            quote = self._instrument(symbol).quote
            current = sums.get(quote) or PnlSummary(quote)
            sums[quote] = PnlSummary(
                quote,
                current.realized_pnl + position.realized_pnl,
                current.unrealized_pnl + position.unrealized_pnl,
                current.fees_quote + position.fees_quote,
            )
        return sums

    def total(self, quote: str | None = None) -> PnlSummary:
        """The P&L total in ``quote`` (may be omitted when every instrument shares one quote currency)."""
        sums = self.totals()
        if quote is None:
            quotes = {instrument.quote for instrument in self._instruments.values()}
            if len(quotes) != 1:
                raise ConfigError(f"instruments are quoted in {sorted(quotes)}; say which total you want: total(quote=...)")
            quote = quotes.pop()
        return sums.get(quote) or PnlSummary(quote)

    def _instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise ConfigError(f"no instrument definition for {symbol}; add it to the OMS instruments") from None


def instruments_by_symbol(instruments: Iterable[Instrument] | Mapping[str, Instrument]) -> dict[str, Instrument]:
    """Index instruments by symbol (a mapping passes through, checked)."""
    items = instruments.values() if isinstance(instruments, Mapping) else instruments
    indexed: dict[str, Instrument] = {}
    for instrument in items:
        if instrument.symbol in indexed:
            raise ConfigError(f"instrument {instrument.symbol} is defined twice")
        indexed[instrument.symbol] = instrument
    return indexed
