"""Numba kernels behind every indicator: plain float64 arrays in, float64 arrays out.

Conventions shared by every kernel:

* ``window`` counts bars (closes). The value at index ``t`` uses bars ``t - window + 1 .. t`` only,
  so the first ``window - 1`` outputs are NaN (the classic Wilder kernels need one more bar).
* Inputs are validated by the pandas wrappers; kernels assume finite, positive prices unless a
  docstring says otherwise.
* Each kernel does O(window) work per bar or less and has no Python in its loop, so a 100k-bar
  series costs milliseconds, not the seconds a per-window NumPy/SciPy loop does
  (see :mod:`tradepulse.indicators.reference`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Movement below this is rounding noise, not market structure. A window whose detrended log price
# (Kuramoto), RMS log increment (Hurst) or price range relative to price (Ricci) stays within it
# is flat: those kernels return NaN rather than amplify noise. Entropy reports 0 for such returns.
FLAT_TOLERANCE = 1e-12


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def histogram_bin_nb(value: float, low: float, high: float, bins: int) -> int:
    """Return the bin of ``value`` among ``bins`` equal bins over ``[low, high]`` (``high > low``).

    Replicate ``numpy.histogram``'s rule exactly (edges ``low + i * (high - low) / bins``, the last
    edge equal to ``high``, the last bin closed) so that kernel and reference agree bin for bin.
    """
    span = high - low
    index = int((value - low) / span * bins)
    if index >= bins:
        index = bins - 1
    if index < 0:
        index = 0
    step = span / bins
    if value < index * step + low:
        index -= 1
    elif index != bins - 1:
        upper_edge = high if index + 1 == bins else (index + 1) * step + low
        if value >= upper_edge:
            index += 1
    return index


@njit(cache=True)
def nan_prefix_count_nb(values: np.ndarray) -> np.ndarray:
    """Return ``counts`` with ``counts[i]`` = NaNs in ``values[:i]``, for O(1) checks of any window."""
    counts = np.zeros(values.shape[0] + 1, dtype=np.int64)
    for i in range(values.shape[0]):
        counts[i + 1] = counts[i] + (1 if math.isnan(values[i]) else 0)
    return counts


# ---------------------------------------------------------------------------------------------
# Hilbert transform without an FFT
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def hilbert_kernel_nb(size: int) -> np.ndarray:
    """Return the imaginary part ``c`` of ``ifft(h)`` for ``scipy.signal.hilbert``'s multiplier ``h``.

    ``scipy.signal.hilbert(x)`` equals ``x + 1j * (c (*) x)`` with ``(*)`` the circular
    convolution of length ``size``: the multiplier ``h`` (1 at DC and Nyquist, 2 on positive
    frequencies, 0 on negative ones) makes the operator circulant, and the real part of
    ``ifft(h)`` is the unit impulse. Computing ``c`` once turns every windowed Hilbert transform
    into real dot products, which Numba compiles without an FFT.
    """
    kernel = np.zeros(size)
    if size % 2 == 0:
        positive_end = size // 2  # h = 2 on 1 .. size/2 - 1; the Nyquist term has sin(pi m) = 0
    else:
        positive_end = (size + 1) // 2
    for m in range(size):
        total = 0.0
        for f in range(1, positive_end):
            # Reduce the angle modulo the period first so sin() stays accurate for large f * m.
            total += math.sin(2.0 * math.pi * ((f * m) % size) / size)
        kernel[m] = 2.0 * total / size
    return kernel


@njit(cache=True)
def circular_hilbert_nb(x: np.ndarray, kernel: np.ndarray, out: np.ndarray) -> None:
    """Write ``imag(scipy.signal.hilbert(x))`` into ``out`` by direct circular convolution."""
    size = x.shape[0]
    for k in range(size):
        total = 0.0
        for j in range(size):
            m = k - j
            if m < 0:
                m += size
            total += kernel[m] * x[j]
        out[k] = total


@njit(cache=True)
def _detrend_nb(log_close: np.ndarray, start: int, centered_k: np.ndarray, sum_k2: float, out: np.ndarray) -> float:
    """Write the least-squares linear detrend of ``log_close[start:start+len(out)]`` into ``out``.

    Return the fitted slope. The max absolute residual is what the callers test for flatness.
    """
    size = out.shape[0]
    mean = 0.0
    for k in range(size):
        mean += log_close[start + k]
    mean /= size
    slope = 0.0
    for k in range(size):
        slope += centered_k[k] * (log_close[start + k] - mean)
    slope /= sum_k2
    for k in range(size):
        out[k] = log_close[start + k] - mean - slope * centered_k[k]
    return slope


@njit(cache=True)
def kuramoto_r_nb(close: np.ndarray, window: int) -> np.ndarray:
    """Return the rolling single-series Kuramoto order parameter ``R`` (see ``kuramoto.py``).

    Per window: ``x`` = linearly detrended log close, ``z = hilbert(x)``, ``phi_k = angle(z_k)``,
    ``R = |mean_k exp(i phi_k)|``.

    The imaginary part of ``hilbert(y)`` for consecutive windows obeys the exact recurrence
    ``Hy_{t+1}[k] = Hy_t[k+1 mod w] + (y_new - y_old) * c[k+1 mod w]`` (the operator is circulant),
    so each bar costs O(w) instead of an O(w^2) transform. Detrending only subtracts
    ``slope * H(ramp)`` because ``H(const) = 0``. The transform is recomputed from scratch every
    ``w`` bars so rounding cannot accumulate (amortised O(w) per bar).
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window > n or window < 2:
        return out
    log_close = np.log(close)
    kernel = hilbert_kernel_nb(window)
    centered_k = np.arange(window) - (window - 1) / 2.0
    sum_k2 = 0.0
    for k in range(window):
        sum_k2 += centered_k[k] * centered_k[k]
    ramp_hilbert = np.empty(window)
    circular_hilbert_nb(centered_k, kernel, ramp_hilbert)
    raw_hilbert = np.empty(window)
    shifted = np.empty(window)
    detrended = np.empty(window)
    for t in range(window - 1, n):
        start = t - window + 1
        if start % window == 0:
            for k in range(window):
                # Offsetting by the first value keeps magnitudes small; H(const) = 0 so it is exact.
                detrended[k] = log_close[start + k] - log_close[start]
            circular_hilbert_nb(detrended, kernel, raw_hilbert)
        else:
            delta = log_close[t] - log_close[start - 1]
            for k in range(window):
                j = k + 1 if k + 1 < window else 0
                shifted[k] = raw_hilbert[j] + delta * kernel[j]
            raw_hilbert, shifted = shifted, raw_hilbert
        slope = _detrend_nb(log_close, start, centered_k, sum_k2, detrended)
        peak = 0.0
        for k in range(window):
            peak = max(peak, abs(detrended[k]))
        if peak <= FLAT_TOLERANCE:
            continue
        sum_cos = 0.0
        sum_sin = 0.0
        for k in range(window):
            imag = raw_hilbert[k] - slope * ramp_hilbert[k]
            # sqrt instead of hypot: twice as fast, and log-price deviations cannot overflow.
            magnitude = math.sqrt(detrended[k] * detrended[k] + imag * imag)
            if magnitude > 0.0:
                sum_cos += detrended[k] / magnitude
                sum_sin += imag / magnitude
            else:
                sum_cos += 1.0  # angle(0) is 0, as numpy.angle defines it
        out[t] = math.hypot(sum_cos, sum_sin) / window
    return out


