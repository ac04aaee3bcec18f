"""The trading state — ACTIVE, REDUCING, HALTED — which is the kill switch.

* **ACTIVE**: every order the other checks approve may go out.
* **REDUCING**: only orders that shrink an existing position's absolute size (without flipping it).
* **HALTED**: nothing, except the reduce-only orders of a flatten the halt itself asked for.

Anyone (an operator, a breaker, the reconciler) can make trading *stricter*; only an operator can
make it *looser* (:meth:`TradingState.resume`, or moving HALTED back to REDUCING). Halting never
fails: a kill switch that raises on a blank reason is worse than no kill switch.

Every change returns a :class:`StateChange` — previous and new state, reason, actor, time and
the actions the engine must carry out — ready to be journaled. The engine rebuilds the state on
restart by replaying those payloads (:meth:`TradingState.from_journal`), so a halted service comes
back halted.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradepulse.errors import TradePulseError
from tradepulse.model.kinds import RiskKind
from tradepulse.risk._common import Clock, as_utc, jsonable, utc_now
from tradepulse.risk.actions import CancelOpenOrders, FlattenPositions

__all__ = [
    "OPERATOR_PREFIX",
    "OperatorRequired",
    "StateChange",
    "TradingMode",
    "TradingState",
    "is_operator",
]

#: Operator identities look like ``operator:alice``; breakers act as ``breaker:<name>`` and other
#: automation as ``system:<component>``. The service's auth layer turns a token into the former.
OPERATOR_PREFIX = "operator:"


class TradingMode(enum.StrEnum):
    """How much trading is allowed; ordered from loosest to strictest."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def strictness(self) -> int:
        return _STRICTNESS[self]


_STRICTNESS = {TradingMode.ACTIVE: 0, TradingMode.REDUCING: 1, TradingMode.HALTED: 2}


class OperatorRequired(TradePulseError):
    """Only an operator (``operator:<name>``) may loosen the trading state; resume as one."""


def is_operator(actor: str) -> bool:
    """Return whether ``actor`` names an operator (``operator:<name>`` with a non-blank name).

    Examples
    --------
    >>> is_operator("operator:alice"), is_operator("breaker:daily_loss"), is_operator("operator:")
    (True, False, False)
    """
    return isinstance(actor, str) and actor.startswith(OPERATOR_PREFIX) and bool(actor[len(OPERATOR_PREFIX) :].strip())


@dataclass(frozen=True)
class StateChange:
    """One change of the trading state, journal-ready.

    Attributes
    ----------
    previous, new : TradingMode
        The state before and after (equal when an operator re-issues a halt or a reduce).
    reason : str
        Why, in words an operator understands ("daily loss 520.00 USDT reached max_daily_loss ...").
    actor : str
        Who: ``operator:<name>``, ``breaker:<name>`` or ``system:<component>``.
    at : datetime
        When, from the injected clock (UTC).
    actions : tuple
        What the engine must do now: :class:`CancelOpenOrders`, :class:`FlattenPositions`.
    flatten : bool
        Whether the state allows the reduce-only orders of a flatten (HALTED with flatten).
    baselines : Mapping or None
        On a resume through :meth:`RiskControls.resume`, the breakers' re-armed baselines, so the
        resume's own journal entry is enough to restore them after a crash.
    """

    previous: TradingMode
    new: TradingMode
    reason: str
    actor: str
    at: datetime
    actions: tuple[CancelOpenOrders | FlattenPositions, ...] = ()
    flatten: bool = False
    # Not compared: two changes are the same change whatever the breakers measured at the time.
    baselines: Mapping[str, Any] | None = field(default=None, compare=False)

    kind = RiskKind.STATE_CHANGE

    def to_payload(self) -> dict[str, Any]:
        """Return the change as JSON-safe data (see docs/risk.md for the shape)."""
        return {
            "kind": self.kind,
            "previous": self.previous.value,
            "new": self.new.value,
            "reason": self.reason,
            "actor": self.actor,
            "at": jsonable(self.at),
            "flatten": self.flatten,
            "actions": [action.to_payload() for action in self.actions],
        } | ({} if self.baselines is None else {"baselines": jsonable(dict(self.baselines))})


