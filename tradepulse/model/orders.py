"""Orders and their lifecycle as an explicit state table.

An order moves only along ``TRANSITIONS``: ``{(state, event): next_state}``. Anything not in the
table raises :class:`InvalidTransition`, so a venue message that makes no sense for an order's
state (a fill for a rejected order, an acknowledgement after a rejection) is caught where it
happens instead of corrupting positions.

Some entries exist only because real venues report things out of order: the acknowledgement and
the first fill travel separately (REST answer vs. WebSocket stream), a cancel races the last fill,
and a fill executed just before a cancel can be reported just after it. Those entries keep the
order where the venue's truth puts it; they are marked "late" or "race" below and in
``docs/execution.md``.

Quantities, prices and fees are :class:`~decimal.Decimal` (money is exact where it is money); a
``float`` on these paths is refused with a ``TypeError``.
"""

from __future__ import annotations

import enum
import functools
import typing
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from tradepulse.errors import TradePulseError

ZERO = Decimal(0)
T = TypeVar("T")


class OrderStatus(enum.StrEnum):
    """Where an order is in its lifecycle."""

    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        """No longer working at the venue (late reports may still arrive for CANCELED and EXPIRED)."""
        return self in TERMINAL_STATES

    @property
    def is_open(self) -> bool:
        """Live at the venue (or possibly so): counts against open-order limits and must be cancelled on halt."""
        return self in OPEN_STATES


class OrderEvent(enum.StrEnum):
    """Something that happens to an order: a decision of ours or an answer from the venue."""

    DENY = "DENY"  # the risk gate said no; the venue never saw the order
    SUBMIT = "SUBMIT"  # the intent is journaled and the request is on its way
    ACCEPT = "ACCEPT"  # the venue acknowledged the order
    REJECT = "REJECT"  # the venue refused the order
    PARTIAL_FILL = "PARTIAL_FILL"  # a fill that leaves quantity open
    FILL = "FILL"  # the fill that completes the quantity
    CANCEL_REQUEST = "CANCEL_REQUEST"
    CANCEL = "CANCEL"  # the venue confirmed the cancel (also: IOC remainder cancelled)
    CANCEL_REJECT = "CANCEL_REJECT"  # the cancel failed; the order is still working (or already done)
    EXPIRE = "EXPIRE"  # time in force ran out


S, E = OrderStatus, OrderEvent

# The table; TRANSITION_NOTES below says why each entry off the plain happy path exists.
TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (S.INITIALIZED, E.DENY): S.DENIED,
    (S.INITIALIZED, E.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, E.ACCEPT): S.ACCEPTED,
    (S.SUBMITTED, E.REJECT): S.REJECTED,
    (S.SUBMITTED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.SUBMITTED, E.FILL): S.FILLED,
    (S.SUBMITTED, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.SUBMITTED, E.CANCEL): S.CANCELED,
    (S.SUBMITTED, E.EXPIRE): S.EXPIRED,
    (S.ACCEPTED, E.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, E.FILL): S.FILLED,
    (S.ACCEPTED, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.ACCEPTED, E.CANCEL): S.CANCELED,
    (S.ACCEPTED, E.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, E.ACCEPT): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, E.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, E.EXPIRE): S.EXPIRED,
    (S.PENDING_CANCEL, E.ACCEPT): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.REJECT): S.REJECTED,
    (S.PENDING_CANCEL, E.PARTIAL_FILL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.FILL): S.FILLED,
    (S.PENDING_CANCEL, E.CANCEL): S.CANCELED,
    (S.PENDING_CANCEL, E.EXPIRE): S.EXPIRED,
    (S.PENDING_CANCEL, E.CANCEL_REJECT): S.ACCEPTED,
    (S.PENDING_CANCEL, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.FILLED, E.ACCEPT): S.FILLED,
    (S.FILLED, E.CANCEL_REJECT): S.FILLED,
    (S.CANCELED, E.ACCEPT): S.CANCELED,
    (S.CANCELED, E.PARTIAL_FILL): S.CANCELED,
    (S.CANCELED, E.FILL): S.FILLED,
    (S.EXPIRED, E.ACCEPT): S.EXPIRED,
    (S.EXPIRED, E.PARTIAL_FILL): S.EXPIRED,
    (S.EXPIRED, E.FILL): S.FILLED,
    (S.EXPIRED, E.CANCEL_REJECT): S.EXPIRED,
}

TERMINAL_STATES = frozenset({S.DENIED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})
OPEN_STATES = frozenset({S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL})