@njit(cache=True)
def hilbert_phase_nb(close: np.ndarray, window: int) -> np.ndarray:
    """Return the phase (radians, in ``(-pi, pi]``) at the last point of each window's analytic signal.

    Per window: detrend log close linearly, take ``angle(hilbert(x))[-1]``. Only the last point is
    needed, so it is one O(w) dot product with the circulant kernel. Windows holding a NaN close
    (an asset not trading yet) or a flat price give NaN.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window > n or window < 2:
        return out
    log_close = np.log(close)
    nan_prefix = nan_prefix_count_nb(close)
    kernel = hilbert_kernel_nb(window)
    centered_k = np.arange(window) - (window - 1) / 2.0
    sum_k2 = 0.0
    for k in range(window):
        sum_k2 += centered_k[k] * centered_k[k]
    detrended = np.empty(window)
    for t in range(window - 1, n):
        start = t - window + 1
        if nan_prefix[t + 1] - nan_prefix[start] > 0:
            continue
        _detrend_nb(log_close, start, centered_k, sum_k2, detrended)
        peak = 0.0
        imag = 0.0
        for j in range(window):
            peak = max(peak, abs(detrended[j]))
            imag += kernel[window - 1 - j] * detrended[j]
        if peak <= FLAT_TOLERANCE:
            continue
        out[t] = math.atan2(imag, detrended[window - 1])
    return out


@njit(cache=True)
def cross_kuramoto_r_nb(closes: np.ndarray, window: int, min_assets: int) -> np.ndarray:
    """Return ``R_t = |mean_j exp(i phi_j,t)|`` across the columns of ``closes`` (bars x assets).

    ``phi_j,t`` is :func:`hilbert_phase_nb` of asset ``j``. Assets without a phase at ``t`` are left
    out; bars with fewer than ``min_assets`` phases are NaN.
    """
    n, assets = closes.shape
    phases = np.empty((n, assets))
    for j in range(assets):
        phases[:, j] = hilbert_phase_nb(np.ascontiguousarray(closes[:, j]), window)
    out = np.full(n, np.nan)
    for t in range(n):
        count = 0
        sum_cos = 0.0
        sum_sin = 0.0
        for j in range(assets):
            phase = phases[t, j]
            if not math.isnan(phase):
                count += 1
                sum_cos += math.cos(phase)
                sum_sin += math.sin(phase)
        if count >= min_assets and count > 0:
            out[t] = math.hypot(sum_cos, sum_sin) / count
    return out


# ---------------------------------------------------------------------------------------------
# Entropy, Hurst, Ricci
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def log_returns_nb(close: np.ndarray) -> np.ndarray:
    """Return ``log(close[t] / close[t-1])`` with NaN at index 0.

    The ratio is taken before the log so that scaling all prices by a power of two leaves the
    returns bit-for-bit unchanged (histogram bins then cannot flip).
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    for t in range(1, n):
        out[t] = math.log(close[t] / close[t - 1])
    return out


