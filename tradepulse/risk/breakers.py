"""Circuit breakers: conditions that move the trading state on their own, and never back.

Six breakers watch explicit inputs the engine feeds them — there is no background thread and no
sleeping, and time comes from the injected clock:

=============  ==========================================  ==============================================
breaker        input                                       trips when
=============  ==========================================  ==============================================
daily_loss     :meth:`CircuitBreakers.on_equity`           the day's loss reaches ``max_daily_loss`` or
                                                           ``max_daily_loss_fraction`` of the day's start
drawdown       :meth:`CircuitBreakers.on_equity`           equity falls ``max_drawdown`` (or the fraction)
                                                           below its peak
stale_data     :meth:`~CircuitBreakers.on_market_data`,    a watched symbol has had no market data for
               :meth:`~CircuitBreakers.poll`               ``stale_after_seconds``
venue_errors   :meth:`~CircuitBreakers.on_venue_response`  errors in the window reach ``max_venue_errors``
                                                           or ``max_venue_error_fraction`` of requests
reject_storm   :meth:`~CircuitBreakers.on_order_rejected`  rejects in the window reach ``max_rejects``
order_to_trade :meth:`~CircuitBreakers.on_order_submitted`, order messages (new orders and cancels) per
               :meth:`~CircuitBreakers.poll`;              trade in the window reach
               counted: ``on_cancel_requested``,           ``max_order_to_trade_ratio``, once the window
               ``on_trade``                                holds ``order_to_trade_min_orders`` orders
=============  ==========================================  ==============================================

A trip is a :class:`BreakerTrip` (measured value against the limit) followed by the
:class:`~tradepulse.risk.state.StateChange` it caused, if the state got stricter. A tripped breaker
stays tripped — a new trading day does not reset it — until an operator resumes trading. Resuming
re-arms every breaker *from the moment of the resume*: the daily-loss baseline and the drawdown peak
become the last equity seen, the venue error and reject windows are emptied, and data staleness is
measured from the resume. An operator who resumes after a loss therefore grants a fresh loss
budget for the rest of the day; that is a deliberate, journaled decision only an operator can make.

The breakers' memory — the trading day and its starting equity, the drawdown peak, the venue
response and reject windows, the order-flow window — is returned as a :class:`BaselineChange` (``risk.baselines``) by the
input that changed it, ahead of any trip, so the engine journals it before acting. After a crash,
:meth:`CircuitBreakers.restore` (via :meth:`RiskControls.restore`) rebuilds exactly what was there:
a kill -9 does not grant a fresh loss budget. Equity that moves without making a new day or a new
peak changes nothing and is not journaled. The order-flow window can hold thousands of entries, so
a change carries only the entries added since the last one (``order_flow_added``); the whole window
(``order_flow``) travels only with a resume, when it is emptied.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Union

from tradepulse.model.kinds import RiskKind
from tradepulse.risk._common import Clock, as_utc, fmt_amount, fmt_seconds, jsonable, to_decimal, utc_now
from tradepulse.risk.limits import RiskLimits
from tradepulse.risk.state import StateChange, TradingMode, TradingState

__all__ = ["BASELINES", "BREAKERS", "ORDER_FLOW", "BaselineChange", "BreakerTrip", "CircuitBreakers", "RiskEvent", "order_to_trade_ratio"]

#: Every breaker name, as used in ``BreakerTrip.breaker`` and the ``breaker:<name>`` actor.
BREAKERS = ("daily_loss", "drawdown", "stale_data", "venue_errors", "reject_storm", "order_to_trade")

_ACTION_FIELD = {
    "daily_loss": "daily_loss_action",
    "drawdown": "drawdown_action",
    "stale_data": "stale_data_action",
    "venue_errors": "venue_error_action",
    "reject_storm": "reject_storm_action",
    "order_to_trade": "order_to_trade_action",
}

#: What a :class:`BaselineChange` can carry; the first three are in every one.
BASELINES = ("trading_day", "day_start_equity", "peak_equity", "venue_responses", "rejects", "order_flow")
_WINDOWS = BASELINES[3:]
#: What the order-flow window counts: a new order sent, a cancel requested, a trade (one per fill).
ORDER_FLOW = ("order", "cancel", "trade")
_EQUITY_BASELINES = BASELINES[:3]


@dataclass(frozen=True)
class BreakerTrip:
    """One breaker tripping: what it measured against which limit, and what it did.

    Attributes
    ----------
    breaker : str
        One of ``BREAKERS``.
    limit : str
        The limit that was reached, e.g. ``"max_daily_loss_fraction"``.
    value, limit_value : Decimal or float or int
        The measured value and the limit, in ``unit``.
    action : TradingMode
        The state the breaker asked for (the state may already have been as strict).
    """

    breaker: str
    reason: str
    limit: str
    value: Decimal | float | int
    limit_value: Decimal | float | int
    unit: str
    action: TradingMode
    at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    kind = RiskKind.BREAKER_TRIP

    def to_payload(self) -> dict[str, Any]:
        """Return the trip as JSON-safe data (see docs/risk.md)."""
        return {
            "kind": self.kind,
            "breaker": self.breaker,
            "reason": self.reason,
            "limit": self.limit,
            "value": jsonable(self.value),
            "limit_value": jsonable(self.limit_value),
            "unit": self.unit,
            "action": self.action.value,
            "at": jsonable(self.at),
            "details": jsonable(dict(self.details)),
        }


@dataclass(frozen=True)
class BaselineChange:
    """The breakers' baselines after an input changed them; journal it so a restart keeps them.

    Attributes
    ----------
    changed : tuple[str, ...]
        Which of ``BASELINES`` changed (a new ``peak_equity``; a new ``trading_day`` and its
        ``day_start_equity``; a window after a venue response or a reject; all on a resume).
    baselines : Mapping
        ``trading_day``, ``day_start_equity`` and ``peak_equity`` always; ``venue_responses``
        (``[time, ok]`` pairs) and ``rejects`` (times) only when they changed, so the frequent
        change — a new peak — stays small. The order-flow window changes on every order, cancel
        and trade, so a change carries only the new entries, ``order_flow_added`` (``[time,
        what]`` pairs, ``what`` one of ``ORDER_FLOW``); the whole window, ``order_flow``, only
        when it was emptied (a resume).
    """

    at: datetime
    changed: tuple[str, ...]
    baselines: Mapping[str, Any]

    kind = RiskKind.BASELINES

    def to_payload(self) -> dict[str, Any]:
        """Return the baselines as JSON-safe data (see docs/risk.md)."""
        return {"kind": self.kind, "at": jsonable(self.at), "changed": list(self.changed), **jsonable(dict(self.baselines))}


RiskEvent = Union[BaselineChange, BreakerTrip, StateChange]


class CircuitBreakers:
    """The six breakers, fed by the engine, moving a :class:`TradingState`.

    Parameters
    ----------
    limits : RiskLimits
        Thresholds, windows and the state each breaker moves to.
    state : TradingState
        The kill switch the breakers tighten (share it with the :class:`RiskGate`).
    clock : callable, optional
        Returns the current aware ``datetime``.
    symbols : Iterable[str], optional
        Symbols whose market data must keep flowing; symbols seen in :meth:`on_market_data` are
        watched too. A watched symbol with no data yet counts from construction (or resume).
    currency : str, optional
        The account currency equity is counted in (``"USDT"``), for reasons and payload units.

    Examples
    --------
    >>> from decimal import Decimal
    >>> breakers = CircuitBreakers(RiskLimits(max_daily_loss=Decimal("500")), TradingState())
    >>> [str(event.kind) for event in breakers.on_equity(Decimal("10000"))]
    ['risk.baselines']
    >>> [str(event.kind) for event in breakers.on_equity(Decimal("9500"))]
    ['risk.breaker_trip', 'risk.state_change']
    """

    def __init__(
        self,
        limits: RiskLimits,
        state: TradingState,
        clock: Clock = utc_now,
        symbols: Iterable[str] = (),
        currency: str = "",
    ) -> None:
        self.limits = limits
        self.currency = currency
        self.state = state
        self._clock = clock
        self._lock = threading.RLock()
        self._tripped: dict[str, BreakerTrip] = {}
        self._armed_at = as_utc(clock())
        self._armed_resume_count = state.resume_count
        self._equity: Decimal | None = None
        self._trading_day: date | None = None
        self._day_start_equity: Decimal | None = None
        self._peak_equity: Decimal | None = None
        self._last_data: dict[str, datetime] = {symbol: None for symbol in symbols}  # type: ignore[misc]
        self._responses: deque[tuple[datetime, bool]] = deque()
        self._rejects: deque[datetime] = deque()
        # Order messages and trades, for the order-to-trade ratio: (time, one of ORDER_FLOW).
        self._flow: deque[tuple[datetime, str]] = deque()
        self._flow_added: list[tuple[datetime, str]] = []  # not yet in a BaselineChange
        # What the last BaselineChange said (or the journal, after a restore), to return one only on a change.
        self._journaled: tuple[Any, ...] = (None, None, None)
        self._windows_changed: set[str] = set()
        self._day_offset: tuple[Any, timedelta] = (None, timedelta(0))  # trading_day_start_utc and its timedelta

    # -- inputs ----------------------------------------------------------------------------------

    def on_equity(self, equity: Decimal, at: datetime | None = None) -> list[RiskEvent]:
        """Feed an equity update (quote currency); evaluate daily loss and drawdown.

        The first update of a trading day (boundary ``trading_day_start_utc``) sets that day's
        starting equity; the peak is the highest equity since start-up or the last resume.
        """
        with self._lock:
            now = self._sync(at)
            self._take_equity(equity, now)
            events = self._check_daily_loss(now) + self._check_drawdown(now)
            return self._with_baselines(now, events + self._check_stale(now))

    def on_equity_and_poll(self, equity: Decimal, at: datetime | None = None) -> list[RiskEvent]:
        """:meth:`on_equity` then :meth:`poll` at the same time, in one call (an engine's every bar close).

        The same events in the same order as the two calls: the poll's stale-data check repeats
        the one the equity update just made, and nothing between them can move a baseline.
        """
        with self._lock:
            now = self._sync(at)
            self._take_equity(equity, now)
            events = self._check_daily_loss(now) + self._check_drawdown(now) + self._check_stale(now)
            return self._with_baselines(now, events + self._check_order_to_trade(now, ""))

    def on_market_data(self, symbol: str, at: datetime | None = None) -> list[RiskEvent]:
        """Record that market data for ``symbol`` arrived at ``at`` (receive time is best)."""
        with self._lock:
            rearming = self.state.resume_count != self._armed_resume_count
            now = self._sync(None)
            seen = as_utc(at) if at is not None else now
            previous = self._last_data.get(symbol)
            # Out-of-order messages must not make a symbol look staler than it is.
            self._last_data[symbol] = seen if previous is None else max(previous, seen)
            events = self._check_stale(now)
            # Market data moves no baseline; only a re-arm in this very call (a resume) can have.
            # Skipping the comparison keeps the most frequent input cheap (it runs on every tick).
            return self._with_baselines(now, events) if rearming or events else events

    def on_venue_response(self, ok: bool, at: datetime | None = None, detail: str = "") -> list[RiskEvent]:
        """Record one venue request's outcome (``ok=False`` for an error); evaluate the error rate."""
        with self._lock:
            now = self._sync(at)
            self._responses.append((now, bool(ok)))
            self._windows_changed.add("venue_responses")
            return self._with_baselines(now, self._check_venue_errors(now, detail) + self._check_stale(now))

    def on_venue_error(self, detail: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Shorthand for ``on_venue_response(False, ...)``."""
        return self.on_venue_response(False, at=at, detail=detail)

    def on_order_rejected(self, symbol: str = "", reason: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record a venue reject of an order; evaluate the reject storm breaker."""
        with self._lock:
            now = self._sync(at)
            self._rejects.append(now)
            self._windows_changed.add("rejects")
            return self._with_baselines(now, self._check_rejects(now, symbol, reason) + self._check_stale(now))

    def on_order_submitted(self, symbol: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record one new order sent to the venue (or possibly sent); evaluate the order-to-trade ratio.

        Count every submission that left the engine — acknowledged, refused by the venue, or with
        an unknown outcome — and not the orders the gate denied (the venue never saw them).
        """
        with self._lock:
            now = self._sync(at)
            self._record_flow(now, "order")
            return self._with_baselines(now, self._check_order_to_trade(now, symbol) + self._check_stale(now))

    def on_cancel_requested(self, symbol: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record one cancel request sent to the venue; it counts as an order message.

        Only records: it never trips a breaker (a halt's own cancels come through here, and a
        cancel never adds risk). The next order submitted, or :meth:`poll`, judges the ratio.
        """
        with self._lock:
            now = self._sync(at)
            self._record_flow(now, "cancel")
            return self._with_baselines(now, [])

    def on_trade(self, symbol: str = "", at: datetime | None = None) -> list[RiskEvent]:
        """Record one trade of ours (a fill, counted once); only records, never trips."""
        with self._lock:
            now = self._sync(at)
            self._record_flow(now, "trade")
            return self._with_baselines(now, [])

    def poll(self, at: datetime | None = None) -> list[RiskEvent]:
        """Evaluate the time-driven breakers (stale data, and the order-to-trade ratio as trades
        leave its window); call it on a timer, e.g. every second."""
        with self._lock:
            now = self._sync(at)
            return self._with_baselines(now, self._check_stale(now) + self._check_order_to_trade(now, ""))

    # -- reading and restoring -------------------------------------------------------------------

    @property
    def tripped(self) -> dict[str, BreakerTrip]:
        """Tripped breakers by name (empty when all are armed)."""
        with self._lock:
            self._sync(None)
            return dict(self._tripped)

    def snapshot(self) -> dict[str, Any]:
        """Return the breakers' baselines as JSON-safe data; journal it so a restart keeps them.

        Without it a restart would start a fresh day's loss budget and forget the peak.
        """
        with self._lock:
            self._sync(None)
            return {
                "kind": RiskKind.BREAKER_SNAPSHOT,
                "at": jsonable(as_utc(self._clock())),
                "trading_day": self._trading_day.isoformat() if self._trading_day else None,
                "day_start_equity": jsonable(self._day_start_equity),
                "peak_equity": jsonable(self._peak_equity),
                "equity": jsonable(self._equity),
                "tripped": sorted(self._tripped),
                "order_to_trade": self._order_to_trade(as_utc(self._clock())),
            }

    def order_to_trade(self) -> dict[str, Any]:
        """Return the order-to-trade measurement now, as JSON-safe data (for dashboards).

        ``orders``, ``cancels`` and ``trades`` in the last ``window_seconds``; ``ratio`` is
        (orders + cancels) / trades, with no trade counted as one.
        """
        with self._lock:
            self._sync(None)
            return self._order_to_trade(as_utc(self._clock()))

    def baselines(self, windows: Iterable[str] = _WINDOWS) -> dict[str, Any]:
        """Return the baselines :meth:`restore` needs (equity ones always, the named windows too)."""
        with self._lock:
            values: dict[str, Any] = {
                "trading_day": self._trading_day.isoformat() if self._trading_day else None,
                "day_start_equity": self._day_start_equity,
                "peak_equity": self._peak_equity,
            }
            if "venue_responses" in windows:
                values["venue_responses"] = [[jsonable(at), ok] for at, ok in self._responses]
            if "rejects" in windows:
                values["rejects"] = [jsonable(at) for at in self._rejects]
            if "order_flow" in windows:
                values["order_flow"] = [[jsonable(at), what] for at, what in self._flow]
            return values

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Restore the baselines a :class:`BaselineChange` payload or a :meth:`snapshot` carries.

        Replay payloads in journal order and the newest wins: each sets the equity baselines it
        names, and the windows when it has them. ``order_flow_added`` entries are added to the
        order-flow window instead (entries older than its window are dropped). A restored trading
        day that is over is replaced by the next equity update, as it would have been without the
        restart.
        """
        with self._lock:
            now = self._sync(None)
            if "trading_day" in snapshot:
                day = snapshot.get("trading_day")
                start = snapshot.get("day_start_equity")
                self._trading_day = date.fromisoformat(day) if day else None
                self._day_start_equity = to_decimal(start) if start is not None and day else None
            if "peak_equity" in snapshot:
                peak = snapshot.get("peak_equity")
                self._peak_equity = to_decimal(peak) if peak is not None else None
            if "venue_responses" in snapshot:
                self._responses = deque((_parse_time(at), bool(ok)) for at, ok in snapshot["venue_responses"])
            if "rejects" in snapshot:
                self._rejects = deque(_parse_time(at) for at in snapshot["rejects"])
            if "order_flow" in snapshot:
                self._flow = deque((_parse_time(at), str(what)) for at, what in snapshot["order_flow"])
            if "order_flow_added" in snapshot:
                self._flow.extend((_parse_time(at), str(what)) for at, what in snapshot["order_flow_added"])
            if "order_flow" in snapshot or "order_flow_added" in snapshot:
                self._prune_flow(now)
            self._mark_journaled(set(snapshot) & set(_WINDOWS))

    def restore_trip(self, payload: Mapping[str, Any]) -> None:
        """Mark a journaled ``risk.breaker_trip`` as tripped, so it stays silent after a restart."""
        breaker = payload.get("breaker")
        if breaker not in BREAKERS:
            return
        with self._lock:
            self._tripped[breaker] = BreakerTrip(
                breaker, str(payload.get("reason", "")), str(payload.get("limit", "")), payload.get("value"),
                payload.get("limit_value"), str(payload.get("unit", "")), TradingMode(payload.get("action", TradingMode.HALTED)),
                _parse_time(payload["at"]), dict(payload.get("details") or {}),
            )

    def restore_resume(self, baselines: Mapping[str, Any] | None) -> None:
        """Replay an operator's resume: forget trips, windows and baselines, then take the resume's own.

        A resume journaled without baselines (an older journal) leaves them to the next equity update.
        """
        with self._lock:
            self._tripped.clear()
            self._responses.clear()
            self._rejects.clear()
            self._flow.clear()
            self._trading_day = self._day_start_equity = self._peak_equity = None
            self._mark_journaled(set(_WINDOWS))
        if baselines:
            self.restore(baselines)

    def rearmed(self) -> dict[str, Any]:
        """Re-arm now if an operator resumed, and return every baseline for the resume's journal entry.

        The caller journals them with the resume, so no separate :class:`BaselineChange` follows.
        """
        with self._lock:
            self._sync(None)
            values = self.baselines()
            self._mark_journaled(set(_WINDOWS))
            return values

    # -- internals -------------------------------------------------------------------------------

    def _sync(self, at: datetime | None) -> datetime:
        """Return the evaluation time, re-arming first if an operator resumed since last time."""
        if self.state.resume_count != self._armed_resume_count:
            self._rearm(self.state.since)
        return as_utc(at) if at is not None else as_utc(self._clock())

    def _take_equity(self, equity: Decimal, now: datetime) -> None:
        equity = to_decimal(equity)
        self._equity = equity
        day = self._trading_day_of(now)
        if day != self._trading_day:
            self._trading_day, self._day_start_equity = day, equity
        if self._peak_equity is None or equity > self._peak_equity:
            self._peak_equity = equity

    def _rearm(self, at: datetime) -> None:
        # Checked lazily at every input so breakers re-arm however the resume was issued.
        self._armed_resume_count = self.state.resume_count
        self._tripped.clear()
        self._armed_at = at
        if self._responses or self._rejects:
            self._windows_changed |= {"venue_responses", "rejects"}
        if self._flow or self._flow_added:
            self._windows_changed.add("order_flow")
        self._responses.clear()
        self._rejects.clear()
        self._flow.clear()
        self._flow_added.clear()
        if self._equity is not None:
            self._day_start_equity = self._peak_equity = self._equity
            self._trading_day = self._trading_day_of(at)
        else:
            # No equity since a restart: the next update starts the day and the peak afresh.
            self._trading_day = self._day_start_equity = self._peak_equity = None

    def _mark_journaled(self, windows: set[str]) -> None:
        self._journaled = (self._trading_day, self._day_start_equity, self._peak_equity)
        self._windows_changed -= windows
        if "order_flow" in windows:
            self._flow_added.clear()

    def _with_baselines(self, now: datetime, events: list[RiskEvent]) -> list[RiskEvent]:
        """Put a BaselineChange first when this input changed a baseline (journaled before any trip acts)."""
        current = (self._trading_day, self._day_start_equity, self._peak_equity)
        if not self._windows_changed and not self._flow_added and current == self._journaled:
            return events  # nothing moved (almost every bar): skip building the comparison below
        changed = [name for name, old, new in zip(_EQUITY_BASELINES, self._journaled, current) if old != new]
        windows = sorted(self._windows_changed, key=BASELINES.index)
        added = self._flow_added if "order_flow" not in windows else []
        if not changed and not windows and not added:
            return events
        baselines = self.baselines(windows)
        if added:
            # Only the new entries: the window itself can be long, and changes on every order.
            baselines["order_flow_added"] = [[jsonable(at), what] for at, what in added]
        change = BaselineChange(now, tuple(changed + windows + (["order_flow"] if added else [])), baselines)
        self._mark_journaled(set(windows) | {"order_flow"})
        return [change, *events]

    def _money(self, value: Decimal) -> str:
        return f"{fmt_amount(value)} {self.currency}".rstrip()

    def _trading_day_of(self, moment: datetime) -> date:
        start = self.limits.trading_day_start_utc
        if start != self._day_offset[0]:  # kept: this runs on every bar, and the limits rarely change
            self._day_offset = (start, timedelta(hours=start.hour, minutes=start.minute, seconds=start.second))
        return (as_utc(moment) - self._day_offset[1]).date()

    def _trip(
        self, breaker: str, now: datetime, reason: str, limit: str, value: Any, limit_value: Any, unit: str, **details: Any
    ) -> list[RiskEvent]:
        action = getattr(self.limits, _ACTION_FIELD[breaker])
        trip = BreakerTrip(breaker, reason, limit, value, limit_value, unit, action, now, details)
        self._tripped[breaker] = trip
        flatten = self.limits.flatten_on_breaker_halt and action is TradingMode.HALTED
        change = self.state.escalate(action, f"breaker {breaker}: {reason}", f"breaker:{breaker}", flatten=flatten)
        return [trip] if change is None else [trip, change]

    def _check_daily_loss(self, now: datetime) -> list[RiskEvent]:
        start, equity = self._day_start_equity, self._equity
        if "daily_loss" in self._tripped or start is None or equity is None:
            return []
        loss = start - equity
        maximum, fraction = self.limits.max_daily_loss, self.limits.max_daily_loss_fraction
        by_amount = maximum is not None and loss >= maximum
        if not by_amount and not (fraction is not None and start > 0 and loss / start >= fraction):
            return []  # every bar of a quiet day: nothing trips, so no text is formatted
        currency_note = f"(day started at {self._money(start)}, equity now {self._money(equity)})"
        if by_amount:
            return self._trip(
                "daily_loss", now, f"daily loss {self._money(loss)} reached max_daily_loss {fmt_amount(maximum)} {currency_note}",
                "max_daily_loss", loss, maximum, self.currency or "quote",
                day_start_equity=start, equity=equity, trading_day=self._trading_day,
            )
        assert fraction is not None
        return self._trip(
            "daily_loss", now,
            f"daily loss {self._money(loss)} is {loss / start:.2%} of the day's starting equity, reaching "
            f"max_daily_loss_fraction {fraction.normalize():f} {currency_note}",
            "max_daily_loss_fraction", loss / start, fraction, "fraction",
            loss=loss, day_start_equity=start, equity=equity, trading_day=self._trading_day,
        )

    def _check_drawdown(self, now: datetime) -> list[RiskEvent]:
        peak, equity = self._peak_equity, self._equity
        if "drawdown" in self._tripped or peak is None or equity is None:
            return []
        drawdown = peak - equity
        maximum, fraction = self.limits.max_drawdown, self.limits.max_drawdown_fraction
        by_amount = maximum is not None and drawdown >= maximum
        if not by_amount and not (fraction is not None and peak > 0 and drawdown / peak >= fraction):
            return []
        note = f"(peak {self._money(peak)}, equity now {self._money(equity)})"
        if by_amount:
            return self._trip(
                "drawdown", now, f"drawdown {self._money(drawdown)} reached max_drawdown {fmt_amount(maximum)} {note}",
                "max_drawdown", drawdown, maximum, self.currency or "quote", peak_equity=peak, equity=equity,
            )
        assert fraction is not None
        return self._trip(
            "drawdown", now,
            f"drawdown {self._money(drawdown)} is {drawdown / peak:.2%} of peak equity, reaching "
            f"max_drawdown_fraction {fraction.normalize():f} {note}",
            "max_drawdown_fraction", drawdown / peak, fraction, "fraction",
            drawdown=drawdown, peak_equity=peak, equity=equity,
        )

    def _check_stale(self, now: datetime) -> list[RiskEvent]:
        limit = self.limits.stale_after_seconds
        if limit is None or "stale_data" in self._tripped or not self._last_data:
            return []
        if len(self._last_data) == 1:
            # One symbol (every engine today): the same rule without building a dict per tick.
            ((symbol, seen),) = self._last_data.items()
            if seen is not None and (seen >= now or (now - max(seen, self._armed_at)).total_seconds() < limit):
                return []  # data as recent as now (a tick being handled) is fresh whatever the limit
        # A symbol is as fresh as its last data, or the (re-)arming moment if that is later.
        ages = {
            symbol: (now - (self._armed_at if seen is None else max(seen, self._armed_at))).total_seconds()
            for symbol, seen in self._last_data.items()
        }
        symbol, age = max(ages.items(), key=lambda item: (item[1], item[0]))
        if age < limit:
            return []
        seen = self._last_data[symbol]
        last = "no data since start-up or resume" if seen is None or seen < self._armed_at else f"last data at {seen:%H:%M:%S} UTC"
        return self._trip(
            "stale_data", now,
            f"no market data for {symbol} for {fmt_seconds(age)}, reaching stale_after_seconds {limit:g} ({last})",
            "stale_after_seconds", age, limit, "s", symbol=symbol, last_data_at=seen,
            stale_symbols=sorted(s for s, a in ages.items() if a >= limit),
        )

    def _check_venue_errors(self, now: datetime, detail: str) -> list[RiskEvent]:
        window = self.limits.venue_error_window_seconds
        horizon = now - timedelta(seconds=window)
        while self._responses and self._responses[0][0] <= horizon:
            self._responses.popleft()
        if "venue_errors" in self._tripped:
            return []
        requests = len(self._responses)
        errors = sum(1 for _, ok in self._responses if not ok)
        note = dict(errors=errors, requests=requests, window_seconds=window, last_error=detail)
        maximum = self.limits.max_venue_errors
        if maximum is not None and errors >= maximum:
            return self._trip(
                "venue_errors", now,
                f"{errors} venue errors in the last {fmt_seconds(window)} reached max_venue_errors {maximum}"
                + (f" (last: {detail})" if detail else ""),
                "max_venue_errors", errors, maximum, "errors", **note,
            )
        fraction = self.limits.max_venue_error_fraction
        if fraction is not None and requests >= self.limits.venue_error_min_requests and errors:
            rate = Decimal(errors) / Decimal(requests)
            if rate >= fraction:
                return self._trip(
                    "venue_errors", now,
                    f"{errors} of {requests} venue requests failed in the last {fmt_seconds(window)} ({rate:.0%}), "
                    f"reaching max_venue_error_fraction {fraction.normalize():f}" + (f" (last: {detail})" if detail else ""),
                    "max_venue_error_fraction", rate, fraction, "fraction", **note,
                )
        return []

    def _record_flow(self, now: datetime, what: str) -> None:
        self._flow.append((now, what))
        self._flow_added.append((now, what))

    def _prune_flow(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.limits.order_to_trade_window_seconds)
        while self._flow and self._flow[0][0] <= horizon:
            self._flow.popleft()

    def _flow_counts(self, now: datetime) -> tuple[int, int, int]:
        self._prune_flow(now)
        orders = cancels = trades = 0
        for _, what in self._flow:
            if what == "order":
                orders += 1
            elif what == "cancel":
                cancels += 1
            elif what == "trade":
                trades += 1
        return orders, cancels, trades

    def _order_to_trade(self, now: datetime) -> dict[str, Any]:
        orders, cancels, trades = self._flow_counts(now)
        return {
            "orders": orders,
            "cancels": cancels,
            "trades": trades,
            "ratio": jsonable(order_to_trade_ratio(orders, cancels, trades)),
            "window_seconds": self.limits.order_to_trade_window_seconds,
            "min_orders": self.limits.order_to_trade_min_orders,
            "max_order_to_trade_ratio": jsonable(self.limits.max_order_to_trade_ratio),
        }

    def _check_order_to_trade(self, now: datetime, symbol: str) -> list[RiskEvent]:
        maximum = self.limits.max_order_to_trade_ratio
        window = self.limits.order_to_trade_window_seconds
        if maximum is None or "order_to_trade" in self._tripped:
            self._prune_flow(now)
            return []
        orders, cancels, trades = self._flow_counts(now)
        minimum = self.limits.order_to_trade_min_orders
        if orders < minimum:
            return []
        ratio = order_to_trade_ratio(orders, cancels, trades)
        if ratio < maximum:
            return []
        return self._trip(
            "order_to_trade", now,
            f"{orders} orders and {cancels} cancels against {trades} trade{'' if trades == 1 else 's'} in the last "
            f"{fmt_seconds(window)}: order-to-trade ratio {ratio:.2f} reached max_order_to_trade_ratio "
            f"{maximum.normalize():f} (judged from order_to_trade_min_orders {minimum})",
            "max_order_to_trade_ratio", ratio, maximum, "ratio",
            orders=orders, cancels=cancels, trades=trades, window_seconds=window, min_orders=minimum, last_symbol=symbol,
        )

    def _check_rejects(self, now: datetime, symbol: str, reason: str) -> list[RiskEvent]:
        window = self.limits.reject_window_seconds
        horizon = now - timedelta(seconds=window)
        while self._rejects and self._rejects[0] <= horizon:
            self._rejects.popleft()
        maximum = self.limits.max_rejects
        count = len(self._rejects)
        if maximum is None or "reject_storm" in self._tripped or count < maximum:
            return []
        last = f" (last: {symbol} {reason})".replace("  ", " ") if symbol or reason else ""
        return self._trip(
            "reject_storm", now,
            f"{count} orders rejected by the venue in the last {fmt_seconds(window)} reached max_rejects {maximum}{last}",
            "max_rejects", count, maximum, "rejects", window_seconds=window, last_symbol=symbol, last_reason=reason,
        )


def _parse_time(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


def order_to_trade_ratio(orders: int, cancels: int, trades: int) -> Decimal:
    """Order messages (new orders and cancels) per trade; no trade at all counts as one.

    >>> order_to_trade_ratio(30, 10, 4), order_to_trade_ratio(20, 0, 0)
    (Decimal('10'), Decimal('20'))
    """
    return Decimal(orders + cancels) / Decimal(max(trades, 1))
