"""``BacktestExplorer``: pick data, a strategy, its parameters and costs; see the backtest update."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from tradepulse.backtest import BacktestResult, Costs, FixedSlippage, run_backtest
from tradepulse.strategy import Strategy
from tradepulse.widgets._base import Explorer
from tradepulse.widgets._controls import (
    DEFAULT_SOURCE,
    CostControls,
    DatasetPicker,
    ParamControls,
    StrategyPicker,
    heading,
    load_bars_cached,
    strategy_note,
)
from tradepulse.widgets._indicator_cache import phases_for
from tradepulse.widgets.figures import backtest_figure, show_figure
from tradepulse.widgets.tables import stats_table_html, trades_table_html

__all__ = ["BacktestExplorer"]


@dataclass(frozen=True)
class _Inputs:
    """Everything one backtest depends on, captured on the main thread when a control changes."""

    source: str
    strategy: type[Strategy]
    params: dict[str, Any] = field(hash=False)
    fees_bps: float
    slippage_bps: float
    shade_phases: bool


@dataclass(frozen=True)
class _Output:
    result: BacktestResult
    figure: go.Figure
    stats_html: str
    trades_html: str
    summary: str


class BacktestExplorer(Explorer):
    """Interactive backtest: dataset, strategy, parameters, fees and slippage in; charts and stats out.

    Controls are built from the strategy's typed parameter specs. Any change recomputes the
    backtest in the background after a short pause (so dragging a slider runs it once); a status
    line shows progress, and bad input (``fast >= slow``, an unreadable file) appears there as
    one sentence, with the last good result left in place.

    Parameters
    ----------
    source
        ``sample:<name>`` or a path to a CSV/Parquet bar file.
    strategy
        A built-in name, ``package.module:Class``, ``path/to/file.py[:Class]`` or a Strategy class.
    params
        Initial parameter values (others take the strategy's defaults).
    fees_bps, slippage_bps
        Costs per fill, in basis points of the fill price.
    shade_phases
        Shade the price chart by TradePulse market phase.
    debounce_s
        Quiet period after the last control change before recomputing.

    Examples
    --------
    >>> from tradepulse.widgets import BacktestExplorer
    >>> explorer = BacktestExplorer()                       # sma_cross on the hourly BTC/USDT sample
    >>> explorer.set_params(fast=12); explorer.wait()       # doctest: +SKIP
    >>> explorer.stats["sharpe"]                            # doctest: +SKIP
    """

    failure_prefix = "Could not run the backtest"

    def __init__(
        self,
        source: str = DEFAULT_SOURCE,
        strategy: str | type[Strategy] = "sma_cross",
        params: dict[str, Any] | None = None,
        *,
        fees_bps: float = 10.0,
        slippage_bps: float = 0.0,
        shade_phases: bool = True,
        debounce_s: float = 0.3,
    ) -> None:
        self.dataset = DatasetPicker(source)
        self.strategy_picker = StrategyPicker(strategy)
        self.param_controls = ParamControls(self.strategy_picker.strategy_class, params)
        self.costs = CostControls(fees_bps, slippage_bps)
        self.shade = widgets.Checkbox(value=shade_phases, description="Shade market phases", indent=False)
        self.dataset.on_change(self._changed)
        self.strategy_picker.observe(self._strategy_changed, "value")
        self.param_controls.on_change(self._changed)
        self.costs.on_change(self._changed)
        self.shade.observe(self._changed, "value")
        self._build(css_class="tp-backtest-explorer", debounce_s=debounce_s)

    def _layout(self, first: _Output | None) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        self.stats_view = widgets.HTML(first.stats_html if first else "", layout={"width": "100%"})
        self.figure = go.FigureWidget(first.figure if first else None)
        self.trades_view = widgets.HTML(first.trades_html if first else "", layout={"width": "100%"})
        controls = [
            heading("Data"), self.dataset,
            heading("Strategy"), self.strategy_picker, strategy_note(self.strategy_picker), self.param_controls,
            heading("Costs"), self.costs, self.shade,
            heading("Statistics"), self.stats_view,
        ]
        return controls, [self.figure, heading("Trades (newest first)"), self.trades_view]

    # -- programmatic API -------------------------------------------------------------------------

    @property
    def controls(self) -> dict[str, widgets.ValueWidget]:
        """The parameter controls by name (plus ``fees_bps`` and ``slippage_bps``)."""
        costs = {"fees_bps": self.costs.fees, "slippage_bps": self.costs.slippage}
        return {**self.param_controls.controls, **costs}

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values the controls currently hold."""
        return self.param_controls.values

    @property
    def source(self) -> str:
        """The dataset being backtested (``sample:<name>`` or a file path)."""
        return self.dataset.source

    @property
    def result(self) -> BacktestResult | None:
        """The last successfully computed backtest."""
        return self._output.result if self._output is not None else None

    @property
    def stats(self) -> dict[str, Any]:
        """Statistics of the last successful backtest (see ``BacktestResult.stats``)."""
        return dict(self._output.result.stats) if self._output is not None else {}

    @property
    def trades(self) -> pd.DataFrame:
        """Trade list of the last successful backtest."""
        return self._output.result.trades if self._output is not None else pd.DataFrame()

    def set_params(self, **values: Any) -> BacktestExplorer:
        """Set strategy parameters as if the controls were moved; recomputes after the debounce."""
        self.param_controls.set_values(**values)
        return self

    def set_costs(self, fees_bps: float | None = None, slippage_bps: float | None = None) -> BacktestExplorer:
        """Set fees and/or slippage in basis points."""
        self.costs.set(fees_bps, slippage_bps)
        return self

    def set_source(self, source: str) -> BacktestExplorer:
        """Switch the dataset (``sample:<name>`` or a file path)."""
        self.dataset.source = source
        return self

    def set_strategy(self, strategy: str | type[Strategy], **params: Any) -> BacktestExplorer:
        """Switch strategy (controls are rebuilt from its specs) and optionally set its parameters."""
        self.strategy_picker.unobserve(self._strategy_changed, "value")
        try:
            cls = self.strategy_picker.select(strategy)
        finally:
            self.strategy_picker.observe(self._strategy_changed, "value")
        self.param_controls.rebuild(cls, params)
        self._changed()
        return self

    # -- plumbing ---------------------------------------------------------------------------------

    def _inputs(self) -> _Inputs:
        return _Inputs(
            source=self.dataset.source,
            strategy=self.param_controls.strategy,
            params=self.param_controls.values,
            fees_bps=self.costs.fees_bps,
            slippage_bps=self.costs.slippage_bps,
            shade_phases=bool(self.shade.value),
        )

    def _strategy_changed(self, _change: Any) -> None:
        self.param_controls.rebuild(self.strategy_picker.strategy_class)
        self._changed()

    def _compute(self, inputs: _Inputs) -> _Output:
        bars = load_bars_cached(inputs.source)
        strategy = inputs.strategy(**inputs.params)
        costs = Costs(fees_bps=inputs.fees_bps, slippage=FixedSlippage(inputs.slippage_bps))
        result = run_backtest(bars, strategy, costs=costs)
        phases = phases_for(inputs.source, bars) if inputs.shade_phases else None
        title = f"{strategy!r} on {inputs.source}"
        stats = result.stats
        summary = (
            f"{stats['bars']:,} {stats['timeframe']} bars · {stats['trades']} trades · "
            f"total return {stats['total_return']:+.2%} · "
            f"{inputs.fees_bps:g} bps fees, {inputs.slippage_bps:g} bps slippage"
        )
        return _Output(
            result=result,
            figure=backtest_figure(result, phases, title=title),
            stats_html=stats_table_html(stats),
            trades_html=trades_table_html(result.trades),
            summary=summary,
        )

    def _apply(self, output: _Output) -> None:
        # Trait assignments only (decision 9): they reach JupyterLab and Voila alike from this thread.
        show_figure(self.figure, output.figure)
        self.stats_view.value = output.stats_html
        self.trades_view.value = output.trades_html
        self._output = output