@njit(cache=True)
def shannon_entropy_nb(close: np.ndarray, window: int, bins: int, normalize: bool) -> np.ndarray:
    """Return the rolling Shannon entropy (nats) of the ``window - 1`` log returns in each window.

    Histogram: ``bins`` equal-width bins over ``[min, max]`` of the window's returns (numpy's edge
    rule). ``H = -sum p_b ln p_b`` over non-empty bins; a window whose returns span at most
    ``FLAT_TOLERANCE`` (identical up to rounding) has ``H = 0``.
    With ``normalize`` the result is divided by ``ln(bins)`` and lies in ``[0, 1]``.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window > n or window < 3 or bins < 2:
        return out
    returns = log_returns_nb(close)
    counts = np.zeros(bins, dtype=np.int64)
    samples = window - 1
    log_bins = math.log(bins)
    for t in range(window - 1, n):
        first = t - window + 2
        low = returns[first]
        high = returns[first]
        for k in range(first, t + 1):
            low = min(low, returns[k])
            high = max(high, returns[k])
        if high - low <= FLAT_TOLERANCE:
            # Returns equal up to rounding (e.g. a steady exponential trend) are one value.
            out[t] = 0.0
            continue
        counts[:] = 0
        for k in range(first, t + 1):
            counts[histogram_bin_nb(returns[k], low, high, bins)] += 1
        entropy = 0.0
        for b in range(bins):
            if counts[b] > 0:
                p = counts[b] / samples
                entropy -= p * math.log(p)
        out[t] = entropy / log_bins if normalize else entropy
    return out


@njit(cache=True)
def hurst_lags_nb(max_lag: int) -> np.ndarray:
    """Return the lags ``1, 2, 4, ...`` up to ``max_lag`` (powers of two: even spacing in log)."""
    count = 0
    lag = 1
    while lag <= max_lag:
        count += 1
        lag *= 2
    lags = np.empty(count, dtype=np.int64)
    lag = 1
    for i in range(count):
        lags[i] = lag
        lag *= 2
    return lags


@njit(cache=True)
def hurst_nb(close: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """Return the rolling Hurst exponent from the aggregated variance of log-price increments.

    Per window of log closes ``y_0..y_{w-1}`` and lag ``tau`` in ``1, 2, 4, .. <= max_lag``:
    ``V(tau) = mean_k (y_{k+tau} - y_k)^2`` over the ``w - tau`` pairs inside the window.
    ``H`` is the least-squares slope of ``0.5 * ln V(tau)`` on ``ln tau``. Cost O(w log max_lag) per bar.
    Windows where some ``sqrt(V(tau)) <= FLAT_TOLERANCE`` (a flat price) give NaN.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    lags = hurst_lags_nb(max_lag)
    lag_count = lags.shape[0]
    if window > n or lag_count < 2 or max_lag >= window:
        return out
    log_close = np.log(close)
    log_lags = np.log(lags.astype(np.float64))
    mean_log_lag = log_lags.mean()
    sxx = 0.0
    for i in range(lag_count):
        sxx += (log_lags[i] - mean_log_lag) ** 2
    half_log_variance = np.empty(lag_count)
    for t in range(window - 1, n):
        start = t - window + 1
        flat = False
        for i in range(lag_count):
            lag = lags[i]
            total = 0.0
            for k in range(start, t + 1 - lag):
                diff = log_close[k + lag] - log_close[k]
                total += diff * diff
            if total <= FLAT_TOLERANCE * FLAT_TOLERANCE * (window - lag):
                flat = True  # RMS increment within rounding noise: no scaling to measure
                break
            half_log_variance[i] = 0.5 * math.log(total / (window - lag))
        if flat:
            continue
        mean_y = half_log_variance.mean()
        sxy = 0.0
        for i in range(lag_count):
            sxy += (log_lags[i] - mean_log_lag) * (half_log_variance[i] - mean_y)
        out[t] = sxy / sxx
    return out


