"""The journal's history for a drill-down: one row per order, returns, and robust anomaly scores.

A manager asks "what happened to this strategy between Tuesday and Thursday, and what was
unusual?". :func:`order_outcomes` answers the first half from the journal (each order's arrival
price, slippage, order-to-ack latency, whether the venue rejected it); :func:`find_anomalies`
the second: every series is scored with a **robust z-score**,

    z = (x - median) / (1.4826 * MAD)

(MAD: the median absolute deviation; 1.4826 makes it the standard deviation for normal data), so
one huge outlier does not widen the scale that should expose it, as it would with mean and
standard deviation. Points with ``|z| >= threshold`` are anomalies; each is given the cause the
journal knows, when it knows one: a breaker trip, or a burst of venue errors, near it.

Series scored: bar-to-bar **returns** of the strategy's equity (from its marks), per-order
**slippage** (bps against the arrival price, positive = a cost), per-order **ack latency** (ms from
``order.submitted`` to the venue showing the order live), and the **reject rate** per time bucket
(rejected or failed submissions over orders sent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.model.kinds import EngineKind, OmsEventKind, RiskKind
from tradepulse.store.journal import parse_ts
from tradepulse.store.queries import JournalSource, _opened, opened_orders, pnl_series

__all__ = ["ANOMALY_METRICS", "Anomaly", "anomaly_frame", "find_anomalies", "order_outcomes", "robust_zscores"]

#: The series :func:`find_anomalies` scores, in the order a page shows them.
ANOMALY_METRICS = ("returns", "slippage_bps", "ack_ms", "reject_rate")
#: The scale that makes a MAD estimate the standard deviation of normal data.
_MAD_TO_SIGMA = 1.4826
#: How close (either side) a breaker trip or an error burst must be to explain an anomaly.
_CAUSE_WINDOW = timedelta(minutes=5)
#: This many venue errors (rejects, failed submissions) within the cause window make a burst.
_BURST = 3


def robust_zscores(values: pd.Series | Iterable[float]) -> pd.Series:
    """``(x - median) / (1.4826 * MAD)`` for each value (NaN stays NaN).

    When more than half the values are equal the MAD is 0; the mean absolute deviation from the
    median (scaled to sigma by sqrt(pi/2)) is used instead, and when that is 0 too (a constant
    series) every score is 0: nothing stands out.

    Examples
    --------
    >>> robust_zscores([1.0, 2.0, 3.0, 4.0, 100.0]).round(2).tolist()
    [-1.35, -0.67, 0.0, 0.67, 65.43]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=float)
    numbers = series.astype(float)
    finite = numbers[np.isfinite(numbers)]
    if finite.empty:
        return numbers * np.nan
    median = float(finite.median())
    deviations = (finite - median).abs()
    scale = _MAD_TO_SIGMA * float(deviations.median())
    if scale == 0:
        scale = float(np.sqrt(np.pi / 2) * deviations.mean())
    if scale == 0:
        return (numbers - median) * 0.0
    return (numbers - median) / scale


def order_outcomes(source: JournalSource, *, since: datetime | None = None, until: datetime | None = None,
                   symbol: str | None = None) -> pd.DataFrame:
    """One row per order submitted (or denied by the risk gate) in ``[since, until)``, oldest first.

    Columns: ``client_order_id``, ``submitted_at`` (UTC), ``strategy``, ``symbol``, ``side``,
    ``quantity``, ``reference_price`` (the arrival price), ``status``, ``filled_quantity``,
    ``average_price``, ``fees`` (floats; NaN where unknown), ``slippage_bps`` (positive = a cost),
    ``ack_ms``, ``denied`` and ``rejected`` (bools: the risk gate refused it / the venue did).
    """
    columns = ["client_order_id", "submitted_at", "strategy", "symbol", "side", "quantity", "reference_price", "status",
               "filled_quantity", "average_price", "fees", "slippage_bps", "ack_ms", "denied", "rejected"]
    records = []
    for row in opened_orders(source, since=since, until=until):
        if symbol is not None and row["symbol"] != symbol:
            continue
        filled = Decimal(row["filled"] or "0")
        notional = Decimal(row["notional"] or "0")
        reference = None if row["reference"] is None else Decimal(row["reference"])
        average = notional / filled if filled > 0 else None
        slippage = None
        if average is not None and reference is not None and reference > 0:
            cost = (average - reference) if row["side"] == "buy" else (reference - average)
            slippage = float(cost / reference * 10_000)
        denied = row["kind"] == OmsEventKind.ORDER_DENIED
        records.append({
            "client_order_id": row["correlation_id"], "submitted_at": parse_ts(row["submitted_ts"]),
            "strategy": row["strategy"], "symbol": row["symbol"], "side": row["side"],
            "quantity": float(row["quantity"]) if row["quantity"] is not None else np.nan,
            "reference_price": float(reference) if reference is not None else np.nan,
            "status": row["status"] or ("DENIED" if denied else None),
            "filled_quantity": float(filled), "average_price": float(average) if average is not None else np.nan,
            "fees": float(Decimal(row["fees"] or "0")),
            "slippage_bps": slippage if slippage is not None else np.nan,
            "ack_ms": row["ack_ms"] if row["ack_ms"] is not None else np.nan,
            "denied": denied, "rejected": (not denied) and row["status"] == "REJECTED",
        })
    return pd.DataFrame.from_records(records, columns=columns)


