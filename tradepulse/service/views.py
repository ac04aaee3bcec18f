"""The read side of the service: what the API shows, merged across the engines' journals.

Queries run on each journal's read-only connection (SQLite WAL lets them read while the engine
writes), so a dashboard polling hard never holds up trading. Live state (positions, trading
state, feeds) comes from the engines' memory, which is what the journal would rebuild.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import tradepulse
from tradepulse.model.kinds import RiskKind, ServiceKind
from tradepulse.obs.redaction import redact_text
from tradepulse.service.contract import UnknownStrategy
from tradepulse.store import queries
from tradepulse.store.journal import JournalEvent, format_ts

if TYPE_CHECKING:
    from tradepulse.service.slots import EngineSlot

__all__ = ["ServiceViews"]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_ts(value.astimezone(UTC))


def _text(value: Any) -> Any:
    """Money and times as strings, recursively (the API's JSON has no floats for money)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, dict):
        return {str(key): _text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_text(item) for item in value]
    return value


class ServiceViews:
    """Read methods of :class:`~tradepulse.service.host.ServiceHost` (see the contract for shapes)."""

    slots: dict[str, EngineSlot]

    # -- helpers ---------------------------------------------------------------------------------

    def _selected(self, strategy_id: str | None) -> list[EngineSlot]:
        if strategy_id is None:
            return list(self.slots.values())
        if strategy_id not in self.slots:
            raise UnknownStrategy(f"no strategy {strategy_id!r}; hosted: {', '.join(self.slots) or 'none'}")
        return [self.slots[strategy_id]]

    @staticmethod
    def _newest_first(rows: list[dict[str, Any]], limit: int, offset: int, key: str) -> list[dict[str, Any]]:
        rows.sort(key=lambda row: (str(row.get(key) or ""), row.get("last_seq") or row.get("seq") or 0), reverse=True)
        return rows[offset:offset + limit]

    # -- health and status -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        degraded = any(slot.outcome == "failed" or slot.stalled for slot in self.slots.values())
        return {"status": "degraded" if degraded else "ok", "uptime_seconds": round(self.uptime_seconds(), 3),
                "trading_state": self.trading_state()}

    def status(self) -> dict[str, Any]:
        config = self.config
        engines = []
        for slot in self.slots.values():
            window_last = slot.engine.window.last if len(slot.engine.window) else None
            engines.append({
                "strategy_id": slot.strategy_id, "strategy": slot.config.strategy.name, "symbol": slot.symbol,
                "symbols": list(slot.symbols), "running": slot.running, "outcome": slot.outcome, "error": slot.error, "start_mode": slot.start_mode,
                "trading_state": slot.trading_state(),
                "last_bar_end": _iso(window_last.end) if window_last is not None else None,
                "last_event_at": _iso(slot.feed.last_event_at), "events": slot.feed.events,
                "feed_stale_seconds": round(slot.feed.silent_seconds(), 3), "stalled": slot.stalled,
                "reconnects": int(getattr(slot.feed.inner, "stats", {}).get("reconnects", 0)),
                "venue": _venue_status(slot),
            })
        venue_connected = bool(engines) and all(engine["venue"]["connected"] for engine in engines if engine["running"]) \
            and any(engine["running"] for engine in engines)
        return {
            "service": {"name": config.service.name, "version": tradepulse.__version__, "pid": os.getpid(),
                        "started_at": _iso(self.started_at), "uptime_seconds": round(self.uptime_seconds(), 3),
                        "start_mode": self.start_mode, "config_path": str(config.path) if config.path else None},
            "trading_state": self.trading_state(),
            # The venue names itself (an exchange id, or "paper"): no branching on the kind here.
            "venue": {"name": next((slot.venue.name for slot in self.slots.values()), config.venue.kind), "kind": config.venue.kind,
                      "connected": venue_connected},
            "engines": engines,
            "reconciliation": [{"strategy_id": slot.strategy_id, **slot.reconciliation}
                               for slot in self.slots.values() if slot.reconciliation is not None],
            "watchdog": {"stalled": [slot.strategy_id for slot in self.slots.values() if slot.stalled],
                         "limit_seconds": config.service.watchdog_seconds, "loop_lag_seconds": round(self.loop_lag_seconds, 3)},
        }

    # -- trading state ---------------------------------------------------------------------------

    def strategies(self) -> list[dict[str, Any]]:
        rows = []
        for slot in self.slots.values():
            oms, execution = slot.engine.oms, slot.engine.execution
            rows.append({
                # The engine's strategy, not the config's: a promoted version may have replaced it since start.
                "strategy_id": slot.strategy_id, "strategy": slot.engine.strategy.name, "symbol": slot.symbol,
                "symbols": list(slot.symbols), "version": slot.version, "follows": slot.follows,
                "params": _text(slot.engine.strategy.params), "bar_seconds": slot.config.bar.total_seconds(),
                "capital": str(execution.capital) if execution is not None else None, "target": slot.engine.target,
                # Per member: a portfolio's weights, or the one symbol's target exposure.
                "targets": dict(getattr(slot.engine, "targets", {slot.symbol: slot.engine.target})),
                "trading_state": slot.trading_state(), "outcome": slot.outcome,
                "position": str(oms.position(slot.symbol).quantity) if oms is not None else "0",
                "positions": {symbol: str(oms.position(symbol).quantity) if oms is not None else "0" for symbol in slot.symbols},
            })
        return rows

    def positions(self) -> list[dict[str, Any]]:
        rows = []
        for slot in self.slots.values():
            oms, execution = slot.engine.oms, slot.engine.execution
            if oms is None or execution is None:
                continue
            prices = getattr(slot.engine, "last_prices", None) or {slot.symbol: slot.engine.last_price}
            for symbol in slot.symbols:
                position = oms.position(symbol)
                payload = position.to_payload()
                price = prices.get(symbol) or position.mark_price
                # Equity is the account's: a portfolio's members share it (each row says the same total).
                rows.append({"strategy_id": slot.strategy_id, **payload,
                             "equity": str(execution.equity(price)) if price is not None else str(execution.capital)})
        return rows

    def orders(self, *, status: list[str] | None = None, symbol: str | None = None, strategy_id: str | None = None,
               limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for slot in self._selected(strategy_id):
            if symbol is not None and symbol not in slot.symbols:
                continue
            found = queries.orders(slot.open_reader(), status=status or None, symbol=symbol, limit=limit + offset)
            rows += [{"strategy_id": slot.strategy_id, **_text(row)} for row in found]
        return self._newest_first(rows, limit, offset, "journaled_at")

    def fills(self, *, symbol: str | None = None, strategy_id: str | None = None, limit: int = 100,
              offset: int = 0) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for slot in self._selected(strategy_id):
            if symbol is not None and symbol not in slot.symbols:
                continue
            found = queries.fills(slot.open_reader(), symbol=symbol, limit=limit + offset)
            rows += [{"strategy_id": slot.strategy_id, **_text(row)} for row in found]
        return self._newest_first(rows, limit, offset, "journaled_at")

    def pnl(self, *, strategy_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for slot in self._selected(strategy_id):
            execution = slot.engine.execution
            if execution is None:
                continue
            series = queries.pnl_series(slot.open_reader(), initial_equity=execution.capital, last=limit)
            for ts, row in series.iterrows():
                rows.append({"ts": _iso(ts.to_pydatetime()), "strategy_id": slot.strategy_id,
                             **{column: str(row[column]) for column in
                                ("equity", "realized_pnl", "unrealized_pnl", "fees_quote", "net_pnl", "gross_exposure") if column in row}})
        rows.sort(key=lambda row: (row["ts"], row["strategy_id"]))
        return rows

    def execution(self, *, since: datetime | None = None, strategy_id: str | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for slot in self._selected(strategy_id):
            found = queries.execution_quality(slot.open_reader(), since=since)
            rows += [{"strategy_id": slot.strategy_id, **row} for row in found]
        return rows

    def risk(self, *, limit: int = 100) -> dict[str, Any]:
        engines, history = [], []
        for slot in self.slots.values():
            engines.append({"strategy_id": slot.strategy_id, "symbol": slot.symbol, "symbols": list(slot.symbols),
                            "status": _text(slot.risk.status())})
            for row in queries.risk_events(slot.open_reader(), kinds=[RiskKind.STATE_CHANGE, RiskKind.BREAKER_TRIP, RiskKind.LIMITS],
                                           limit=limit):
                history.append({"strategy_id": slot.strategy_id, **_text(row)})
        history.sort(key=lambda row: (row["ts"], row["seq"]), reverse=True)
        return {"trading_state": self.trading_state(), "engines": engines, "history": history[:limit]}

    def alerts(self, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        journal = self.service_journal
        if journal is None:
            return []
        deliveries = {event.payload.get("alert_seq"): event.payload.get("delivered")
                      for event in journal.iter_events(kinds=[ServiceKind.ALERT_DELIVERY])}
        alerts = journal.events(kinds=[ServiceKind.ALERT], newest_first=True, limit=limit, offset=offset)
        return [{"seq": event.seq, "ts": format_ts(event.ts), "kind": event.payload.get("kind"),
                 "severity": event.payload.get("severity"), "title": event.payload.get("title"),
                 "detail": event.payload.get("detail"), "delivered": deliveries.get(event.seq)} for event in alerts]

    def events(self, *, kind_prefix: str | None = None, strategy_id: str | None = None, after_seq: int = 0,
               limit: int = 100) -> list[dict[str, Any]]:
        """Journal events; ``strategy_id="service"`` selects the service's own journal (starts, stops, alerts)."""
        rows: list[dict[str, Any]] = []
        if strategy_id in (None, "service") and self.service_journal is not None:
            found = self.service_journal.events(after_seq=after_seq, kind_prefix=kind_prefix, limit=limit)
            rows += [_event_row("service", event) for event in found]
        for slot in self._selected(None if strategy_id == "service" else strategy_id):
            if strategy_id == "service":
                break
            found = slot.open_reader().events(after_seq=after_seq, kind_prefix=kind_prefix, limit=limit)
            rows += [_event_row(slot.strategy_id, event) for event in found]
        rows.sort(key=lambda row: (row["ts"], row["strategy_id"], row["seq"]))
        return rows[:limit]


def _venue_status(slot: EngineSlot) -> dict[str, Any]:
    """One engine's venue connection: connected, how its own orders are followed, counters, last error."""
    status = slot.venue.connection_status()
    return {
        "connected": status.connected and slot.running,
        "user_stream": status.user_stream,
        "last_error": redact_text(status.last_error) if status.last_error is not None else None,
        "stats": {str(key): int(value) for key, value in status.stats.items()},
    }


def _event_row(strategy_id: str, event: JournalEvent) -> dict[str, Any]:
    return {"strategy_id": strategy_id, "seq": event.seq, "ts": format_ts(event.ts), "kind": event.kind,
            "correlation_id": event.correlation_id, "payload": event.payload}
