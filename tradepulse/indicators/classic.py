"""Classic technical indicators: SMA, EMA, Wilder RSI and ATR, Bollinger bands, rolling z-score."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError, DataError
from tradepulse.indicators import nb
from tradepulse.indicators._common import check_int, contiguous, price_series, wrap


def sma(values: Any, window: int = 20) -> pd.Series:
    r"""Compute the simple moving average :math:`\frac{1}{w}\sum_{k=t-w+1}^{t} x_k`.

    Parameters
    ----------
    values : Series or array-like
        Finite values (usually closes).
    window : int, default 20
        Values per window (>= 1); the first ``window - 1`` results are NaN.

    Returns
    -------
    Series
        Named ``sma``.
    """
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 1)
    return wrap(nb.sma_nb(contiguous(series), window), series, "sma")


def ema(values: Any, window: int = 20) -> pd.Series:
    r"""Compute the exponential moving average with :math:`\alpha = 2 / (w + 1)`.

    :math:`EMA_{w-1} = SMA_{w-1}` (seed), then :math:`EMA_t = \alpha x_t + (1 - \alpha) EMA_{t-1}`.
    Seeding with the SMA (the TA-Lib convention) means no value depends on a guessed start.

    Parameters
    ----------
    values : Series or array-like
        Finite values.
    window : int, default 20
        Span (>= 1); the first ``window - 1`` results are NaN.

    Returns
    -------
    Series
        Named ``ema``.
    """
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 1)
    return wrap(nb.ema_nb(contiguous(series), window), series, "ema")


def rsi(close: Any, window: int = 14) -> pd.Series:
    r"""Compute Wilder's relative strength index.

    With changes :math:`d_t = c_t - c_{t-1}`, gains :math:`g_t = \max(d_t, 0)` and losses
    :math:`l_t = \max(-d_t, 0)`: the averages start as the plain mean over
    :math:`t = 1..w` and then follow Wilder's smoothing
    :math:`\bar g_t = (\bar g_{t-1}(w-1) + g_t) / w` (same for losses), and

    .. math:: RSI_t = 100 \, \bar g_t / (\bar g_t + \bar l_t)  \quad (= 100 - 100 / (1 + RS)),

    50 when both averages are 0 (no movement).

    Parameters
    ----------
    close : Series or array-like
        Finite closes.
    window : int, default 14
        Smoothing length (>= 1); the first ``window`` results are NaN.

    Returns
    -------
    Series
        Named ``rsi``, in ``[0, 100]``.
    """
    series = price_series(close, positive=False)
    window = check_int(window, "window", 1)
    return wrap(nb.rsi_nb(contiguous(series), window), series, "rsi")


def atr(high: Any, low: Any, close: Any, window: int = 14) -> pd.Series:
    r"""Compute Wilder's average true range.

    :math:`TR_t = \max(h_t - l_t, |h_t - c_{t-1}|, |l_t - c_{t-1}|)`;
    :math:`ATR_w = \frac{1}{w}\sum_{t=1}^{w} TR_t`, then
    :math:`ATR_t = (ATR_{t-1}(w - 1) + TR_t) / w`.

    Parameters
    ----------
    high, low, close : Series or array-like
        Finite bar highs, lows and closes of equal length.
    window : int, default 14
        Smoothing length (>= 1); the first ``window`` results are NaN.

    Returns
    -------
    Series
        Named ``atr``, in price units.
    """
    high_s = price_series(high, "high", positive=False)
    low_s = price_series(low, "low", positive=False)
    close_s = price_series(close, "close", positive=False)
    if not len(high_s) == len(low_s) == len(close_s):
        raise DataError(f"high, low and close must have equal length, got {len(high_s)}, {len(low_s)}, {len(close_s)}")
    if (high_s.to_numpy() < low_s.to_numpy()).any():
        raise DataError("high must be >= low on every bar")
    window = check_int(window, "window", 1)
    values = nb.atr_nb(contiguous(high_s), contiguous(low_s), contiguous(close_s), window)
    return wrap(values, close_s, "atr")


def bollinger(values: Any, window: int = 20, num_std: float = 2.0) -> pd.DataFrame:
    r"""Compute Bollinger bands: :math:`SMA_t \pm k \sigma_t` with the population std (ddof 0).

    Parameters
    ----------
    values : Series or array-like
        Finite values (usually closes).
    window : int, default 20
        Values per window (>= 2); the first ``window - 1`` rows are NaN.
    num_std : float, default 2.0
        Band half-width ``k`` in standard deviations (>= 0).

    Returns
    -------
    DataFrame
        Columns ``lower``, ``middle``, ``upper``.
    """
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 2)
    if not np.isfinite(num_std) or num_std < 0:
        raise ConfigError(f"num_std must be a finite number >= 0, got {num_std!r}")
    array = contiguous(series)
    middle = nb.sma_nb(array, window)
    half_width = float(num_std) * nb.rolling_std_nb(array, window, 0)
    return pd.DataFrame(
        {"lower": middle - half_width, "middle": middle, "upper": middle + half_width}, index=series.index
    )


def zscore(values: Any, window: int = 20) -> pd.Series:
    r"""Compute the rolling z-score :math:`(x_t - \mu_t) / \sigma_t` over the last ``window`` values.

    ``mu`` and ``sigma`` (population std, ddof 0) include ``x_t`` itself. Windows with zero spread
    give NaN.

    Parameters
    ----------
    values : Series or array-like
        Finite values.
    window : int, default 20
        Values per window (>= 2); the first ``window - 1`` results are NaN.

    Returns
    -------
    Series
        Named ``zscore``.
    """
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 2)
    return wrap(nb.zscore_nb(contiguous(series), window), series, "zscore")
