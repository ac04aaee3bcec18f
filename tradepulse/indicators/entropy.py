"""Shannon entropy of the return distribution in a rolling window, and its change."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tradepulse.indicators import nb
from tradepulse.indicators._common import DEFAULT_WINDOW, check_int, contiguous, price_series, wrap

DEFAULT_BINS = 10
DEFAULT_LAG = 8
MIN_WINDOW = 8


def shannon_entropy(
    close: Any, window: int = DEFAULT_WINDOW, bins: int = DEFAULT_BINS, normalize: bool = True
) -> pd.Series:
    r"""Compute the rolling Shannon entropy of log returns.

    The window of ``window`` closes ending at bar ``t`` holds ``window - 1`` log returns
    ``r_k = ln(close_k / close_{k-1})``. Bin them into ``bins`` equal-width bins spanning the
    window's own ``[min r, max r]`` (``numpy.histogram``'s edges), ``p_b = n_b / (window - 1)``, and

    .. math:: H_t = -\sum_{b: p_b > 0} p_b \ln p_b \quad \text{(nats)}.

    With ``normalize=True`` (default) return ``H_t / ln(bins)``, which lies in ``[0, 1]``: 1 for
    returns spread evenly over the range, low when most returns cluster in a few bins (a few
    outliers stretch the range). A window whose returns span at most 1e-12 (identical up to
    rounding, e.g. a steady exponential trend) has ``H = 0``. ``H`` is invariant
    to price scaling (returns do not change) and, because the bins follow the window's range,
    to scaling the returns themselves (``close ** a``, ``a > 0``).

    Parameters
    ----------
    close : Series or array-like
        Close prices, finite and > 0.
    window : int, default 64
        Closes per window (>= 8); the first ``window - 1`` values are NaN.
    bins : int, default 10
        Histogram bins (>= 2).
    normalize : bool, default True
        Divide by ``ln(bins)``.

    Returns
    -------
    Series
        Entropy per bar, named ``entropy`` (nats, or a fraction of the maximum when normalised).
    """
    series = price_series(close)
    window = check_int(window, "window", MIN_WINDOW)
    bins = check_int(bins, "bins", 2)
    values = nb.shannon_entropy_nb(contiguous(series), window, bins, bool(normalize))
    return wrap(values, series, "entropy")


def entropy_change(
    close: Any,
    window: int = DEFAULT_WINDOW,
    bins: int = DEFAULT_BINS,
    lag: int = DEFAULT_LAG,
    normalize: bool = True,
) -> pd.Series:
    r"""Compute the change of rolling entropy over ``lag`` bars, :math:`\Delta H_t = H_t - H_{t-lag}`.

    Negative values mean the return distribution is concentrating (order emerging); positive
    values mean it is spreading out (order dissolving).

    Parameters
    ----------
    close : Series or array-like
        Close prices, finite and > 0.
    window, bins, normalize
        As in :func:`shannon_entropy`.
    lag : int, default 8
        Bars between the two entropy readings (>= 1). Warm-up: ``window - 1 + lag`` NaN values.

    Returns
    -------
    Series
        Named ``delta_entropy``.
    """
    lag = check_int(lag, "lag", 1)
    entropy = shannon_entropy(close, window=window, bins=bins, normalize=normalize).to_numpy()
    return wrap(lagged_difference(entropy, lag), price_series(close), "delta_entropy")


def lagged_difference(values: np.ndarray, lag: int) -> np.ndarray:
    """Return ``values[t] - values[t - lag]`` with NaN for the first ``lag`` entries."""
    out = np.full(values.shape[0], np.nan)
    if lag < values.shape[0]:
        out[lag:] = values[lag:] - values[:-lag]
    return out
