"""Read-only queries over the journal for dashboards, the API and notebooks.

Every function takes a :class:`~tradepulse.store.journal.Journal` or the path of a journal file
(opened read-only for the call, so it is safe while the engine writes). Lists of rows come back as
plain JSON-ready dicts (Decimals as exact strings, as journaled); time series come back as
DataFrames whose money columns hold ``Decimal`` objects (``df.astype(float)`` for plotting).

Times: ``since`` is inclusive, ``until`` exclusive, both timezone-aware; they filter on the
journal timestamp (when the event was recorded). Paging: ``limit`` and ``offset``, newest first
unless said otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from tradepulse.errors import ConfigError
from tradepulse.store.journal import Journal, format_ts, parse_ts
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
    return " AND ".join(clauses) if clauses else "1"


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
    clauses, parameters = ["1"], []
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
    time_clauses, time_parameters = _time_clauses("first.ts", since, until)
    sql = f"""
        WITH span AS (
            SELECT correlation_id, MIN(seq) AS first_seq, MAX(seq) AS last_seq FROM events
            WHERE kind >= ? AND kind < ? AND correlation_id IS NOT NULL
            GROUP BY correlation_id
        )
        SELECT first.ts, last.seq, last.payload FROM span
        JOIN events AS first ON first.seq = span.first_seq
        JOIN events AS last ON last.seq = span.last_seq
        WHERE {_where(clauses + time_clauses)}
        ORDER BY span.first_seq DESC LIMIT ? OFFSET ?"""
    arguments = [ORDER_KIND_PREFIX, ORDER_KIND_PREFIX + _PREFIX_END, *parameters, *time_parameters, int(limit), int(offset)]
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

    Columns: ``ts`` (journal time, UTC), ``seq``, ``symbol``, ``source`` (``"fill"`` or
    ``"mark"``), then ``quantity, cost_basis, average_cost, realized_pnl, fees_quote, mark_price,
    unrealized_pnl, net_pnl`` as ``Decimal`` (``None`` where unknown).
    """
    clauses, parameters = ["kind IN (?, ?)"], [str(K.ORDER_FILLED), str(K.PORTFOLIO_MARKED)]
    time_clauses, time_parameters = _time_clauses("ts", since, until)
    sql = f"SELECT seq, ts, kind, payload FROM events WHERE {_where(clauses + time_clauses)} ORDER BY seq"
    with _opened(source) as journal:
        rows = journal.select(sql, [*parameters, *time_parameters])
    records = []
    for seq, ts, kind, text in rows:
        payload = json.loads(text)
        if kind == K.ORDER_FILLED:
            snapshots, origin = [payload["position"]], "fill"
        else:
            snapshots, origin = list(payload.get("positions", {}).values()), "mark"
        for snapshot in snapshots:
            if symbol is None or snapshot["symbol"] == symbol:
                money = {name: None if snapshot.get(name) is None else Decimal(snapshot[name]) for name in _MONEY}
                records.append({"ts": parse_ts(ts), "seq": seq, "symbol": snapshot["symbol"], "source": origin, **money})
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

    Indexed by ``ts`` (journal time, UTC) with ``Decimal`` columns ``realized_pnl,
    unrealized_pnl, fees_quote, net_pnl``, plus ``equity = initial_equity + net_pnl`` when
    ``initial_equity`` is given. ``quote`` may be omitted when the journal has one quote currency.
    ``last`` keeps only the newest marks, read as such (a dashboard's window on a long journal).
    """
    clauses, parameters = ["kind = ?"], [str(K.PORTFOLIO_MARKED)]
    time_clauses, time_parameters = _time_clauses("ts", since, until)
    sql = f"SELECT ts, payload FROM events WHERE {_where(clauses + time_clauses)} ORDER BY seq"
    arguments: list[Any] = [*parameters, *time_parameters]
    if last is not None:
        newest = f"SELECT seq, ts, payload FROM events WHERE {_where(clauses + time_clauses)} ORDER BY seq DESC LIMIT ?"
        sql = f"SELECT ts, payload FROM ({newest}) ORDER BY seq"
        arguments.append(int(last))
    with _opened(source) as journal:
        rows = journal.select(sql, arguments)
    marks = [(parse_ts(ts), json.loads(text).get("totals", {})) for ts, text in rows]
    quotes = sorted({currency for _, totals in marks for currency in totals})
    if quote is None and len(quotes) > 1:
        raise ConfigError(f"the journal has P&L in {quotes}; pass quote= to pick one")
    quote = quote or (quotes[0] if quotes else None)
    names = ["realized_pnl", "unrealized_pnl", "fees_quote", "net_pnl"]
    records = [{"ts": ts, **{name: Decimal(totals[quote][name]) for name in names}} for ts, totals in marks if quote in totals]
    frame = pd.DataFrame.from_records(records, columns=["ts", *names]).set_index("ts")
    if initial_equity is not None:
        frame["equity"] = [initial_equity + value for value in frame["net_pnl"]]
    return frame


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
