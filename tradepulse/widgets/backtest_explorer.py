"""``BacktestExplorer``: pick data, a strategy, its parameters and costs; see the backtest update.

The data is one symbol's bars or a universe of several symbols on one clock. On a universe the
explorer runs the portfolio backtest (one shared cash account) and shows the account's equity, the
target weight of every member on every bar, each member's running contribution and a per-symbol
table. Portfolio strategies are offered only for a universe; single-symbol ones run there too, each
member on an equal share of equity.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from tradepulse.backtest import BacktestResult, Costs, FixedSlippage, PortfolioBacktestResult, run_backtest
from tradepulse.backtest.portfolio import run_portfolio_backtest
from tradepulse.data import format_timeframe
from tradepulse.data.cache import CACHE_PREFIX
from tradepulse.data.samples import SAMPLE_PREFIX, UNIVERSE_PREFIX, UNIVERSES
from tradepulse.data.universe import Universe, load_universe
from tradepulse.errors import ConfigError, StrategyError, TradePulseError
from tradepulse.strategy import PortfolioStrategy, Strategy
from tradepulse.widgets._base import Explorer
from tradepulse.widgets._controls import (
    DEFAULT_SOURCE,
    CostControls,
    DatasetPicker,
    ParamControls,
    StrategyPicker,
    heading,
    load_bars_cached,
    promoted_versions,
    strategy_note,
)
from tradepulse.widgets._indicator_cache import phases_for
from tradepulse.widgets.figures import backtest_figure, portfolio_figure, show_figure
from tradepulse.widgets.tables import STAT_LABELS, format_stat, frame_table_html, stats_table_html, trades_table_html

__all__ = ["DEFAULT_UNIVERSE", "BacktestExplorer", "load_universe_cached", "per_symbol_table_html"]

#: The universe the explorer switches to when "Universe" is chosen and none was given.
DEFAULT_UNIVERSE = f"{UNIVERSE_PREFIX}binance-usdt-4h"
ONE_SYMBOL, UNIVERSE = "One symbol", "Universe"
_GIVEN = "__given__"
_STYLE = {"description_width": "120px"}
_FULL_WIDTH = {"width": "100%"}
_NOTE_STYLE = "font-size:12px;color:#555;margin:0 0 4px 124px;line-height:1.3"
_PORTFOLIO_STAT_LABELS = {**STAT_LABELS, "symbols": "Symbols", "turnover": "Turnover"}
_PORTFOLIO_TRADE_COLUMNS = (
    "symbol", "entry_time", "exit_time", "side", "entry_price", "exit_price", "pnl", "return", "fees", "status",
)
#: Per-symbol columns shown, each formatted like the statistic named here (percent, money, ratio).
_PER_SYMBOL_FORMATS = {
    "contribution": "pnl",
    "contribution_pct": "return",
    "turnover": "turnover",
    "exposure": "exposure",
    "mean_abs_weight": "exposure",
    "trades": "trades",
    "win_rate": "win_rate",
    "profit_factor": "profit_factor",
    "fees_paid": "fees_paid",
    "sharpe": "sharpe",
    "max_drawdown": "max_drawdown",
}

#: A universe as the explorer holds it: loaded, or the sources to load it from.
UniverseSource = Universe | tuple[str, ...]


# -- universes -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _load_universe_versioned(sources: tuple[str, ...], versions: tuple[int | None, ...]) -> Universe:
    return load_universe(list(sources))


def load_universe_cached(sources: Sequence[str]) -> Universe:
    """Load a universe once per list of sources (re-reading when one of its files changes on disk).

    The universe is shared between callers; treat it as read-only.
    """
    texts = tuple(str(s).strip() for s in sources)
    if not texts or not all(texts):
        raise ConfigError("choose a universe, or give the sources of its members (files, samples, universe:<name>)")
    versions = []
    for text in texts:
        version = None
        if not text.startswith((SAMPLE_PREFIX, UNIVERSE_PREFIX, CACHE_PREFIX)):
            try:
                version = os.stat(Path(text).expanduser()).st_mtime_ns
            except OSError:
                version = None  # load_universe reports the missing file with a helpful message
        versions.append(version)
    return _load_universe_versioned(texts, tuple(versions))


def _universe_source(source: Any) -> UniverseSource | None:
    """The universe ``source`` names (a Universe, or its sources), or None when it names one symbol's bars."""
    if isinstance(source, Universe):
        return source
    if isinstance(source, (str, Path)):
        text = str(source).strip()
        folder = bool(text) and Path(text).expanduser().is_dir()  # a folder of data files is a universe
        return (text,) if text.startswith(UNIVERSE_PREFIX) or folder else None
    if isinstance(source, Sequence):
        return tuple(str(s) for s in source)
    raise ConfigError(f"data must be a source, a list of sources or a Universe, got {type(source).__name__}")


