"""Notebook widgets for research and dashboards: backtest, sweep and indicator explorers.

They render in JupyterLab and in Voila with no frontend build (ipywidgets and plotly's
``FigureWidget``, an anywidget), recompute in the background when a control changes, and expose
a small programmatic API (``set_params``, ``stats``, ``wait``) so tests and notebooks can drive
them without a browser. The static figures they draw are public too, for reports.

Examples
--------
>>> from tradepulse.widgets import BacktestExplorer, IndicatorPanel, SweepExplorer
>>> BacktestExplorer()  # doctest: +SKIP
"""

from tradepulse.widgets.backtest_explorer import BacktestExplorer
from tradepulse.widgets.figures import PHASE_COLORS, backtest_figure, indicator_figure, run_figure, sweep_heatmap
from tradepulse.widgets.history_explorer import HistoryExplorer
from tradepulse.widgets.indicator_panel import IndicatorPanel
from tradepulse.widgets.live_monitor import LiveMonitor
from tradepulse.widgets.overview import Overview
from tradepulse.widgets.reports_board import ReportsBoard
from tradepulse.widgets.sweep_explorer import SweepExplorer

__all__ = [
    "PHASE_COLORS",
    "BacktestExplorer",
    "HistoryExplorer",
    "IndicatorPanel",
    "LiveMonitor",
    "Overview",
    "ReportsBoard",
    "SweepExplorer",
    "backtest_figure",
    "indicator_figure",
    "run_figure",
    "sweep_heatmap",
]
