"""Read-only queries over the journal for dashboards, the API and notebooks.

Every function takes a :class:`~tradepulse.store.journal.Journal` or the path of a journal file
(opened read-only for the call, so it is safe while the engine writes). Lists of rows come back as
plain JSON-ready dicts (Decimals as exact strings, as journaled); time series come back as
DataFrames whose money columns hold ``Decimal`` objects (``df.astype(float)`` for plotting).

Times: ``since`` is inclusive, ``until`` exclusive, both timezone-aware; they filter on the
journal timestamp (when the event was recorded), or for a row of a segment (a mark) on its own
time. Paging: ``limit`` and ``offset``, newest first
unless said otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from tradepulse.errors import ConfigError
from tradepulse.store.journal import Journal, format_ts, parse_ts, segment_rows
from tradepulse.store.kinds import ORDER_KIND_PREFIX, RISK_KIND_PREFIX
from tradepulse.store.kinds import OmsEventKind as K

JournalSource = Journal | str | Path
_MONEY = ("quantity", "cost_basis", "average_cost", "realized_pnl", "fees_quote", "mark_price", "unrealized_pnl", "net_pnl")
_PREFIX_END = "\U0010ffff"


@contextmanager
def _opened(source: JournalSource) -> Iterator[Journal]:
    if isinstance(source, Journal):
        yield source
        return
    journal = Journal(source, read_only=True)
    try:
        yield journal
    finally:
        journal.close()


def _time_clauses(column: str, since: datetime | None, until: datetime | None) -> tuple[list[str], list[Any]]:
    clauses, parameters = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        parameters.append(format_ts(since))
    if until is not None:
        clauses.append(f"{column} < ?")
        parameters.append(format_ts(until))
    return clauses, parameters


def _where(clauses: list[str]) -> str:
    return " AND ".join(clauses) if clauses else "1 = 1"


def orders(
    source: JournalSource,
    *,
    status: str | Iterable[str] | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Orders as they are now, newest first.

    Each dict is the order's latest snapshot (``client_order_id, symbol, side, order_type,
    quantity, limit_price, time_in_force, status, venue_order_id, filled_quantity,
    average_fill_price, filled_notional, fees, created_at, updated_at, strategy, reason,
    trade_ids, status_reason``) plus ``journaled_at`` (when the order was first journaled) and
    ``last_seq``. ``since``/``until`` filter on ``journaled_at``; ``status`` takes one status or
    several.
    """
    clauses, parameters = ["1 = 1"], []
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        clauses.append(f"json_extract(last.payload, '$.order.status') IN ({', '.join('?' * len(statuses))})")
        parameters += [str(value) for value in statuses]
    if symbol is not None:
        clauses.append("last.symbol = ?")
        parameters.append(symbol)
    if strategy is not None:
        clauses.append("json_extract(last.payload, '$.order.strategy') = ?")
        parameters.append(strategy)
    time_clauses, time_parameters = _time_clauses("span.first_ts", since, until)
    # order_index (kept by a trigger as events are appended) holds each order's first and last
    # event: walking it newest first costs the page asked for, not the length of the journal.
    sql = f"""
        SELECT span.first_ts, last.seq, last.payload FROM order_index AS span
        JOIN events AS last ON last.seq = span.last_seq
        WHERE {_where(clauses + time_clauses)}
        ORDER BY span.first_seq DESC LIMIT ? OFFSET ?"""
    arguments = [*parameters, *time_parameters, int(limit), int(offset)]
    with _opened(source) as journal:
        rows = journal.select(sql, arguments)
    return [{**json.loads(payload)["order"], "journaled_at": ts, "last_seq": seq} for ts, seq, payload in rows]


