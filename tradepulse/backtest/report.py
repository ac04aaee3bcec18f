"""Plotly figures of a backtest and a self-contained HTML report (plotly.js inlined, works offline)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradepulse.errors import ConfigError

if TYPE_CHECKING:
    from tradepulse.backtest.result import BacktestResult

__all__ = ["equity_figure", "price_figure", "write_html_report"]

# Above this many points SVG scatter traces make the browser crawl; WebGL traces stay smooth.
_WEBGL_THRESHOLD = 20_000
_MAX_TRADES_IN_REPORT = 500


def _scatter(n_points: int) -> type[go.Scatter] | type[go.Scattergl]:
    return go.Scattergl if n_points > _WEBGL_THRESHOLD else go.Scatter


def equity_figure(result: BacktestResult) -> go.Figure:
    """Return a two-row figure: equity (top) and drawdown in percent (bottom), sharing the time axis."""
    equity = result.equity
    drawdown = result.drawdown * 100.0
    trace = _scatter(len(equity))
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    figure.add_trace(trace(x=equity.index, y=equity.to_numpy(), name="equity", line={"color": "#1f77b4"}), row=1, col=1)
    figure.add_trace(
        trace(
            x=drawdown.index,
            y=drawdown.to_numpy(),
            name="drawdown %",
            fill="tozeroy",
            line={"color": "#d62728"},
        ),
        row=2,
        col=1,
    )
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="drawdown %", row=2, col=1)
    figure.update_layout(title=_title(result, "Equity and drawdown"), height=560, hovermode="x unified")
    return figure


def price_figure(result: BacktestResult) -> go.Figure:
    """Return the close price with buy fills (green, up) and sell fills (red, down) at their prices."""
    close = result.bars["close"]
    fills = result.fills
    figure = go.Figure()
    figure.add_trace(_scatter(len(close))(x=close.index, y=close.to_numpy(), name="close", line={"color": "#7f7f7f"}))
    for side, symbol, color in (("buy", "triangle-up", "#2ca02c"), ("sell", "triangle-down", "#d62728")):
        rows = fills[fills["side"] == side]
        figure.add_trace(
            go.Scatter(
                x=rows["time"],
                y=rows["price"],
                mode="markers",
                name=f"{side} fills",
                marker={"symbol": symbol, "color": color, "size": 9},
                customdata=np.stack([rows["quantity"], rows["target"]], axis=-1) if len(rows) else None,
                hovertemplate="%{x}<br>price %{y:.2f}<br>quantity %{customdata[0]:.6f}"
                "<br>target %{customdata[1]:.2f}<extra></extra>",
            )
        )
    figure.update_layout(title=_title(result, "Price and fills"), height=480, yaxis_title="price")
    return figure


def _title(result: BacktestResult, what: str) -> str:
    name = repr(result.strategy) if result.strategy is not None else "targets"
    return f"{what}: {name}"


def write_html_report(result: BacktestResult, path: Path, title: str | None = None) -> Path:
    """Write the report (stats, equity/drawdown, price/fills, trades) to ``path`` and return it."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise ConfigError(f"report path {str(path)!r} is a directory; give a file name such as report.html")
    if not path.parent.exists():
        raise ConfigError(f"cannot write report {str(path)!r}: folder {str(path.parent)!r} does not exist")
    if title is None:
        title = f"TradePulse backtest: {result.strategy!r}" if result.strategy is not None else "TradePulse backtest"
    # The first figure carries plotly.js inline so the file opens without a network connection.
    equity_html = result.equity_figure().to_html(full_html=False, include_plotlyjs=True)
    price_html = result.price_figure().to_html(full_html=False, include_plotlyjs=False)
    document = _PAGE.format(
        title=html.escape(title),
        subtitle=html.escape(_subtitle(result)),
        stats=_stats_table(result.stats),
        equity=equity_html,
        price=price_html,
        trades=_trades_table(result.trades),
    )
    try:
        path.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write report {str(path)!r}: {exc.strerror or exc}") from None
    return path


def _subtitle(result: BacktestResult) -> str:
    stats = result.stats
    source = result.bars.attrs.get("source", "bars")
    slippage = result.costs.slippage.to_dict()
    slippage_text = (
        f"{slippage['bps']} bps slippage"
        if slippage["model"] == "fixed"
        else f"range slippage (base {slippage['base_bps']} bps, impact {slippage['impact']})"
    )
    return (
        f"{source}, {stats['start']} to {stats['end']} ({stats['bars']} {stats['timeframe']} bars); "
        f"signals at the close, fills at the next open; {result.costs.fees_bps} bps fees, {slippage_text}"
    )


def _format_value(key: str, value: Any) -> str:
    if isinstance(value, float):
        if not np.isfinite(value):
            return "inf" if value > 0 else "n/a"
        if key in {"total_return", "cagr", "max_drawdown", "win_rate", "exposure", "return"}:
            return f"{value:.2%}"
        return f"{value:,.4f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if value is None or value is pd.NaT:
        return ""
    return str(value)


def _stats_table(stats: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(_format_value(key, value))}</td></tr>"
        for key, value in stats.items()
    )
    return f"<table class='stats'>{rows}</table>"


def _trades_table(trades: pd.DataFrame) -> str:
    if trades.empty:
        return "<p>No trades.</p>"
    shown = trades.head(_MAX_TRADES_IN_REPORT)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_format_value(c, v))}</td>" for c, v in zip(shown.columns, row, strict=True)) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    note = f"<p>First {_MAX_TRADES_IN_REPORT} of {len(trades)} trades.</p>" if len(trades) > len(shown) else ""
    return f"{note}<table class='trades'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }}
table.stats th {{ text-align: left; }}
.subtitle {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
<h2>Statistics</h2>
{stats}
<h2>Equity</h2>
{equity}
<h2>Price and fills</h2>
{price}
<h2>Trades</h2>
{trades}
</body>
</html>
"""