@njit(cache=True)
def level_edge_weights_nb(prices: np.ndarray, levels: int, weights: np.ndarray) -> bool:
    """Fill ``weights[i]`` with how often consecutive prices cross between levels ``i`` and ``i + 1``.

    Prices are quantised into ``levels`` equal bins over the window's ``[min, max]``; a move from
    level ``a`` to ``b`` crosses every edge between them once (difference array: O(w + L)).
    Return False for a flat window (no edges).
    """
    size = prices.shape[0]
    low = prices[0]
    high = prices[0]
    for k in range(size):
        low = min(low, prices[k])
        high = max(high, prices[k])
    if high - low <= FLAT_TOLERANCE * abs(high):
        return False  # a range within rounding noise of the price has no level structure
    weights[:] = 0.0
    previous = histogram_bin_nb(prices[0], low, high, levels)
    for k in range(1, size):
        current = histogram_bin_nb(prices[k], low, high, levels)
        if current != previous:
            weights[min(current, previous)] += 1.0
            weights[max(current, previous)] -= 1.0
        previous = current
    running = 0.0
    for i in range(levels - 1):
        running += weights[i]
        weights[i] = running
    return True


@njit(cache=True)
def path_edge_curvature_nb(weights: np.ndarray, edge: int, levels: int, idleness: float) -> float:
    """Return the Ollivier-Ricci curvature of edge ``(edge, edge + 1)`` of the weighted level path.

    Lazy walk: ``m_x`` keeps ``idleness`` at ``x`` and spreads the rest over its neighbours in
    proportion to edge weight. On a path with unit edge lengths ``W1`` is the L1 distance between
    the two cumulative distributions, which only differ at nodes ``edge - 1 .. edge + 1``.
    ``kappa = 1 - W1 / d`` with ``d = 1``.
    """
    move = 1.0 - idleness
    w_left = weights[edge - 1] if edge > 0 else 0.0
    w_mid = weights[edge]
    w_right = weights[edge + 1] if edge + 2 < levels else 0.0
    # Mass m_x puts one step left of x, and mass m_y puts one step left of y (i.e. on x).
    x_to_left = move * w_left / (w_left + w_mid)
    y_to_x = move * w_mid / (w_mid + w_right)
    cdf_gap_left = x_to_left  # F_x - F_y at node edge - 1
    cdf_gap_x = abs(x_to_left + idleness - y_to_x)  # at node edge
    cdf_gap_y = abs(1.0 - y_to_x - idleness)  # at node edge + 1; both CDFs are 1 beyond
    return 1.0 - (cdf_gap_left + cdf_gap_x + cdf_gap_y)