def fills(
    source: JournalSource,
    *,
    symbol: str | None = None,
    client_order_id: str | None = None,
    strategy: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Applied fills, newest first (duplicates and fills for unknown orders are not fills; see :func:`events`).

    Each dict has ``seq, journaled_at, client_order_id, symbol, side, strategy, trade_id,
    fill_quantity, fill_price, fee, fee_currency, fee_quote, filled_at, venue_order_id, is_maker,
    order_status``.
    """
    clauses, parameters = ["kind = ?"], [str(K.ORDER_FILLED)]
    if symbol is not None:
        clauses.append("symbol = ?")
        parameters.append(symbol)
    if client_order_id is not None:
        clauses.append("correlation_id = ?")
        parameters.append(client_order_id)
    if strategy is not None:
        clauses.append("json_extract(payload, '$.order.strategy') = ?")
        parameters.append(strategy)
    time_clauses, time_parameters = _time_clauses("ts", since, until)
    sql = f"SELECT seq, ts, payload FROM events WHERE {_where(clauses + time_clauses)} ORDER BY seq DESC LIMIT ? OFFSET ?"
    with _opened(source) as journal:
        rows = journal.select(sql, [*parameters, *time_parameters, int(limit), int(offset)])
    result = []
    for seq, ts, text in rows:
        payload = json.loads(text)
        fill, order = payload["fill"], payload["order"]
        result.append(
            {
                "seq": seq,
                "journaled_at": ts,
                "client_order_id": order["client_order_id"],
                "symbol": order["symbol"],
                "side": order["side"],
                "strategy": order["strategy"],
                "trade_id": fill["trade_id"],
                "fill_quantity": fill["fill_quantity"],
                "fill_price": fill["fill_price"],
                "fee": fill["fee"],
                "fee_currency": fill["fee_currency"],
                "fee_quote": payload["fee_quote"],
                "filled_at": fill["filled_at"],
                "venue_order_id": fill["venue_order_id"] or order["venue_order_id"],
                "is_maker": fill["is_maker"],
                "order_status": order["status"],
            }
        )
    return result


def positions_over_time(
    source: JournalSource, *, symbol: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Every recorded state of each position, oldest first: after each fill and at each mark.

    Columns: ``ts`` (journal time, UTC; a mark's own time for a mark journaled in a segment),
    ``seq`` (the marks of one segment share its ``seq``), ``symbol``, ``source`` (``"fill"`` or
    ``"mark"``), then ``quantity, cost_basis, average_cost, realized_pnl, fees_quote, mark_price,
    unrealized_pnl, net_pnl`` as ``Decimal`` (``None`` where unknown).
    """
    with _opened(source) as journal:
        found = _with_marks(journal, [str(K.ORDER_FILLED)], since, until)
    records = []
    for seq, ts, kind, payload in found:
        if kind == K.ORDER_FILLED:
            snapshots, origin = [payload["position"]], "fill"
        else:
            snapshots, origin = list(payload.get("positions", {}).values()), "mark"
        for snapshot in snapshots:
            if symbol is None or snapshot["symbol"] == symbol:
                money = {name: None if snapshot.get(name) is None else Decimal(snapshot[name]) for name in _MONEY}
                records.append({"ts": ts, "seq": seq, "symbol": snapshot["symbol"], "source": origin, **money})
    columns = ["ts", "seq", "symbol", "source", *_MONEY]
    return pd.DataFrame.from_records(records, columns=columns)


def pnl_series(
    source: JournalSource,
    *,
    quote: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    initial_equity: Decimal | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """Total P&L in one quote currency at each mark (``OMS.mark_to_market``), oldest first.

    Indexed by ``ts`` (journal time, UTC; a mark's own time for a mark journaled in a segment) with ``Decimal`` columns ``realized_pnl,
    unrealized_pnl, fees_quote, net_pnl``, ``gross_exposure`` (the sum of the ``|quantity| x mark``
    of every position quoted in ``quote``), plus ``equity = initial_equity + net_pnl`` when
    ``initial_equity`` is given. ``quote`` may be omitted when the journal has one quote currency.
    ``last`` keeps only the newest marks, read as such (a dashboard's window on a long journal).
    """
    with _opened(source) as journal:
        payloads = [(ts, payload) for _, ts, _, payload in _with_marks(journal, [], since, until, last=last)]
    quotes = sorted({currency for _, payload in payloads for currency in payload.get("totals", {})})
    if quote is None and len(quotes) > 1:
        raise ConfigError(f"the journal has P&L in {quotes}; pass quote= to pick one")
    quote = quote or (quotes[0] if quotes else None)
    names = ["realized_pnl", "unrealized_pnl", "fees_quote", "net_pnl"]
    records = [{"ts": ts, **{name: Decimal(payload["totals"][quote][name]) for name in names},
                "gross_exposure": _gross_exposure(payload.get("positions", {}), quote)}
               for ts, payload in payloads if quote in payload.get("totals", {})]
    frame = pd.DataFrame.from_records(records, columns=["ts", *names, "gross_exposure"]).set_index("ts")
    if initial_equity is not None:
        frame["equity"] = [initial_equity + value for value in frame["net_pnl"]]
    return frame


_MARK_KINDS = (str(K.PORTFOLIO_MARKS), str(K.PORTFOLIO_MARKED))


def _with_marks(
    journal: Journal, kinds: list[str], since: datetime | None, until: datetime | None, *, last: int | None = None
) -> list[tuple[int, datetime, str, dict[str, Any]]]:
    """Events of ``kinds`` and every mark in ``[since, until)``, oldest first, as ``(seq, ts, kind, payload)``.

    A ``portfolio.marks`` segment gives one item per row, with the segment's ``seq`` and the row's
    own time (``at``); a ``portfolio.marked`` event (journals written before segments) one, at its
    journal time. ``last`` keeps the newest ``last`` items (marks only: ``kinds`` must be empty).
    """
    selected = [*kinds, *_MARK_KINDS]
    clauses, parameters = [f"kind IN ({', '.join('?' * len(selected))})"], list(selected)
    if since is not None:
        clauses.append("ts >= ?")  # a segment's ts is its newest row's: older segments have no row this late
        parameters.append(format_ts(since))
    if until is not None:
        # ... and the first segment recorded at or after `until` may still hold rows before it.
        clauses.append("(ts < ? OR seq = (SELECT MIN(seq) FROM events WHERE kind = ? AND ts >= ?))")
        parameters += [format_ts(until), str(K.PORTFOLIO_MARKS), format_ts(until)]
    sql = f"SELECT seq, ts, kind, payload FROM events WHERE {_where(clauses)} ORDER BY seq"
    if last is not None:
        # Each event holds at least one mark, so the newest `last` events hold the newest `last` marks.
        sql = f"SELECT seq, ts, kind, payload FROM ({sql} DESC LIMIT ?) AS newest ORDER BY seq"
        parameters.append(int(last))
    found: list[tuple[int, datetime, str, dict[str, Any]]] = []
    for seq, ts, kind, text in journal.select(sql, parameters):
        payload = json.loads(text)
        if kind != K.PORTFOLIO_MARKS:
            found.append((seq, parse_ts(ts), kind, payload))
            continue
        for row in segment_rows(payload):
            at = datetime.fromisoformat(row["at"]).astimezone(UTC)
            if (since is None or at >= since) and (until is None or at < until):
                found.append((seq, at, kind, row))
    return found if last is None else found[-int(last):] if last > 0 else []


def _gross_exposure(positions: Any, quote: str | None) -> Decimal:
    total = Decimal(0)
    for snapshot in positions.values() if isinstance(positions, dict) else ():
        if str(snapshot.get("symbol", "")).partition("/")[2].split(":")[0] != quote:
            continue  # valued in another currency
        quantity, mark = snapshot.get("quantity"), snapshot.get("mark_price")
        if quantity is not None and mark is not None:
            total += abs(Decimal(quantity)) * Decimal(mark)
    return total


def risk_events(
    source: JournalSource,
    *,
    kind: str | None = None,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Risk decisions, trading-state changes and breaker trips (kinds ``risk.*``), newest first.

    Each dict is ``{seq, ts, kind, correlation_id, payload}``; ``kind`` (or ``kinds``) narrows the
    selection in the query itself, so frequent kinds (decisions, baselines) cannot crowd the
    rarer ones out of ``limit``.
    """
    if kind is not None or kinds:
        selected = [kind] if kind is not None else list(kinds or [])
        return events(source, kinds=selected, since=since, until=until, limit=limit, offset=offset, newest_first=True)
    return events(source, kind_prefix=RISK_KIND_PREFIX, since=since, until=until, limit=limit, offset=offset, newest_first=True)


def events(
    source: JournalSource,
    *,
    kinds: Iterable[str] | None = None,
    kind_prefix: str | None = None,
    correlation_id: str | None = None,
    symbol: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Raw journal events as ``{seq, ts, kind, correlation_id, payload}`` dicts.

    Page forward through everything with ``after_seq`` (the last ``seq`` you saw) or by
    ``limit``/``offset``; ``kind_prefix="order."`` selects a family.
    """
    with _opened(source) as journal:
        found = journal.events(
            after_seq=after_seq,
            kinds=None if kinds is None else list(kinds),
            kind_prefix=kind_prefix,
            correlation_id=correlation_id,
            symbol=symbol,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
    return [event.to_dict() for event in found]


def execution_quality(
    source: JournalSource, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """How well orders were executed, per ``(strategy, symbol)``, sorted by both.

    Covers the orders submitted (``order.submitted``) or denied (``order.denied``) in
    ``[since, until)`` and everything that happened to them afterwards, after ``until`` included.
    Orders adopted at reconciliation have no arrival price or submission time and are left out.
    Each dict has:

    * ``orders``: orders sent to the venue; ``orders_with_fills``: of those, how many filled at
      least partly; ``rejects``: how many the venue rejected; ``denials``: intents the risk gate
      refused (never sent, not in ``orders``);
    * ``ordered_quantity``, ``filled_quantity`` (decimal strings) and ``fill_ratio`` (their
      quotient; ``None`` without orders);
    * slippage against the arrival price, the order's ``reference_price`` (the last price the
      engine saw when it decided), in basis points, positive = a cost (a buy filled above it, a
      sell below it): ``slippage_bps_avg`` (weighted by arrival notional, i.e. the total
      ``slippage_quote`` over the total arrival value of the filled quantity),
      ``slippage_bps_worst`` (the costliest order), ``slippage_orders`` (orders measured: filled,
      with a reference price);
    * order-to-ack latency, from ``order.submitted`` to the first venue answer that shows the order
      live (``order.accepted`` or its first ``order.filled``), on the journal clock:
      ``ack_ms_p50``, ``ack_ms_p95`` (linear between ranks), ``ack_ms_max``, ``ack_orders``;
    * ``fees_quote``: fees paid in the quote currency (decimal string).
    """
    groups: dict[tuple[str, str], _ExecutionTally] = {}
    for row in opened_orders(source, since=since, until=until):
        tally = groups.setdefault((row["strategy"], row["symbol"]), _ExecutionTally())
        if row["kind"] == K.ORDER_DENIED:
            tally.denials += 1
            continue
        tally.add_order(
            side=row["side"], quantity=Decimal(row["quantity"]),
            reference=None if row["reference"] is None else Decimal(row["reference"]),
            status=row["status"], filled=Decimal(row["filled"] or "0"), notional=Decimal(row["notional"] or "0"),
            fees=Decimal(row["fees"] or "0"), ack_ms=row["ack_ms"],
        )
    ordered = sorted(groups.items(), key=lambda item: item[0])
    return [{"strategy": strategy, "symbol": symbol, **tally.summary()} for (strategy, symbol), tally in ordered]


def opened_orders(source: JournalSource, *, since: datetime | None = None, until: datetime | None = None,
                  ) -> list[dict[str, Any]]:
    """Each order submitted (or denied) in ``[since, until)``, with what became of it, oldest first.

    Dicts with ``kind`` (``order.submitted`` or ``order.denied``), ``correlation_id`` (the client
    order id), ``submitted_ts`` and ``live_ts`` (journal text), ``strategy``, ``symbol``, ``side``,
    ``quantity`` and ``reference`` (the intent's arrival price; decimal text), and from the order's
    last event ``status``, ``filled``, ``notional``, ``fees`` (decimal text), plus ``ack_ms``
    (submission to the first sign the order is live at the venue; ``None`` if never). Orders adopted
    at reconciliation have no intent and are left out.
    """
    boundary = ""
    window: list[Any] = []
    if since is not None:
        # From the first event at ``since`` on, an order whose first event is not its opening one
        # was opened earlier and falls outside the window. The time index finds that event without
        # reading the journal's older part (SQLite's own plan walks it from the start).
        first_seq = "SELECT COALESCE(MIN(seq), 9223372036854775807) FROM events INDEXED BY events_by_ts WHERE ts >= ?"
        boundary = f"AND seq >= ({first_seq})"
        window.append(_bound(since))
    opened_clauses, opened_parameters = ["first.kind IN (?, ?)"], [str(K.ORDER_SUBMITTED), str(K.ORDER_DENIED)]
    for operator, bound in ((">=", since), ("<", until)):
        if bound is not None:
            opened_clauses.append(f"first.ts {operator} ?")
            opened_parameters.append(_bound(bound))
    sql = f"""
        WITH span AS (
            SELECT correlation_id, MIN(seq) AS first_seq, MAX(seq) AS last_seq,
                   MIN(CASE WHEN kind IN (?, ?) THEN ts END) AS live_ts
            FROM events
            WHERE kind >= ? AND kind < ? AND correlation_id IS NOT NULL {boundary}
            GROUP BY correlation_id
        )
        SELECT first.kind, span.correlation_id, first.ts, span.live_ts,
               json_extract(first.payload, '$.intent.strategy'), json_extract(first.payload, '$.intent.symbol'),
               json_extract(first.payload, '$.intent.side'), json_extract(first.payload, '$.intent.quantity'),
               json_extract(first.payload, '$.intent.reference_price'),
               json_extract(last.payload, '$.order.status'), json_extract(last.payload, '$.order.filled_quantity'),
               json_extract(last.payload, '$.order.filled_notional'), json_extract(last.payload, '$.order.fees')
        FROM span
        JOIN events AS first ON first.seq = span.first_seq
        JOIN events AS last ON last.seq = span.last_seq
        WHERE {_where(opened_clauses)}
        ORDER BY span.first_seq"""
    arguments = [str(K.ORDER_ACCEPTED), str(K.ORDER_FILLED), ORDER_KIND_PREFIX, ORDER_KIND_PREFIX + _PREFIX_END,
                 *window, *opened_parameters]
    with _opened(source) as journal:
        rows = journal.select(sql, arguments)
    names = ("kind", "correlation_id", "submitted_ts", "live_ts", "strategy", "symbol", "side", "quantity", "reference",
             "status", "filled", "notional", "fees")
    found = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        item["ack_ms"] = None if item["live_ts"] is None else max(_milliseconds(item["submitted_ts"], item["live_ts"]), 0.0)
        found.append(item)
    return found


def _milliseconds(start: str, end: str) -> float:
    # fromisoformat reads the journal's ``...Z`` text many times faster than strptime (parse_ts),
    # which would otherwise dominate this query on a long journal.
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000.0


def _bound(value: datetime) -> str:
    """A ``since``/``until`` as journal text, for any aware datetime Python can hold.

    Zero-padded years keep text order even before year 1000, and an offset that pushes the
    instant past either end of the calendar is clamped to that end instead of overflowing.
    """
    if value.tzinfo is None:
        raise ConfigError(f"since/until must be timezone-aware (got naive {value.isoformat()})")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = (datetime.min if value.year == datetime.min.year else datetime.max).replace(tzinfo=UTC)
    return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")


class _ExecutionTally:
    """Running sums of one (strategy, symbol) for :func:`execution_quality`."""

    def __init__(self) -> None:
        self.orders = self.orders_with_fills = self.rejects = self.denials = self.slippage_orders = 0
        self.ordered = self.filled = self.fees = self.slippage_cost = self.arrival_value = Decimal(0)
        self.worst_bps: Decimal | None = None
        self.ack_ms: list[float] = []

    def add_order(self, *, side: str, quantity: Decimal, reference: Decimal | None, status: str, filled: Decimal,
                  notional: Decimal, fees: Decimal, ack_ms: float | None) -> None:
        self.orders += 1
        self.ordered += quantity
        self.filled += filled
        self.fees += fees
        self.rejects += status == "REJECTED"
        if ack_ms is not None:
            self.ack_ms.append(max(ack_ms, 0.0))  # a clock stepped back must not show a negative wait
        if filled <= 0:
            return
        self.orders_with_fills += 1
        if reference is None or reference <= 0:
            return
        arrival = filled * reference
        cost = notional - arrival if side == "buy" else arrival - notional
        bps = cost / arrival * 10_000
        self.slippage_orders += 1
        self.slippage_cost += cost
        self.arrival_value += arrival
        self.worst_bps = bps if self.worst_bps is None else max(self.worst_bps, bps)

    def summary(self) -> dict[str, Any]:
        waits = sorted(self.ack_ms)
        return {
            "orders": self.orders,
            "orders_with_fills": self.orders_with_fills,
            "rejects": self.rejects,
            "denials": self.denials,
            "ordered_quantity": str(self.ordered),
            "filled_quantity": str(self.filled),
            "fill_ratio": float(self.filled / self.ordered) if self.ordered > 0 else None,
            "slippage_orders": self.slippage_orders,
            "slippage_bps_avg": float(self.slippage_cost / self.arrival_value * 10_000) if self.arrival_value else None,
            "slippage_bps_worst": None if self.worst_bps is None else float(self.worst_bps),
            "slippage_quote": str(self.slippage_cost),
            "ack_orders": len(waits),
            "ack_ms_p50": _percentile(waits, 0.50),
            "ack_ms_p95": _percentile(waits, 0.95),
            "ack_ms_max": round(waits[-1], 3) if waits else None,
            "fees_quote": str(self.fees),
        }


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of sorted values, linear between the closest ranks (as numpy's default)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 3)