class InvalidTransition(TradePulseError):
    """An event arrived that the order's current state does not allow."""


class InvalidOrder(TradePulseError):
    """An order intent or a fill is malformed or does not fit its instrument (lot, tick, minimums)."""


class UnknownOrder(TradePulseError, KeyError):
    """The OMS has no order with this client order id."""

    def __str__(self) -> str:
        # KeyError would print the message with quotes around it.
        return str(self.args[0]) if self.args else "unknown order"


class Side(enum.StrEnum):
    """Buy or sell; ``sign`` is +1 for a buy and -1 for a sell."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(enum.StrEnum):
    """Market or limit."""

    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(enum.StrEnum):
    """How long a limit order works: good till cancelled, immediate or cancel, fill or kill."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


def next_status(status: OrderStatus, event: OrderEvent, filled_quantity: Decimal = ZERO) -> OrderStatus:
    """Look up the state ``event`` leads to from ``status``; raise :class:`InvalidTransition` if none.

    Parameters
    ----------
    status, event
        The order's current state and what happened to it.
    filled_quantity
        The order's filled quantity after the event; a rejected cancel of a partly filled order
        returns to ``PARTIALLY_FILLED`` rather than ``ACCEPTED``.
    """
    try:
        target = TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(f"order in state {status} cannot take event {event}") from None
    if status is S.PENDING_CANCEL and event is E.CANCEL_REJECT and filled_quantity > 0:
        return S.PARTIALLY_FILLED
    return target


# Why the entries that are not the plain happy path exist; rendered into docs/execution.md.
TRANSITION_NOTES: dict[tuple[OrderStatus, OrderEvent], str] = {
    (S.SUBMITTED, E.PARTIAL_FILL): "market orders can report fills before (or instead of) an acknowledgement",
    (S.SUBMITTED, E.FILL): "as above",
    (S.SUBMITTED, E.CANCEL): "the venue cancelled it (IOC remainder, self-trade prevention)",
    (S.ACCEPTED, E.ACCEPT): "late: the same acknowledgement from the stream and the REST answer",
    (S.PARTIALLY_FILLED, E.ACCEPT): "late: the fill overtook the acknowledgement",
    (S.PENDING_CANCEL, E.ACCEPT): "late: the cancel was requested before the acknowledgement arrived",
    (S.PENDING_CANCEL, E.REJECT): "race: the venue refused the order before the cancel reached it",
    (S.PENDING_CANCEL, E.PARTIAL_FILL): "race: a fill landed while the cancel was in flight",
    (S.PENDING_CANCEL, E.CANCEL_REJECT): "the cancel failed; PARTIALLY_FILLED instead if some quantity filled",
    (S.PENDING_CANCEL, E.CANCEL_REQUEST): "sent again: the earlier cancel got no answer, and the venue may still be working the order",
    (S.FILLED, E.ACCEPT): "late: the whole quantity filled before the acknowledgement arrived",
    (S.FILLED, E.CANCEL_REJECT): "race: the cancel lost to the last fill",
    (S.CANCELED, E.ACCEPT): "late",
    (S.CANCELED, E.PARTIAL_FILL): "late: executed before the cancel took effect, reported after it; it counts",
    (S.CANCELED, E.FILL): "late, and the late fills completed the order",
    (S.EXPIRED, E.ACCEPT): "late",
    (S.EXPIRED, E.PARTIAL_FILL): "late, as for CANCELED (an IOC fill reported after the expiry)",
    (S.EXPIRED, E.FILL): "late, and the late fills completed the order",
    (S.EXPIRED, E.CANCEL_REJECT): "race: the cancel lost to the expiry",
}


def render_transition_table() -> str:
    """Return the transition table as a Markdown table (``docs/execution.md`` embeds this text)."""
    lines = ["| from | event | to | why |", "|---|---|---|---|"]
    for (status, event), target in TRANSITIONS.items():
        lines.append(f"| {status} | {event} | {target} | {TRANSITION_NOTES.get((status, event), '')} |")
    return "\n".join(lines)


