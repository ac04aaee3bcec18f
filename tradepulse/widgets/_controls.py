"""Building blocks shared by the explorers: dataset picker, strategy parameter controls, costs, status.

Every control carries a ``tp-…`` CSS class (``tp-param-fast``, ``tp-fees-bps``) so browser tests
and custom CSS can find it without depending on the widget library's internal markup.
"""

from __future__ import annotations

import functools
import html
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
from traitlets import TraitError

from tradepulse.data import list_samples, load_bars
from tradepulse.data.samples import SAMPLE_PREFIX
from tradepulse.errors import ConfigError, StrategyError
from tradepulse.strategy import ParamSpec, Strategy, list_strategies, load_strategy

__all__ = [
    "DEFAULT_SOURCE",
    "CostControls",
    "DatasetPicker",
    "ParamControls",
    "StatusBar",
    "StrategyPicker",
    "heading",
    "load_bars_cached",
    "param_control",
    "slider_range",
    "strategy_note",
]

DEFAULT_SOURCE = "sample:binance:BTC/USDT:1h"
_FILE_CHOICE = "__file__"
_DESCRIPTION_STYLE = {"description_width": "120px"}
_FULL_WIDTH = {"width": "100%"}


def _css_name(name: str) -> str:
    return name.replace("_", "-").lower()


def heading(text: str) -> widgets.HTML:
    """A small section heading for a controls column."""
    style = "font-weight:600;font-size:13px;margin:8px 0 2px;color:#333"
    return widgets.HTML(f"<div style='{style}'>{html.escape(text)}</div>")


# -- data ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _load_bars_versioned(source: str, version: int | None) -> pd.DataFrame:
    return load_bars(source)


def load_bars_cached(source: str) -> pd.DataFrame:
    """Load bars once per source (re-reading a file when it changes on disk).

    The frame is shared between callers; treat it as read-only.
    """
    text = str(source).strip()
    if not text:
        raise ConfigError("choose a dataset, or enter the path of a CSV, CSV.gz or Parquet file")
    version = None
    if not text.startswith(SAMPLE_PREFIX):
        try:
            version = os.stat(Path(text).expanduser()).st_mtime_ns
        except OSError:
            version = None  # load_bars reports the missing file with a helpful message
    return _load_bars_versioned(text, version)


