"""Plotly figures of a portfolio backtest and its self-contained HTML report (plotly.js inlined once).

The figures show what one symbol's report cannot: the target weight of every member on every bar
(:func:`weights_heatmap`) and each member's part in the account's P&L (:func:`contributions_figure`).
The account's equity and drawdown are drawn by :func:`tradepulse.backtest.report.equity_figure`,
which reads only ``result.equity`` and ``result.drawdown``.

Times are sent as naive-UTC ISO text, so the same traces also work inside a ``FigureWidget``
(which would ship datetime64 arrays as bare integers).

Examples
--------
>>> from tradepulse.data.universe import load_universe
>>> from tradepulse.backtest.portfolio import run_portfolio_backtest
>>> result = run_portfolio_backtest(load_universe(["universe:binance-usdt-4h"]), "sma_cross")
>>> [trace.name for trace in contribution_traces(result)][:2]
['BTC/USDT', 'ETH/USDT']
>>> result.to_html("portfolio.html")  # doctest: +SKIP
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from tradepulse.backtest.report import _format_value, _stats_table, _trades_table, equity_figure
from tradepulse.errors import ConfigError

if TYPE_CHECKING:
    from tradepulse.backtest.portfolio_result import PortfolioBacktestResult

__all__ = [
    "SYMBOL_COLORS",
    "WEIGHT_COLORSCALE",
    "contribution_traces",
    "contributions_figure",
    "equity_figure",
    "per_symbol_table_html",
    "plot_times",
    "symbol_color",
    "weights_heatmap",
    "weights_trace",
    "write_portfolio_html_report",
]

#: One colour per member, in universe order (cycled past 24 members); lines and bars agree.
SYMBOL_COLORS: tuple[str, ...] = tuple(qualitative.D3) + tuple(qualitative.Dark24[10:]) + tuple(qualitative.Light24)
#: Diverging: short red, flat white, long blue; centred on a weight of 0.
WEIGHT_COLORSCALE = "RdBu"
_MARGIN = {"l": 64, "r": 24, "t": 56, "b": 36}
_PER_SYMBOL_PERCENT = {"contribution_pct", "exposure", "win_rate", "mean_abs_weight", "total_return", "max_drawdown"}


def symbol_color(position: int) -> str:
    """Return the colour of the member at ``position`` in the universe."""
    return SYMBOL_COLORS[position % len(SYMBOL_COLORS)]


def plot_times(index: pd.Index) -> np.ndarray:
    """Return timestamps as naive-UTC ISO text (plotly.js has no time zones)."""
    index = pd.DatetimeIndex(index)
    if index.tz is not None:
        index = index.tz_convert(None)
    return np.asarray(index.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)


def _title(result: PortfolioBacktestResult, what: str) -> str:
    name = repr(result.strategy) if result.strategy is not None else "weights"
    return f"{what}: {name}"


def weights_trace(result: PortfolioBacktestResult, *, colorbar_y: float | None = None, colorbar_len: float = 1.0) -> go.Heatmap:
    """Return the target weights as a heatmap trace: one row per symbol (first member on top), time across.

    Cells are coloured on a scale symmetric around 0 (long blue, short red) so a weight and its
    negative have the same strength.
    """
    weights = result.weights
    values = weights.to_numpy(dtype=np.float64)
    bound = float(np.nanmax(np.abs(values))) if values.size else 0.0
    bound = bound if bound > 0 else 1.0
    colorbar = {"title": {"text": "weight"}, "thickness": 12, "tickformat": ".0%", "len": colorbar_len}
    if colorbar_y is not None:
        colorbar.update(y=colorbar_y, yanchor="middle")
    return go.Heatmap(
        x=plot_times(weights.index),
        y=[str(s) for s in weights.columns],
        z=values.T,
        zmin=-bound,
        zmax=bound,
        colorscale=WEIGHT_COLORSCALE,
        colorbar=colorbar,
        name="weights",
        hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y}<br>weight %{z:.2%}<extra></extra>",
    )


def weights_heatmap(result: PortfolioBacktestResult, title: str | None = None) -> go.Figure:
    """Return a symbols x time heatmap of the target weights (decided at each bar's close)."""
    figure = go.Figure(weights_trace(result))
    figure.update_layout(
        title={"text": title if title is not None else _title(result, "Target weights"), "x": 0.01},
        height=max(260, 60 + 28 * len(result.symbols)),
        margin=_MARGIN,
        template="plotly_white",
        xaxis={"type": "date"},
        # Categories listed top-down in universe order, as in the per-symbol table.
        yaxis={"title": {"text": "symbol"}, "type": "category", "autorange": "reversed"},
    )
    return figure


def contribution_traces(result: PortfolioBacktestResult) -> list[go.Scatter]:
    """Return one line per member: its running contribution to the account's P&L, in the quote currency."""
    contributions = result.contributions
    times = plot_times(contributions.index)
    return [
        go.Scatter(
            x=times,
            y=contributions[symbol].to_numpy(),
            name=str(symbol),
            legendgroup=str(symbol),
            line={"color": symbol_color(position), "width": 1.3},
            hovertemplate=f"{symbol}<br>%{{x|%Y-%m-%d %H:%M}}<br>contribution %{{y:,.2f}}<extra></extra>",
        )
        for position, symbol in enumerate(contributions.columns)
    ]


def contributions_figure(result: PortfolioBacktestResult, title: str | None = None) -> go.Figure:
    """Return each member's running contribution (left) beside a bar of its final contribution (right).

    The lines end where the bars do (the y axis is shared), and the members' contributions sum to
    the account's P&L, drawn as ``total`` (hidden until its legend entry is clicked: it would
    dwarf the members).
    """
    figure = make_subplots(
        rows=1, cols=2, shared_yaxes=True, column_widths=[0.78, 0.22], horizontal_spacing=0.02,
        subplot_titles=("running contribution", "final"),
    )
    for trace in contribution_traces(result):
        figure.add_trace(trace, row=1, col=1)
    total = result.equity - result.init_cash
    figure.add_trace(
        go.Scatter(
            x=plot_times(total.index), y=total.to_numpy(), name="total", visible="legendonly",
            line={"color": "#222", "width": 1.6, "dash": "dash"},
            hovertemplate="account P&L<br>%{x|%Y-%m-%d %H:%M}<br>%{y:,.2f}<extra></extra>",
        ),
        row=1, col=1,
    )
    final = result.per_symbol["contribution"]
    figure.add_trace(
        go.Bar(
            x=[str(s) for s in final.index],
            y=final.to_numpy(),
            name="final contribution",
            marker={"color": [symbol_color(i) for i in range(len(final))]},
            showlegend=False,
            customdata=result.per_symbol["contribution_pct"].to_numpy(),
            hovertemplate="%{x}<br>%{y:,.2f} (%{customdata:+.2%} of initial cash)<extra></extra>",
        ),
        row=1, col=2,
    )
    figure.update_xaxes(type="date", row=1, col=1)
    figure.update_xaxes(type="category", tickangle=-45, row=1, col=2)
    figure.update_yaxes(title_text="contribution", zeroline=True, row=1, col=1)
    figure.update_layout(
        title={"text": title if title is not None else _title(result, "Contributions to P&L"), "x": 0.01},
        height=460, margin=_MARGIN, template="plotly_white", hovermode="closest", legend={"tracegroupgap": 0},
    )
    return figure


def write_portfolio_html_report(result: PortfolioBacktestResult, path: Path | str, title: str | None = None) -> Path:
    """Write the portfolio report to ``path`` and return it.

    The report holds the account statistics, equity and drawdown, the weights heatmap, the
    contributions, the per-symbol table and the trade list (with each trade's symbol). plotly.js
    is inlined once, in the first figure, so the file opens offline.
    """
    path = Path(path)
    if path.exists() and path.is_dir():
        raise ConfigError(f"report path {str(path)!r} is a directory; give a file name such as report.html")
    if not path.parent.exists():
        raise ConfigError(f"cannot write report {str(path)!r}: folder {str(path.parent)!r} does not exist")
    if title is None:
        name = f": {result.strategy!r}" if result.strategy is not None else ""
        title = f"TradePulse portfolio backtest{name}"
    equity = equity_figure(result).update_layout(template="plotly_white")
    figures = (equity, weights_heatmap(result), contributions_figure(result))
    equity_html, weights_html, contributions_html = (
        figure.to_html(full_html=False, include_plotlyjs=position == 0) for position, figure in enumerate(figures)
    )
    document = _PAGE.format(
        title=html.escape(title),
        subtitle=html.escape(_subtitle(result)),
        alignment=_alignment_html(result),
        stats=_stats_table(result.stats),
        equity=equity_html,
        weights=weights_html,
        contributions=contributions_html,
        per_symbol=per_symbol_table_html(result.per_symbol),
        trades=_trades_table(result.trades),
    )
    try:
        path.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write report {str(path)!r}: {exc.strerror or exc}") from None
    return path


def per_symbol_table_html(per_symbol: pd.DataFrame) -> str:
    """Return the per-symbol statistics as an HTML table, one row per member (``data-symbol`` set)."""
    head = "<th>symbol</th>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in per_symbol.columns)
    rows = []
    for symbol, row in per_symbol.iterrows():
        cells = "".join(f"<td>{html.escape(_per_symbol_value(str(c), v))}</td>" for c, v in row.items())
        rows.append(f"<tr data-symbol='{html.escape(str(symbol))}'><th>{html.escape(str(symbol))}</th>{cells}</tr>")
    return f"<table class='per-symbol'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _per_symbol_value(column: str, value: object) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if np.isfinite(value) and column in _PER_SYMBOL_PERCENT:
            return f"{value:.2%}"
        if np.isfinite(value) and column in {"contribution", "fees_paid"}:
            return f"{value:,.2f}"
    return _format_value(column, value)


def _subtitle(result: PortfolioBacktestResult) -> str:
    stats = result.stats
    fees = sorted({costs.fees_bps for costs in result.costs.values()})
    fees_text = f"{fees[0]:g} bps fees" if len(fees) == 1 else f"{fees[0]:g}-{fees[-1]:g} bps fees by member"
    return (
        f"{len(result.symbols)} symbols ({', '.join(result.symbols)}), {_format_value('start', stats['start'])} "
        f"to {_format_value('end', stats['end'])} ({stats['bars']} {stats['timeframe']} bars); weights at the close, "
        f"rebalanced at the next open, one shared cash account of {result.init_cash:,.0f}; {fees_text}"
    )


def _alignment_html(result: PortfolioBacktestResult) -> str:
    report = result.universe.alignment
    if report.aligned and not any(report.outside_common_range.values()):
        return f"<p class='alignment'>Members aligned on one clock ({report.policy}): no timestamp dropped.</p>"
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in report.lines())
    return (
        f"<p class='alignment'>Members aligned on one clock ({report.policy}): kept {report.kept:,} of "
        f"{report.slots:,} timestamps.</p><ul class='alignment'>{lines}</ul>"
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }}
table.stats th, table.per-symbol tbody th {{ text-align: left; }}
.subtitle, .alignment {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
{alignment}
<h2>Statistics</h2>
{stats}
<h2>Equity</h2>
{equity}
<h2>Target weights</h2>
{weights}
<h2>Contributions</h2>
{contributions}
<h2>Per symbol</h2>
{per_symbol}
<h2>Trades</h2>
{trades}
</body>
</html>
"""
