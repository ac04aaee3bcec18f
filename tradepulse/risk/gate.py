"""The pre-trade gate: every order passes :meth:`RiskGate.check` before it can reach a venue.

The gate never raises for a bad order; it returns a :class:`RiskDecision` that says no, names the
check that failed and gives the numbers, ready to be journaled and shown on the dashboard. Only an
approved decision carries an :class:`Approval`, and an ``Approval`` cannot be built anywhere else,
so an OMS that requires one cannot be handed an order the gate did not see.

An approval covers one submission, once: the OMS redeems it (:meth:`Approval.redeem`) right
before it journals the order, and the gate refuses a second use, an approval older than
``approval_ttl_seconds`` on the engine's clock, and one granted before the trading state last
changed (the checks it passed were made for a state that no longer holds).

The checks run in a fixed order (``CHECKS``); the first that fails decides. Gate limits are
inclusive: an order exactly at a limit passes.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tradepulse.model.kinds import RiskKind
from tradepulse.model.orders import InvalidOrder, OrderType, Side
from tradepulse.risk import _checks
from tradepulse.risk._checks import CHECKS, Denial, OrderFacts
from tradepulse.risk._common import ZERO, Clock, as_utc, fmt_seconds, jsonable, to_decimal, utc_now
from tradepulse.risk.actions import InstrumentLike, order_side, order_type, remaining_quantity
from tradepulse.risk.limits import RiskLimits
from tradepulse.risk.state import TradingMode, TradingState

__all__ = ["APPROVAL_REFUSALS", "CHECKS", "Approval", "ApprovalRefused", "LastTrade", "RiskContext", "RiskDecision", "RiskGate"]

#: Why a submission's approval can be refused (``ApprovalRefused.check``, journaled with the denial).
APPROVAL_REFUSALS = ("approval_used", "approval_expired", "approval_state_changed", "approval_foreign")

# Approvals are sealed with a per-process secret, so one cannot be built by hand or copied with
# changed fields (``dataclasses.replace``) by accident; see Approval.__post_init__.
_SEAL_SECRET = secrets.token_bytes(32)


def _seal(*parts: Any) -> str:
    message = "\x1f".join("" if part is None else str(part) for part in parts).encode()
    return hmac.digest(_SEAL_SECRET, message, "sha256").hex()  # hmac.new(...).hexdigest() in one C call


@dataclass(frozen=True)
class LastTrade:
    """The last trade (or last price) seen for a symbol, and when it was seen."""

    price: Decimal
    at: datetime


@dataclass(frozen=True)
class RiskContext:
    """What the engine knows when it asks the gate: positions, open orders, prices, equity.

    Parameters
    ----------
    positions : Mapping[str, Decimal]
        Signed quantity per symbol (long > 0, short < 0); missing symbols are flat.
    open_orders : Sequence
        Orders that may still fill (``Order`` objects or anything with ``symbol``, ``side``,
        ``quantity`` and ``remaining_quantity``/``filled_quantity``), all symbols. Orders in a
        terminal status are ignored.
    last_trades : Mapping[str, LastTrade]
        Last trade price and its time per symbol; ``(price, at)`` tuples are accepted.
    equity : Decimal or None
        Account equity in quote currency; needed only by ``max_gross_leverage``.
    gross_exposure : Decimal or None
        Sum of ``|position| × price`` over all symbols; computed from ``positions`` and
        ``last_trades`` when not given.
    instruments : Mapping[str, InstrumentLike]
        Venue constraints (tick, lot, minimums) per symbol; an order for a symbol without one is
        denied, because its venue minimums cannot be checked.
    """

    positions: Mapping[str, Decimal] = field(default_factory=dict)
    open_orders: Sequence[Any] = ()
    last_trades: Mapping[str, LastTrade] = field(default_factory=dict)
    equity: Decimal | None = None
    gross_exposure: Decimal | None = None
    instruments: Mapping[str, InstrumentLike] = field(default_factory=dict)

    def __post_init__(self) -> None:
        trades = {}
        for symbol, trade in self.last_trades.items():
            if not isinstance(trade, LastTrade):
                price, at = trade
                trade = LastTrade(to_decimal(price), at)
            trades[symbol] = LastTrade(to_decimal(trade.price), as_utc(trade.at))
        object.__setattr__(self, "last_trades", MappingProxyType(trades))
        object.__setattr__(
            self, "positions", MappingProxyType({s: to_decimal(q) for s, q in self.positions.items()})
        )
        # A finished order cannot fill any more; counting it would deny orders for nothing.
        object.__setattr__(
            self, "open_orders", tuple(o for o in self.open_orders if not getattr(getattr(o, "status", None), "is_terminal", False))
        )
        for name in ("equity", "gross_exposure"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_decimal(value))


class ApprovalRefused(InvalidOrder):
    """An approval cannot be used for this submission: already used, expired, or void.

    ``check`` is one of ``APPROVAL_REFUSALS``; the message says why and what to do (ask the gate
    again). It is an :class:`~tradepulse.model.orders.InvalidOrder`, so an OMS refuses the
    order before anything reaches the venue.
    """

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check


@dataclass(frozen=True)
class Approval:
    """Proof that the gate approved an order; only :meth:`RiskGate.check` can create one.

    An OMS takes an ``Approval`` with each submission, calls :meth:`covers` on the order it is
    about to send (an order that skipped the gate, or was changed after approval, is refused) and
    then :meth:`redeem` (an approval is good for one submission, for ``approval_ttl_seconds``, in
    the trading state it was granted in).
    """

    decision_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    client_order_id: str | None
    approved_at: datetime
    trading_state: TradingMode = TradingMode.ACTIVE
    state_epoch: int = 0
    seal: str = field(default="", repr=False, compare=False)
    # Not sealed: it only routes redeem() back to the gate, which checks the approval against itself.
    gate: RiskGate | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not hmac.compare_digest(self.seal, _seal(*self._sealed_fields())):
            raise TypeError("an Approval comes only from RiskGate.check, unchanged; submit the order through the gate")

    def _sealed_fields(self) -> tuple[Any, ...]:
        return (
            self.decision_id,
            self.symbol,
            self.side,
            self.order_type,
            self.quantity,
            self.limit_price,
            self.client_order_id,
            self.approved_at.isoformat(),
            self.trading_state,
            self.state_epoch,
        )

    def redeem(self) -> None:
        """Use the approval for one submission now; see :meth:`RiskGate.redeem`.

        Raises
        ------
        ApprovalRefused
            Already used, older than ``approval_ttl_seconds``, or granted before the trading
            state last changed.
        """
        if self.gate is None:
            raise ApprovalRefused("approval_foreign", f"risk approval {self.decision_id} is not bound to a risk gate; ask the gate again")
        self.gate.redeem(self)

    def covers(self, order: Any) -> bool:
        """Return whether ``order`` is the order approved: same symbol, side, type and price,
        no larger quantity, and the same client order id when both have one."""
        try:
            same = (
                order.symbol == self.symbol
                and order_side(order) is self.side
                and order_type(order) is self.order_type
                and Decimal(order.quantity) <= self.quantity
            )
            price = getattr(order, "limit_price", None)
            if self.order_type is OrderType.LIMIT:
                same = same and price is not None and Decimal(price) == self.limit_price
            order_id = getattr(order, "client_order_id", None)
            if self.client_order_id is not None and order_id is not None:
                same = same and order_id == self.client_order_id
            return bool(same)
        except (AttributeError, TypeError, ValueError, ArithmeticError):
            return False


@dataclass(frozen=True)
class RiskDecision:
    """The gate's answer for one order: approved, or denied by a named check with a reason.

    Attributes
    ----------
    approved : bool
        Whether the order may be sent.
    check : str
        The check that denied it (one of ``CHECKS``), or ``"all"`` when approved.
    reason : str
        A sentence naming the limit and the values, e.g. ``"order notional 12,500.00 USDT
        exceeds max_order_notional 10,000.00"``.
    details : Mapping
        The numbers behind the reason (``limit``, ``limit_value``, ``value``, ``unit`` ...).
    approval : Approval or None
        Present only when approved; hand it to the OMS with the order.
    """

    approved: bool
    check: str
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)
    symbol: str = ""
    client_order_id: str | None = None
    decided_at: datetime | None = None
    trading_state: TradingMode | None = None
    decision_id: str = ""
    order: Mapping[str, Any] = field(default_factory=dict)
    approval: Approval | None = field(default=None, repr=False, compare=False)

    kind = RiskKind.DECISION

    def to_payload(self) -> dict[str, Any]:
        """Return the decision as JSON-safe data (Decimals as strings, times ISO-8601)."""
        return {
            "kind": self.kind,
            "decision_id": self.decision_id,
            "approved": self.approved,
            "check": self.check,
            "reason": self.reason,
            "details": jsonable(dict(self.details)),
            "symbol": self.symbol,
            "client_order_id": self.client_order_id,
            "order": jsonable(dict(self.order)),
            "trading_state": jsonable(self.trading_state),
            "decided_at": jsonable(self.decided_at),
        }


class RiskGate:
    """Pre-trade checks, the trading state and the order-rate throttle in one place.

    Parameters
    ----------
    limits : RiskLimits
        The limits to enforce.
    clock : callable, optional
        Returns the current aware ``datetime``; inject a fake clock in tests.
    state : TradingState, optional
        The kill switch to honour; a new ACTIVE one by default (``gate.state``).

    Examples
    --------
    >>> from decimal import Decimal
    >>> from datetime import datetime, timezone
    >>> from types import SimpleNamespace
    >>> from tradepulse.model.orders import OrderIntent, OrderType, Side
    >>> from tradepulse.risk import RiskContext, RiskGate, RiskLimits
    >>> now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    >>> gate = RiskGate(RiskLimits(max_order_notional=Decimal("10000")), clock=lambda: now)
    >>> btc = SimpleNamespace(tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"),
    ...                       min_quantity=Decimal("0.00001"), min_notional=Decimal("5"))
    >>> context = RiskContext(last_trades={"BTC/USDT": (Decimal("50000"), now)}, instruments={"BTC/USDT": btc})
    >>> order = OrderIntent("momentum", "BTC/USDT", Side.BUY, Decimal("0.25"), OrderType.LIMIT, Decimal("50000"))
    >>> decision = gate.check(order, context)
    >>> decision.approved, decision.check, decision.reason
    (False, 'max_order_notional', 'order notional 12,500.00 USDT exceeds max_order_notional 10,000.00')
    """

    def __init__(self, limits: RiskLimits, clock: Clock = utc_now, state: TradingState | None = None) -> None:
        self.limits = limits
        self.state = state if state is not None else TradingState(clock)
        self._clock = clock
        self._lock = threading.Lock()
        # Decision ids: a random half per gate and a counter (32 hex digits, as uuid4().hex was). Unique
        # without asking the OS for randomness per order, which took hundreds of microseconds on some
        # machines; approvals are forgery-proof by their seal, not by the id being unguessable.
        self._decision_prefix = secrets.token_hex(8)
        self._decisions = itertools.count(1)
        self._approved_at: deque[datetime] = deque()
        self._last_now: datetime | None = None
        # Approvals used within their time to live, by decision id -> (approved at, used at). Older
        # ones need no memory: they are refused as expired, and gate time never runs backwards.
        self._redeemed: dict[str, tuple[datetime, datetime]] = {}

    def check(self, order: Any, context: RiskContext) -> RiskDecision:
        """Decide whether ``order`` may go to the venue; never raises for a bad order.

        Parameters
        ----------
        order : OrderIntent or Order
            From ``tradepulse.model.orders``, or anything with ``symbol``, ``side``,
            ``order_type``, ``quantity``, ``limit_price`` (and optionally ``client_order_id``).
        context : RiskContext
            Positions, open orders, last trades, equity and instruments at this moment.

        Returns
        -------
        RiskDecision
            Approved (with an :class:`Approval`) or denied by the first failing check. An
            approval also takes a slot in the order-rate window.
        """
        with self._lock:
            now = self._now()
            # Stamped before the checks run: a state change during them leaves the approval void.
            mode, epoch = self.state.stamp()
            decision_id = f"{self._decision_prefix}{next(self._decisions):016x}"
            facts: OrderFacts | None = None
            try:
                facts = self._facts(order, context, now)
                denial = self._first_denial(facts, context, now) if isinstance(facts, OrderFacts) else facts
            except Exception as exc:  # noqa: BLE001 - fail closed: a gate bug must deny, not crash the loop
                denial = Denial("gate_error", f"risk gate could not evaluate the order: {exc!r}", {"error": repr(exc)})
            common = dict(
                symbol=str(getattr(order, "symbol", "")),
                client_order_id=getattr(order, "client_order_id", None),
                decided_at=now,
                trading_state=self.state.mode,
                decision_id=decision_id,
                order=_order_payload(order),
            )
            if denial is not None:
                return RiskDecision(False, denial.check, denial.reason, MappingProxyType(denial.details), **common)
            assert isinstance(facts, OrderFacts)
            self._approved_at.append(now)
            fields = dict(
                decision_id=decision_id,
                symbol=facts.symbol,
                side=facts.side,
                order_type=facts.order_type,
                quantity=facts.quantity,
                limit_price=facts.limit_price,
                client_order_id=common["client_order_id"],
            )
            seal = _seal(*fields.values(), now.isoformat(), mode, epoch)
            approval = Approval(**fields, approved_at=now, trading_state=mode, state_epoch=epoch, seal=seal, gate=self)
            return RiskDecision(True, "all", "all checks passed", MappingProxyType(facts.summary()), approval=approval, **common)

    def redeem(self, approval: Approval) -> None:
        """Use ``approval`` for one submission now, or raise :class:`ApprovalRefused` saying why not.

        Refused when it was used before, when it is older than ``approval_ttl_seconds`` on the
        gate's clock (exactly at the limit is still valid), when the trading state changed after it
        was granted (even a change and back: the order was judged in a state that did not last), or
        when another gate granted it.
        """
        with self._lock:
            now = self._now()
            ttl = self.limits.approval_ttl_seconds
            horizon = now - timedelta(seconds=ttl)
            for decision_id in [d for d, (approved_at, _) in self._redeemed.items() if approved_at < horizon]:
                del self._redeemed[decision_id]
            name = f"risk approval {approval.decision_id}"
            if approval.gate is not self:
                raise ApprovalRefused("approval_foreign", f"{name} was granted by another risk gate; ask this one")
            if approval.decision_id in self._redeemed:
                used_at = self._redeemed[approval.decision_id][1]
                raise ApprovalRefused(
                    "approval_used",
                    f"{name} was already used at {used_at.isoformat()}; an approval covers one submission, ask the gate again",
                )
            age = (now - approval.approved_at).total_seconds()
            if age > ttl:
                raise ApprovalRefused(
                    "approval_expired",
                    f"{name} expired: granted {fmt_seconds(age)} ago, beyond approval_ttl_seconds {ttl:g}; ask the gate again",
                )
            mode, epoch = self.state.stamp()
            if epoch != approval.state_epoch:
                raise ApprovalRefused(
                    "approval_state_changed",
                    f"{name} is void: the trading state changed from {approval.trading_state.value} to {mode.value} "
                    f"after it was granted ({self.state.actor}: {self.state.reason}); ask the gate again",
                )
            self._redeemed[approval.decision_id] = (approval.approved_at, now)

    def used_approvals(self) -> int:
        """Return how many used approvals the gate still remembers (those within their time to live)."""
        with self._lock:
            horizon = self._now() - timedelta(seconds=self.limits.approval_ttl_seconds)
            return sum(1 for approved_at, _ in self._redeemed.values() if approved_at >= horizon)

    def orders_in_window(self) -> int:
        """Return how many approvals the current order-rate window holds (for dashboards)."""
        with self._lock:
            self._prune(self._now())
            return len(self._approved_at)

    # -- internals -------------------------------------------------------------------------------

    def _now(self) -> datetime:
        # Gate time never runs backwards: a wall clock stepped back by NTP must not reopen
        # throttle slots that were already used.
        now = as_utc(self._clock())
        if self._last_now is not None and now < self._last_now:
            now = self._last_now
        self._last_now = now
        return now

    def _prune(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.limits.order_window_seconds)
        while self._approved_at and self._approved_at[0] <= horizon:
            self._approved_at.popleft()

    def _facts(self, order: Any, context: RiskContext, now: datetime) -> OrderFacts | Denial:
        fields_denial = _checks.order_fields(order)
        if fields_denial is not None:
            return fields_denial
        symbol = str(order.symbol)
        side = order_side(order)
        kind = order_type(order)
        quantity = to_decimal(order.quantity)
        limit_price = to_decimal(order.limit_price) if kind is OrderType.LIMIT else None
        position = context.positions.get(symbol, ZERO)
        pending_same_side = sum(
            (remaining_quantity(o) for o in context.open_orders if o.symbol == symbol and order_side(o) is side),
            ZERO,
        )
        trade = context.last_trades.get(symbol)
        age = (now - trade.at).total_seconds() if trade is not None else None
        return OrderFacts(
            symbol=symbol,
            side=side,
            order_type=kind,
            quantity=quantity,
            limit_price=limit_price,
            position=position,
            pending_same_side=pending_same_side,
            last_trade=trade.price if trade is not None else None,
            last_trade_age_seconds=age,
            last_trade_fresh=age is not None and age <= self.limits.last_trade_max_age_seconds,
            instrument=context.instruments.get(symbol),
            flattening=self.state.mode is TradingMode.HALTED and self.state.flatten,
        )

    def _first_denial(self, facts: OrderFacts, context: RiskContext, now: datetime) -> Denial | None:
        denial = _checks.trading_state(facts, self.state)
        if denial is None:
            denial = _checks.order_checks(facts, context, self.limits)
        if denial is None:
            self._prune(now)
            denial = _checks.order_rate(len(self._approved_at), self._approved_at, now, self.limits)
        return denial


def _order_payload(order: Any) -> dict[str, Any]:
    """The order as the gate saw it, for the journal (tolerant of half-built orders)."""
    payload = {}
    for name in ("client_order_id", "strategy", "symbol", "side", "order_type", "quantity", "limit_price"):
        value = getattr(order, name, None)
        payload[name] = value if value is None or isinstance(value, (Decimal, str)) else str(value)
    return payload