class DatasetPicker(widgets.VBox):
    """Choose an embedded sample or type a file path; :attr:`source` is what ``load_bars`` accepts."""

    def __init__(self, source: str = DEFAULT_SOURCE) -> None:
        options = [(f"{d.exchange.title()} {d.symbol} {d.timeframe}", d.address) for d in list_samples()]
        options.append(("A file (CSV or Parquet)…", _FILE_CHOICE))
        self.choice = widgets.Dropdown(
            options=options, description="Data", style=_DESCRIPTION_STYLE, layout=_FULL_WIDTH
        )
        self.path = widgets.Text(
            description="File path",
            placeholder="path/to/bars.csv.gz or .parquet",
            continuous_update=False,  # load on Enter or when the box loses focus, not per keystroke
            style=_DESCRIPTION_STYLE,
            layout=_FULL_WIDTH,
        )
        super().__init__([self.choice, self.path], layout={"width": "100%"})
        self.add_class("tp-dataset")
        self.choice.observe(self._toggle_path, "value")
        self.source = source

    @property
    def source(self) -> str:
        """The data source: ``sample:<name>`` or a file path (empty until a path is typed)."""
        if self.choice.value == _FILE_CHOICE:
            return self.path.value.strip()
        return str(self.choice.value)

    @source.setter
    def source(self, value: str) -> None:
        text = str(value).strip()
        samples = {value for _, value in self.choice.options}
        if f"{SAMPLE_PREFIX}{text}" in samples and not Path(text).exists():
            text = f"{SAMPLE_PREFIX}{text}"  # "binance:BTC/USDT:1h" names a sample, not a file
        if text in samples:
            self.choice.value = text
        else:
            self.path.value = text
            self.choice.value = _FILE_CHOICE
        self._toggle_path()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the chosen source may have changed."""
        self.choice.observe(lambda _: callback(), "value")
        self.path.observe(lambda _: callback(), "value")

    def _toggle_path(self, _change: Any = None) -> None:
        self.path.layout.display = None if self.choice.value == _FILE_CHOICE else "none"


# -- strategy parameters ---------------------------------------------------------------------------


def _nice_step(low: float, high: float) -> float:
    """A round step giving 100 to 1,000 positions between ``low`` and ``high``."""
    span = high - low
    if span <= 0:
        return 0.01
    return 10.0 ** (math.floor(math.log10(span)) - 2)


def slider_range(spec: ParamSpec) -> tuple[float, float]:
    """The span a parameter's slider covers: its bounds, capped at ten times the default.

    Specs are generous (``slow`` allows up to 5,000 bars); across such a range a slider moves in
    jumps of dozens. The cap keeps the useful values reachable by dragging; setting a larger value
    from code (``set_params``, within the spec's bounds) widens the slider.
    """
    low, high = float(spec.min), float(spec.max)
    practical = max(abs(float(spec.default)) * 10, low + (100 if spec.type == "int" else 1))
    return low, min(high, practical)


def param_control(spec: ParamSpec) -> widgets.ValueWidget:
    """Return the control for one strategy parameter, built from its typed spec.

    Bounded ints and floats get sliders (see :func:`slider_range`; ``continuous_update=False``:
    a drag is one change, and the readout can be typed into for an exact value); unbounded
    numbers a text box; choices a dropdown; booleans a checkbox.
    """
    common: dict[str, Any] = {"description": spec.name, "style": _DESCRIPTION_STYLE, "layout": _FULL_WIDTH}
    bounded = spec.min is not None and spec.max is not None
    if spec.type == "int":
        if bounded:
            low, high = slider_range(spec)
            control = widgets.IntSlider(
                value=spec.default, min=int(low), max=int(high), step=1, continuous_update=False, **common
            )
        else:
            control = widgets.IntText(value=spec.default, **common)
    elif spec.type == "float":
        if bounded:
            low, high = slider_range(spec)
            step = _nice_step(low, high)
            decimals = max(0, -int(math.floor(math.log10(step))))
            control = widgets.FloatSlider(
                value=spec.default,
                min=low,
                max=high,
                step=step,
                readout_format=f".{decimals}f",
                continuous_update=False,
                **common,
            )
        else:
            control = widgets.FloatText(value=spec.default, **common)
    elif spec.type == "bool":
        control = widgets.Checkbox(value=bool(spec.default), indent=True, **common)
    elif spec.type == "choice":
        options = [(str(choice), choice) for choice in spec.choices or ()]
        control = widgets.Dropdown(options=options, value=spec.default, **common)
    else:
        control = widgets.Text(value=str(spec.default), continuous_update=False, **common)
    control.tooltip = spec.doc or None
    control.add_class(f"tp-param-{_css_name(spec.name)}")
    return control


class ParamControls(widgets.VBox):
    """One control per parameter of a strategy; rebuilt when the strategy changes."""

    def __init__(self, strategy: type[Strategy], values: Mapping[str, Any] | None = None) -> None:
        super().__init__(layout={"width": "100%"})
        self.add_class("tp-params")
        self._listeners: list[Callable[[], None]] = []
        self.controls: dict[str, widgets.ValueWidget] = {}
        self.strategy = strategy
        self.rebuild(strategy, values)

    def rebuild(self, strategy: type[Strategy], values: Mapping[str, Any] | None = None) -> None:
        """Replace the controls with those of ``strategy``, set to ``values`` (defaults elsewhere)."""
        for old in self.controls.values():
            old.close()  # a closed widget releases its comm; replaced controls would otherwise linger
        self.strategy = strategy
        self.controls = {spec.name: param_control(spec) for spec in strategy.param_specs()}
        for control in self.controls.values():
            control.observe(self._notify, "value")
        self.children = tuple(self.controls.values())
        if values:
            self.set_values(**values)

    @property
    def values(self) -> dict[str, Any]:
        """Current value of every parameter, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def set_values(self, **values: Any) -> None:
        """Set several parameters at once; an unknown name raises StrategyError."""
        for name in values:
            if name not in self.controls:
                self.strategy.param(name)  # raises with the list of known parameters
        for name, value in values.items():
            control = self.controls[name]
            checked = self.strategy.param(name).coerce(value)  # StrategyError names the bounds
            if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)) and checked > control.max:
                control.max = checked  # within the spec's bounds (coerce checked them), beyond the slider's
            try:
                control.value = checked
            except TraitError as exc:
                raise StrategyError(f"{self.strategy.name}: parameter {name!r} cannot be {value!r}: {exc}") from None

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after any parameter changes (controls survive rebuilds)."""
        self._listeners.append(callback)

    def _notify(self, _change: Any) -> None:
        for callback in self._listeners:
            callback()


def strategy_note(picker: StrategyPicker) -> widgets.HTML:
    """A line under the strategy dropdown saying what the selected strategy does (its docstring)."""
    note = widgets.HTML(layout={"width": "100%"})

    style = "font-size:12px;color:#555;margin:0 0 4px 124px;line-height:1.3"

    def show(_change: Any = None) -> None:
        note.value = f"<div style='{style}'>{html.escape(picker.strategy_class.describe())}</div>"

    picker.observe(show, "value")
    show()
    return note


#: A dropdown key naming a stored strategy version (docs/governance.md), as a service config does.
VERSION_KEY = "version:"


@dataclass(frozen=True)
class OfferedVersion:
    """A stored strategy version the dropdown offers: its class and its own (fixed) parameters."""

    id: str
    stage: str
    strategy: type[Strategy]
    params: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{VERSION_KEY}{self.id}"

    @property
    def label(self) -> str:
        return f"{self.id} ({self.stage})"


def promoted_versions(store: str | Path | None = None) -> list[OfferedVersion]:
    """The versions at paper or live in ``store`` (default: the project's, when it exists), newest last.

    A version whose source no longer loads is left out (``tradepulse strategies show`` says why).
    """
    from tradepulse.promotion import StrategyStore, default_store_path

    root = Path(store) if store is not None else default_store_path()
    if not (root / "promotions.sqlite").is_file():
        return []
    offered = []
    with StrategyStore(root) as opened:
        stages = opened.stages()
        for version in opened.versions():
            stage = stages.get(version.id, "research")
            if stage not in ("paper", "live"):
                continue
            try:
                instance = version.load()
            except (StrategyError, ConfigError):
                continue
            offered.append(OfferedVersion(version.id, stage, type(instance), dict(version.params)))
    return offered


class StrategyPicker(widgets.Dropdown):
    """A dropdown of the built-in strategies, the given one if it is a user strategy, and the
    promoted strategy versions given (``version:<id>`` keys, labelled with their stage)."""

    def __init__(self, strategy: str | type[Strategy], versions: list[OfferedVersion] | tuple[OfferedVersion, ...] = ()) -> None:
        self._classes: dict[str, type[Strategy]] = dict(list_strategies())
        self._labels = {name: name for name in self._classes}
        self.versions = {version.key: version for version in versions}
        for version in versions:
            self._classes[version.key] = version.strategy
            self._labels[version.key] = version.label
        key = self._key_of(strategy)
        super().__init__(
            options=self._pairs(list(self._classes)), value=key, description="Strategy", style=_DESCRIPTION_STYLE,
            layout=_FULL_WIDTH,
        )
        self.add_class("tp-strategy")
        self.tooltip = self.strategy_class.describe() or None
        self.observe(lambda _: setattr(self, "tooltip", self.strategy_class.describe() or None), "value")

    def _key_of(self, strategy: str | type[Strategy]) -> str:
        if isinstance(strategy, str) and strategy.startswith(VERSION_KEY):
            if strategy not in self._classes:
                raise ConfigError(f"{strategy} is not a version at paper or live in the strategy store")
            return strategy
        cls = load_strategy(strategy)
        self._classes.setdefault(cls.name, cls)
        self._labels.setdefault(cls.name, cls.name)
        return cls.name

    def _pairs(self, keys: list[str]) -> list[tuple[str, str]]:
        return [(self._labels[key], key) for key in keys]

    @property
    def offered(self) -> list[str]:
        """What the dropdown offers now: strategy names and ``version:<id>`` keys."""
        return [value for _, value in self.options]

    @property
    def strategy_class(self) -> type[Strategy]:
        """The class of the selected strategy."""
        return self._classes[self.value]

    @property
    def version_params(self) -> dict[str, Any] | None:
        """The selected version's own parameters, or ``None`` for a strategy that is not a stored version."""
        version = self.versions.get(self.value)
        return dict(version.params) if version is not None else None

    def select(self, strategy: str | type[Strategy]) -> type[Strategy]:
        """Select ``strategy`` (adding it to the list if it is a user strategy) and return its class."""
        key = self._key_of(strategy)
        if key not in self.offered:
            self.options = self._pairs([*self.offered, key])
        self.value = key
        return self._classes[key]


# -- costs -----------------------------------------------------------------------------------------


class CostControls(widgets.VBox):
    """Fees and fixed slippage, both in basis points of the fill price."""

    def __init__(self, fees_bps: float = 10.0, slippage_bps: float = 0.0, max_bps: float = 50.0) -> None:
        common = {"min": 0.0, "step": 0.5, "readout_format": ".1f", "continuous_update": False,
                  "style": _DESCRIPTION_STYLE, "layout": _FULL_WIDTH}
        self.fees = widgets.FloatSlider(
            value=fees_bps, max=max(max_bps, fees_bps), description="Fees (bps)", **common
        )
        self.slippage = widgets.FloatSlider(
            value=slippage_bps, max=max(max_bps, slippage_bps), description="Slippage (bps)", **common
        )
        self.fees.add_class("tp-fees-bps")
        self.slippage.add_class("tp-slippage-bps")
        super().__init__([self.fees, self.slippage], layout={"width": "100%"})

    @property
    def fees_bps(self) -> float:
        return float(self.fees.value)

    @property
    def slippage_bps(self) -> float:
        return float(self.slippage.value)

    def set(self, fees_bps: float | None = None, slippage_bps: float | None = None) -> None:
        """Set either cost; a value past a slider's end widens it."""
        for control, value in ((self.fees, fees_bps), (self.slippage, slippage_bps)):
            if value is None:
                continue
            value = float(value)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{control.description} must be a non-negative number, got {value!r}")
            control.max = max(control.max, value)
            control.value = value

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when either cost changes."""
        self.fees.observe(lambda _: callback(), "value")
        self.slippage.observe(lambda _: callback(), "value")


# -- status ----------------------------------------------------------------------------------------

_STATUS_STYLE = {
    "busy": ("#8a6d00", "#fff8d6", "⏳"),
    "idle": ("#1d5e20", "#eef7ee", "✓"),
    "error": ("#8b1a1a", "#fdecea", "⚠"),
}


class StatusBar(widgets.HTML):
    """One line saying whether the widget is computing, up to date, or what went wrong.

    The element carries ``data-state`` (``busy``, ``idle`` or ``error``) for tests and styling.
    """

    def __init__(self, state: str = "busy", text: str = "Starting…") -> None:
        super().__init__(value=self._html(state, text), layout={"width": "100%"})
        self.state, self.message = state, text

    def show(self, state: str, text: str) -> None:
        """Show ``text`` in the colours of ``state`` (``busy``, ``idle`` or ``error``)."""
        self.state, self.message = state, text
        self.value = self._html(state, text)

    @staticmethod
    def _html(state: str, text: str) -> str:
        color, background, icon = _STATUS_STYLE[state]
        return (
            f'<div class="tp-status" data-state="{state}" style="padding:4px 8px;border-radius:4px;'
            f'color:{color};background:{background};font-size:13px;white-space:normal">'
            f"{icon} {html.escape(text)}</div>"
        )