def _resolve(source: UniverseSource) -> Universe:
    return source if isinstance(source, Universe) else load_universe_cached(source)


def _members_of(universe: Universe, members: tuple[str, ...]) -> Universe:
    """The universe restricted to ``members``, kept in universe order (a pair's first leg stays first)."""
    if not members or set(members) == set(universe.symbols):
        return universe
    unknown = [m for m in members if m not in universe.symbols]
    if unknown:
        raise ConfigError(f"{unknown[0]} is not a member of the universe ({', '.join(universe.symbols)})")
    symbols = tuple(s for s in universe.symbols if s in members)
    columns = universe.bars.columns.get_level_values(1).isin(symbols)
    sources = {s: universe.sources[s] for s in symbols if s in universe.sources}
    return Universe(universe.bars.loc[:, columns], symbols, sources, universe.alignment)


def _given_label(source: UniverseSource) -> str:
    if isinstance(source, Universe):
        return f"Given universe ({', '.join(source.symbols)})"
    return f"Given: {', '.join(source)}"


def _universe_note(universe: Universe) -> str:
    report = universe.alignment
    dropped = "no timestamp dropped" if report.aligned else f"{report.dropped:,} timestamp(s) some member lacked, dropped"
    timeframe = format_timeframe(universe.timeframe) or "irregular"
    return (
        f"<div class='tp-universe-note' style='{_NOTE_STYLE}'>{len(universe.symbols)} symbols · {timeframe} · "
        f"{len(universe):,} bars on one clock ({html.escape(report.policy)}: {dropped})</div>"
    )


def _allowed_members(strategy: type[Strategy]) -> tuple[int, int | None]:
    if issubclass(strategy, PortfolioStrategy):
        return strategy.min_symbols, strategy.max_symbols
    return 1, None


def per_symbol_table_html(per_symbol: pd.DataFrame) -> str:
    """Return a portfolio's per-symbol statistics as a table, one row per member (``tp-per-symbol``)."""
    shown = pd.DataFrame({"symbol": per_symbol.index.astype(str)})
    for column, like in _PER_SYMBOL_FORMATS.items():
        if column in per_symbol.columns:
            shown[column] = [format_stat(like, _number(v)) for v in per_symbol[column]]
    return frame_table_html(shown, "tp-per-symbol", limit=500)


