"""``Overview``: the managers' first page: headline figures and how they got there, across strategies.

Headline: total equity, today's P&L, drawdown from the peak, gross exposure, and the trading state.
Charts: equity (the total and each strategy) with the total's drawdown under it; P&L by strategy
and symbol; gross exposure over time. It is a :class:`~tradepulse.widgets.LiveMonitor` with other
panels: the same connection handling ("no service" panel, a restarted service found again), the
same live-stream refresh (a fill shows within a second), the same operator buttons with their
confirmation, shown only to an operate token.

"Today" is the UTC day of the service's latest mark, so a replay's P&L reads the same as a live
day's.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradepulse.widgets.live_monitor import STATE_COLORS, LiveMonitor, _section

__all__ = ["Overview", "headline_figures"]

_TILE = ("display:inline-block;min-width:150px;margin:4px 10px 4px 0;padding:8px 12px;border:1px solid #e3e3e3;"
         "border-radius:6px;background:#fff;vertical-align:top")


def _frames(pnl: list[Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Equity and gross exposure as time x strategy frames, each strategy carried forward between its marks."""
    if not pnl:
        return pd.DataFrame(), pd.DataFrame()
    points = pd.DataFrame(pnl)
    points["ts"] = pd.to_datetime(points["ts"], utc=True, format="ISO8601")
    equity = points.pivot_table(index="ts", columns="strategy_id", values="equity", aggfunc="last")
    equity = equity.apply(pd.to_numeric, errors="coerce").sort_index().ffill()
    exposure = pd.DataFrame(index=equity.index)
    if "gross_exposure" in points:
        exposure = points.pivot_table(index="ts", columns="strategy_id", values="gross_exposure", aggfunc="last")
        exposure = exposure.apply(pd.to_numeric, errors="coerce").sort_index().ffill()
    return equity, exposure


def headline_figures(pnl: list[Mapping[str, Any]], positions: list[Mapping[str, Any]] | None = None,
                     trading_state: str | None = None) -> dict[str, Any]:
    """The headline from the service's P&L points: ``equity``, ``today_pnl``, ``drawdown`` (a fraction,
    <= 0), ``gross_exposure`` (quote currency), ``exposure_ratio`` (of equity), ``as_of``, ``trading_state``.

    Only strategies that have marked once count; each is carried at its last mark until its next.
    """
    equity, exposure = _frames(pnl)
    figures: dict[str, Any] = {"equity": None, "today_pnl": None, "drawdown": None, "gross_exposure": None,
                               "exposure_ratio": None, "as_of": None, "trading_state": trading_state}
    if equity.empty:
        return figures
    total = equity.sum(axis=1, min_count=1).dropna()
    if total.empty:
        return figures
    now = total.index[-1]
    start_of_day = now.normalize()
    before = total[total.index < start_of_day]
    baseline = before.iloc[-1] if not before.empty else total[total.index >= start_of_day].iloc[0]
    gross = float(exposure.iloc[-1].sum()) if not exposure.empty else None
    figures.update(
        equity=float(total.iloc[-1]), today_pnl=float(total.iloc[-1] - baseline),
        drawdown=float(total.iloc[-1] / total.cummax().iloc[-1] - 1.0),
        gross_exposure=gross, exposure_ratio=(gross / float(total.iloc[-1])) if gross is not None and total.iloc[-1] else None,
        as_of=now.isoformat().replace("+00:00", "Z"),
    )
    return figures


def _tile(label: str, value: str, key: str, color: str = "#222") -> str:
    return (f'<div class="tp-overview-tile" data-figure="{key}" style="{_TILE}"><div style="font-size:12px;color:#666">'
            f'{html.escape(label)}</div><div class="tp-overview-value" style="font-size:20px;font-weight:700;color:{color}">'
            f"{html.escape(value)}</div></div>")


def _signed(value: float | None) -> tuple[str, str]:
    if value is None or not np.isfinite(value):
        return "n/a", "#666"
    return f"{value:+,.2f}", "#1d5e20" if value >= 0 else "#8b1a1a"


