"""vectorbt ``IndicatorFactory`` classes for parameter sweeps over every indicator.

Each class runs the same Numba kernel as the pandas function of the same indicator, once per
parameter combination and column, and returns vectorbt's usual wide output (one column per
combination and input column)::

    KuramotoR.run(close, window=[32, 64, 128]).r              # three columns
    RicciCurvature.run(close, window=64, levels=[6, 8, 12]).ricci
    Bollinger.run(close, window=[20, 50], num_std=[2, 2.5], param_product=True).upper

Importing this module imports vectorbt (several seconds); ``tradepulse.indicators`` loads it
only when one of these names is first used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import vectorbt as vbt

from tradepulse.indicators import nb
from tradepulse.indicators._common import DEFAULT_WINDOW
from tradepulse.indicators.entropy import DEFAULT_BINS, DEFAULT_LAG, lagged_difference
from tradepulse.indicators.hurst import default_max_lag
from tradepulse.indicators.ricci import DEFAULT_IDLENESS, DEFAULT_LEVELS

__all__ = [
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
]


def _per_column(kernel: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Lift a 1-D kernel ``kernel(close, *params)`` to vectorbt's 2-D (bars x columns) inputs."""

    def apply(close: np.ndarray, *params: object) -> np.ndarray:
        out = np.empty(close.shape, dtype=np.float64)
        for col in range(close.shape[1]):
            out[:, col] = kernel(np.ascontiguousarray(close[:, col], dtype=np.float64), *params)
        return out

    return apply


def _factory(
    class_name: str,
    short_name: str,
    param_names: list[str],
    output_names: list[str],
    input_names: tuple[str, ...] = ("close",),
) -> vbt.IndicatorFactory:
    return vbt.IndicatorFactory(
        class_name=class_name,
        short_name=short_name,
        input_names=list(input_names),
        param_names=param_names,
        output_names=output_names,
    )


KuramotoR = _factory("KuramotoR", "kuramoto", ["window"], ["r"]).from_apply_func(
    _per_column(lambda close, window: nb.kuramoto_r_nb(close, int(window))), window=DEFAULT_WINDOW
)

ShannonEntropy = _factory("ShannonEntropy", "entropy", ["window", "bins"], ["entropy"]).from_apply_func(
    _per_column(lambda close, window, bins: nb.shannon_entropy_nb(close, int(window), int(bins), True)),
    window=DEFAULT_WINDOW,
    bins=DEFAULT_BINS,
)

EntropyChange = _factory(
    "EntropyChange", "delta_entropy", ["window", "bins", "lag"], ["delta_entropy"]
).from_apply_func(
    _per_column(
        lambda close, window, bins, lag: lagged_difference(
            nb.shannon_entropy_nb(close, int(window), int(bins), True), int(lag)
        )
    ),
    window=DEFAULT_WINDOW,
    bins=DEFAULT_BINS,
    lag=DEFAULT_LAG,
)

# max_lag=0 stands for the default window // 4 (vectorbt parameters cannot be None).
HurstExponent = _factory("HurstExponent", "hurst", ["window", "max_lag"], ["hurst"]).from_apply_func(
    _per_column(
        lambda close, window, max_lag: nb.hurst_nb(
            close, int(window), int(max_lag) if max_lag else default_max_lag(int(window))
        )
    ),
    window=DEFAULT_WINDOW,
    max_lag=0,
)

RicciCurvature = _factory("RicciCurvature", "ricci", ["window", "levels", "idleness"], ["ricci"]).from_apply_func(
    _per_column(
        lambda close, window, levels, idleness: nb.ricci_curvature_nb(
            close, int(window), int(levels), float(idleness)
        )
    ),
    window=DEFAULT_WINDOW,
    levels=DEFAULT_LEVELS,
    idleness=DEFAULT_IDLENESS,
)

SMA = _factory("SMA", "sma", ["window"], ["sma"]).from_apply_func(
    _per_column(lambda close, window: nb.sma_nb(close, int(window))), window=20
)

EMA = _factory("EMA", "ema", ["window"], ["ema"]).from_apply_func(
    _per_column(lambda close, window: nb.ema_nb(close, int(window))), window=20
)

RSI = _factory("RSI", "rsi", ["window"], ["rsi"]).from_apply_func(
    _per_column(lambda close, window: nb.rsi_nb(close, int(window))), window=14
)

ZScore = _factory("ZScore", "zscore", ["window"], ["zscore"]).from_apply_func(
    _per_column(lambda close, window: nb.zscore_nb(close, int(window))), window=20
)


def _atr_apply(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    out = np.empty(close.shape, dtype=np.float64)
    for col in range(close.shape[1]):
        out[:, col] = nb.atr_nb(
            np.ascontiguousarray(high[:, col], dtype=np.float64),
            np.ascontiguousarray(low[:, col], dtype=np.float64),
            np.ascontiguousarray(close[:, col], dtype=np.float64),
            int(window),
        )
    return out


ATR = _factory("ATR", "atr", ["window"], ["atr"], input_names=("high", "low", "close")).from_apply_func(
    _atr_apply, window=14
)


def _bollinger_apply(close: np.ndarray, window: int, num_std: float):
    lower, middle, upper = (np.empty(close.shape, dtype=np.float64) for _ in range(3))
    for col in range(close.shape[1]):
        column = np.ascontiguousarray(close[:, col], dtype=np.float64)
        middle[:, col] = nb.sma_nb(column, int(window))
        half_width = float(num_std) * nb.rolling_std_nb(column, int(window), 0)
        lower[:, col] = middle[:, col] - half_width
        upper[:, col] = middle[:, col] + half_width
    return lower, middle, upper


Bollinger = _factory("Bollinger", "bollinger", ["window", "num_std"], ["lower", "middle", "upper"]).from_apply_func(
    _bollinger_apply, window=20, num_std=2.0
)
