"""Indicator frames cached per dataset and window: parameter changes should not recompute them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import pandas as pd

from tradepulse.indicators import compute_indicators

__all__ = ["DEFAULT_PHASE_WINDOW", "indicators_for", "phases_for"]

#: Window of the phase shading in the backtest explorer (the indicators' own default).
DEFAULT_PHASE_WINDOW = 64
_MAX_ENTRIES = 8
_cache: OrderedDict[Hashable, pd.DataFrame] = OrderedDict()
_lock = threading.Lock()


def _fingerprint(bars: pd.DataFrame) -> tuple:
    # Cheap to compute and changes whenever a re-read file differs in length, span or last close.
    return (len(bars), bars.index[0], bars.index[-1], float(bars["close"].iloc[-1]))


def indicators_for(source: str, bars: pd.DataFrame, window: int) -> pd.DataFrame:
    """Return ``compute_indicators(bars, window)``, computed once per dataset and window."""
    key = (source, _fingerprint(bars), int(window))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    frame = compute_indicators(bars, window=int(window))
    with _lock:
        _cache[key] = frame
        while len(_cache) > _MAX_ENTRIES:
            _cache.popitem(last=False)
    return frame


def phases_for(source: str, bars: pd.DataFrame, window: int = DEFAULT_PHASE_WINDOW) -> pd.DataFrame | None:
    """Return the indicator frame for phase shading, or ``None`` when the data is too short for it."""
    if len(bars) <= window:
        return None
    return indicators_for(source, bars, window)
