"""``SweepExplorer``: a metric over two swept parameters as a heatmap; click a cell to open that run.

Over a universe (a :class:`~tradepulse.data.universe.Universe`, ``universe:<name>`` or a list of
sources) every cell is a portfolio backtest with one shared cash account
(:func:`~tradepulse.backtest.portfolio_sweep.run_portfolio_sweep`), and the opened run is that
portfolio's.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from tradepulse.backtest import (
    BacktestResult,
    Costs,
    FixedSlippage,
    PortfolioBacktestResult,
    SweepResult,
    parse_grid,
    run_backtest,
    run_portfolio_backtest,
    run_sweep,
)
from tradepulse.backtest.sweep import RANKING_METRICS
from tradepulse.data.samples import UNIVERSE_PREFIX
from tradepulse.data.universe import Universe
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.strategy import ParamSpec, PortfolioStrategy, Strategy, as_portfolio
from tradepulse.widgets._base import Explorer
from tradepulse.widgets._controls import (
    DEFAULT_SOURCE,
    CostControls,
    DatasetPicker,
    StrategyPicker,
    heading,
    load_bars_cached,
    strategy_note,
)
from tradepulse.widgets.backtest_explorer import load_universe_cached
from tradepulse.widgets.figures import axis_labels, run_figure, show_figure, sweep_heatmap
from tradepulse.widgets.tables import frame_table_html, stats_table_html

__all__ = ["SweepExplorer", "default_axis"]

_STYLE = {"description_width": "120px"}
_AXIS_VALUES = 7  # about this many values per default axis: a readable 7x7 heatmap
_RANKED_ROWS = 10  # rows of the ranking table
_NOTE_STYLE = "color:#444;font-size:12.5px;margin:2px 0 6px"


def _nice(value: float) -> float:
    """Return the 1, 2 or 5 times a power of ten nearest to ``value``."""
    exponent = math.floor(math.log10(value))
    candidates = [factor * 10.0**exponent for factor in (1, 2, 5, 10)]
    return min(candidates, key=lambda candidate: abs(candidate - value))


def default_axis(spec: ParamSpec) -> str:
    """Return a sweep axis around a numeric parameter's default, as ``start:stop:step`` text.

    The axis spans a third to three times the default, within the parameter's bounds, in round
    steps: ``fast`` (default 10, min 2) gives ``5:30:5``.
    """
    if spec.type not in {"int", "float"}:
        raise ConfigError(f"parameter {spec.name!r} is not numeric; sweep axes need int or float parameters")
    default = float(spec.default) or 1.0
    low, high = default / 3, default * 3
    if spec.min is not None:
        low = max(low, float(spec.min))
    if spec.max is not None:
        high = min(high, float(spec.max))
    step = _nice(max(high - low, 1e-9) / _AXIS_VALUES)
    if spec.type == "int":
        step = max(1.0, round(step))
    start, stop = math.ceil(low / step) * step, math.floor(high / step) * step
    if stop < start:
        start = stop = default
    if spec.type == "int":
        return f"{int(start)}:{int(stop)}:{int(step)}"
    return f"{start:g}:{stop:g}:{step:g}"


def _numeric_params(strategy: type[Strategy]) -> list[ParamSpec]:
    return [spec for spec in strategy.param_specs() if spec.type in {"int", "float"}]


@dataclass(frozen=True)
class _SweepInputs:
    source: str  # one symbol's source, or the universe's label (the universe itself is on the explorer)
    universe: int  # 0 for one symbol's bars, else which universe (a new one per set_universe)
    strategy: type[Strategy]
    x_param: str
    x_text: str
    y_param: str
    y_text: str
    metric: str
    fees_bps: float
    slippage_bps: float
    fixed: tuple[tuple[str, Any], ...]
    data: Universe | None = field(default=None, compare=False, hash=False)  # the universe of ``universe``


@dataclass(frozen=True)
class _Inputs:
    sweep: _SweepInputs
    cell: tuple[Any, Any] | None  # (x value, y value); None opens the best cell


@dataclass(frozen=True)
class _Output:
    sweep: SweepResult
    x_values: list[Any]
    y_values: list[Any]
    params: dict[str, Any]
    result: BacktestResult | PortfolioBacktestResult
    heatmap: go.Figure
    run: go.Figure
    stats_html: str
    ranking_html: str
    summary: str


class SweepExplorer(Explorer):
    """Sweep two parameters of a strategy and see ``metric`` as a heatmap; click a cell to open its run.

    The opened run (the best cell at first) shows its equity, drawdown and statistics. Changing
    any control re-runs the sweep in the background after a short pause.

    Parameters
    ----------
    source
        ``sample:<name>`` or a path to a CSV/Parquet bar file; or a universe: a
        :class:`~tradepulse.data.universe.Universe` or ``universe:<name>``.
    strategy
        Anything :func:`~tradepulse.strategy.load_strategy` accepts.
    grid
        Exactly two axes, ``{name: values}``; values are a list or ``start:stop:step`` / comma text.
        Defaults to the strategy's first two numeric parameters around their defaults.
    metric
        Statistic the heatmap shows and the best cell maximises.
    fixed_params
        Values for the parameters that are not swept.
    fees_bps, slippage_bps
        Costs per fill, in basis points.
    universe
        Sweep over a universe instead of ``source``: a Universe, ``universe:<name>`` or a list
        of sources. Each cell is then a portfolio with one shared cash account.

    Examples
    --------
    >>> from tradepulse.widgets import SweepExplorer
    >>> explorer = SweepExplorer(grid={"fast": "5:30:5", "slow": "40:120:20"})
    >>> explorer.select_cell(10, 60).wait().selected_params    # doctest: +SKIP
    {'fast': 10, 'slow': 60, 'allow_short': False}
    >>> SweepExplorer(universe="universe:binance-usdt-4h", strategy="momentum",
    ...               grid={"lookback": "6:48:6", "top": [1, 2, 3]}).table.head(3)  # doctest: +SKIP
    """

    failure_prefix = "Could not run the sweep"
    idle_hint = "click a cell to open its run"

    def __init__(
        self,
        source: str | Universe = DEFAULT_SOURCE,
        strategy: str | type[Strategy] = "sma_cross",
        grid: dict[str, Any] | None = None,
        *,
        metric: str = "sharpe",
        fixed_params: dict[str, Any] | None = None,
        fees_bps: float = 10.0,
        slippage_bps: float = 0.0,
        debounce_s: float = 0.3,
        universe: Universe | str | Sequence[str] | None = None,
    ) -> None:
        if metric not in RANKING_METRICS:
            raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(RANKING_METRICS)}")
        if universe is None and (isinstance(source, Universe) or str(source).startswith(UNIVERSE_PREFIX)):
            universe, source = source, DEFAULT_SOURCE
        self._universe, self._universe_label = _resolve_universe(universe)
        self._universe_version = 1 if self._universe is not None else 0
        self.dataset = DatasetPicker(source)
        self.universe_note = widgets.HTML(layout={"width": "100%"})
        self.universe_note.add_class("tp-sweep-universe")
        self._show_data_mode()
        self.strategy_picker = StrategyPicker(strategy)
        self.x_param = _control(widgets.Dropdown, "Across (x)", "x-param")
        self.x_values = _control(widgets.Text, "x values", "x-values", continuous_update=False)
        self.y_param = _control(widgets.Dropdown, "Down (y)", "y-param")
        self.y_values = _control(widgets.Text, "y values", "y-values", continuous_update=False)
        self.metric = _control(widgets.Dropdown, "Metric", "metric", options=list(RANKING_METRICS), value=metric)
        self.costs = CostControls(fees_bps, slippage_bps)
        self._fixed = dict(fixed_params or {})
        self._cell: tuple[Any, Any] | None = None
        self._cached: tuple[_SweepInputs, SweepResult, list[Any], list[Any]] | None = None  # worker thread only
        self._labels: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        self._quiet = False
        self._set_axis_options(self.strategy_picker.strategy_class, grid)

        self.dataset.on_change(self._grid_changed)
        self.costs.on_change(self._grid_changed)
        for control in (self.x_param, self.x_values, self.y_param, self.y_values, self.metric):
            control.observe(self._grid_changed, "value")
        self.strategy_picker.observe(self._strategy_changed, "value")
        self._build(css_class="tp-sweep-explorer", debounce_s=debounce_s)

    def _layout(self, first: _Output | None) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        self.heatmap = go.FigureWidget(first.heatmap if first else None)
        self.run_figure = go.FigureWidget(first.run if first else None)
        self.stats_view = widgets.HTML(first.stats_html if first else "", layout={"width": "100%"})
        self.ranking_view = widgets.HTML(first.ranking_html if first else "", layout={"width": "100%"})
        if first is not None:
            self._shown(first)
        controls = [
            heading("Data"), self.dataset, self.universe_note,
            heading("Strategy and grid"), self.strategy_picker, strategy_note(self.strategy_picker),
            self.x_param, self.x_values, self.y_param, self.y_values, self.metric,
            heading("Costs"), self.costs,
            heading("Selected run"), self.stats_view,
        ]
        return controls, [self.heatmap, self.ranking_view, self.run_figure]

    # -- programmatic API -------------------------------------------------------------------------

    @property
    def sweep(self) -> SweepResult | None:
        """The last successful sweep."""
        return self._output.sweep if self._output is not None else None

    @property
    def table(self) -> pd.DataFrame:
        """Every combination's parameters and statistics, best first."""
        return self._output.sweep.table if self._output is not None else pd.DataFrame()

    @property
    def selected_params(self) -> dict[str, Any]:
        """Parameters of the run the detail view shows."""
        return dict(self._output.params) if self._output is not None else {}

    @property
    def universe(self) -> Universe | None:
        """The universe swept over, or ``None`` when the data is one symbol's bars."""
        return self._universe

    @property
    def result(self) -> BacktestResult | PortfolioBacktestResult | None:
        """The backtest of the selected cell (a portfolio backtest over a universe)."""
        return self._output.result if self._output is not None else None

    @property
    def stats(self) -> dict[str, Any]:
        """Statistics of the selected run."""
        return dict(self._output.result.stats) if self._output is not None else {}

    def select_cell(self, x_value: Any, y_value: Any) -> SweepExplorer:
        """Open the run at ``x_value`` (x parameter) and ``y_value`` (y parameter), as a click does."""
        self._cell = (x_value, y_value)
        self._request_now()
        return self

    def set_axes(self, **axes: Any) -> SweepExplorer:
        """Set the two swept parameters and their values: ``set_axes(fast="5:30:5", slow=[40, 80])``."""
        if len(axes) != 2:
            raise ConfigError(f"a heatmap needs exactly two swept parameters, got {len(axes)}: {', '.join(axes)}")
        (x_name, x_vals), (y_name, y_vals) = axes.items()
        for name in (x_name, y_name):
            if name not in self.x_param.options:
                raise StrategyError(
                    f"{self.strategy_picker.value}: cannot sweep {name!r}; numeric parameters: "
                    + ", ".join(self.x_param.options)
                )
        with self._quietly():
            self.x_param.value, self.y_param.value = x_name, y_name
            self.x_values.value, self.y_values.value = _axis_text(x_vals), _axis_text(y_vals)
        self._grid_changed()
        return self

    def set_metric(self, metric: str) -> SweepExplorer:
        """Show (and pick the best cell by) another statistic, e.g. ``"total_return"``."""
        if metric not in RANKING_METRICS:
            raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(RANKING_METRICS)}")
        self.metric.value = metric
        return self

    def set_costs(self, fees_bps: float | None = None, slippage_bps: float | None = None) -> SweepExplorer:
        """Set fees and/or slippage in basis points; the sweep reruns."""
        self.costs.set(fees_bps, slippage_bps)
        return self

    def set_source(self, source: str) -> SweepExplorer:
        """Switch to one symbol's dataset (``sample:<name>`` or a file path); the sweep reruns."""
        was_universe = self._universe is not None
        self._universe, self._universe_label = None, ""
        self._show_data_mode()
        if self.dataset.source != source:
            self.dataset.source = source
        elif was_universe:
            self._grid_changed()
        return self

    def set_universe(self, universe: Universe | str | Sequence[str]) -> SweepExplorer:
        """Sweep over a universe (a Universe, ``universe:<name>`` or a list of sources); the sweep reruns."""
        self._universe, self._universe_label = _resolve_universe(universe)
        self._universe_version += 1
        self._show_data_mode()
        self._grid_changed()
        return self

    # -- plumbing ---------------------------------------------------------------------------------

    def _set_axis_options(self, strategy: type[Strategy], grid: dict[str, Any] | None) -> None:
        numeric = _numeric_params(strategy)
        if len(numeric) < 2:
            raise StrategyError(f"{strategy.name}: a sweep heatmap needs two numeric parameters")
        names = [spec.name for spec in numeric]
        if grid is None:
            grid = {spec.name: default_axis(spec) for spec in numeric[:2]}
        if len(grid) != 2:
            raise ConfigError(f"a heatmap needs exactly two swept parameters, got {len(grid)}: {', '.join(grid)}")
        (x_name, x_vals), (y_name, y_vals) = grid.items()
        self.x_param.options = self.y_param.options = names
        self.x_param.value, self.y_param.value = x_name, y_name
        self.x_values.value, self.y_values.value = _axis_text(x_vals), _axis_text(y_vals)

    def _show_data_mode(self) -> None:
        """Show the dataset picker for one symbol, or a line naming the universe's members."""
        universe = self._universe
        self.dataset.layout.display = "none" if universe is not None else None
        self.universe_note.layout.display = None if universe is not None else "none"
        if universe is not None:
            self.universe_note.value = (
                f"<div style='{_NOTE_STYLE}'>{html.escape(self._universe_label)}: {len(universe.symbols)} symbols "
                f"({html.escape(', '.join(universe.symbols))}) · {len(universe):,} bars · one shared cash account "
                "per cell</div>"
            )

    def _inputs(self) -> _Inputs:
        strategy = self.strategy_picker.strategy_class
        swept = {self.x_param.value, self.y_param.value}
        known = {spec.name for spec in strategy.param_specs()}
        fixed = tuple(sorted((k, v) for k, v in self._fixed.items() if k in known and k not in swept))
        sweep = _SweepInputs(
            source=self._universe_label if self._universe is not None else self.dataset.source,
            universe=self._universe_version if self._universe is not None else 0,
            strategy=strategy,
            x_param=self.x_param.value,
            x_text=self.x_values.value,
            y_param=self.y_param.value,
            y_text=self.y_values.value,
            metric=self.metric.value,
            fees_bps=self.costs.fees_bps,
            slippage_bps=self.costs.slippage_bps,
            fixed=fixed,
            data=self._universe,
        )
        return _Inputs(sweep=sweep, cell=self._cell)

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        # Several controls change together; one request afterwards, not one per half-updated state.
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _grid_changed(self, _change: Any = None) -> None:
        if self._quiet:
            return
        self._cell = None  # a new grid opens its best cell
        self._changed()

    def _strategy_changed(self, _change: Any) -> None:
        with self._quietly():
            self._set_axis_options(self.strategy_picker.strategy_class, None)
        self._grid_changed()

    def _run_sweep(self, inputs: _SweepInputs) -> tuple[SweepResult, list[Any], list[Any]]:
        if self._cached is not None and self._cached[0] == inputs:
            return self._cached[1:]
        if inputs.x_param == inputs.y_param:
            raise ConfigError(f"sweep two different parameters (both axes are {inputs.x_param!r})")
        grid = parse_grid(inputs.strategy, {inputs.x_param: inputs.x_text, inputs.y_param: inputs.y_text})
        sweep = run_sweep(
            self._data(inputs), inputs.strategy, grid, fixed_params=dict(inputs.fixed), costs=_costs(inputs), metric=inputs.metric
        )
        self._cached = (inputs, sweep, grid[inputs.x_param], grid[inputs.y_param])
        return sweep, grid[inputs.x_param], grid[inputs.y_param]

    def _compute(self, inputs: _Inputs) -> _Output:
        grid_inputs = inputs.sweep
        sweep, x_values, y_values = self._run_sweep(grid_inputs)
        axes = (grid_inputs.x_param, grid_inputs.y_param)
        if inputs.cell is None:
            params = sweep.best_params
        else:
            chosen = dict(zip(axes, inputs.cell, strict=True))
            try:
                params = grid_inputs.strategy(**dict(grid_inputs.fixed), **chosen).params
                if grid_inputs.data is not None:
                    as_portfolio(grid_inputs.strategy(**params)).check_universe(grid_inputs.data.symbols)
            except StrategyError as exc:
                cell = ", ".join(f"{k}={v}" for k, v in chosen.items())
                raise StrategyError(f"the cell {cell} has no run ({exc})") from None
        strategy = grid_inputs.strategy(**params)
        data = self._data(grid_inputs)
        if isinstance(data, Universe):
            result = run_portfolio_backtest(data, strategy, costs=_costs(grid_inputs))
        else:
            result = run_backtest(data, strategy, costs=_costs(grid_inputs))
        metric = grid_inputs.metric
        where = "over" if grid_inputs.universe else "on"
        title = f"{metric} of {strategy.name} {where} {grid_inputs.source} ({len(sweep.table)} runs"
        title += f", {sweep.skipped} invalid combinations blank)" if sweep.skipped else ")"
        best = ", ".join(f"{name}={sweep.best_params[name]}" for name in axes)
        return _Output(
            sweep=sweep,
            x_values=x_values,
            y_values=y_values,
            params=params,
            result=result,
            heatmap=sweep_heatmap(sweep.table, *axes, metric, x_values, y_values, selected=params, title=title),
            run=run_figure(result, title=f"Selected run: {strategy!r}"),
            stats_html=stats_table_html(result.stats),
            ranking_html=_ranking_html(sweep),
            summary=f"{len(sweep.table)} runs · best {metric} {sweep.table[metric].iloc[0]:.3f} at {best}",
        )

    def _data(self, inputs: _SweepInputs) -> Any:
        """The universe, or one symbol's bars; a portfolio strategy without a universe is refused."""
        if inputs.data is not None:
            return inputs.data
        if issubclass(inputs.strategy, PortfolioStrategy):
            raise StrategyError(
                f"{inputs.strategy.name} is a portfolio strategy: sweep it over a universe (set_universe, or universe=...)"
            )
        return load_bars_cached(inputs.source)

    def _apply(self, output: _Output) -> None:
        show_figure(self.heatmap, output.heatmap)
        show_figure(self.run_figure, output.run)
        self.stats_view.value = output.stats_html
        self.ranking_view.value = output.ranking_html
        self._shown(output)
        self._output = output

    def _shown(self, output: _Output) -> None:
        """Hook the heatmap shown for ``output`` up to clicks, which report cell labels."""
        # Callbacks belong to trace objects; every new heatmap trace needs its own.
        self.heatmap.data[0].on_click(self._clicked)
        self._labels = (
            dict(zip(axis_labels(output.x_values), output.x_values, strict=True)),
            dict(zip(axis_labels(output.y_values), output.y_values, strict=True)),
        )

    def _clicked(self, _trace: Any, points: Any, _state: Any) -> None:
        if not points.xs:
            return
        x_labels, y_labels = self._labels
        x_label, y_label = str(points.xs[0]), str(points.ys[0])
        if x_label in x_labels and y_label in y_labels:
            self.select_cell(x_labels[x_label], y_labels[y_label])


