"""Plotly figures behind the widgets: backtest tear sheet, portfolio tear sheet, indicator panel, sweep heatmap.

Each builder returns a plain ``go.Figure`` (reports use them as they are); :func:`show_figure`
copies one into a long-lived ``go.FigureWidget``, so a recompute updates the chart a page already
shows. Times are UTC, sent as ISO text without an offset: plotly.js has no time zones, and a
``FigureWidget`` would ship datetime64 arrays as bare integers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradepulse.backtest.portfolio_report import contribution_traces, weights_trace
from tradepulse.indicators import MarketPhase, PhaseThresholds

if TYPE_CHECKING:
    from tradepulse.backtest import BacktestResult, PortfolioBacktestResult

__all__ = [
    "PHASE_COLORS",
    "axis_labels",
    "backtest_figure",
    "indicator_figure",
    "portfolio_figure",
    "run_figure",
    "show_figure",
    "sweep_heatmap",
]

PHASE_COLORS: dict[str, str] = {
    MarketPhase.CHAOTIC.value: "#d9d9d9",
    MarketPhase.PROTO_EMERGENT.value: "#9ecae1",
    MarketPhase.STRONG_EMERGENT.value: "#74c476",
    MarketPhase.TRANSITION.value: "#fdae6b",
    MarketPhase.POST_EMERGENT.value: "#bcbddc",
}
_PHASES = list(PHASE_COLORS)
_PRICE, _EQUITY, _DRAWDOWN = "#444444", "#1f77b4", "#d62728"
_LONG, _SHORT, _EXIT = "#1a9850", "#d73027", "#222222"
_MARGIN = {"l": 64, "r": 24, "t": 56, "b": 36}
# A vertical legend right of the plot: a horizontal one collides with the title once the phase
# swatches join it.
_LEGEND = {"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1.0, "yanchor": "top",
           "font": {"size": 11}, "groupclick": "toggleitem"}


def show_figure(target: go.FigureWidget, figure: go.Figure) -> None:
    """Replace everything ``target`` shows with ``figure``, for open views and ones that open later."""
    with target.batch_update():
        target.data = ()
        target.add_traces(list(figure.data))
        target.layout = figure.layout
    # The batch reaches views that are open now, as messages. A view that opens later (a Voila
    # page on a preheated kernel, a browser reload, a widget displayed inside a box) is built
    # from the synced _widget_data/_widget_layout state, which plotly refreshes only when the
    # FigureWidget itself is displayed; refresh it here the same way plotly does.
    target._widget_data = copy.deepcopy(target._data)
    target._widget_layout = copy.deepcopy(target._layout_obj._props)


def _times(index: pd.Index) -> np.ndarray:
    """Timestamps as naive-UTC ISO text: FigureWidget ships datetime64 arrays as raw integers."""
    index = pd.DatetimeIndex(index)
    if index.tz is not None:
        index = index.tz_convert(None)
    return np.asarray(index.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)


def _phase_traces(index: pd.Index, phases: pd.Series) -> list[go.BaseTraceType]:
    """A one-row heatmap coloured by phase (cheap for 10,000+ bars) and legend swatches for it."""
    codes = pd.Categorical(phases.astype("object"), categories=_PHASES).codes.astype(np.float64)
    codes[codes < 0] = np.nan  # warm-up bars have no phase: left unshaded
    steps = len(_PHASES)
    colorscale = []
    for number, phase in enumerate(_PHASES):
        colorscale += [[number / steps, PHASE_COLORS[phase]], [(number + 1) / steps, PHASE_COLORS[phase]]]
    shading = go.Heatmap(
        x=_times(index),
        y=[0.5],
        z=[codes],
        zmin=-0.5,
        zmax=steps - 0.5,
        colorscale=colorscale,
        showscale=False,
        opacity=0.55,
        hoverinfo="skip",
        name="market phase",
    )
    swatches = [
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            marker={"symbol": "square", "size": 11, "color": PHASE_COLORS[phase]},
            name=phase.replace("_", " "),
            legendgroup="phase",
            legendgrouptitle_text="Market phase",
            legendrank=2000,  # after the price, trade and equity entries
            hoverinfo="skip",
        )
        for phase in _PHASES
    ]
    return [shading, *swatches]


def _price_with_phases(figure: go.Figure, bars: pd.DataFrame, phases: pd.DataFrame | None, row: int) -> None:
    """Draw the close on the row's secondary axis, above phase shading on its hidden primary axis."""
    times = _times(bars.index)
    if phases is not None:
        for trace in _phase_traces(bars.index, phases["phase"]):
            figure.add_trace(trace, row=row, col=1, secondary_y=False)
        labels = phases["phase"].astype("object").fillna("warm-up").to_numpy()
        confidence = phases["phase_confidence"].to_numpy(dtype=np.float64)
        # Text, not floats: a NaN inside an object array would reach the browser as invalid JSON.
        confidence_text = np.where(np.isnan(confidence), "–", np.char.mod("%.2f", np.nan_to_num(confidence)))
        customdata = np.stack([labels, confidence_text.astype(object)], axis=-1)
        hover = "%{x|%Y-%m-%d %H:%M}<br>close %{y:,.2f}<br>phase %{customdata[0]} (%{customdata[1]})<extra></extra>"
    else:
        customdata, hover = None, "%{x|%Y-%m-%d %H:%M}<br>close %{y:,.2f}<extra></extra>"
    figure.add_trace(
        go.Scatter(
            x=times, y=bars["close"].to_numpy(), name="close", line={"color": _PRICE, "width": 1.3},
            customdata=customdata, hovertemplate=hover,
        ),
        row=row, col=1, secondary_y=True,
    )
    figure.update_yaxes(visible=False, range=[0, 1], fixedrange=True, row=row, col=1, secondary_y=False)
    figure.update_yaxes(side="left", title_text="price", showgrid=True, row=row, col=1, secondary_y=True)