@njit(cache=True)
def ricci_curvature_nb(close: np.ndarray, window: int, levels: int, idleness: float) -> np.ndarray:
    """Return the rolling transition-weighted mean Ollivier-Ricci curvature of the price-level graph.

    Per window: the level path graph of :func:`level_edge_weights_nb`, ``kappa`` of every edge from
    :func:`path_edge_curvature_nb`, averaged with the edge weights (crossing counts). The window
    always visits its lowest and highest level, so every edge of the path has weight >= 1.
    Flat windows give NaN. Cost O(w + L) per bar.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window > n or window < 2 or levels < 2:
        return out
    weights = np.zeros(levels)
    for t in range(window - 1, n):
        if not level_edge_weights_nb(close[t - window + 1 : t + 1], levels, weights):
            continue
        total_weight = 0.0
        weighted_sum = 0.0
        for edge in range(levels - 1):
            weighted_sum += weights[edge] * path_edge_curvature_nb(weights, edge, levels, idleness)
            total_weight += weights[edge]
        out[t] = weighted_sum / total_weight
    return out


# ---------------------------------------------------------------------------------------------
# Classic indicators
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def sma_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Return the rolling arithmetic mean over ``window`` values (direct sum: no drift)."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        total = 0.0
        for k in range(t - window + 1, t + 1):
            total += values[k]
        out[t] = total / window
    return out


@njit(cache=True)
def rolling_std_nb(values: np.ndarray, window: int, ddof: int) -> np.ndarray:
    """Return the rolling standard deviation (two-pass per window, numerically stable)."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    if window - ddof <= 0:
        return out
    for t in range(window - 1, n):
        mean = 0.0
        for k in range(t - window + 1, t + 1):
            mean += values[k]
        mean /= window
        total = 0.0
        for k in range(t - window + 1, t + 1):
            total += (values[k] - mean) ** 2
        out[t] = math.sqrt(total / (window - ddof))
    return out


@njit(cache=True)
def zscore_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Return ``(x_t - mean) / std`` over each window (population std); NaN when the std is 0."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    mean = sma_nb(values, window)
    std = rolling_std_nb(values, window, 0)
    for t in range(window - 1, n):
        if std[t] > 0.0:
            out[t] = (values[t] - mean[t]) / std[t]
    return out


