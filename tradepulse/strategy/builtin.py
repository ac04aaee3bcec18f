"""Built-in strategies: ``sma_cross``, ``mean_reversion`` and ``composite`` (trades the market phase).

The portfolio built-ins (``momentum``, ``pairs``, ``synchrony``) live in
:mod:`tradepulse.strategy.portfolio_builtin`; :data:`BUILTIN_STRATEGIES` names them all.

Every indicator here is computed by direct sums over its window (the ``*_nb`` kernels in
:mod:`tradepulse.indicators.nb`), so the value at a bar depends only on the bars inside its window
and not on how much history came before. That is what lets the live engine, which evaluates a
strategy on a rolling window of ``warmup_bars`` bars, reproduce the backtest bit for bit.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import StrategyError
from tradepulse.indicators import market_phase
from tradepulse.indicators.entropy import DEFAULT_LAG as ENTROPY_LAG
from tradepulse.indicators.nb import sma_nb, zscore_nb
from tradepulse.strategy.base import BoolParam, FloatParam, GridCache, IntParam, Strategy
from tradepulse.strategy.portfolio_builtin import PORTFOLIO_STRATEGIES

__all__ = ["SmaCross", "MeanReversion", "Composite", "BUILTIN_STRATEGIES"]


def _close(bars: pd.DataFrame) -> np.ndarray:
    try:
        close = bars["close"]
    except KeyError:
        raise StrategyError("bars have no 'close' column") from None
    return np.ascontiguousarray(close.to_numpy(dtype=np.float64))


def _as_target_series(values: np.ndarray, bars: pd.DataFrame) -> pd.Series:
    return pd.Series(values, index=bars.index, name="target", dtype=np.float64)


class SmaCross(Strategy):
    """Long while the fast SMA of the close is above the slow one; short (or flat) below it."""

    name = "sma_cross"

    fast = IntParam(10, min=2, max=2000, doc="bars in the fast simple moving average")
    slow = IntParam(30, min=3, max=5000, doc="bars in the slow simple moving average (must exceed fast)")
    allow_short = BoolParam(False, doc="go short when fast < slow instead of flat")

    def check(self) -> None:
        if self.fast >= self.slow:
            raise StrategyError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")

    @property
    def warmup_bars(self) -> int:
        return self.slow

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        close = _close(bars)
        targets = _cross_targets(sma_nb(close, self.fast), sma_nb(close, self.slow), self.allow_short)
        return _as_target_series(targets, bars)

    def incremental(self) -> SmaCrossSteps:
        return SmaCrossSteps(self.fast, self.slow, self.allow_short)

    @classmethod
    def signals_grid(
        cls, bars: pd.DataFrame, combos: Sequence[Mapping[str, Any]], cache: GridCache | None = None
    ) -> np.ndarray:
        # Each distinct window is averaged once (and kept in the sweep's cache across chunks);
        # the crossings of all combinations are then a handful of 2-D array operations.
        cache = cache if cache is not None else GridCache()
        close = _close(bars)
        full = [cls(**combo).params for combo in combos]
        averages = {
            window: cache.get(("sma", window), lambda w=window: sma_nb(close, w))
            for window in sorted({c["fast"] for c in full} | {c["slow"] for c in full})
        }
        fast = np.column_stack([averages[c["fast"]] for c in full])
        slow = np.column_stack([averages[c["slow"]] for c in full])
        allow_short = np.array([c["allow_short"] for c in full], dtype=bool)
        return _cross_targets(fast, slow, allow_short)


class SmaCrossSteps:
    """``sma_cross`` one bar at a time: the same direct sums, in the same order, as :func:`sma_nb`.

    Keeping the last ``slow`` closes and summing each window oldest first gives the very floats the
    kernel gives (a running sum would drift by rounding and could flip a cross on a near tie).
    """

    def __init__(self, fast: int, slow: int, allow_short: bool) -> None:
        self.fast, self.slow, self.allow_short = fast, slow, allow_short
        self._closes: deque[float] = deque(maxlen=slow)

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float:
        closes = self._closes
        closes.append(float(close))
        if len(closes) < self.slow:
            return 0.0  # the slow average is not defined yet: NaN compares False, as in signals
        slow_total = 0.0
        for value in closes:
            slow_total += value
        fast_total = 0.0
        for value in itertools.islice(closes, self.slow - self.fast, self.slow):
            fast_total += value
        fast_mean, slow_mean = fast_total / self.fast, slow_total / self.slow
        if fast_mean > slow_mean:
            return 1.0
        return -1.0 if self.allow_short and fast_mean < slow_mean else 0.0


def _cross_targets(fast: np.ndarray, slow: np.ndarray, allow_short: bool | np.ndarray) -> np.ndarray:
    """+1 where fast > slow, -1 (where shorting is allowed) where fast < slow, else 0 (NaN compares False)."""
    targets = np.greater(fast, slow).astype(np.float64)
    below = np.less(fast, slow)
    below &= allow_short
    targets -= below
    return targets


class MeanReversion(Strategy):
    """Fade z-score extremes: long below -entry_z, short above +entry_z, out when |z| is back inside exit_z.

    A position is also closed ``max_hold_bars`` after its latest entry trigger. That time stop is a
    risk rule and also what keeps the strategy's memory finite: the target at a bar depends only on
    the last ``window + max_hold_bars`` bars, so a live rolling window reproduces it exactly.
    """

    name = "mean_reversion"

    window = IntParam(20, min=3, max=5000, doc="bars in the rolling mean and standard deviation")
    entry_z = FloatParam(2.0, min=0.1, max=10.0, doc="enter when the z-score passes +/- this band")
    exit_z = FloatParam(0.5, min=0.0, max=10.0, doc="exit when the z-score is back inside +/- this band")
    max_hold_bars = IntParam(100, min=1, max=100_000, doc="close a position this many bars after its last trigger")
    allow_short = BoolParam(True, doc="also fade upside extremes with short positions")

    def check(self) -> None:
        if self.exit_z >= self.entry_z:
            raise StrategyError(f"exit_z ({self.exit_z}) must be smaller than entry_z ({self.entry_z})")

    @property
    def warmup_bars(self) -> int:
        return self.window + self.max_hold_bars

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        zscore = zscore_nb(_close(bars), self.window)
        return _as_target_series(self._targets(zscore), bars)

    def incremental(self) -> MeanReversionSteps:
        return MeanReversionSteps(self.window, self.entry_z, self.exit_z, self.max_hold_bars, self.allow_short)

    def _targets(self, zscore: np.ndarray) -> np.ndarray:
        long = _band_position(zscore, self.entry_z, self.exit_z, self.max_hold_bars)
        targets = long.astype(np.float64)
        if self.allow_short:
            targets -= _band_position(-zscore, self.entry_z, self.exit_z, self.max_hold_bars)
        return targets

    @classmethod
    def signals_grid(
        cls, bars: pd.DataFrame, combos: Sequence[Mapping[str, Any]], cache: GridCache | None = None
    ) -> np.ndarray:
        # The z-score is the expensive part and depends on the window only: compute it once per window.
        cache = cache if cache is not None else GridCache()
        close = _close(bars)
        out = np.empty((len(close), len(combos)), dtype=np.float64)
        for column, combo in enumerate(combos):
            strategy = cls(**combo)
            zscore = cache.get(("zscore", strategy.window), lambda w=strategy.window: zscore_nb(close, w))
            out[:, column] = strategy._targets(zscore)
        return out


class MeanReversionSteps:
    """``mean_reversion`` one bar at a time: :func:`zscore_nb`'s sums in its order, and the band as a state.

    The band keeps, per side, the bar of the latest trigger and of the latest release, exactly
    what :func:`_band_position` finds with running maxima.
    """

    def __init__(self, window: int, entry_z: float, exit_z: float, max_hold_bars: int, allow_short: bool) -> None:
        self.window, self.entry_z, self.exit_z = window, entry_z, exit_z
        self.max_hold_bars, self.allow_short = max_hold_bars, allow_short
        self._closes: deque[float] = deque(maxlen=window)
        self._bar = -1
        self._long = [-1, -1]  # latest trigger, latest release
        self._short = [-1, -1]

    def _zscore(self) -> float:
        closes = self._closes
        if len(closes) < self.window:
            return math.nan
        total = 0.0
        for value in closes:
            total += value
        mean = total / self.window
        squares = 0.0
        for value in closes:
            deviation = value - mean
            squares += deviation * deviation
        std = math.sqrt(squares / self.window)
        return (closes[-1] - mean) / std if std > 0.0 else math.nan

    def _held(self, side: list[int], zscore: float) -> bool:
        if zscore < -self.entry_z:
            side[0] = self._bar
        if not zscore < -self.exit_z:  # NaN releases too, as in _band_position
            side[1] = self._bar
        return side[0] > side[1] and self._bar - side[0] < self.max_hold_bars

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float:
        self._closes.append(float(close))
        self._bar += 1
        zscore = self._zscore()
        target = 1.0 if self._held(self._long, zscore) else 0.0
        if self.allow_short and self._held(self._short, -zscore):
            target -= 1.0
        return target


def _band_position(zscore: np.ndarray, entry_z: float, exit_z: float, max_hold_bars: int) -> np.ndarray:
    """True where a long position is held: triggered by z < -entry_z, kept while z < -exit_z.

    Written without a loop over bars: the latest trigger and the latest "back inside the exit band"
    bar are found with running maxima of their indices.
    """
    index = np.arange(len(zscore))
    triggered = zscore < -entry_z
    released = ~(zscore < -exit_z)  # NaN (warm-up, flat prices) releases too
    last_trigger = np.maximum.accumulate(np.where(triggered, index, -1))
    last_release = np.maximum.accumulate(np.where(released, index, -1))
    return (last_trigger > last_release) & (index - last_trigger < max_hold_bars)


class Composite(Strategy):
    """Trade the market phase: with the trend in strong emergence, half size in proto emergence, flat otherwise.

    ``tradepulse.indicators.market_phase`` labels every bar chaotic, proto_emergent,
    strong_emergent, transition or post_emergent with a confidence in [0, 1]. When the confidence
    reaches ``min_confidence``, the strategy takes the direction of the trend (close above or
    below its ``trend_window`` SMA): full size in strong_emergent, ``proto_exposure`` in
    proto_emergent. Chaotic, transition and post-emergent bars are flat.
    """

    name = "composite"

    window = IntParam(64, min=16, max=5000, doc="bars the market-phase indicator looks at")
    trend_window = IntParam(50, min=2, max=5000, doc="bars in the SMA that sets the trend direction")
    min_confidence = FloatParam(0.2, min=0.0, max=1.0, doc="ignore phase labels below this confidence")
    proto_exposure = FloatParam(0.5, min=0.0, max=1.0, doc="exposure in proto_emergent (0 = stay flat)")
    allow_short = BoolParam(True, doc="short a falling trend instead of staying flat")

    @property
    def warmup_bars(self) -> int:
        # The phase's entropy change compares windows ENTROPY_LAG bars apart; one more bar for returns.
        return max(self.window + ENTROPY_LAG + 1, self.trend_window)

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        close = _close(bars)
        phases = _encoded_phases(bars, self.window)
        return _as_target_series(self._targets(phases, close, sma_nb(close, self.trend_window)), bars)

    def _targets(self, phases: np.ndarray, close: np.ndarray, trend_average: np.ndarray) -> np.ndarray:
        trend = np.sign(close - trend_average)  # NaN during the average's warm-up
        if not self.allow_short:
            trend = np.where(trend < 0, 0.0, trend)
        code, confidence = phases[:, 0], phases[:, 1]
        size = np.select([code == _STRONG, code == _PROTO], [1.0, self.proto_exposure], default=0.0)
        confident = confidence >= self.min_confidence  # NaN (no phase yet) is not confident
        return np.where(confident & np.isfinite(trend), size * trend, 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0

    @classmethod
    def signals_grid(
        cls, bars: pd.DataFrame, combos: Sequence[Mapping[str, Any]], cache: GridCache | None = None
    ) -> np.ndarray:
        # The phase (per window) and the trend average (per trend_window) are shared by many combinations.
        cache = cache if cache is not None else GridCache()
        close = _close(bars)
        out = np.empty((len(close), len(combos)), dtype=np.float64)
        for column, combo in enumerate(combos):
            strategy = cls(**combo)
            phases = cache.get(("phase", strategy.window), lambda w=strategy.window: _encoded_phases(bars, w))
            trend_average = cache.get(("sma", strategy.trend_window), lambda w=strategy.trend_window: sma_nb(close, w))
            out[:, column] = strategy._targets(phases, close, trend_average)
        return out


_STRONG, _PROTO = 2.0, 1.0


def _encoded_phases(bars: pd.DataFrame, window: int) -> np.ndarray:
    """Return ``market_phase`` as a float array: column 0 the phase code, column 1 the confidence."""
    phases = market_phase(bars, window=window)
    label = phases["phase"].to_numpy()
    code = np.select([label == "strong_emergent", label == "proto_emergent"], [_STRONG, _PROTO], default=0.0)
    return np.column_stack([code, phases["confidence"].to_numpy(dtype=np.float64)])


BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    **{cls.name: cls for cls in (SmaCross, MeanReversion, Composite)},
    **PORTFOLIO_STRATEGIES,
}