def _number(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# -- widgets ---------------------------------------------------------------------------------------


class _StrategyChoice(StrategyPicker):
    """The strategy dropdown; portfolio strategies are offered only while the data is a universe."""

    def offer(self, portfolio: bool) -> None:
        """Offer every strategy (``portfolio``) or the single-symbol ones plus the selected one."""
        keys = [
            key for key, cls in self._classes.items()
            if portfolio or not issubclass(cls, PortfolioStrategy) or key == self.value
        ]
        if self.offered != keys:
            current = self.value
            self.options = self._pairs(keys)  # resets the selection to the first option ...
            self.value = current  # ... so put it back


@dataclass(frozen=True)
class _Inputs:
    """Everything one backtest depends on, captured on the main thread when a control changes."""

    source: str
    universe: UniverseSource | None = field(hash=False, compare=False)
    members: tuple[str, ...]
    strategy: type[Strategy]
    params: dict[str, Any] = field(hash=False)
    fees_bps: float
    slippage_bps: float
    shade_phases: bool


@dataclass(frozen=True)
class _Output:
    result: BacktestResult | PortfolioBacktestResult
    figure: go.Figure
    stats_html: str
    trades_html: str
    per_symbol_html: str
    summary: str


class BacktestExplorer(Explorer):
    """Interactive backtest: data, strategy, parameters, fees and slippage in; charts and stats out.

    Controls are built from the strategy's typed parameter specs. Any change recomputes the
    backtest in the background after a short pause (so dragging a slider runs it once); a status
    line shows progress, and bad input (``fast >= slow``, an unreadable file) appears there as
    one sentence, with the last good result left in place.

    Given a universe (a :class:`~tradepulse.data.universe.Universe`, a list of sources, or
    ``universe:<name>``), it runs the portfolio backtest and shows equity and drawdown, the target
    weights (symbols x time), each member's running contribution, and a per-symbol table; the
    strategy dropdown then offers the portfolio strategies too, and a members list picks which
    symbols take part (``pairs`` trades the first two selected).

    Parameters
    ----------
    source
        ``sample:<name>`` or a path to a CSV/Parquet bar file; or a universe: ``universe:<name>``,
        a list of sources, or a loaded :class:`~tradepulse.data.universe.Universe`.
    strategy
        A built-in name, ``package.module:Class``, ``path/to/file.py[:Class]``, a Strategy class, or
        ``version:<id>``: a stored version at paper or live (its parameters are its own).
    params
        Initial parameter values (others take the strategy's defaults).
    store
        The strategy store whose versions at paper or live the dropdown offers beside the built-ins
        (default: the project's, ``$TRADEPULSE_STORE`` or ``.tradepulse/store``, when it exists);
        ``False`` offers none.
    fees_bps, slippage_bps
        Costs per fill, in basis points of the fill price (every member alike).
    shade_phases
        Shade the price chart by TradePulse market phase (one symbol only).
    debounce_s
        Quiet period after the last control change before recomputing.

    Examples
    --------
    >>> from tradepulse.widgets import BacktestExplorer
    >>> explorer = BacktestExplorer()                       # sma_cross on the hourly BTC/USDT sample
    >>> explorer.set_params(fast=12); explorer.wait()       # doctest: +SKIP
    >>> explorer.stats["sharpe"]                            # doctest: +SKIP
    >>> BacktestExplorer("universe:binance-usdt-4h", "momentum", {"lookback": 30, "top": 2})  # doctest: +SKIP
    """

    failure_prefix = "Could not run the backtest"

    def __init__(
        self,
        source: str | Sequence[str] | Universe = DEFAULT_SOURCE,
        strategy: str | type[Strategy] = "sma_cross",
        params: dict[str, Any] | None = None,
        *,
        fees_bps: float = 10.0,
        slippage_bps: float = 0.0,
        shade_phases: bool = True,
        debounce_s: float = 0.3,
        store: str | Path | bool | None = None,
    ) -> None:
        universe = _universe_source(source)
        self.mode = widgets.ToggleButtons(
            options=[ONE_SYMBOL, UNIVERSE], value=UNIVERSE if universe is not None else ONE_SYMBOL,
            style={"button_width": "96px"}, layout=_FULL_WIDTH,
            tooltips=["One symbol's bars", "Several symbols on one clock, one shared cash account"],
        )
        self.mode.add_class("tp-data-mode")
        self.dataset = DatasetPicker(DEFAULT_SOURCE if universe is not None else str(source))
        self.universe_picker = widgets.Dropdown(
            options=[(f"{name} (embedded)", f"{UNIVERSE_PREFIX}{name}") for name in UNIVERSES],
            description="Universe", style=_STYLE, layout=_FULL_WIDTH,
        )
        self.universe_picker.add_class("tp-universe")
        self.universe_note = widgets.HTML(layout=_FULL_WIDTH)
        self.member_picker = widgets.SelectMultiple(description="Members", style=_STYLE, layout=_FULL_WIDTH, rows=5)
        self.member_picker.add_class("tp-members")
        self._given: UniverseSource | None = None
        self._muted = 0
        versions = [] if store is False else promoted_versions(None if store in (None, True) else store)
        self.strategy_picker = _StrategyChoice(strategy, versions)
        own = self.strategy_picker.version_params
        self.param_controls = ParamControls(self.strategy_picker.strategy_class, own if own is not None else params)
        self.costs = CostControls(fees_bps, slippage_bps)
        self.shade = widgets.Checkbox(value=shade_phases, description="Shade market phases", indent=False)
        self._select_universe(universe if universe is not None else (DEFAULT_UNIVERSE,))
        self._show_mode()
        self.mode.observe(self._mode_changed, "value")
        self.dataset.on_change(self._changed)
        self.universe_picker.observe(self._universe_changed, "value")
        self.member_picker.observe(self._members_changed, "value")
        self.strategy_picker.observe(self._strategy_changed, "value")
        self.param_controls.on_change(self._changed)
        self.costs.on_change(self._changed)
        self.shade.observe(self._changed, "value")
        self._build(css_class="tp-backtest-explorer", debounce_s=debounce_s)

    def _layout(self, first: _Output | None) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        self.stats_view = widgets.HTML(first.stats_html if first else "", layout=_FULL_WIDTH)
        self.figure = go.FigureWidget(first.figure if first else None)
        self.per_symbol_heading = heading("Per symbol")
        self.per_symbol_view = widgets.HTML(first.per_symbol_html if first else "", layout=_FULL_WIDTH)
        self.trades_view = widgets.HTML(first.trades_html if first else "", layout=_FULL_WIDTH)
        self._show_per_symbol(first is not None and isinstance(first.result, PortfolioBacktestResult))
        controls = [
            heading("Data"), self.mode, self.dataset, self.universe_picker, self.universe_note, self.member_picker,
            heading("Strategy"), self.strategy_picker, strategy_note(self.strategy_picker), self.param_controls,
            heading("Costs"), self.costs, self.shade,
            heading("Statistics"), self.stats_view,
        ]
        outputs = [self.figure, self.per_symbol_heading, self.per_symbol_view, heading("Trades (newest first)"), self.trades_view]
        return controls, outputs

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
    def source(self) -> str | UniverseSource:
        """The data being backtested: ``sample:<name>`` or a file path; for a universe, its sources or the Universe."""
        return self._universe_choice() if self.universe_mode else self.dataset.source

    @property
    def universe_mode(self) -> bool:
        """True while the data is a universe (portfolio backtests)."""
        return self.mode.value == UNIVERSE

    @property
    def members(self) -> tuple[str, ...]:
        """The universe's members taking part, in universe order (empty for one symbol)."""
        return tuple(self.member_picker.value) if self.universe_mode else ()

    @property
    def result(self) -> BacktestResult | PortfolioBacktestResult | None:
        """The last successfully computed backtest (a portfolio result on a universe)."""
        return self._output.result if self._output is not None else None

    @property
    def stats(self) -> dict[str, Any]:
        """Statistics of the last successful backtest (see ``BacktestResult.stats``)."""
        return dict(self._output.result.stats) if self._output is not None else {}

    @property
    def trades(self) -> pd.DataFrame:
        """Trade list of the last successful backtest (with a ``symbol`` column on a universe)."""
        return self._output.result.trades if self._output is not None else pd.DataFrame()

    @property
    def per_symbol(self) -> pd.DataFrame:
        """Per-symbol statistics of the last successful portfolio backtest (empty for one symbol)."""
        result = self.result
        return result.per_symbol if isinstance(result, PortfolioBacktestResult) else pd.DataFrame()

    def set_params(self, **values: Any) -> BacktestExplorer:
        """Set strategy parameters as if the controls were moved; recomputes after the debounce."""
        self.param_controls.set_values(**values)
        return self

    def set_costs(self, fees_bps: float | None = None, slippage_bps: float | None = None) -> BacktestExplorer:
        """Set fees and/or slippage in basis points."""
        self.costs.set(fees_bps, slippage_bps)
        return self

    def set_source(self, source: str | Sequence[str] | Universe) -> BacktestExplorer:
        """Switch the data: ``sample:<name>`` or a file path; or a universe (``universe:<name>``, sources, a Universe)."""
        universe = _universe_source(source)
        if universe is None:
            self.dataset.source = str(source)
            self.mode.value = ONE_SYMBOL
        else:
            self._select_universe(universe)
            self.mode.value = UNIVERSE
        self._changed()
        return self

    def set_members(self, *symbols: str) -> BacktestExplorer:
        """Choose which of the universe's members take part (all of them when none are named)."""
        options = tuple(self.member_picker.options)
        unknown = [s for s in symbols if s not in options]
        if unknown:
            raise ConfigError(f"{unknown[0]} is not a member of the universe ({', '.join(options) or 'none loaded'})")
        self.member_picker.value = tuple(s for s in options if s in symbols) if symbols else options
        return self

    def set_strategy(self, strategy: str | type[Strategy], **params: Any) -> BacktestExplorer:
        """Switch strategy (controls are rebuilt from its specs) and optionally set its parameters."""
        with self._quietly():
            cls = self.strategy_picker.select(strategy)
        own = self.strategy_picker.version_params
        # A version is its parameters: start from them (moving a control then explores around it).
        self.param_controls.rebuild(cls, {**own, **params} if own is not None else params)
        self._fit_members(cls)
        self._changed()
        return self

    # -- plumbing ---------------------------------------------------------------------------------

    def _inputs(self) -> _Inputs:
        return _Inputs(
            source=self.dataset.source,
            universe=self._universe_choice() if self.universe_mode else None,
            members=self.members,
            strategy=self.param_controls.strategy,
            params=self.param_controls.values,
            fees_bps=self.costs.fees_bps,
            slippage_bps=self.costs.slippage_bps,
            shade_phases=bool(self.shade.value),
        )

    def _universe_choice(self) -> UniverseSource:
        value = self.universe_picker.value
        if value == _GIVEN and self._given is not None:
            return self._given
        return (str(value),)

    def _select_universe(self, universe: UniverseSource) -> None:
        """Put ``universe`` in the universe dropdown (embedded names are listed; others are "given")."""
        embedded = [value for _, value in self.universe_picker.options if value != _GIVEN]
        named = not isinstance(universe, Universe) and len(universe) == 1 and universe[0] in embedded
        with self._quietly():
            if named:
                self.universe_picker.value = universe[0]
            else:
                self._given = universe
                options = [o for o in self.universe_picker.options if o[1] != _GIVEN]
                self.universe_picker.options = [(_given_label(universe), _GIVEN), *options]
                self.universe_picker.value = _GIVEN
        if self.universe_mode:
            self._load_members()

    def _load_members(self) -> None:
        """List the chosen universe's members (all selected); a universe that cannot load lists none.

        Loading here, on the main thread, fills the members list before the backtest runs; the
        backtest loads it again (cached) and reports a failure in the status line.
        """
        try:
            universe = _resolve(self._universe_choice())
        except TradePulseError:
            symbols: tuple[str, ...] = ()
            note = ""
        else:
            symbols, note = universe.symbols, _universe_note(universe)
        with self._quietly():
            self.member_picker.options = symbols
            self.member_picker.rows = max(2, min(len(symbols), 8))
            self.member_picker.value = symbols
        self.universe_note.value = note
        self._fit_members(self.strategy_picker.strategy_class)

    def _fit_members(self, strategy: type[Strategy]) -> None:
        """Keep the selected members within what ``strategy`` accepts (``pairs``: the first two)."""
        options = tuple(self.member_picker.options)
        selected = tuple(s for s in options if s in self.member_picker.value)
        low, high = _allowed_members(strategy)
        if high is not None and len(selected) > high:
            selected = selected[:high]
        elif len(selected) < low:
            selected = options[:high] if high is not None else options
        if selected != tuple(self.member_picker.value):
            with self._quietly():
                self.member_picker.value = selected

    def _show_mode(self) -> None:
        universe = self.universe_mode
        for control in (self.universe_picker, self.universe_note, self.member_picker):
            control.layout.display = None if universe else "none"
        for control in (self.dataset, self.shade):
            control.layout.display = "none" if universe else None
        with self._quietly():
            self.strategy_picker.offer(portfolio=universe)

    def _show_per_symbol(self, visible: bool) -> None:
        for view in (self.per_symbol_heading, self.per_symbol_view):
            view.layout.display = None if visible else "none"

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change controls without their handlers reacting (the caller recomputes once, after)."""
        self._muted += 1
        try:
            yield
        finally:
            self._muted -= 1

    def _members_changed(self, _change: Any) -> None:
        if not self._muted:
            self._changed()

    def _mode_changed(self, _change: Any) -> None:
        if self.universe_mode:
            self._load_members()
        self._show_mode()
        self._changed()

    def _universe_changed(self, _change: Any) -> None:
        if self._muted:
            return
        self._load_members()
        self._changed()

    def _strategy_changed(self, _change: Any) -> None:
        if self._muted:
            return
        cls = self.strategy_picker.strategy_class
        self.param_controls.rebuild(cls, self.strategy_picker.version_params)
        self._fit_members(cls)
        self._changed()

    def _compute(self, inputs: _Inputs) -> _Output:
        if inputs.universe is not None:
            return self._compute_portfolio(inputs, inputs.universe)
        if issubclass(inputs.strategy, PortfolioStrategy):
            raise StrategyError(
                f"{inputs.strategy.name} is a portfolio strategy: choose a universe (Data: Universe) or a single-symbol strategy"
            )
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
            per_symbol_html="",
            summary=summary,
        )

    def _compute_portfolio(self, inputs: _Inputs, source: UniverseSource) -> _Output:
        full = _resolve(source)
        universe = _members_of(full, inputs.members)
        strategy = inputs.strategy(**inputs.params)
        costs = Costs(fees_bps=inputs.fees_bps, slippage=FixedSlippage(inputs.slippage_bps))
        result = run_portfolio_backtest(universe, strategy, costs=costs)
        how = "" if isinstance(strategy, PortfolioStrategy) else " (each member on an equal share)"
        if universe is full and not isinstance(source, Universe) and len(source) == 1:
            where = source[0]
        else:
            where = ", ".join(universe.symbols)
        stats = result.stats
        summary = (
            f"{stats['bars']:,} {stats['timeframe']} bars · {stats['symbols']} symbols · {stats['trades']} trades · "
            f"total return {stats['total_return']:+.2%} · "
            f"{inputs.fees_bps:g} bps fees, {inputs.slippage_bps:g} bps slippage"
        )
        columns = [c for c in _PORTFOLIO_TRADE_COLUMNS if c in result.trades.columns]
        return _Output(
            result=result,
            figure=portfolio_figure(result, title=f"{strategy!r}{how} on {where}"),
            stats_html=stats_table_html(stats, _PORTFOLIO_STAT_LABELS),
            trades_html=frame_table_html(result.trades[columns], "tp-trades", limit=200, newest_first=True),
            per_symbol_html=per_symbol_table_html(result.per_symbol),
            summary=summary,
        )

    def _apply(self, output: _Output) -> None:
        # Trait assignments only (decision 9): they reach JupyterLab and Voila alike from this thread.
        show_figure(self.figure, output.figure)
        self.stats_view.value = output.stats_html
        self.trades_view.value = output.trades_html
        self.per_symbol_view.value = output.per_symbol_html
        self._show_per_symbol(isinstance(output.result, PortfolioBacktestResult))
        self._output = output