class TradingState:
    """The kill switch: the current :class:`TradingMode` and the rules for changing it.

    Parameters
    ----------
    clock : callable, optional
        Returns the current aware ``datetime``; UTC wall clock by default.
    mode : TradingMode, optional
        The state to start in (``ACTIVE``); use :meth:`from_journal` to restore a saved one.

    Examples
    --------
    >>> state = TradingState()
    >>> change = state.halt("exchange incident", actor="operator:alice", flatten=True)
    >>> [a["action"] for a in change.to_payload()["actions"]]
    ['cancel_open_orders', 'flatten_positions']
    >>> state.resume("operator:alice").new
    <TradingMode.ACTIVE: 'ACTIVE'>
    """

    def __init__(self, clock: Clock = utc_now, mode: TradingMode = TradingMode.ACTIVE) -> None:
        self._clock = clock
        # The service API (operator commands) and the engine loop may call from different threads.
        self._lock = threading.RLock()
        self._mode = TradingMode(mode)
        self._since = as_utc(clock())
        self._reason = "initial state"
        self._actor = "system:start"
        self._flatten = False
        self._resume_count = 0
        self._epoch = 0

    # -- reading ---------------------------------------------------------------------------------

    @property
    def mode(self) -> TradingMode:
        """The current state."""
        return self._mode

    @property
    def since(self) -> datetime:
        """When the current state was entered (or last re-issued)."""
        return self._since

    @property
    def reason(self) -> str:
        """Why the current state was entered."""
        return self._reason

    @property
    def actor(self) -> str:
        """Who entered the current state."""
        return self._actor

    @property
    def flatten(self) -> bool:
        """Whether a halt asked to flatten positions (the gate then allows reduce-only orders)."""
        return self._flatten

    @property
    def resume_count(self) -> int:
        """How many times an operator has resumed; breakers re-arm when this changes."""
        return self._resume_count

    @property
    def epoch(self) -> int:
        """How many changes (including re-issues) this state has seen; an approval is void once it moves."""
        return self._epoch

    def stamp(self) -> tuple[TradingMode, int]:
        """Return the mode and :attr:`epoch` together (read under the lock, so they belong together)."""
        with self._lock:
            return self._mode, self._epoch

    def to_payload(self) -> dict[str, Any]:
        """Return a snapshot of the state for dashboards and the API."""
        return {
            "kind": "risk.trading_state",
            "mode": self._mode.value,
            "since": jsonable(self._since),
            "reason": self._reason,
            "actor": self._actor,
            "flatten": self._flatten,
        }

    # -- changing --------------------------------------------------------------------------------

    def halt(self, reason: str, actor: str, flatten: bool = False) -> StateChange:
        """Stop all trading; return the change with cancel-all (and flatten) actions.

        Never raises: a blank reason or actor is recorded as such. Halting an already halted
        state re-issues the actions (pressing the kill switch twice cancels twice).

        Parameters
        ----------
        reason : str
            Why, for the journal and the dashboard.
        actor : str
            ``operator:<name>``, ``breaker:<name>`` or ``system:<component>``.
        flatten : bool
            Also close every position with reduce-only market orders after the cancels.
        """
        actions: tuple[CancelOpenOrders | FlattenPositions, ...] = (CancelOpenOrders("all"),)
        if flatten:
            actions += (FlattenPositions(),)
        return self._change(TradingMode.HALTED, reason, actor, actions, flatten=bool(flatten))

    def reduce(self, reason: str, actor: str) -> StateChange:
        """Allow only position-reducing orders; return the change with its cancel action.

        Open orders that would add risk are to be cancelled (``scope="risk_increasing"``). From
        HALTED this loosens the state, so only an operator may do it.

        Raises
        ------
        OperatorRequired
            When a non-operator tries to move HALTED to REDUCING.
        """
        with self._lock:
            if self._mode is TradingMode.HALTED and not is_operator(actor):
                raise OperatorRequired(
                    f"{actor!r} cannot move trading from HALTED to REDUCING; an operator "
                    f"({OPERATOR_PREFIX}<name>) must do it"
                )
            return self._change(TradingMode.REDUCING, reason, actor, (CancelOpenOrders("risk_increasing"),))

    def resume(self, actor: str, reason: str = "operator resumed trading") -> StateChange:
        """Return to ACTIVE; only an operator may, and doing so re-arms the breakers.

        Raises
        ------
        OperatorRequired
            When ``actor`` is not ``operator:<name>`` (a breaker or the engine cannot resume).
        """
        if not is_operator(actor):
            raise OperatorRequired(
                f"{actor!r} cannot resume trading; only an operator ({OPERATOR_PREFIX}<name>) can, "
                "after checking why trading stopped"
            )
        with self._lock:
            change = self._change(TradingMode.ACTIVE, reason, actor, ())
            self._resume_count += 1
            return change

    def escalate(self, mode: TradingMode, reason: str, actor: str, flatten: bool = False) -> StateChange | None:
        """Move to ``mode`` only if it is stricter than the current state; else return ``None``.

        This is how breakers and other automation act: they can tighten, never loosen.
        """
        mode = TradingMode(mode)
        with self._lock:
            if mode.strictness <= self._mode.strictness:
                return None
            if mode is TradingMode.HALTED:
                return self.halt(reason, actor, flatten=flatten)
            return self.reduce(reason, actor)

    def _change(
        self,
        new: TradingMode,
        reason: str,
        actor: str,
        actions: tuple[CancelOpenOrders | FlattenPositions, ...],
        flatten: bool = False,
    ) -> StateChange:
        with self._lock:
            change = StateChange(
                previous=self._mode,
                new=new,
                reason=str(reason).strip() or "no reason given",
                actor=str(actor).strip() or "unknown",
                at=as_utc(self._clock()),
                actions=actions,
                flatten=flatten,
            )
            self._apply(change.new, change.reason, change.actor, change.at, change.flatten)
            return change

    def _apply(self, mode: TradingMode, reason: str, actor: str, at: datetime, flatten: bool) -> None:
        self._mode, self._reason, self._actor, self._since = mode, reason, actor, at
        self._flatten = flatten and mode is TradingMode.HALTED
        self._epoch += 1

    # -- restoring -------------------------------------------------------------------------------

    def apply_payload(self, payload: Mapping[str, Any]) -> None:
        """Replay one journaled :meth:`StateChange.to_payload` (other kinds are ignored)."""
        if payload.get("kind") != StateChange.kind:
            return
        with self._lock:
            self._apply(
                TradingMode(payload["new"]),
                str(payload.get("reason", "")),
                str(payload.get("actor", "")),
                as_utc(datetime.fromisoformat(payload["at"])),
                bool(payload.get("flatten", False)),
            )

    @classmethod
    def from_journal(cls, payloads: Iterable[Mapping[str, Any]], clock: Clock = utc_now) -> TradingState:
        """Rebuild the state by replaying journaled payloads in order (a halted service stays halted).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> halted = {"kind": "risk.state_change", "new": "HALTED", "reason": "x", "actor": "operator:a",
        ...           "at": "2024-05-01T12:00:00+00:00"}
        >>> TradingState.from_journal([halted]).mode
        <TradingMode.HALTED: 'HALTED'>
        """
        state = cls(clock)
        for payload in payloads:
            state.apply_payload(payload)
        return state