class Overview(LiveMonitor):
    """Headline figures and charts across the service's strategies; see the module docstring.

    Build it like a :class:`~tradepulse.widgets.LiveMonitor`: ``Overview.connect(config="live.toml")``,
    ``Overview.connect(state_dir=...)`` or ``Overview(LiveClient(...))``.
    """

    def _make_body(self, first: dict[str, Any]) -> list[widgets.Widget]:
        self.headline = widgets.HTML(layout={"width": "100%"})
        self.equity_figure = go.FigureWidget(self._equity_figure(first.get("pnl") or []))
        self.pnl_figure = go.FigureWidget(self._pnl_figure(first.get("positions") or []))
        self.exposure_figure = go.FigureWidget(self._exposure_figure(first.get("pnl") or []))
        return [self.header, self.headline, _section("Equity and drawdown"), self.equity_figure,
                widgets.HBox([widgets.VBox([_section("P&L by strategy and symbol"), self.pnl_figure], layout={"width": "50%"}),
                              widgets.VBox([_section("Gross exposure"), self.exposure_figure], layout={"width": "50%"})],
                             layout={"width": "100%"})]

    @property
    def figures(self) -> dict[str, Any]:
        """The headline figures last rendered (see :func:`headline_figures`)."""
        return dict(self._rendered.get("headline") or {})

    def _render_service(self, data: dict[str, Any]) -> None:
        super()._render_header(data)
        state = str(data["status"].get("trading_state") or "UNKNOWN")
        figures = headline_figures(data["pnl"], data["positions"], state)
        data["headline"] = figures
        pnl_text, pnl_color = _signed(figures["today_pnl"])
        drawdown = figures["drawdown"]
        ratio = figures["exposure_ratio"]
        color, _ = STATE_COLORS.get(state, ("#444", ""))
        tiles = [
            _tile("Equity", "n/a" if figures["equity"] is None else f"{figures['equity']:,.2f}", "equity"),
            _tile("Today's P&L", pnl_text, "today_pnl", pnl_color),
            _tile("Drawdown", "n/a" if drawdown is None else f"{drawdown:.2%}", "drawdown",
                  "#8b1a1a" if drawdown is not None and drawdown < 0 else "#222"),
            _tile("Gross exposure", "n/a" if figures["gross_exposure"] is None else
                  f"{figures['gross_exposure']:,.2f}" + ("" if ratio is None else f" ({ratio:.0%})"), "gross_exposure"),
            _tile("Trading state", state, "trading_state", color),
        ]
        as_of = figures["as_of"]
        note = f'<div style="font-size:12px;color:#666">as of the latest mark, {html.escape(str(as_of))}</div>' if as_of else ""
        self.headline.value = f'<div class="tp-overview-headline">{"".join(tiles)}{note}</div>'
        if data["pnl"] != self._rendered.get("pnl"):
            self._show(self.equity_figure, self._equity_figure(data["pnl"]))
            self._show(self.exposure_figure, self._exposure_figure(data["pnl"]))
        if data["positions"] != self._rendered.get("positions"):
            self._show(self.pnl_figure, self._pnl_figure(data["positions"]))

    @staticmethod
    def _show(target: go.FigureWidget, figure: go.Figure) -> None:
        from tradepulse.widgets.figures import show_figure

        show_figure(target, figure)

    @staticmethod
    def _equity_figure(pnl: list[Mapping[str, Any]]) -> go.Figure:
        equity, _ = _frames(pnl)
        figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.7, 0.3])
        if not equity.empty:
            total = equity.sum(axis=1, min_count=1)
            figure.add_trace(go.Scatter(x=total.index, y=total, name="total", mode="lines", line={"width": 3}), row=1, col=1)
            for strategy_id in equity.columns:
                figure.add_trace(go.Scatter(x=equity.index, y=equity[strategy_id], name=str(strategy_id), mode="lines"),
                                 row=1, col=1)
            drawdown = total / total.cummax() - 1.0
            figure.add_trace(go.Scatter(x=drawdown.index, y=drawdown, name="drawdown", mode="lines", fill="tozeroy",
                                        line={"color": "#c0392b"}), row=2, col=1)
            figure.update_yaxes(tickformat=".1%", row=2, col=1)
        else:
            figure.add_annotation(text="No marks yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        figure.update_layout(height=420, template="plotly_white", margin={"l": 60, "r": 20, "t": 20, "b": 30},
                             uirevision="overview", legend={"orientation": "h", "y": -0.15})
        return figure

    @staticmethod
    def _pnl_figure(positions: list[Mapping[str, Any]]) -> go.Figure:
        labels = [f"{row.get('strategy_id')} · {row.get('symbol')}" for row in positions]
        values = [float(row.get("net_pnl") or 0) for row in positions]
        figure = go.Figure(go.Bar(x=labels, y=values, name="net P&L",
                                  marker={"color": ["#1d5e20" if value >= 0 else "#8b1a1a" for value in values]}))
        figure.update_layout(height=300, template="plotly_white", margin={"l": 60, "r": 20, "t": 10, "b": 60},
                             uirevision="overview-pnl", showlegend=False)
        if not positions:
            figure.add_annotation(text="No positions yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        return figure

    @staticmethod
    def _exposure_figure(pnl: list[Mapping[str, Any]]) -> go.Figure:
        _, exposure = _frames(pnl)
        figure = go.Figure()
        if not exposure.empty:
            total = exposure.sum(axis=1, min_count=1)
            figure.add_trace(go.Scatter(x=total.index, y=total, name="total", mode="lines", line={"width": 3}))
            for strategy_id in exposure.columns:
                figure.add_trace(go.Scatter(x=exposure.index, y=exposure[strategy_id], name=str(strategy_id), mode="lines"))
        else:
            figure.add_annotation(text="No marks yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        figure.update_layout(height=300, template="plotly_white", margin={"l": 60, "r": 20, "t": 10, "b": 60},
                             uirevision="overview-exposure", legend={"orientation": "h", "y": -0.25})
        return figure