def require_decimal(name: str, value: Any, *, optional: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``Decimal`` (or ``None`` when ``optional``).

    Floats are refused on purpose: ``0.1 + 0.2 != 0.3`` in binary, and quantities that drift by
    one ulp end up off the lot grid or leave dust positions.
    """
    if value is None and optional:
        return
    if not isinstance(value, Decimal):
        got = f"{type(value).__name__} {value!r}"
        raise TypeError(f"{name} must be a Decimal (got {got}); build it from a string: Decimal('0.1')")
    if not value.is_finite():
        raise InvalidOrder(f"{name} must be a finite number (got {value})")


def decimal_text(value: Decimal | None) -> str | None:
    """Format a Decimal for the journal: plain notation, exact (``Decimal(text) == value``)."""
    return None if value is None else format(value, "f")


def parse_decimal(value: Any) -> Decimal | None:
    """Inverse of :func:`decimal_text`; accepts ``Decimal`` and ``str`` (never ``float``)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value)
    raise TypeError(f"expected a decimal string, got {type(value).__name__} {value!r}")


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp from the journal (``datetime`` passes through)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def payload_of(instance: Any) -> dict[str, Any]:
    """Return a dataclass as a JSON-ready dict: Decimals as exact strings, times ISO-8601, enums by value."""
    # Looked up by the value's exact type (every order, fill and position is written this way on
    # every order); a type not listed, such as an enum or a subclass, takes _jsonable's checks.
    plain = _PLAIN_BY_TYPE
    payload = {}
    for name in _field_names(type(instance)):
        value = getattr(instance, name)
        convert = plain.get(type(value))
        payload[name] = _jsonable(value) if convert is None else convert(value)
    return payload


def _as_is(value: Any) -> Any:
    return value


_PLAIN_BY_TYPE: dict[type, Any] = {
    str: _as_is, int: _as_is, float: _as_is, bool: _as_is, type(None): _as_is, Decimal: decimal_text,
    datetime: datetime.isoformat, tuple: list,
}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(cls))


def from_payload(cls: type[T], payload: dict[str, Any]) -> T:
    """Rebuild dataclass ``cls`` from :func:`payload_of` output, converting by field type; missing keys take defaults."""
    return cls(**{name: None if (value := payload[name]) is None else parse(value)
                  for name, parse in _parsers(cls) if name in payload})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return list(value) if isinstance(value, tuple) else value


@functools.cache
def _parsers(cls: type) -> tuple[tuple[str, Any], ...]:
    """Each field of ``cls`` with the function that turns its journaled form back (decided once per class)."""
    hints = typing.get_type_hints(cls)
    return tuple((item.name, _parser(hints[item.name])) for item in fields(cls))


def _parser(hint: Any) -> Any:
    for kind in typing.get_args(hint) or (hint,):
        if kind is Decimal:
            return parse_decimal
        if kind is datetime:
            return parse_time
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return kind
    return tuple if typing.get_origin(hint) is tuple else _as_is


