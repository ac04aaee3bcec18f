"""Tradable instruments and the Decimal grid their orders live on.

A venue accepts a price only on its tick grid and a quantity only on its lot grid, and refuses
orders below a minimum quantity or notional. Rounding happens once, here, at the edge where an
order is built (design decision 6); fills are recorded exactly as the venue reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext

from tradepulse.model.orders import ZERO, InvalidOrder, OrderIntent, OrderType, Side, TimeInForce, require_decimal

# Enough digits that dividing by a tiny tick never rounds inside the computation itself.
_PRECISION = 60
_GRID_CONTEXT = Context(prec=_PRECISION)


@dataclass(frozen=True)
class Instrument:
    """A spot or perpetual market, e.g. ``BTC/USDT``.

    Parameters
    ----------
    symbol
        The venue-neutral symbol (``"BTC/USDT"``), as used everywhere else in TradePulse.
    base, quote
        Currencies: quantities are in ``base``, prices, fees and P&L in ``quote``.
    tick_size, lot_size
        The price and quantity grids (Binance ``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``).
    min_quantity, min_notional
        The venue's minimum order quantity (base) and value (quote); zero means no minimum.
    pnl_quantum
        The quote-currency step every stored amount (P&L, fees, cost basis) is rounded to,
        half-even. Default ``tick_size * lot_size``: the notional of any on-grid fill is an exact
        multiple of it, so ordinary fills are recorded without any rounding.

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> btc = Instrument("BTC/USDT", "BTC", "USDT", tick_size=D("0.01"), lot_size=D("0.00001"))
    >>> btc.round_quantity(D("0.123456789")), btc.round_price(D("43000.005"))
    (Decimal('0.12345'), Decimal('43000.00'))
    """

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal = ZERO
    min_notional: Decimal = ZERO
    pnl_quantum: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "min_quantity", "min_notional"):
            require_decimal(name, getattr(self, name))
        require_decimal("pnl_quantum", self.pnl_quantum, optional=True)
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise InvalidOrder(f"{self.symbol}: tick_size and lot_size must be positive")
        if self.min_quantity < 0 or self.min_notional < 0:
            raise InvalidOrder(f"{self.symbol}: minimums must not be negative")
        if self.pnl_quantum is not None and self.pnl_quantum <= 0:
            raise InvalidOrder(f"{self.symbol}: pnl_quantum must be positive")
        # Kept (not fields): quantize_quote runs several times per bar and per fill.
        quantum = self.pnl_quantum if self.pnl_quantum is not None else self.tick_size * self.lot_size
        object.__setattr__(self, "_quote_quantum", quantum)
        object.__setattr__(self, "_quote_quantum_is_power_of_ten", _is_power_of_ten(quantum))

    @property
    def quote_quantum(self) -> Decimal:
        """The step quote-currency amounts are rounded to (see ``pnl_quantum``)."""
        return self._quote_quantum

    def round_price(self, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Round ``price`` to the tick grid (nearest tick, half-even, unless ``rounding`` says otherwise)."""
        return _to_grid(price, self.tick_size, rounding)

    def round_limit_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a limit price to the tick in the direction that never pays more: buys down, sells up."""
        return self.round_price(price, ROUND_FLOOR if Side(side) is Side.BUY else ROUND_CEILING)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """Round ``quantity`` down (toward zero) to the lot grid: never trade more than asked."""
        return _to_grid(quantity, self.lot_size, ROUND_DOWN)

    def quantize_quote(self, amount: Decimal) -> Decimal:
        """Round a quote-currency amount to :attr:`quote_quantum`, half-even."""
        return _to_grid(amount, self._quote_quantum, ROUND_HALF_EVEN, self._quote_quantum_is_power_of_ten)

    def is_price_on_grid(self, price: Decimal) -> bool:
        return self.round_price(price) == price

    def is_quantity_on_grid(self, quantity: Decimal) -> bool:
        return self.round_quantity(quantity) == quantity

    def order_problem(
        self, quantity: Decimal, limit_price: Decimal | None = None, reference_price: Decimal | None = None
    ) -> str | None:
        """Say why an order would not fit this instrument, or return ``None`` if it fits.

        The limit price must be on the tick grid; the notional minimum is checked at the limit
        price, else at ``reference_price`` (a market order's last seen price), else skipped.
        """
        if not self.is_quantity_on_grid(quantity):
            return f"{self.symbol}: quantity {quantity} is not a multiple of the lot size {self.lot_size}"
        if quantity < self.min_quantity or quantity <= 0:
            return f"{self.symbol}: quantity {quantity} is below the minimum {self.min_quantity}"
        if limit_price is not None and not self.is_price_on_grid(limit_price):
            return f"{self.symbol}: price {limit_price} is not a multiple of the tick size {self.tick_size}"
        price = limit_price if limit_price is not None else reference_price
        if price is not None and quantity * price < self.min_notional:
            return f"{self.symbol}: notional {quantity * price} is below the minimum {self.min_notional} {self.quote}"
        return None

    def intent_for_change(
        self,
        strategy: str,
        quantity_change: Decimal,
        *,
        order_type: OrderType = OrderType.MARKET,
        limit_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reference_price: Decimal | None = None,
        reason: str = "",
    ) -> OrderIntent | None:
        """Build the intent that changes a position by ``quantity_change`` (signed, base units), on the grid.

        The quantity is rounded down to the lot and a limit price to the tick on the side that
        never pays more. Return ``None`` when the rounded change is zero or below the minimums.
        """
        require_decimal("quantity_change", quantity_change)
        side = Side.BUY if quantity_change > 0 else Side.SELL
        quantity = self.round_quantity(abs(quantity_change))
        if limit_price is not None:
            limit_price = self.round_limit_price(limit_price, side)
        if quantity == 0 or self.order_problem(quantity, limit_price, reference_price) is not None:
            return None
        return OrderIntent(strategy, self.symbol, side, quantity, order_type, limit_price, time_in_force, reference_price, reason)


def _is_power_of_ten(step: Decimal) -> bool:
    """Whether ``step`` is written 1, 0.1, 0.01, ... (one digit 1, exponent <= 0), the grids quantize serves directly."""
    _, digits, exponent = step.as_tuple()
    return digits == (1,) and isinstance(exponent, int) and exponent <= 0 and step > 0


def _to_grid(value: Decimal, step: Decimal, rounding: str, power_of_ten: bool | None = None) -> Decimal:
    """``value`` on ``step``'s grid; ``power_of_ten`` is :func:`_is_power_of_ten` of ``step`` when the caller kept it."""
    require_decimal("value", value)
    if power_of_ten if power_of_ten is not None else _is_power_of_ten(step):
        # A power-of-ten step (0.01, 1): quantizing is the same rounding in one C call, without
        # entering a local context (this runs several times per bar).
        return value.quantize(step, rounding=rounding, context=_GRID_CONTEXT)
    with localcontext() as context:
        context.prec = _PRECISION
        steps = (value / step).to_integral_value(rounding=rounding)
        result = steps * step
        # Print with the step's decimals (0.01 -> "43000.00"), as venues do; the value is unchanged
        # because result is an exact multiple of step.
        return result.quantize(step) if step.as_tuple().exponent <= 0 else result
