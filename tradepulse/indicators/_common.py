"""Input checks and output wrapping shared by the indicator wrappers (fast and reference alike)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError, DataError

DEFAULT_WINDOW = 64


def as_series(values: Any, name: str = "close") -> pd.Series:
    """Return ``values`` as a float64 Series (keeping its index), or raise DataError if it is not 1-D."""
    if isinstance(values, pd.DataFrame):
        raise DataError(f"{name} must be one series, got a DataFrame with columns {list(values.columns)}")
    if isinstance(values, pd.Series):
        series = values.astype(np.float64)
    else:
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
        series = pd.Series(array)
    series.name = series.name if series.name is not None else name
    return series


def price_series(values: Any, name: str = "close", positive: bool = True) -> pd.Series:
    """Return ``values`` as a float64 Series after checking every value is finite (and > 0)."""
    series = as_series(values, name)
    array = series.to_numpy()
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise DataError(f"{name} has {bad} NaN or infinite value(s); drop or fill them before computing indicators")
    if positive and (array <= 0).any():
        raise DataError(f"{name} must be > 0 (log prices are used); found {int((array <= 0).sum())} value(s) <= 0")
    return series


def contiguous(series: pd.Series) -> np.ndarray:
    """Return the Series' values as a C-contiguous float64 array for the kernels."""
    return np.ascontiguousarray(series.to_numpy(dtype=np.float64))


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum`` or raise ConfigError saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a float in ``[0, 1)`` or raise ConfigError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if not 0.0 <= number < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value}")
    return number


def wrap(values: np.ndarray, like: pd.Series, name: str) -> pd.Series:
    """Return kernel output as a Series on ``like``'s index."""
    return pd.Series(values, index=like.index, name=name)


def close_of(bars_or_close: Any) -> pd.Series:
    """Return the close series from a bars DataFrame (``close`` column) or a close series."""
    if isinstance(bars_or_close, pd.DataFrame):
        if "close" not in bars_or_close.columns:
            raise DataError(f"bars need a 'close' column; got columns {list(bars_or_close.columns)}")
        return price_series(bars_or_close["close"], "close")
    return price_series(bars_or_close, "close")