def _trade_markers(result: BacktestResult) -> list[go.Scatter]:
    trades = result.trades
    long = trades["side"] == "long"
    closed = trades["status"] == "closed"
    markers = []
    for name, rows, symbol, color in (
        ("long entry", trades[long], "triangle-up", _LONG),
        ("short entry", trades[~long], "triangle-down", _SHORT),
    ):
        markers.append(
            go.Scatter(
                x=_times(pd.DatetimeIndex(rows["entry_time"])), y=rows["entry_price"].to_numpy(), mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 10, "color": color, "line": {"width": 0.5, "color": "white"}},
                hovertemplate=f"{name}<br>%{{x|%Y-%m-%d %H:%M}}<br>price %{{y:,.2f}}<extra></extra>",
            )
        )
    exits = trades[closed]
    markers.append(
        go.Scatter(
            x=_times(pd.DatetimeIndex(exits["exit_time"])), y=exits["exit_price"].to_numpy(), mode="markers",
            name="exit", marker={"symbol": "x-thin", "size": 9, "color": _EXIT, "line": {"width": 2, "color": _EXIT}},
            customdata=exits["pnl"].to_numpy(),
            hovertemplate="exit<br>%{x|%Y-%m-%d %H:%M}<br>price %{y:,.2f}<br>P&L %{customdata:,.2f}<extra></extra>",
        )
    )
    return markers


def _equity_rows(figure: go.Figure, result: BacktestResult | PortfolioBacktestResult, first_row: int) -> None:
    times = _times(result.equity.index)
    figure.add_trace(
        go.Scatter(x=times, y=result.equity.to_numpy(), name="equity", line={"color": _EQUITY, "width": 1.5},
                   hovertemplate="%{x|%Y-%m-%d %H:%M}<br>equity %{y:,.2f}<extra></extra>"),
        row=first_row, col=1,
    )
    figure.add_trace(
        go.Scatter(x=times, y=(result.drawdown * 100.0).to_numpy(), name="drawdown", fill="tozeroy",
                   line={"color": _DRAWDOWN, "width": 1},
                   hovertemplate="%{x|%Y-%m-%d %H:%M}<br>drawdown %{y:.2f}%<extra></extra>"),
        row=first_row + 1, col=1,
    )
    figure.update_yaxes(title_text="equity", row=first_row, col=1)
    figure.update_yaxes(title_text="drawdown %", row=first_row + 1, col=1)


