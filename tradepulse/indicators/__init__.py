"""TradePulse indicators: the signature regime indicators and the classic ones.

Every indicator is causal (the value at bar ``t`` uses bars ``<= t`` only) and NaN during its
warm-up. Hot loops are Numba kernels in :mod:`tradepulse.indicators.nb`; the functions here are
thin pandas wrappers, :mod:`tradepulse.indicators.sweep` has vectorbt ``IndicatorFactory`` classes
for parameter sweeps, and :mod:`tradepulse.indicators.reference` has slow per-window SciPy
versions that the tests check the kernels against. Formulas: ``docs/indicators.md``.

Examples
--------
>>> from tradepulse.indicators import compute_indicators, kuramoto_r
>>> frame = compute_indicators(bars, window=64)  # doctest: +SKIP
>>> frame[["kuramoto_r", "phase", "phase_confidence"]].tail()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from tradepulse.indicators.classic import atr, bollinger, ema, rsi, sma, zscore
from tradepulse.indicators.entropy import entropy_change, shannon_entropy
from tradepulse.indicators.hurst import hurst_exponent
from tradepulse.indicators.kuramoto import cross_kuramoto_r, hilbert_phase, kuramoto_r
from tradepulse.indicators.phase import (
    INDICATOR_COLUMNS,
    MarketPhase,
    PhaseThresholds,
    classify_phase,
    compute_indicators,
    market_phase,
)
from tradepulse.indicators.ricci import ricci_curvature

# vectorbt takes seconds to import; the sweep classes load it only when first asked for.
_SWEEP_NAMES = (
    "KuramotoR",
    "ShannonEntropy",
    "EntropyChange",
    "HurstExponent",
    "RicciCurvature",
    "SMA",
    "EMA",
    "RSI",
    "ATR",
    "Bollinger",
    "ZScore",
)

__all__ = [
    "kuramoto_r",
    "hilbert_phase",
    "cross_kuramoto_r",
    "shannon_entropy",
    "entropy_change",
    "hurst_exponent",
    "ricci_curvature",
    "MarketPhase",
    "PhaseThresholds",
    "classify_phase",
    "compute_indicators",
    "market_phase",
    "INDICATOR_COLUMNS",
    "sma",
    "ema",
    "rsi",
    "atr",
    "bollinger",
    "zscore",
    *_SWEEP_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _SWEEP_NAMES:
        from tradepulse.indicators import sweep

        return getattr(sweep, name)
    raise AttributeError(f"module 'tradepulse.indicators' has no attribute {name!r}")
