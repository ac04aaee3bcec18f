"""HTML tables for the explorers: statistics and trade lists.

Rendered as strings for ``ipywidgets.HTML`` (not DataFrame displays in an Output widget: those
would have to be written from the worker thread, which Voila drops). Rows carry ``data-stat`` /
``data-column`` attributes so tests can read values without parsing layout.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STAT_LABELS", "format_stat", "frame_table_html", "stats_table_html", "trades_table_html"]

#: Statistics shown in the explorers, in order, with the label a reader expects.
STAT_LABELS: dict[str, str] = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max drawdown",
    "calmar": "Calmar",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "exposure": "Exposure",
    "trades": "Trades",
    "fees_paid": "Fees paid",
    "final_equity": "Final equity",
    "bars": "Bars",
    "timeframe": "Timeframe",
    "start": "Start",
    "end": "End",
}
_PERCENT = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure", "return"}
_MONEY = {"fees_paid", "final_equity", "init_cash", "pnl", "fees", "entry_price", "exit_price", "price", "close"}

_TABLE_STYLE = "border-collapse:collapse;font-size:12.5px;width:100%"
_CELL_STYLE = "padding:2px 8px;border-bottom:1px solid #e3e3e3"


def format_stat(name: str, value: Any) -> str:
    """Format one statistic for people: percentages, thousands separators, ``n/a`` for undefined."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if name in _PERCENT:
            return f"{value:+.2%}" if name in {"total_return", "cagr", "return"} else f"{value:.2%}"
        if name in _MONEY:
            return f"{value:,.2f}"
        return f"{value:,.3f}"
    return str(value)


def stats_table_html(stats: Mapping[str, Any], names: Mapping[str, str] = STAT_LABELS) -> str:
    """Return statistics as a two-column table (label, value), in the order of ``names``.

    Names missing from ``stats`` are left out. Each row carries ``data-stat="<name>"``.
    """
    rows = "".join(
        f'<tr data-stat="{key}"><th style="{_CELL_STYLE};text-align:left;font-weight:500">{html.escape(label)}</th>'
        f'<td style="{_CELL_STYLE};text-align:right;font-variant-numeric:tabular-nums">'
        f"{html.escape(format_stat(key, stats[key]))}</td></tr>"
        for key, label in names.items()
        if key in stats
    )
    return f'<table class="tp-stats" style="{_TABLE_STYLE}">{rows}</table>'


def frame_table_html(frame: pd.DataFrame, css_class: str, limit: int = 200, newest_first: bool = False) -> str:
    """Return ``frame`` as a compact scrollable HTML table of at most ``limit`` rows."""
    if frame.empty:
        return f'<p class="{css_class}" style="color:#666;font-size:12.5px">None.</p>'
    shown = frame.iloc[::-1] if newest_first else frame
    note = ""
    if len(shown) > limit:
        which = "Latest" if newest_first else "First"
        note = f"<p style='color:#666;font-size:12px'>{which} {limit} of {len(frame):,}.</p>"
        shown = shown.head(limit)
    header_style = f"{_CELL_STYLE};text-align:right;position:sticky;top:0;background:#fafafa"
    head = "".join(f'<th style="{header_style}">{html.escape(str(c))}</th>' for c in shown.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-column="{html.escape(str(c))}" style="{_CELL_STYLE};text-align:right;white-space:nowrap">'
            f"{html.escape(format_stat(str(c), _plain(v)))}</td>"
            for c, v in zip(shown.columns, row, strict=True)
        )
        + "</tr>"
        for row in shown.itertuples(index=False)
    )
    return (
        f'{note}<div style="max-height:260px;overflow:auto"><table class="{css_class}" style="{_TABLE_STYLE}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def trades_table_html(trades: pd.DataFrame, limit: int = 200) -> str:
    """Return the trade list (newest first), without the columns a reader does not need."""
    wanted = ("entry_time", "exit_time", "side", "entry_price", "exit_price", "pnl", "return", "fees", "status")
    columns = [c for c in wanted if c in trades.columns]
    return frame_table_html(trades[columns], "tp-trades", limit=limit, newest_first=True)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value :func:`format_stat` knows how to show."""
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