def backtest_figure(result: BacktestResult, phases: pd.DataFrame | None = None, title: str = "") -> go.Figure:
    """Price with entries, exits and market-phase shading; equity; drawdown (shared time axis).

    Parameters
    ----------
    result
        The backtest to draw.
    phases
        ``compute_indicators`` output on the same bars (``phase`` and ``phase_confidence`` used);
        ``None`` draws no shading.
    """
    figure = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.5, 0.3, 0.2],
        specs=[[{"secondary_y": True}], [{}], [{}]],
    )
    _price_with_phases(figure, result.bars, phases, row=1)
    for marker in _trade_markers(result):
        figure.add_trace(marker, row=1, col=1, secondary_y=True)
    _equity_rows(figure, result, first_row=2)
    figure.update_layout(
        title={"text": title, "font": {"size": 15}, "x": 0.01}, height=760, margin=_MARGIN, hovermode="closest",
        legend=_LEGEND, template="plotly_white",
        uirevision=str(result.bars.attrs.get("source", "")),  # keeps the user's zoom across recomputes
    )
    figure.update_xaxes(type="date")
    return figure


def portfolio_figure(result: PortfolioBacktestResult, title: str = "") -> go.Figure:
    """Equity, drawdown, target weights (symbols x time) and each member's running contribution, on one time axis.

    Zooming into a stretch of time zooms all four rows, so a drawdown can be traced to the
    weights held and the members that lost.
    """
    n_symbols = len(result.symbols)
    weights_share = min(0.30, 0.10 + 0.015 * n_symbols)  # about the same height per member
    heights = [0.30, 0.12, weights_share, 0.58 - weights_share]
    figure = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.035, row_heights=heights)
    _equity_rows(figure, result, first_row=1)
    figure.update_traces(showlegend=False)  # the legend lists the members, beside their lines
    weights_domain = figure.layout.yaxis3.domain
    middle, span = (weights_domain[0] + weights_domain[1]) / 2, weights_domain[1] - weights_domain[0]
    # A floor on the colour bar's length keeps its labels apart when few members make the row short.
    figure.add_trace(weights_trace(result, colorbar_y=middle, colorbar_len=max(span, 0.2)), row=3, col=1)
    for trace in contribution_traces(result):
        figure.add_trace(trace, row=4, col=1)
    figure.update_yaxes(type="category", autorange="reversed", title_text="weight", row=3, col=1)
    figure.update_yaxes(title_text="contribution", row=4, col=1)
    contributions_top = figure.layout.yaxis4.domain[1]
    figure.update_layout(
        title={"text": title, "font": {"size": 15}, "x": 0.01}, height=860 + 22 * max(0, n_symbols - 4),
        margin=_MARGIN, hovermode="closest", template="plotly_white",
        legend={**_LEGEND, "y": contributions_top, "title": {"text": "contribution"}, "tracegroupgap": 0},
        uirevision=",".join(result.symbols),  # keeps the user's zoom across recomputes on the same members
    )
    figure.update_xaxes(type="date")
    return figure


