"""Kuramoto order parameter ``R`` from Hilbert-transform phases, for one series or across assets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import DataError
from tradepulse.indicators import nb
from tradepulse.indicators._common import DEFAULT_WINDOW, as_series, check_int, contiguous, price_series, wrap

MIN_WINDOW = 8


def kuramoto_r(close: Any, window: int = DEFAULT_WINDOW) -> pd.Series:
    r"""Compute the rolling Kuramoto order parameter of one price series.

    For the window of ``window`` closes ending at bar ``t``:

    1. ``y_k = ln close_{t-window+1+k}``, ``k = 0..window-1``;
    2. ``x = y - (a + b k)``, the least-squares linear detrend of ``y`` inside the window;
    3. ``z = x + i H[x]``, the analytic signal of ``x`` computed within the window
       (exactly ``scipy.signal.hilbert(x)``: FFT, zero the negative frequencies, double the
       positive ones, inverse FFT);
    4. ``phi_k = arg z_k`` and

    .. math:: R_t = \left| \frac{1}{w} \sum_{k=0}^{w-1} e^{i \phi_k} \right| \in [0, 1].

    ``R`` near 1 means the phase hardly rotates across the window (one coherent swing dominates);
    near 0 the phases are spread (noise or several cycles). ``R`` is invariant to price scaling
    (the log turns scaling into a constant, which the detrend removes).

    The kernel updates the Hilbert transform with an exact O(window) recurrence and recomputes it
    from scratch every ``window`` bars, so bars before the window can move ``R`` only through
    rounding (below 1e-12): computing it on the last ``window`` bars alone (as the live engine
    does) agrees with the full-history value to that precision, not bit for bit.

    Parameters
    ----------
    close : Series or array-like
        Close prices, finite and > 0.
    window : int, default 64
        Bars per window (>= 8). The first ``window - 1`` values are NaN (warm-up).

    Returns
    -------
    Series
        ``R`` per bar, named ``kuramoto_r``; NaN during warm-up and for flat windows
        (detrended log price within +-1e-12 everywhere).

    Examples
    --------
    >>> r = kuramoto_r(bars["close"], window=64)  # doctest: +SKIP
    """
    series = price_series(close)
    window = check_int(window, "window", MIN_WINDOW)
    return wrap(nb.kuramoto_r_nb(contiguous(series), window), series, "kuramoto_r")


def hilbert_phase(close: Any, window: int = DEFAULT_WINDOW) -> pd.Series:
    """Compute each bar's instantaneous phase from its own causal window.

    The phase at bar ``t`` is ``arg z_{w-1}``: the angle of the analytic signal of the window's
    linearly detrended log close (see :func:`kuramoto_r`) at the window's last point.

    Parameters
    ----------
    close : Series or array-like
        Close prices, > 0. NaN is allowed (for an asset that has not started trading yet):
        windows containing a NaN give NaN.
    window : int, default 64
        Bars per window (>= 8); the first ``window - 1`` values are NaN.

    Returns
    -------
    Series
        Phase in radians, in ``(-pi, pi]``, named ``phase``.
    """
    series = _prices_allowing_nan(close, "close")
    window = check_int(window, "window", MIN_WINDOW)
    return wrap(nb.hilbert_phase_nb(contiguous(series), window), series, "phase")


def cross_kuramoto_r(closes: pd.DataFrame, window: int = DEFAULT_WINDOW, min_assets: int = 2) -> pd.Series:
    r"""Compute the Kuramoto order parameter across several assets.

    .. math:: R_t = \left| \frac{1}{N_t} \sum_{j} e^{i \phi_{j,t}} \right|

    where ``phi_{j,t}`` is :func:`hilbert_phase` of asset ``j`` from its own window ending at ``t``
    and the sum runs over the ``N_t`` assets that have a phase at ``t``.

    Parameters
    ----------
    closes : DataFrame
        One column of closes per asset on a shared index. Leading NaNs (late listings) are allowed.
    window : int, default 64
        Bars per window (>= 8).
    min_assets : int, default 2
        Bars with fewer assets holding a phase are NaN.

    Returns
    -------
    Series
        ``R`` per bar, named ``cross_kuramoto_r``, in ``[0, 1]``: 1 when every asset is at the same
        point of its swing, near 0 when their phases are spread.
    """
    if not isinstance(closes, pd.DataFrame):
        raise DataError("cross_kuramoto_r needs a DataFrame with one column of closes per asset")
    window = check_int(window, "window", MIN_WINDOW)
    min_assets = check_int(min_assets, "min_assets", 1)
    values = np.ascontiguousarray(closes.to_numpy(dtype=np.float64))
    _check_positive_where_present(values, "closes")
    return pd.Series(nb.cross_kuramoto_r_nb(values, window, min_assets), index=closes.index, name="cross_kuramoto_r")


def _prices_allowing_nan(close: Any, name: str) -> pd.Series:
    series = as_series(close, name)
    _check_positive_where_present(series.to_numpy(), name)
    return series


def _check_positive_where_present(values: np.ndarray, name: str) -> None:
    present = values[~np.isnan(values)]
    if not np.isfinite(present).all() or (present <= 0).any():
        raise DataError(f"{name} must be > 0 and finite where present (NaN marks a missing bar)")
