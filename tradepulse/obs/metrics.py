"""Prometheus metrics of the live service, in a registry of their own.

Each :class:`TradingMetrics` owns a :class:`prometheus_client.CollectorRegistry`, not the global
one, so two engines in one process (tests, a paper and a live service side by side) never clash
on metric names and ``render()`` shows exactly one engine. The names are listed, with types,
labels and meaning, in docs/observability.md; alert rules depend on them, so renaming one is a
breaking change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS_SECONDS", "TRADING_STATES", "TradingMetrics"]

#: The media type to serve :meth:`TradingMetrics.render` with.
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: The trading states the ``trading_state`` gauge has a series for (see tradepulse.risk.state).
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")

#: From 1 ms to 10 s: tick-to-order is in-process (ms), order-to-ack crosses the network (10 ms–s).
LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class TradingMetrics:
    """The engine's counters, latency histograms and gauges, rendered in the Prometheus text format.

    Parameters
    ----------
    namespace : str
        Prefix of every metric name (``tradepulse_orders_submitted_total``, ...).
    registry : CollectorRegistry, optional
        Registry to register into; a new private one by default.

    Examples
    --------
    >>> metrics = TradingMetrics()
    >>> metrics.order_submitted("BTC/USDT")
    >>> metrics.set_trading_state("HALTED")
    >>> b'tradepulse_trading_state{state="HALTED"} 1.0' in metrics.render()
    True
    """

    def __init__(self, namespace: str = "tradepulse", registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        common: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        self._orders = Counter("orders_submitted", "Orders sent to the venue.", ["symbol"], **common)
        self._fills = Counter("fills", "Fills received (one per venue trade).", ["symbol"], **common)
        self._fill_quantity = Counter(
            "fill_quantity", "Base-asset quantity filled, buys and sells alike.", ["symbol"], **common
        )
        self._rejects = Counter("rejects", "Orders the venue rejected.", ["symbol"], **common)
        self._denials = Counter("risk_denials", "Orders the pre-trade risk gate denied, by check.", ["check"], **common)
        self._reconciliations = Counter(
            "reconciliations", "Warm-start reconciliations with the venue, by outcome (ok, or unexplained: the engine halted).",
            ["outcome"], **common)
        self._reconnects = Counter(
            "reconnects", "Reconnections of a venue or market-data stream.", ["stream"], **common
        )
        self._tick_to_order = Histogram(
            "tick_to_order_seconds",
            "From the market event that triggered a decision to the order leaving the engine.",
            buckets=LATENCY_BUCKETS_SECONDS,
            **common,
        )
        self._order_to_ack = Histogram(
            "order_to_ack_seconds",
            "From submitting an order to the venue acknowledging it.",
            buckets=LATENCY_BUCKETS_SECONDS,
            **common,
        )
        self._position = Gauge("position", "Signed position in base-asset units.", ["symbol"], **common)
        self._equity = Gauge("equity", "Account equity in the quote currency.", **common)
        self._drawdown = Gauge("drawdown", "Drawdown from the equity peak, as a fraction (0.05 = 5%).", **common)
        self._trading_state = Gauge(
            "trading_state", "1 for the current trading state, 0 for the others.", ["state"], **common
        )
        self._feed_staleness = Gauge(
            "feed_staleness_seconds", "Seconds since the last market-data event.", **common
        )
        self._journal_lag = Gauge(
            "journal_lag_events", "Journaled events not yet delivered to the slowest live subscriber.", **common
        )
        # Every state gets a series from the start, so `== 1` alert rules never see a gap.
        self.set_trading_state("ACTIVE")

    def order_submitted(self, symbol: str) -> None:
        """Count one order sent to the venue for ``symbol``."""
        self._orders.labels(symbol=symbol).inc()

    def fill(self, symbol: str, qty: float | Decimal) -> None:
        """Count one fill of ``qty`` (sign ignored: sells count as quantity too)."""
        self._fills.labels(symbol=symbol).inc()
        self._fill_quantity.labels(symbol=symbol).inc(abs(float(qty)))

    def rejected(self, symbol: str) -> None:
        """Count one order the venue rejected."""
        self._rejects.labels(symbol=symbol).inc()

    def denied(self, check: str) -> None:
        """Count one risk-gate denial by the check that said no (``max_position``, ...)."""
        self._denials.labels(check=check).inc()

    def reconciled(self, ok: bool) -> None:
        """Count one warm-start reconciliation: ``ok``, or ``unexplained`` (the engine was halted)."""
        self._reconciliations.labels(outcome="ok" if ok else "unexplained").inc()

    def reconnected(self, stream: str = "market_data") -> None:
        """Count one reconnection of ``stream`` (``market_data``, ``user``, ``venue``)."""
        self._reconnects.labels(stream=stream).inc()

    def observe_tick_to_order(self, seconds: float) -> None:
        """Record the latency from the triggering market event to the order leaving the engine."""
        self._tick_to_order.observe(seconds)

    def observe_order_to_ack(self, seconds: float) -> None:
        """Record the latency from order submission to the venue's acknowledgement."""
        self._order_to_ack.observe(seconds)

    def set_position(self, symbol: str, qty: float | Decimal) -> None:
        """Set the signed position of ``symbol``."""
        self._position.labels(symbol=symbol).set(float(qty))

    def set_equity(self, equity: float | Decimal) -> None:
        """Set account equity (quote currency)."""
        self._equity.set(float(equity))

    def set_drawdown(self, fraction: float | Decimal) -> None:
        """Set drawdown from peak equity as a fraction (``0.05`` for 5 %)."""
        self._drawdown.set(float(fraction))

    def set_trading_state(self, state: Any) -> None:
        """Mark ``state`` (``"HALTED"`` or a ``TradingMode``) current: its series 1, the others 0.

        Raises
        ------
        ValueError
            When ``state`` is not one of :data:`TRADING_STATES`.
        """
        name = str(getattr(state, "value", state)).upper()
        if name not in TRADING_STATES:
            raise ValueError(f"trading state must be one of {', '.join(TRADING_STATES)}, not {name!r}")
        for candidate in TRADING_STATES:
            self._trading_state.labels(state=candidate).set(1.0 if candidate == name else 0.0)

    def set_feed_staleness(self, seconds: float) -> None:
        """Set seconds since the last market-data event."""
        self._feed_staleness.set(seconds)

    def set_journal_lag(self, events: int) -> None:
        """Set the number of events accepted but not yet written to the journal."""
        self._journal_lag.set(events)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text exposition format (serve as :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