def run_figure(result: BacktestResult, title: str = "") -> go.Figure:
    """Equity above drawdown for one run (the sweep explorer's detail view)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.68, 0.32])
    _equity_rows(figure, result, first_row=1)
    figure.update_layout(
        title={"text": title, "font": {"size": 14}, "x": 0.01}, height=420, margin=_MARGIN, showlegend=False,
        template="plotly_white",
    )
    figure.update_xaxes(type="date")
    return figure


def indicator_figure(
    bars: pd.DataFrame, indicators: pd.DataFrame, title: str = "", thresholds: PhaseThresholds | None = None
) -> go.Figure:
    """Price with phase shading above Kuramoto R, entropy change ΔH, Ricci curvature κ and Hurst H.

    Dotted lines mark the :class:`~tradepulse.indicators.PhaseThresholds` the phase rules use.
    """
    th = thresholds or PhaseThresholds()
    panels: Sequence[tuple[str, str, str, Sequence[float]]] = (
        ("kuramoto_r", "R", "#6a3d9a", (th.r_low, th.r_high)),
        ("delta_entropy", "ΔH", "#b15928", (-th.delta_entropy, th.delta_entropy)),
        ("ricci", "κ", "#1f78b4", (th.ricci_pinned,)),
        ("hurst", "Hurst", "#33a02c", (0.5, th.hurst_trend)),
    )
    figure = make_subplots(
        rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.025, row_heights=[0.36, 0.16, 0.16, 0.16, 0.16],
        specs=[[{"secondary_y": True}], [{}], [{}], [{}], [{}]],
    )
    _price_with_phases(figure, bars, indicators, row=1)
    times = _times(indicators.index)
    for row, (column, label, color, levels) in enumerate(panels, start=2):
        figure.add_trace(
            go.Scatter(x=times, y=indicators[column].to_numpy(), name=label, line={"color": color, "width": 1.2},
                       showlegend=False, hovertemplate=f"{label} %{{y:.3f}}<extra></extra>"),
            row=row, col=1,
        )
        for level in levels:
            figure.add_hline(y=level, line={"dash": "dot", "width": 1, "color": "#888"}, row=row, col=1)
        figure.update_yaxes(title_text=label, row=row, col=1)
    figure.update_layout(
        title={"text": title, "font": {"size": 15}, "x": 0.01}, height=820, margin=_MARGIN, hovermode="x",
        legend=_LEGEND, uirevision=str(bars.attrs.get("source", "")), template="plotly_white",
    )
    figure.update_xaxes(type="date")
    return figure


def axis_labels(values: Sequence[Any]) -> list[str]:
    """Category labels for swept values (``10``, ``0.5``, ``True``) as the heatmap shows them."""
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in values]


def sweep_heatmap(
    table: pd.DataFrame,
    x_param: str,
    y_param: str,
    metric: str,
    x_values: Sequence[Any],
    y_values: Sequence[Any],
    selected: Mapping[str, Any] | None = None,
    title: str = "",
) -> go.Figure:
    """Heatmap of ``metric`` over two swept parameters; a square outlines the ``selected`` cell.

    Cells whose combination was skipped (e.g. ``fast >= slow``) are blank. Axes are categorical
    so unevenly spaced grids get equal cells and a click reports the exact label.
    """
    pivot = table.pivot_table(index=y_param, columns=x_param, values=metric, aggfunc="first")
    pivot = pivot.reindex(index=list(y_values), columns=list(x_values))
    z = pivot.to_numpy(dtype=np.float64, copy=True)
    z[~np.isfinite(z)] = np.nan
    text = [["" if np.isnan(v) else _short_number(v, metric) for v in row] for row in z]
    x_labels, y_labels = axis_labels(x_values), axis_labels(y_values)
    finite = z[np.isfinite(z)]
    middle = 0.0 if finite.size and finite.min() < 0 < finite.max() else None
    heatmap = go.Heatmap(
        x=x_labels, y=y_labels, z=z, text=text, texttemplate="%{text}", textfont={"size": 10},
        colorscale="RdYlGn", zmid=middle, colorbar={"title": {"text": metric}, "thickness": 12},
        hovertemplate=f"{x_param} %{{x}}<br>{y_param} %{{y}}<br>{metric} %{{z:.4f}}<extra>click to open</extra>",
        name=metric,
    )
    if selected is not None:
        marker_x, marker_y = axis_labels([selected[x_param]]), axis_labels([selected[y_param]])
    else:
        marker_x, marker_y = [], []
    outline = go.Scatter(
        x=marker_x, y=marker_y, mode="markers", hoverinfo="skip", showlegend=False, name="selected",
        marker={"symbol": "square-open", "size": 26, "color": "#111", "line": {"width": 2.5}},
    )
    figure = go.Figure([heatmap, outline])
    figure.update_layout(
        title={"text": title, "font": {"size": 14}, "x": 0.01}, height=460, margin=_MARGIN, template="plotly_white",
        xaxis={"title": {"text": x_param}, "type": "category"},
        yaxis={"title": {"text": y_param}, "type": "category"},
    )
    return figure


def _short_number(value: float, metric: str) -> str:
    if metric in {"total_return", "cagr", "max_drawdown", "win_rate", "exposure"}:
        return f"{value:.1%}"
    if metric == "trades":
        return f"{value:.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}"
