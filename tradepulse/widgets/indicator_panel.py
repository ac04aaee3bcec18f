"""``IndicatorPanel``: price with market-phase shading above the TradePulse indicators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from tradepulse.indicators import MarketPhase
from tradepulse.widgets._base import Explorer
from tradepulse.widgets._controls import DEFAULT_SOURCE, DatasetPicker, heading, load_bars_cached
from tradepulse.widgets._indicator_cache import DEFAULT_PHASE_WINDOW, indicators_for
from tradepulse.widgets.figures import PHASE_COLORS, indicator_figure, show_figure
from tradepulse.widgets.tables import stats_table_html

__all__ = ["IndicatorPanel"]

_READING_LABELS = {
    "close": "Close",
    "kuramoto_r": "Kuramoto R",
    "entropy": "Entropy H",
    "delta_entropy": "Entropy change ΔH",
    "ricci": "Ricci curvature κ",
    "hurst": "Hurst exponent",
    "phase": "Market phase",
    "phase_confidence": "Phase confidence",
}


@dataclass(frozen=True)
class _Inputs:
    source: str
    window: int


@dataclass(frozen=True)
class _Output:
    bars: pd.DataFrame
    indicators: pd.DataFrame
    figure: go.Figure
    readings_html: str
    phase_share_html: str
    summary: str


class IndicatorPanel(Explorer):
    """Price shaded by market phase, with Kuramoto R, entropy change ΔH, Ricci κ and Hurst below.

    Parameters
    ----------
    source
        ``sample:<name>`` or a path to a CSV/Parquet bar file.
    window
        Bars per window for every indicator (the phase thresholds are calibrated for 64).
    debounce_s
        Quiet period after the last control change before recomputing.

    Examples
    --------
    >>> from tradepulse.widgets import IndicatorPanel
    >>> panel = IndicatorPanel()                 # hourly BTC/USDT sample, window 64
    >>> panel.latest["phase"]                    # doctest: +SKIP
    """

    failure_prefix = "Could not compute the indicators"

    def __init__(
        self, source: str = DEFAULT_SOURCE, window: int = DEFAULT_PHASE_WINDOW, *, debounce_s: float = 0.3
    ) -> None:
        self.dataset = DatasetPicker(source)
        self.window = widgets.IntSlider(
            value=window, min=16, max=max(512, window), step=8, description="Window (bars)",
            continuous_update=False, style={"description_width": "120px"}, layout={"width": "100%"},
        )
        self.window.add_class("tp-param-window")
        self.dataset.on_change(self._changed)
        self.window.observe(self._changed, "value")
        self._build(css_class="tp-indicator-panel", debounce_s=debounce_s)

    def _layout(self, first: _Output | None) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        self.readings_view = widgets.HTML(first.readings_html if first else "", layout={"width": "100%"})
        self.phase_share_view = widgets.HTML(first.phase_share_html if first else "", layout={"width": "100%"})
        self.figure = go.FigureWidget(first.figure if first else None)
        controls = [
            heading("Data"), self.dataset, self.window,
            heading("Latest reading"), self.readings_view,
            heading("Time in each phase"), self.phase_share_view,
        ]
        return controls, [self.figure]

    # -- programmatic API -------------------------------------------------------------------------

    @property
    def indicators(self) -> pd.DataFrame:
        """The indicator frame (``compute_indicators`` columns) of the last successful run."""
        return self._output.indicators if self._output is not None else pd.DataFrame()

    @property
    def latest(self) -> dict[str, Any]:
        """The last bar's close, indicator values, phase and confidence."""
        if self._output is None or self._output.indicators.empty:
            return {}
        frame = self._output.indicators
        values = {k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[-1].items()}
        return {"timestamp": frame.index[-1], "close": float(self._output.bars["close"].iloc[-1]), **values}

    @property
    def source(self) -> str:
        """The dataset shown (``sample:<name>`` or a file path)."""
        return self.dataset.source

    def set_window(self, window: int) -> IndicatorPanel:
        """Change the indicator window (bars); recomputes after the debounce."""
        self.window.max = max(self.window.max, int(window))
        self.window.value = int(window)
        return self

    def set_source(self, source: str) -> IndicatorPanel:
        """Switch the dataset (``sample:<name>`` or a file path)."""
        self.dataset.source = source
        return self

    # -- plumbing ---------------------------------------------------------------------------------

    def _inputs(self) -> _Inputs:
        return _Inputs(source=self.dataset.source, window=int(self.window.value))

    def _compute(self, inputs: _Inputs) -> _Output:
        bars = load_bars_cached(inputs.source)
        indicators = indicators_for(inputs.source, bars, inputs.window)
        latest = indicators.iloc[-1]
        readings = {"close": float(bars["close"].iloc[-1]), **latest.to_dict()}
        readings = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in readings.items()}
        readings["phase"] = str(readings["phase"]).replace("_", " ") if readings.get("phase") else "warm-up"
        phase_counts = indicators["phase"].value_counts(normalize=True)
        shares = {phase.value: float(phase_counts.get(phase.value, 0.0)) for phase in MarketPhase}
        share_labels = {
            phase: f"<span style='color:{PHASE_COLORS[phase]};font-size:15px'>■</span> {phase.replace('_', ' ')}"
            for phase in shares
        }
        as_of = f"{indicators.index[-1]:%Y-%m-%d %H:%M} UTC"
        title = f"{inputs.source} · indicators over {inputs.window} bars · as of {as_of}"
        return _Output(
            bars=bars,
            indicators=indicators,
            figure=indicator_figure(bars, indicators, title=title),
            readings_html=stats_table_html(readings, _READING_LABELS),
            phase_share_html=_share_table(shares, share_labels),
            summary=f"{len(bars):,} bars · latest phase {readings['phase']}",
        )

    def _apply(self, output: _Output) -> None:
        show_figure(self.figure, output.figure)
        self.readings_view.value = output.readings_html
        self.phase_share_view.value = output.phase_share_html
        self._output = output


def _share_table(shares: dict[str, float], labels: dict[str, str]) -> str:
    """Share of bars in each phase, one row per phase with its colour swatch."""
    cell = "padding:2px 8px"
    rows = "".join(
        f'<tr data-stat="{phase}"><th style="text-align:left;font-weight:500;{cell}">{labels[phase]}</th>'
        f'<td style="text-align:right;{cell}">{share:.1%}</td></tr>'
        for phase, share in shares.items()
    )
    table_style = "border-collapse:collapse;font-size:12.5px;width:100%"
    return f'<table class="tp-phase-share" style="{table_style}">{rows}</table>'