@dataclass(frozen=True)
class Anomaly:
    """A point past the threshold: which series, when, its value and score, and why if the journal says."""

    metric: str
    ts: datetime
    value: float
    zscore: float
    detail: str
    cause: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _capital(source: JournalSource) -> Decimal | None:
    with _opened(source) as journal:
        started = journal.events(kinds=[EngineKind.STARTED], limit=1)
    return Decimal(str(started[0].payload["capital"])) if started else None


def _returns(source: JournalSource, since: datetime | None, until: datetime | None) -> pd.Series:
    capital = _capital(source)
    if capital is None:
        return pd.Series(dtype=float)
    marks = pnl_series(source, since=since, until=until, initial_equity=capital)
    if marks.empty:
        return pd.Series(dtype=float)
    equity = marks["equity"].astype(float)
    return equity.pct_change().iloc[1:]


def _causes(source: JournalSource, since: datetime | None, until: datetime | None) -> tuple[list[tuple[datetime, str]],
                                                                                              list[datetime]]:
    """Breaker trips ``(time, text)`` and venue-error times in the period (widened by the cause window)."""
    low = since - _CAUSE_WINDOW if since is not None else None
    high = until + _CAUSE_WINDOW if until is not None else None
    trips: list[tuple[datetime, str]] = []
    errors: list[datetime] = []
    kinds = [str(RiskKind.BREAKER_TRIP), str(OmsEventKind.ORDER_REJECTED), str(OmsEventKind.ORDER_SUBMIT_FAILED)]
    with _opened(source) as journal:
        found = journal.events(kinds=kinds, since=low, until=high, limit=100_000)
    for event in found:
        if event.kind == RiskKind.BREAKER_TRIP:
            payload = event.payload
            trips.append((event.ts, f"breaker {payload.get('breaker')} tripped: {payload.get('reason')}"))
        else:
            errors.append(event.ts)
    return trips, errors


def _cause_of(at: datetime, trips: list[tuple[datetime, str]], errors: list[datetime]) -> str | None:
    near = [text for when, text in trips if abs(when - at) <= _CAUSE_WINDOW]
    if near:
        return near[0]
    burst = sum(1 for when in errors if abs(when - at) <= _CAUSE_WINDOW)
    if burst >= _BURST:
        return f"venue error burst ({burst} rejected or failed submissions within {int(_CAUSE_WINDOW.total_seconds() // 60)} min)"
    return None


def find_anomalies(source: JournalSource, *, since: datetime | None = None, until: datetime | None = None,
                   symbol: str | None = None, threshold: float = 3.5, bucket: str = "15min",
                   ) -> tuple[dict[str, pd.DataFrame], list[Anomaly]]:
    """Score every series of the period and list the points at or past ``threshold`` (``|z|``).

    Returns ``(series, anomalies)``: ``series[metric]`` is a frame indexed by time with ``value``
    and ``zscore`` columns (for the charts), ``anomalies`` the flagged points, oldest first.
    """
    if not threshold > 0:
        raise ValueError(f"the threshold is a positive number of robust standard deviations, got {threshold!r}")
    orders = order_outcomes(source, since=since, until=until, symbol=symbol)
    sent = orders[~orders["denied"]] if not orders.empty else orders
    raw: dict[str, pd.Series] = {"returns": _returns(source, since, until)}
    for metric in ("slippage_bps", "ack_ms"):
        column = sent.set_index("submitted_at")[metric].dropna() if not sent.empty else pd.Series(dtype=float)
        raw[metric] = column.astype(float)
    if sent.empty:
        raw["reject_rate"] = pd.Series(dtype=float)
    else:
        grouped = sent.set_index("submitted_at")["rejected"].astype(float).resample(bucket)
        rate = grouped.mean()
        raw["reject_rate"] = rate[grouped.count() > 0]
    trips, errors = _causes(source, since, until)
    series: dict[str, pd.DataFrame] = {}
    flagged: list[Anomaly] = []
    details = {"returns": "equity return since the previous mark", "slippage_bps": "slippage against the arrival price (bps)",
               "ack_ms": "order-to-ack latency (ms)", "reject_rate": f"share of orders rejected per {bucket}"}
    for metric in ANOMALY_METRICS:
        values = raw[metric]
        scores = robust_zscores(values) if len(values) else pd.Series(dtype=float)
        series[metric] = pd.DataFrame({"value": values.astype(float), "zscore": scores})
        for at, value, score in zip(values.index, values.to_numpy(), scores.to_numpy(), strict=True):
            if np.isfinite(score) and abs(score) >= threshold:
                when = at.to_pydatetime() if hasattr(at, "to_pydatetime") else at
                flagged.append(Anomaly(metric, when, float(value), float(score), details[metric], _cause_of(when, trips, errors)))
    flagged.sort(key=lambda item: (item.ts, ANOMALY_METRICS.index(item.metric)))
    return series, flagged


def anomaly_frame(anomalies: list[Anomaly]) -> pd.DataFrame:
    """The anomalies as a table (one row each), for a page or a report."""
    return pd.DataFrame([item.to_dict() for item in anomalies], columns=["metric", "ts", "value", "zscore", "detail", "cause"])