@njit(cache=True)
def ema_nb(values: np.ndarray, window: int) -> np.ndarray:
    """Return the EMA with ``alpha = 2 / (window + 1)``, seeded with the SMA of the first window."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    alpha = 2.0 / (window + 1.0)
    seed = 0.0
    for k in range(window):
        seed += values[k]
    current = seed / window
    out[window - 1] = current
    for t in range(window, n):
        current = alpha * values[t] + (1.0 - alpha) * current
        out[t] = current
    return out


@njit(cache=True)
def rsi_nb(close: np.ndarray, window: int) -> np.ndarray:
    """Return Wilder's RSI: averages seeded with the mean of the first ``window`` changes.

    ``avg_t = (avg_{t-1} * (window - 1) + x_t) / window`` for gains and losses;
    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``; 50 when both are 0. First value at ``window``.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window >= n:
        return out
    avg_gain = 0.0
    avg_loss = 0.0
    for t in range(1, window + 1):
        change = close[t] - close[t - 1]
        if change > 0:
            avg_gain += change
        else:
            avg_loss -= change
    avg_gain /= window
    avg_loss /= window
    for t in range(window, n):
        if t > window:
            change = close[t] - close[t - 1]
            gain = change if change > 0 else 0.0
            loss = -change if change < 0 else 0.0
            avg_gain = (avg_gain * (window - 1) + gain) / window
            avg_loss = (avg_loss * (window - 1) + loss) / window
        total = avg_gain + avg_loss
        out[t] = 50.0 if total == 0.0 else 100.0 * avg_gain / total
    return out


@njit(cache=True)
def atr_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Return Wilder's ATR: the mean of true ranges 1..window, then Wilder smoothing. First value at ``window``."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window >= n:
        return out
    current = 0.0
    for t in range(1, n):
        previous = close[t - 1]
        true_range = max(high[t] - low[t], abs(high[t] - previous), abs(low[t] - previous))
        if t <= window:
            current += true_range
            if t == window:
                current /= window
                out[t] = current
        else:
            current = (current * (window - 1) + true_range) / window
            out[t] = current
    return out


# ---------------------------------------------------------------------------------------------
# Pairs: rolling hedge ratio and the hedged spread's z-score
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def rolling_beta_nb(y: np.ndarray, x: np.ndarray, window: int) -> np.ndarray:
    """Return the rolling least-squares slope of ``y`` on ``x`` (with an intercept) over ``window`` bars.

    ``beta_t = sum (x_k - mean x)(y_k - mean y) / sum (x_k - mean x)^2`` over ``k = t - window + 1 .. t``
    (two passes per window). NaN where the window holds a NaN or ``x`` is flat (RMS deviation
    within ``FLAT_TOLERANCE``).
    """
    n = y.shape[0]
    out = np.full(n, np.nan)
    if window < 2 or window > n:
        return out
    for t in range(window - 1, n):
        start = t - window + 1
        mean_x = 0.0
        mean_y = 0.0
        for k in range(start, t + 1):
            mean_x += x[k]
            mean_y += y[k]
        mean_x /= window
        mean_y /= window
        sxx = 0.0
        sxy = 0.0
        for k in range(start, t + 1):
            dx = x[k] - mean_x
            sxx += dx * dx
            sxy += dx * (y[k] - mean_y)
        if sxx > FLAT_TOLERANCE * FLAT_TOLERANCE * window:  # False for NaN too
            out[t] = sxy / sxx
    return out


@njit(cache=True)
def hedged_spread_zscore_nb(y: np.ndarray, x: np.ndarray, beta: np.ndarray, window: int) -> np.ndarray:
    """Return the z-score of ``y_t - beta_t x_t`` among ``y_k - beta_t x_k`` for the last ``window`` bars.

    Every bar's spread history is re-hedged with that bar's own ratio ``beta_t``, so a change of
    hedge ratio does not show up as a jump in the spread. Population std; NaN where ``beta_t`` is
    NaN, during the first ``window - 1`` bars, or where the hedged spread is flat (std within
    ``FLAT_TOLERANCE``).
    """
    n = y.shape[0]
    out = np.full(n, np.nan)
    if window < 2:
        return out
    for t in range(window - 1, n):
        b = beta[t]
        if math.isnan(b):
            continue
        start = t - window + 1
        mean = 0.0
        for k in range(start, t + 1):
            mean += y[k] - b * x[k]
        mean /= window
        total = 0.0
        for k in range(start, t + 1):
            deviation = y[k] - b * x[k] - mean
            total += deviation * deviation
        std = math.sqrt(total / window)
        if std > FLAT_TOLERANCE:
            out[t] = (y[t] - b * x[t] - mean) / std
    return out
