"""One object for the engine: the gate, the kill switch and the breakers sharing one state and clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradepulse.model.kinds import RiskKind
from tradepulse.risk._common import Clock, utc_now
from tradepulse.risk.breakers import BaselineChange, BreakerTrip, CircuitBreakers, RiskEvent
from tradepulse.risk.gate import RiskContext, RiskDecision, RiskGate
from tradepulse.risk.limits import RiskLimits
from tradepulse.risk.state import StateChange, TradingMode, TradingState, is_operator

__all__ = ["RiskControls"]

_SNAPSHOT_KIND = RiskKind.BREAKER_SNAPSHOT


class RiskControls:
    """The risk layer as the live engine uses it.

    Every method returns journal-ready data (``to_payload()``): a :class:`RiskDecision` for an
    order, a :class:`StateChange` for an operator command, a list of :class:`RiskEvent` (breaker
    trips and the state changes they caused) for each input. The engine journals what it gets
    back *before* acting on it, then carries out the actions of any ``StateChange``.

    Parameters
    ----------
    limits : RiskLimits
        Limits and breaker thresholds.
    clock : callable, optional
        Returns the current aware ``datetime``.
    symbols : Iterable[str], optional
        Symbols whose market data must keep flowing (the stale-data breaker watches them).
    state : TradingState, optional
        A state restored with :meth:`TradingState.from_journal`; a new ACTIVE one by default.
    currency : str, optional
        The account currency equity is counted in (``"USDT"``), for breaker reasons.

    Examples
    --------
    >>> controls = RiskControls(RiskLimits(), symbols=["BTC/USDT"])
    >>> controls.halt("manual stop", actor="operator:alice").new
    <TradingMode.HALTED: 'HALTED'>
    >>> controls.resume("operator:alice").new
    <TradingMode.ACTIVE: 'ACTIVE'>
    """

    def __init__(
        self,
        limits: RiskLimits,
        clock: Clock = utc_now,
        symbols: Iterable[str] = (),
        state: TradingState | None = None,
        currency: str = "",
    ) -> None:
        self.limits = limits
        self.state = state if state is not None else TradingState(clock)
        self.gate = RiskGate(limits, clock, self.state)
        self.breakers = CircuitBreakers(limits, self.state, clock, symbols, currency)

    def check(self, order: Any, context: RiskContext) -> RiskDecision:
        """Run the pre-trade gate; see :meth:`RiskGate.check`."""
        return self.gate.check(order, context)

    def halt(self, reason: str, actor: str, flatten: bool = False) -> StateChange:
        """Stop trading; see :meth:`TradingState.halt` (never raises)."""
        return self.state.halt(reason, actor, flatten)

    def reduce(self, reason: str, actor: str) -> StateChange:
        """Allow only position-reducing orders; see :meth:`TradingState.reduce`."""
        return self.state.reduce(reason, actor)

    def resume(self, actor: str, reason: str = "operator resumed trading") -> StateChange:
        """Return to ACTIVE and re-arm every breaker; only ``operator:<name>`` may.

        The change carries the re-armed baselines, so journaling it is enough for a restart.
        """
        change = self.state.resume(actor, reason)
        # Re-armed now rather than at the next input: a dashboard asking right after the resume
        # sees every breaker armed, and a crash before the next input still finds the baselines.
        return replace(change, baselines=self.breakers.rearmed())

    def on_equity(self, equity: Decimal, at: datetime | None = None) -> list[RiskEvent]:
        """Feed an equity update; see :meth:`CircuitBreakers.on_equity`."""
        return self.breakers.on_equity(equity, at)

    def on_equity_and_poll(self, equity: Decimal, at: datetime | None = None) -> list[RiskEvent]:
        """:meth:`on_equity` and :meth:`poll` at once (a bar close); see :meth:`CircuitBreakers.on_equity_and_poll`."""
        return self.breakers.on_equity_and_poll(equity, at)

    def on_market_data(self, symbol: str, at: datetime | None = None) -> list[RiskEvent]:
        """Record market data arriving; see :meth:`CircuitBreakers.on_market_data`."""
        return self.breakers.on_market_data(symbol, at)

    def on_venue_response(self, ok: bool, at: datetime | None = None, detail: str = "") -> list[RiskEvent]:
        """Record a venue request's outcome; see :meth:`CircuitBreakers.on_venue_response`."""
        return self.breakers.on_venue_response(ok, at, detail)

    def on_order_rejected(self, symbol: str = "", reason: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record a venue reject; see :meth:`CircuitBreakers.on_order_rejected`."""
        return self.breakers.on_order_rejected(symbol, reason, at)

    def on_order_submitted(self, symbol: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record an order sent to the venue; judge the order-to-trade ratio. See :meth:`CircuitBreakers.on_order_submitted`."""
        return self.breakers.on_order_submitted(symbol, at)

    def on_cancel_requested(self, symbol: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record a cancel request sent to the venue (never trips); see :meth:`CircuitBreakers.on_cancel_requested`."""
        return self.breakers.on_cancel_requested(symbol, at)

    def on_trade(self, symbol: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record one of our trades, a fill (never trips); see :meth:`CircuitBreakers.on_trade`."""
        return self.breakers.on_trade(symbol, at)

    def poll(self, at: datetime | None = None) -> list[RiskEvent]:
        """Evaluate time-driven breakers; call on a timer. See :meth:`CircuitBreakers.poll`."""
        return self.breakers.poll(at)

    def status(self) -> dict[str, Any]:
        """Return state, tripped breakers, throttle usage and the order-to-trade measurement
        (``breakers.order_to_trade``) as JSON-safe data for dashboards."""
        return {
            "kind": "risk.status",
            "state": self.state.to_payload(),
            "tripped": {name: trip.to_payload() for name, trip in self.breakers.tripped.items()},
            "orders_in_window": self.gate.orders_in_window(),
            "breakers": self.breakers.snapshot(),
        }

    def restore(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """Replay journaled risk payloads after a restart, in journal order: the newest wins.

        State changes rebuild the kill switch; ``risk.baselines`` and ``risk.breaker_snapshot``
        the breakers' baselines; ``risk.breaker_trip`` which breakers are tripped. An operator's
        resume voids everything before it — it re-armed the breakers, and an older peak or day
        start would trip them again the moment the engine restarts — and carries the baselines it
        re-armed from.
        """
        for payload in payloads:
            kind = payload.get("kind")
            if kind == StateChange.kind:
                self.state.apply_payload(payload)
                if payload.get("new") == TradingMode.ACTIVE.value and is_operator(str(payload.get("actor", ""))):
                    self.breakers.restore_resume(payload.get("baselines"))
            elif kind in (BaselineChange.kind, _SNAPSHOT_KIND):
                self.breakers.restore(payload)
            elif kind == BreakerTrip.kind:
                self.breakers.restore_trip(payload)