@dataclass(frozen=True)
class OrderIntent:
    """What the engine wants to trade, before it has a client order id.

    The risk gate checks an intent; the OMS then turns it into an :class:`Order` with
    :meth:`~tradepulse.execution.oms.OMS.prepare_submit` (or :meth:`~tradepulse.execution.oms.OMS.deny`).

    Parameters
    ----------
    strategy
        Id of the strategy that wants the trade; it becomes part of the client order id.
    reference_price
        The last price the engine saw, so notional checks work for market orders too.
    reason
        Free text for people: why this order exists (``"target 0.5 from 0.2"``).
    """

    strategy: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reference_price: Decimal | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        require_decimal("quantity", self.quantity)
        require_decimal("limit_price", self.limit_price, optional=True)
        require_decimal("reference_price", self.reference_price, optional=True)
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "order_type", OrderType(self.order_type))
        object.__setattr__(self, "time_in_force", TimeInForce(self.time_in_force))
        if self.quantity <= 0:
            raise InvalidOrder(f"order quantity must be positive (got {self.quantity}); use the side for direction")
        if self.order_type is OrderType.LIMIT and (self.limit_price is None or self.limit_price <= 0):
            raise InvalidOrder("a limit order needs a positive limit_price")
        if self.order_type is OrderType.MARKET and self.limit_price is not None:
            raise InvalidOrder("a market order takes no limit_price; pass reference_price for notional checks")

    @property
    def price_for_checks(self) -> Decimal | None:
        """The limit price, else the reference price: what notional limits are checked at."""
        return self.limit_price if self.limit_price is not None else self.reference_price

    @property
    def notional(self) -> Decimal | None:
        """Quantity times :attr:`price_for_checks`, in quote currency (``None`` without a price)."""
        price = self.price_for_checks
        return None if price is None else self.quantity * price

    def to_payload(self) -> dict[str, Any]:
        """Return a JSON-ready dict (Decimals as strings)."""
        return payload_of(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OrderIntent:
        """Rebuild an intent from :meth:`to_payload` output."""
        return from_payload(cls, payload)


@dataclass(frozen=True)
class Fill:
    """One execution reported by the venue.

    Parameters
    ----------
    trade_id
        The venue's trade id; with the symbol it identifies the execution, so a repeated report
        is recognised and ignored.
    fee, fee_currency
        The fee as the venue charged it. ``fee_currency`` empty means the quote currency. A fee in
        the base currency is converted at ``fill_price``; a fee in a third currency (BNB) needs
        ``fee_quote_rate`` (quote per unit of that currency, positive). A negative fee is a rebate
        (venues pay some makers): it is income and is accounted with its sign.
    symbol, side
        Optional; only used to describe a fill for an order the OMS does not know.
    """

    trade_id: str
    client_order_id: str
    fill_quantity: Decimal
    fill_price: Decimal
    filled_at: datetime
    fee: Decimal = ZERO
    fee_currency: str = ""
    venue_order_id: str | None = None
    fee_quote_rate: Decimal | None = None
    is_maker: bool | None = None
    symbol: str | None = None
    side: Side | None = None

    def __post_init__(self) -> None:
        require_decimal("fill_quantity", self.fill_quantity)
        require_decimal("fill_price", self.fill_price)
        require_decimal("fee", self.fee)
        require_decimal("fee_quote_rate", self.fee_quote_rate, optional=True)
        if not self.trade_id:
            raise InvalidOrder("a fill needs the venue's trade id (fills are de-duplicated by it)")
        if self.fill_quantity <= 0 or self.fill_price <= 0:
            raise InvalidOrder(f"fill quantity and price must be positive (got {self.fill_quantity} @ {self.fill_price})")
        if self.fee_quote_rate is not None and self.fee_quote_rate <= 0:
            raise InvalidOrder(f"fill {self.trade_id}: fee_quote_rate must be positive (got {self.fee_quote_rate})")
        if self.side is not None:
            object.__setattr__(self, "side", Side(self.side))

    def to_payload(self) -> dict[str, Any]:
        """Return a JSON-ready dict (Decimals as strings)."""
        return payload_of(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Fill:
        """Rebuild a fill from :meth:`to_payload` output (as read back from the journal)."""
        return from_payload(cls, payload)


@dataclass(frozen=True)
class Order:
    """One order, immutable: every change returns a new ``Order`` via :meth:`apply`.

    ``fees`` is in the instrument's quote currency; ``filled_notional`` is the exact sum of
    ``fill_quantity * fill_price`` (``average_fill_price`` is that over ``filled_quantity``,
    rounded to the instrument's tick). ``reason`` says why the order exists (from the intent);
    ``status_reason`` why it was denied, rejected, cancelled or a cancel failed.
    """

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    created_at: datetime
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    status: OrderStatus = OrderStatus.INITIALIZED
    venue_order_id: str | None = None
    filled_quantity: Decimal = ZERO
    average_fill_price: Decimal | None = None
    fees: Decimal = ZERO
    updated_at: datetime | None = None
    strategy: str = ""
    reason: str = ""
    trade_ids: tuple[str, ...] = field(default=())
    filled_notional: Decimal = ZERO
    status_reason: str = ""

    @classmethod
    def from_intent(cls, client_order_id: str, intent: OrderIntent, created_at: datetime) -> Order:
        """Return the ``INITIALIZED`` order for ``intent`` under ``client_order_id``."""
        return cls(
            client_order_id=client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            order_type=intent.order_type,
            quantity=intent.quantity,
            created_at=created_at,
            limit_price=intent.limit_price,
            time_in_force=intent.time_in_force,
            strategy=intent.strategy,
            reason=intent.reason,
        )

    @property
    def remaining_quantity(self) -> Decimal:
        """Quantity not filled yet (never negative)."""
        return max(self.quantity - self.filled_quantity, ZERO)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign

    @property
    def signed_remaining_quantity(self) -> Decimal:
        """Remaining quantity with the side's sign: what this order would still add to the position."""
        return self.remaining_quantity * self.side.sign

    def apply(self, event: OrderEvent, at: datetime, **changes: Any) -> Order:
        """Return the order after ``event``, with ``changes`` (e.g. ``venue_order_id``) applied."""
        filled = changes.get("filled_quantity", self.filled_quantity)
        return replace(self, status=next_status(self.status, event, filled), updated_at=at, **changes)

    def to_payload(self) -> dict[str, Any]:
        """Return a JSON-ready dict (Decimals as strings, times as ISO-8601)."""
        return payload_of(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Order:
        """Rebuild an order from :meth:`to_payload` output."""
        return from_payload(cls, payload)
