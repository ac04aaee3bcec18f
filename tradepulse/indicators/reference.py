"""Straightforward per-window NumPy/SciPy implementations of every indicator.

Each function has the same name, signature and output as the fast one in
:mod:`tradepulse.indicators`, but loops over windows in Python and leans on SciPy for the maths
(``scipy.signal.hilbert``/``detrend``, ``numpy.histogram`` + ``scipy.stats.entropy``,
``numpy.polyfit``, ``scipy.optimize.linprog``). The tests prove the Numba kernels equal these; the
benchmark times both. They are slow on purpose: clarity over speed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.signal
import scipy.sparse
import scipy.sparse.csgraph
import scipy.stats
from scipy.optimize import linprog

from tradepulse.errors import ConfigError, DataError
from tradepulse.indicators import entropy as _entropy
from tradepulse.indicators import hurst as _hurst
from tradepulse.indicators import kuramoto as _kuramoto
from tradepulse.indicators import ricci as _ricci
from tradepulse.indicators._common import DEFAULT_WINDOW, as_series, check_fraction, check_int, price_series, wrap

__all__ = [
    "kuramoto_r",
    "hilbert_phase",
    "cross_kuramoto_r",
    "shannon_entropy",
    "entropy_change",
    "hurst_exponent",
    "ricci_curvature",
    "window_ricci_curvature",
    "sma",
    "ema",
    "rsi",
    "atr",
    "bollinger",
    "zscore",
]

FLAT_TOLERANCE = 1e-12


def _windows(values: np.ndarray, window: int):
    for t in range(window - 1, values.shape[0]):
        yield t, values[t - window + 1 : t + 1]


def _analytic_signal(window_close: np.ndarray) -> np.ndarray | None:
    detrended = scipy.signal.detrend(np.log(window_close), type="linear")
    if np.max(np.abs(detrended)) <= FLAT_TOLERANCE:
        return None
    return scipy.signal.hilbert(detrended)


def kuramoto_r(close: Any, window: int = DEFAULT_WINDOW) -> pd.Series:
    """Compute :func:`tradepulse.indicators.kuramoto_r` window by window with SciPy."""
    series = price_series(close)
    window = check_int(window, "window", _kuramoto.MIN_WINDOW)
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(series.to_numpy(), window):
        analytic = _analytic_signal(chunk)
        if analytic is not None:
            out[t] = np.abs(np.mean(np.exp(1j * np.angle(analytic))))
    return wrap(out, series, "kuramoto_r")


def hilbert_phase(close: Any, window: int = DEFAULT_WINDOW) -> pd.Series:
    """Compute :func:`tradepulse.indicators.hilbert_phase` window by window with SciPy."""
    series = as_series(close)
    window = check_int(window, "window", _kuramoto.MIN_WINDOW)
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(series.to_numpy(), window):
        if np.isnan(chunk).any():
            continue
        analytic = _analytic_signal(chunk)
        if analytic is not None:
            out[t] = np.angle(analytic[-1])
    return wrap(out, series, "phase")


def cross_kuramoto_r(closes: pd.DataFrame, window: int = DEFAULT_WINDOW, min_assets: int = 2) -> pd.Series:
    """Compute :func:`tradepulse.indicators.cross_kuramoto_r` from per-asset SciPy phases."""
    if not isinstance(closes, pd.DataFrame):
        raise DataError("cross_kuramoto_r needs a DataFrame with one column of closes per asset")
    min_assets = check_int(min_assets, "min_assets", 1)
    phases = np.column_stack([hilbert_phase(closes[col], window).to_numpy() for col in closes.columns])
    out = np.full(len(closes), np.nan)
    for t in range(len(closes)):
        present = phases[t][~np.isnan(phases[t])]
        if len(present) >= min_assets and len(present) > 0:
            out[t] = np.abs(np.mean(np.exp(1j * present)))
    return pd.Series(out, index=closes.index, name="cross_kuramoto_r")


def shannon_entropy(
    close: Any, window: int = DEFAULT_WINDOW, bins: int = _entropy.DEFAULT_BINS, normalize: bool = True
) -> pd.Series:
    """Compute :func:`tradepulse.indicators.shannon_entropy` with ``numpy.histogram`` per window."""
    series = price_series(close)
    window = check_int(window, "window", _entropy.MIN_WINDOW)
    bins = check_int(bins, "bins", 2)
    closes = series.to_numpy()
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(closes, window):
        returns = np.log(chunk[1:] / chunk[:-1])
        if returns.max() - returns.min() <= FLAT_TOLERANCE:
            out[t] = 0.0
            continue
        counts, _ = np.histogram(returns, bins=bins)
        value = scipy.stats.entropy(counts)  # normalises the counts; natural log
        out[t] = value / np.log(bins) if normalize else value
    return wrap(out, series, "entropy")


def entropy_change(
    close: Any,
    window: int = DEFAULT_WINDOW,
    bins: int = _entropy.DEFAULT_BINS,
    lag: int = _entropy.DEFAULT_LAG,
    normalize: bool = True,
) -> pd.Series:
    """Compute :func:`tradepulse.indicators.entropy_change` from the reference entropy."""
    lag = check_int(lag, "lag", 1)
    entropy = shannon_entropy(close, window=window, bins=bins, normalize=normalize)
    return (entropy - entropy.shift(lag)).rename("delta_entropy")


def hurst_exponent(close: Any, window: int = DEFAULT_WINDOW, max_lag: int | None = None) -> pd.Series:
    """Compute :func:`tradepulse.indicators.hurst_exponent` with ``numpy.polyfit`` per window."""
    series = price_series(close)
    window = check_int(window, "window", _hurst.MIN_WINDOW)
    max_lag = _hurst.default_max_lag(window) if max_lag is None else check_int(max_lag, "max_lag", 2)
    if max_lag >= window:
        raise ConfigError(f"max_lag must be smaller than window ({window}), got {max_lag}")
    lags = 2 ** np.arange(int(np.floor(np.log2(max_lag))) + 1)
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(np.log(series.to_numpy()), window):
        variances = np.array([np.mean((chunk[lag:] - chunk[:-lag]) ** 2) for lag in lags])
        if (np.sqrt(variances) > FLAT_TOLERANCE).all():
            out[t] = np.polyfit(np.log(lags), 0.5 * np.log(variances), 1)[0]
    return wrap(out, series, "hurst")


def _wasserstein_linprog(mass_from: np.ndarray, mass_to: np.ndarray, distance: np.ndarray) -> float:
    """Solve the optimal-transport LP ``min sum c_ij pi_ij`` with marginals ``mass_from``/``mass_to``."""
    sources = np.flatnonzero(mass_from > 0)
    targets = np.flatnonzero(mass_to > 0)
    cost = distance[np.ix_(sources, targets)].ravel()
    rows, cols = len(sources), len(targets)
    equality = np.zeros((rows + cols, rows * cols))
    for i in range(rows):
        equality[i, i * cols : (i + 1) * cols] = 1.0
    for j in range(cols):
        equality[rows + j, j::cols] = 1.0
    bounds = np.concatenate([mass_from[sources], mass_to[targets]])
    result = linprog(cost, A_eq=equality, b_eq=bounds, bounds=(0, None), method="highs")
    if result.status != 0:
        raise RuntimeError(f"linprog failed: {result.message}")
    return float(result.fun)


def _wasserstein_line(mass_from: np.ndarray, mass_to: np.ndarray, distance: np.ndarray) -> float:
    positions = np.arange(len(mass_from), dtype=float)
    return float(scipy.stats.wasserstein_distance(positions, positions, mass_from, mass_to))


def window_ricci_curvature(
    prices: np.ndarray,
    levels: int = _ricci.DEFAULT_LEVELS,
    idleness: float = _ricci.DEFAULT_IDLENESS,
    w1_solver: str = "linprog",
) -> tuple[float, dict[tuple[int, int], float]]:
    """Return the weighted mean curvature of one window and ``kappa`` per edge.

    Build the level graph generically (no path shortcut): nodes are levels, edge weights count
    the level crossings of consecutive prices, hop distances come from
    ``scipy.sparse.csgraph.shortest_path`` and each ``W1`` from an optimal-transport LP.
    """
    if prices.max() - prices.min() <= FLAT_TOLERANCE * abs(prices.max()):
        return float("nan"), {}
    _, edges = np.histogram(prices, bins=levels)
    level = np.clip(np.digitize(prices, edges[1:-1], right=False), 0, levels - 1)
    adjacency = np.zeros((levels, levels))
    for a, b in zip(level[:-1], level[1:]):
        for i in range(min(a, b), max(a, b)):
            adjacency[i, i + 1] += 1.0
            adjacency[i + 1, i] += 1.0
    distance = scipy.sparse.csgraph.shortest_path(scipy.sparse.csr_matrix(adjacency), unweighted=True)
    degree = adjacency.sum(axis=1)

    def measure(node: int) -> np.ndarray:
        mass = np.zeros(levels)
        mass[node] = idleness
        mass += (1.0 - idleness) * adjacency[node] / degree[node]
        return mass

    solve = _wasserstein_linprog if w1_solver == "linprog" else _wasserstein_line
    curvature: dict[tuple[int, int], float] = {}
    for x, y in zip(*np.nonzero(np.triu(adjacency))):
        curvature[(int(x), int(y))] = 1.0 - solve(measure(x), measure(y), distance) / distance[x, y]
    weights = np.array([adjacency[edge] for edge in curvature])
    mean = float(np.sum(weights * np.array(list(curvature.values()))) / weights.sum())
    return mean, curvature


def ricci_curvature(
    close: Any,
    window: int = DEFAULT_WINDOW,
    levels: int = _ricci.DEFAULT_LEVELS,
    idleness: float = _ricci.DEFAULT_IDLENESS,
    w1_solver: str = "linprog",
) -> pd.Series:
    """Compute :func:`tradepulse.indicators.ricci_curvature` with one LP per edge and window.

    ``w1_solver="linprog"`` (default) solves each transport problem with HiGHS (about 1.5 ms each,
    ``levels - 1`` per window); ``"line"`` uses ``scipy.stats.wasserstein_distance`` on the level
    positions instead, valid because the hop distance between levels is ``|i - j|``, and about 20x
    faster, for long benchmark runs.
    """
    series = price_series(close)
    window = check_int(window, "window", _ricci.MIN_WINDOW)
    levels = check_int(levels, "levels", 2)
    idleness = check_fraction(idleness, "idleness")
    if w1_solver not in ("linprog", "line"):
        raise ConfigError(f"w1_solver must be 'linprog' or 'line', got {w1_solver!r}")
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(series.to_numpy(), window):
        out[t] = window_ricci_curvature(chunk, levels, idleness, w1_solver)[0]
    return wrap(out, series, "ricci")


# ---------------------------------------------------------------------------------------------
# Classic indicators, written as the textbook recursions
# ---------------------------------------------------------------------------------------------


def sma(values: Any, window: int = 20) -> pd.Series:
    """Compute :func:`tradepulse.indicators.sma` as ``numpy.mean`` per window."""
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 1)
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(series.to_numpy(), window):
        out[t] = np.mean(chunk)
    return wrap(out, series, "sma")


def ema(values: Any, window: int = 20) -> pd.Series:
    """Compute :func:`tradepulse.indicators.ema` with a plain Python recursion."""
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 1)
    x = series.to_numpy()
    out = np.full(len(x), np.nan)
    if window <= len(x):
        alpha = 2.0 / (window + 1.0)
        out[window - 1] = np.mean(x[:window])
        for t in range(window, len(x)):
            out[t] = alpha * x[t] + (1.0 - alpha) * out[t - 1]
    return wrap(out, series, "ema")


def rsi(close: Any, window: int = 14) -> pd.Series:
    """Compute :func:`tradepulse.indicators.rsi` with a plain Python recursion."""
    series = price_series(close, positive=False)
    window = check_int(window, "window", 1)
    change = np.diff(series.to_numpy(), prepend=np.nan)
    gains, losses = np.clip(change, 0, None), np.clip(-change, 0, None)
    out = np.full(len(change), np.nan)
    if window < len(change):
        avg_gain, avg_loss = np.mean(gains[1 : window + 1]), np.mean(losses[1 : window + 1])
        for t in range(window, len(change)):
            if t > window:
                avg_gain = (avg_gain * (window - 1) + gains[t]) / window
                avg_loss = (avg_loss * (window - 1) + losses[t]) / window
            if avg_gain + avg_loss == 0:
                out[t] = 50.0
            elif avg_loss == 0:
                out[t] = 100.0
            else:
                out[t] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return wrap(out, series, "rsi")


def atr(high: Any, low: Any, close: Any, window: int = 14) -> pd.Series:
    """Compute :func:`tradepulse.indicators.atr` with a plain Python recursion."""
    h = price_series(high, "high", positive=False).to_numpy()
    l = price_series(low, "low", positive=False).to_numpy()  # noqa: E741
    close_s = price_series(close, positive=False)
    c = close_s.to_numpy()
    window = check_int(window, "window", 1)
    true_range = np.full(len(c), np.nan)
    for t in range(1, len(c)):
        true_range[t] = max(h[t] - l[t], abs(h[t] - c[t - 1]), abs(l[t] - c[t - 1]))
    out = np.full(len(c), np.nan)
    if window < len(c):
        out[window] = np.mean(true_range[1 : window + 1])
        for t in range(window + 1, len(c)):
            out[t] = (out[t - 1] * (window - 1) + true_range[t]) / window
    return wrap(out, close_s, "atr")


def bollinger(values: Any, window: int = 20, num_std: float = 2.0) -> pd.DataFrame:
    """Compute :func:`tradepulse.indicators.bollinger` with ``numpy.mean``/``numpy.std`` per window."""
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 2)
    middle = np.full(len(series), np.nan)
    std = np.full(len(series), np.nan)
    for t, chunk in _windows(series.to_numpy(), window):
        middle[t], std[t] = np.mean(chunk), np.std(chunk)
    return pd.DataFrame(
        {"lower": middle - num_std * std, "middle": middle, "upper": middle + num_std * std}, index=series.index
    )


def zscore(values: Any, window: int = 20) -> pd.Series:
    """Compute :func:`tradepulse.indicators.zscore` with ``scipy.stats.zscore`` per window."""
    series = price_series(values, "values", positive=False)
    window = check_int(window, "window", 2)
    out = np.full(len(series), np.nan)
    for t, chunk in _windows(series.to_numpy(), window):
        if np.std(chunk) > 0:
            out[t] = scipy.stats.zscore(chunk)[-1]
    return wrap(out, series, "zscore")
