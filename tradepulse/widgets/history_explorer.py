"""``HistoryExplorer``: a live service's history, drilled down, with anomalies marked.

Pick a strategy (one journal of the service's state directory), a symbol and a period; the page
shows that period's equity, every order's slippage and order-to-ack latency, the reject rate, and
marks the points whose robust z-score (median and MAD, :mod:`tradepulse.store.history`) is at or
past the threshold, which is shown and adjustable. Below: the anomalies with their cause where the
journal knows one (a breaker trip, a venue error burst), the P&L of the period, its fills and its
orders.

It reads the journals directly (read-only; WAL lets it read while the service writes), so it works
with the service running or stopped, on the service's host or on a copy of its state directory.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradepulse.errors import ConfigError
from tradepulse.model.kinds import EngineKind
from tradepulse.store import Journal
from tradepulse.store import queries as q
from tradepulse.store.history import Anomaly, anomaly_frame, find_anomalies
from tradepulse.widgets._base import Explorer
from tradepulse.widgets._controls import heading
from tradepulse.widgets.figures import show_figure
from tradepulse.widgets.tables import frame_table_html

__all__ = ["PERIODS", "HistoryExplorer", "history_page", "state_dir_of_config"]

#: Period presets, counted back from the journal's last event (a replay's clock is not the wall clock).
PERIODS = {"last hour": timedelta(hours=1), "last day": timedelta(days=1), "last week": timedelta(days=7),
           "everything": None, "custom": None}
_ALL_SYMBOLS = "all symbols"
_STYLE = {"description_width": "90px"}
_FULL = {"width": "100%"}
_TITLES = ("Equity (× = unusual return)", "Slippage per order (bps)", "Order-to-ack latency (ms)", "Reject rate")
_ROWS = {"returns": 1, "slippage_bps": 2, "ack_ms": 3, "reject_rate": 4}


def state_dir_of_config(config: str | Path) -> Path:
    """The ``[service] state_dir`` a service config names (relative to the file, as the service reads it)."""
    from tradepulse.client_base import state_dir_of

    return Path(state_dir_of(config))


@dataclass(frozen=True)
class _Inputs:
    journal: Path
    symbol: str | None
    period: str
    start_text: str
    end_text: str
    threshold: float


@dataclass(frozen=True)
class _Output:
    figure: go.Figure
    anomalies: list[Anomaly]
    anomalies_html: str
    pnl_html: str
    fills_html: str
    orders_html: str
    since: datetime | None
    until: datetime | None
    summary: str


def _parse_time(text: str, name: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = pd.Timestamp(text)
    except ValueError:
        raise ConfigError(f"{name} {text!r} is not a time; write it like 2024-08-09 00:01 (UTC)") from None
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.to_pydatetime()


class HistoryExplorer(Explorer):
    """Drill into one strategy's journal: period, symbol, anomalies past an adjustable threshold.

    Parameters
    ----------
    state_dir
        The service's state directory (its journals are in ``journals/``); or give ``config``.
    config
        The service's TOML file: its ``[service] state_dir`` is used.
    strategy_id, symbol, period
        Initial selections (``period``: one of :data:`PERIODS`).
    threshold
        Robust z-score at or past which a point is an anomaly (3.5 by default, a common choice for
        median/MAD scores).

    Examples
    --------
    >>> from tradepulse.widgets import HistoryExplorer
    >>> page = HistoryExplorer(config="live.toml")            # doctest: +SKIP
    >>> page.set_threshold(3.0).wait().anomalies              # doctest: +SKIP
    """

    failure_prefix = "Could not read the history"

    def __init__(self, state_dir: str | Path | None = "live-state", *, config: str | Path | None = None,
                 strategy_id: str | None = None, symbol: str | None = None, period: str = "everything",
                 threshold: float = 3.5, debounce_s: float = 0.3) -> None:
        if period not in PERIODS:
            raise ConfigError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
        folder = state_dir_of_config(config) if config is not None else Path(state_dir or "live-state")
        self.state_dir = folder
        journals = sorted((folder / "journals").glob("*.sqlite")) if (folder / "journals").is_dir() else []
        # Archived journals (a paper service keeps the last run as <id>.<stamp>.sqlite) are history too.
        self._journals = {path.stem: path for path in journals}
        if not self._journals:
            raise ConfigError(f"no journals in {folder / 'journals'}: is {folder} a TradePulse service's state directory?")
        names = list(self._journals)
        chosen = strategy_id if strategy_id is not None else names[0]
        if chosen not in self._journals:
            raise ConfigError(f"no journal for strategy {chosen!r} in {folder / 'journals'} (there are: {', '.join(names)})")
        self.strategy_picker = widgets.Dropdown(options=names, value=chosen, description="Strategy", style=_STYLE, layout=_FULL)
        self.strategy_picker.add_class("tp-history-strategy")
        self.symbol_picker = widgets.Dropdown(description="Symbol", style=_STYLE, layout=_FULL)
        self.symbol_picker.add_class("tp-history-symbol")
        self.period_picker = widgets.Dropdown(options=list(PERIODS), value=period, description="Period", style=_STYLE,
                                              layout=_FULL)
        self.period_picker.add_class("tp-history-period")
        self.start = widgets.Text(placeholder="from, e.g. 2024-08-09 00:00 (UTC)", description="From", style=_STYLE,
                                  layout=_FULL, continuous_update=False)
        self.end = widgets.Text(placeholder="to (empty: the end)", description="To", style=_STYLE, layout=_FULL,
                                continuous_update=False)
        self.start.add_class("tp-history-from")
        self.end.add_class("tp-history-to")
        self.threshold = widgets.FloatSlider(value=threshold, min=1.0, max=10.0, step=0.5, description="Threshold |z|",
                                             style=_STYLE, layout=_FULL, continuous_update=False, readout_format=".1f")
        self.threshold.add_class("tp-history-threshold")
        self.threshold_note = widgets.HTML(layout=_FULL)
        self._fill_symbols(symbol)
        self._show_custom()
        self._show_threshold()
        self.strategy_picker.observe(self._strategy_changed, "value")
        for control in (self.symbol_picker, self.start, self.end):
            control.observe(self._changed, "value")
        self.period_picker.observe(self._period_changed, "value")
        self.threshold.observe(self._threshold_changed, "value")
        self._build(css_class="tp-history-explorer", debounce_s=debounce_s)

    # -- public -----------------------------------------------------------------------------------

    @property
    def anomalies(self) -> list[Anomaly]:
        """The anomalies shown now, oldest first."""
        return list(self._output.anomalies) if self._output is not None else []

    @property
    def period(self) -> tuple[datetime | None, datetime | None]:
        """The period shown now (``None``: open ended)."""
        return (self._output.since, self._output.until) if self._output is not None else (None, None)

    def set_threshold(self, value: float) -> HistoryExplorer:
        self.threshold.value = float(value)
        return self

    def set_period(self, period: str, start: str = "", end: str = "") -> HistoryExplorer:
        """A preset (:data:`PERIODS`), or ``"custom"`` with ``start``/``end`` as UTC times."""
        with self.hold_trait_notifications():
            self.start.value, self.end.value = start, end
            self.period_picker.value = period
        self._changed()
        return self

    def wait(self, timeout: float = 120.0) -> HistoryExplorer:
        super().wait(timeout)
        return self

    # -- controls ---------------------------------------------------------------------------------

    def _fill_symbols(self, wanted: str | None = None) -> None:
        with Journal(self._journals[self.strategy_picker.value], read_only=True) as journal:
            rows = journal.select("SELECT DISTINCT symbol FROM events WHERE symbol IS NOT NULL ORDER BY symbol", [])
        symbols = [row[0] for row in rows]
        self.symbol_picker.options = [_ALL_SYMBOLS, *symbols]
        self.symbol_picker.value = wanted if wanted in symbols else _ALL_SYMBOLS

    def _show_custom(self) -> None:
        shown = None if self.period_picker.value == "custom" else "none"
        self.start.layout.display = shown
        self.end.layout.display = shown

    def _show_threshold(self) -> None:
        self.threshold_note.value = (
            f'<div class="tp-history-threshold-note" style="font-size:12px;color:#555;margin:0 0 4px 94px">'
            f"Points with a robust z-score (median and MAD) of |z| ≥ {self.threshold.value:.1f} are marked.</div>")

    def _strategy_changed(self, _change: Any) -> None:
        self._fill_symbols(self.symbol_picker.value)
        self._changed()

    def _period_changed(self, _change: Any) -> None:
        self._show_custom()
        self._changed()

    def _threshold_changed(self, _change: Any) -> None:
        self._show_threshold()
        self._changed()

    # -- Explorer ---------------------------------------------------------------------------------

    def _inputs(self) -> _Inputs:
        symbol = None if self.symbol_picker.value == _ALL_SYMBOLS else self.symbol_picker.value
        return _Inputs(self._journals[self.strategy_picker.value], symbol, self.period_picker.value,
                       self.start.value, self.end.value, float(self.threshold.value))

    def _window(self, inputs: _Inputs) -> tuple[datetime | None, datetime | None]:
        if inputs.period == "custom":
            since, until = _parse_time(inputs.start_text, "From"), _parse_time(inputs.end_text, "To")
            if since is not None and until is not None and since >= until:
                raise ConfigError("From must be before To")
            return since, until
        span = PERIODS[inputs.period]
        if span is None:
            return None, None
        with Journal(inputs.journal, read_only=True) as journal:
            newest = journal.events(newest_first=True, limit=1)
        end = newest[0].ts if newest else datetime.now(UTC)
        return end - span, None

    def _compute(self, inputs: _Inputs) -> _Output:
        since, until = self._window(inputs)
        series, anomalies = find_anomalies(inputs.journal, since=since, until=until, symbol=inputs.symbol,
                                           threshold=inputs.threshold)
        with Journal(inputs.journal, read_only=True) as journal:
            started = journal.events(kinds=[EngineKind.STARTED], limit=1)
        capital = Decimal(str(started[0].payload["capital"])) if started else None
        pnl = q.pnl_series(inputs.journal, since=since, until=until, initial_equity=capital) if capital else pd.DataFrame()
        fills = pd.DataFrame(q.fills(inputs.journal, symbol=inputs.symbol, since=since, until=until, limit=1000))
        orders = pd.DataFrame(q.orders(inputs.journal, symbol=inputs.symbol, since=since, until=until, limit=1000))
        figure = _figure(series, anomalies, pnl, inputs.threshold)
        listed = anomaly_frame(anomalies)
        if not listed.empty:
            listed["value"] = listed["value"].round(6)
            listed["zscore"] = listed["zscore"].round(2)
            listed["cause"] = listed["cause"].fillna("")
        where = f"{inputs.journal.stem}" + (f" · {inputs.symbol}" if inputs.symbol else "")
        when = f"{_text(since) or 'the start'} to {_text(until) or 'the end'}"
        summary = f"{where}, {when}: {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} at |z| ≥ {inputs.threshold:.1f}"
        return _Output(
            figure=figure, anomalies=anomalies,
            anomalies_html=frame_table_html(listed, "tp-history-anomalies", limit=200),
            pnl_html=_pnl_html(pnl), fills_html=frame_table_html(_columns(fills, _FILL_COLUMNS), "tp-history-fills", limit=200),
            orders_html=frame_table_html(_columns(orders, _ORDER_COLUMNS), "tp-history-orders", limit=200),
            since=since, until=until, summary=summary,
        )

    def _layout(self, first: _Output | None) -> tuple[Sequence[widgets.Widget], Sequence[widgets.Widget]]:
        self.figure = go.FigureWidget(first.figure if first else None)
        self.anomalies_view = widgets.HTML(first.anomalies_html if first else "", layout=_FULL)
        self.pnl_view = widgets.HTML(first.pnl_html if first else "", layout=_FULL)
        self.fills_view = widgets.HTML(first.fills_html if first else "", layout=_FULL)
        self.orders_view = widgets.HTML(first.orders_html if first else "", layout=_FULL)
        controls = [heading("History"), self.strategy_picker, self.symbol_picker, self.period_picker, self.start, self.end,
                    heading("Anomalies"), self.threshold, self.threshold_note, heading("P&L in the period"), self.pnl_view]
        outputs = [self.figure, heading("Anomalies (oldest first)"), self.anomalies_view, heading("Fills (newest first)"),
                   self.fills_view, heading("Orders (newest first)"), self.orders_view]
        return controls, outputs

    def _apply(self, output: _Output) -> None:
        self._output = output
        show_figure(self.figure, output.figure)
        self.anomalies_view.value = output.anomalies_html
        self.pnl_view.value = output.pnl_html
        self.fills_view.value = output.fills_html
        self.orders_view.value = output.orders_html


_FILL_COLUMNS = ["filled_at", "symbol", "side", "fill_quantity", "fill_price", "fee_quote", "is_maker", "client_order_id"]
_ORDER_COLUMNS = ["created_at", "symbol", "side", "order_type", "quantity", "status", "filled_quantity", "average_fill_price",
                  "fees", "client_order_id"]


def _columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[[column for column in columns if column in frame.columns]] if not frame.empty else frame


def _text(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _pnl_html(pnl: pd.DataFrame) -> str:
    if pnl.empty or "equity" not in pnl:
        return '<p class="tp-history-pnl" style="color:#666;font-size:12.5px">No marks in the period.</p>'
    equity = pnl["equity"].astype(float)
    drawdown = float((equity / equity.cummax() - 1).min())
    rows = {"start equity": f"{equity.iloc[0]:,.2f}", "end equity": f"{equity.iloc[-1]:,.2f}",
            "change": f"{equity.iloc[-1] - equity.iloc[0]:+,.2f}", "fees": f"{float(pnl['fees_quote'].iloc[-1] - pnl['fees_quote'].iloc[0]):,.2f}",
            "max drawdown": f"{drawdown:.2%}", "marks": f"{len(pnl):,}"}
    body = "".join(f'<tr><td style="padding:1px 8px;color:#555">{html.escape(key)}</td>'
                   f'<td data-stat="{html.escape(key.replace(" ", "_"))}" style="padding:1px 8px;text-align:right">{html.escape(value)}</td></tr>'
                   for key, value in rows.items())
    return f'<table class="tp-history-pnl" style="font-size:12.5px">{body}</table>'


def _figure(series: dict[str, pd.DataFrame], anomalies: list[Anomaly], pnl: pd.DataFrame, threshold: float) -> go.Figure:
    figure = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.4, 0.2, 0.2, 0.2],
                           subplot_titles=_TITLES)
    if not pnl.empty and "equity" in pnl:
        figure.add_trace(go.Scatter(x=pnl.index, y=pnl["equity"].astype(float), name="equity", mode="lines",
                                    line={"color": "#2f6fb0"}), row=1, col=1)
    for metric in ("slippage_bps", "ack_ms"):
        frame = series[metric]
        figure.add_trace(go.Scatter(x=frame.index, y=frame["value"], name=metric, mode="markers",
                                    marker={"size": 5, "color": "#7a7a7a"}), row=_ROWS[metric], col=1)
    rate = series["reject_rate"]
    figure.add_trace(go.Bar(x=rate.index, y=rate["value"], name="reject rate", marker={"color": "#c7a25a"}), row=4, col=1)
    for metric, row in _ROWS.items():
        flagged = [item for item in anomalies if item.metric == metric]
        if not flagged:
            continue
        if metric == "returns" and not pnl.empty and "equity" in pnl:
            equity = pnl["equity"].astype(float)
            y = [float(equity.asof(pd.Timestamp(item.ts))) for item in flagged]
        else:
            y = [item.value for item in flagged]
        figure.add_trace(go.Scatter(
            x=[item.ts for item in flagged], y=y, mode="markers", name=f"anomaly · {metric}",
            marker={"symbol": "x", "size": 11, "color": "#c0392b", "line": {"width": 2}},
            text=[f"z = {item.zscore:+.1f}" + (f" · {item.cause}" if item.cause else "") for item in flagged],
            hovertemplate="%{x}<br>%{y}<br>%{text}<extra></extra>",
        ), row=row, col=1)
    figure.update_layout(height=760, template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 30},
                         showlegend=False, title={"text": f"marked: |z| ≥ {threshold:.1f}", "font": {"size": 13}, "x": 0.99,
                                                  "xanchor": "right"})
    if all(len(frame) == 0 for frame in series.values()) and (pnl.empty or "equity" not in pnl):
        figure.add_annotation(text="Nothing journaled in this period", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return figure




def history_page(state_dir: str | Path | None = "live-state", *, config: str | Path | None = None,
                 **options: Any) -> widgets.Widget:
    """A :class:`HistoryExplorer`, or one sentence saying why there is none yet (a dashboard page
    opened before any service has written a journal must say so, not fail)."""
    try:
        return HistoryExplorer(state_dir, config=config, **options)
    except ConfigError as error:
        return widgets.HTML(f'<div class="tp-history-missing" style="padding:10px 14px;border-radius:6px;background:#fff4d6;'
                            f'color:#8a5a00;border:1px solid #f0d48a">No history to show: {html.escape(str(error))}</div>')