def _control(kind: type[widgets.Widget], description: str, css: str, **options: Any) -> widgets.Widget:
    control = kind(description=description, style=_STYLE, layout={"width": "100%"}, **options)
    control.add_class(f"tp-sweep-{css}")
    return control


def _resolve_universe(universe: Universe | str | Sequence[str] | None) -> tuple[Universe | None, str]:
    """Return the universe to sweep over and how to name it (``None, ""`` for one symbol's bars)."""
    if universe is None:
        return None, ""
    if isinstance(universe, Universe):
        return universe, "given universe"
    sources = [universe] if isinstance(universe, str) else [str(source) for source in universe]
    return load_universe_cached(sources), " + ".join(sources)


def _ranking_html(sweep: SweepResult) -> str:
    """The best rows of the sweep: parameters, the metric and the headline statistics."""
    stats = ["total_return", "sharpe", "max_drawdown", "trades", *(["turnover"] if sweep.symbols else [])]
    if sweep.metric not in stats:
        stats.insert(0, sweep.metric)
    swept = [name for name in sweep.param_names if sweep.table[name].nunique() > 1] or sweep.param_names
    ranked = sweep.table.head(_RANKED_ROWS)[[*swept, *stats]]
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    heading = f"<div style='{_NOTE_STYLE}'>Best {len(ranked)} of {len(sweep.table)} by {html.escape(sweep.metric)}</div>"
    return heading + frame_table_html(ranked, "tp-sweep-ranking")


def _costs(inputs: _SweepInputs) -> Costs:
    return Costs(fees_bps=inputs.fees_bps, slippage=FixedSlippage(inputs.slippage_bps))


def _axis_text(values: Any) -> str:
    if isinstance(values, str):
        return values
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
