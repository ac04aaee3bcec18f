"""Rolling Hurst exponent by the aggregated-variance (variance-time) method."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tradepulse.errors import ConfigError
from tradepulse.indicators import nb
from tradepulse.indicators._common import DEFAULT_WINDOW, check_int, contiguous, price_series, wrap

MIN_WINDOW = 8


def default_max_lag(window: int) -> int:
    """Return the default largest lag, ``window // 4`` (at least 2 so two lags exist).

    A quarter of the window keeps at least ``3 * window / 4`` increments behind the largest lag.
    """
    return max(2, window // 4)


def hurst_exponent(close: Any, window: int = DEFAULT_WINDOW, max_lag: int | None = None) -> pd.Series:
    r"""Compute the rolling Hurst exponent of log prices.

    Aggregated-variance (variance-time) method on the price path: the ``tau``-lag increment
    ``y_{k+tau} - y_k`` of the log close is the sum of ``tau`` consecutive log returns, whose
    second moment scales as ``tau^{2H}``. Within the window of ``window`` log closes ending at ``t``
    and for ``tau = 1, 2, 4, ..., <= max_lag``:

    .. math:: V(\tau) = \frac{1}{w - \tau} \sum_{k=0}^{w-1-\tau} (y_{k+\tau} - y_k)^2,

    and ``H_t`` is the ordinary least-squares slope of ``0.5 ln V(tau)`` on ``ln tau``.

    ``H = 0.5`` for a random walk (uncorrelated returns), ``H > 0.5`` for persistent (trending)
    moves, ``H < 0.5`` for mean reversion. The moment is not demeaned, so a steady drift also
    reads as persistence (a straight line gives ``H = 1``). ``H`` is invariant to price scaling.
    Windows of 64 bars give a noisy estimate (roughly +-0.1); use longer windows for level
    judgements and this one for relative changes.

    Parameters
    ----------
    close : Series or array-like
        Close prices, finite and > 0.
    window : int, default 64
        Closes per window (>= 8); the first ``window - 1`` values are NaN.
    max_lag : int, optional
        Largest lag (>= 2, < window); default ``window // 4``.

    Returns
    -------
    Series
        ``H`` per bar, named ``hurst``; NaN for flat windows (an RMS increment of at most 1e-12).
    """
    series = price_series(close)
    window = check_int(window, "window", MIN_WINDOW)
    max_lag = default_max_lag(window) if max_lag is None else check_int(max_lag, "max_lag", 2)
    if max_lag >= window:
        raise ConfigError(f"max_lag must be smaller than window ({window}), got {max_lag}")
    return wrap(nb.hurst_nb(contiguous(series), window, max_lag), series, "hurst")
