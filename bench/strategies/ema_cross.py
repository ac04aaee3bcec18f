"""EMA cross, long above and short below: TradePulse's side of the NautilusTrader comparison.

The same rule as NautilusTrader's example ``EMACross`` (``nautilus_trader.examples.strategies.ema_cross``):
an exponential moving average of the close with ``alpha = 2 / (period + 1)``, seeded with the first
close it sees (NautilusTrader's ``ExponentialMovingAverage``), ready once it has seen ``period``
closes; once both are ready the target is +1 (all equity long) while fast >= slow and -1 (all
equity short) below. The example buys when flat or short while fast >= slow and sells when flat or
long below, which is this target changing.

An EMA never forgets its seed exactly. The live engine evaluates ``signals`` on a rolling window of
``warmup_bars`` bars, so the window is ``history`` bars long: the seed's weight in the slow EMA
after 200 bars is (19/21)^200, about 2e-9 of a price, which cannot flip the sign of fast - slow
except on an exact tie.

Like NautilusTrader's, the strategy also has a per-bar form (:class:`EmaCrossSteps`, used by the
live engine when present): both EMAs carried from the first bar, equal bit for bit to ``signals`` on
the whole history (the backtest); tests hold that. ``signals`` stays the simple form for backtests
and for engines that evaluate a window.

Run it with ``tradepulse live replay FILE --strategy bench/strategies/ema_cross.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradepulse.errors import StrategyError
from tradepulse.strategy import IntParam, Strategy


def ema_seeded_first(values: np.ndarray, period: int) -> np.ndarray:
    """EMA seeded with the first value; NaN until ``period`` values have been seen (NautilusTrader's rule)."""
    from scipy.signal import lfilter  # here, not at the top: importing scipy.signal costs half a second

    out = np.full(values.shape[0], np.nan)
    if values.shape[0] == 0:
        return out
    alpha = 2.0 / (period + 1.0)
    # y[t] = alpha * x[t] + (1 - alpha) * y[t-1], with y[0] = x[0].
    ema, _ = lfilter([alpha], [1.0, alpha - 1.0], values, zi=[(1.0 - alpha) * values[0]])
    out[period - 1 :] = ema[period - 1 :]
    return out


class EmaCross(Strategy):
    """Long all equity while EMA(fast) >= EMA(slow) of the close, short all equity below."""

    name = "ema_cross"

    fast = IntParam(10, min=1, max=2000, doc="bars in the fast EMA")
    slow = IntParam(20, min=2, max=5000, doc="bars in the slow EMA (must exceed fast)")
    history = IntParam(200, min=2, max=100_000, doc="bars the live window holds (the EMAs' memory)")

    def check(self) -> None:
        if self.fast >= self.slow:
            raise StrategyError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")

    @property
    def warmup_bars(self) -> int:
        return max(self.history, self.slow)

    def incremental(self) -> EmaCrossSteps:
        return EmaCrossSteps(self.fast, self.slow)

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        close = np.ascontiguousarray(bars["close"].to_numpy(dtype=np.float64))
        fast = ema_seeded_first(close, self.fast)
        slow = ema_seeded_first(close, self.slow)
        target = np.where(fast >= slow, 1.0, -1.0)
        target[np.isnan(slow)] = np.nan  # not ready: flat
        return pd.Series(target, index=bars.index, name="target", dtype=np.float64)


class EmaCrossSteps:
    """``EmaCross`` one bar at a time: both EMAs carried from the first bar, as NautilusTrader's indicators are.

    Each step is the recursion ``lfilter`` runs, in the same floating-point operations (``y = z +
    alpha * x``, then ``z = -(y * (alpha - 1))``), so the target at every bar equals ``signals`` on
    the whole history up to it bit for bit -- the backtest's value. (The simple form, evaluated live
    on a ``history``-bar window, re-seeds at the window's first close instead.)
    """

    def __init__(self, fast: int, slow: int) -> None:
        self.fast, self.slow = fast, slow
        self._alpha_fast, self._alpha_slow = 2.0 / (fast + 1.0), 2.0 / (slow + 1.0)
        self._carry_fast = self._carry_slow = 0.0
        self.fast_value = self.slow_value = float("nan")  # the EMAs after the last bar (NaN before any)
        self.seen = 0

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float:
        alpha_fast, alpha_slow = self._alpha_fast, self._alpha_slow
        if self.seen == 0:  # lfilter's initial state: zi = (1 - alpha) * x[0]
            self._carry_fast, self._carry_slow = (1.0 - alpha_fast) * close, (1.0 - alpha_slow) * close
        fast = self._carry_fast + alpha_fast * close
        slow = self._carry_slow + alpha_slow * close
        self._carry_fast = 0.0 - fast * (alpha_fast - 1.0)
        self._carry_slow = 0.0 - slow * (alpha_slow - 1.0)
        self.fast_value, self.slow_value = fast, slow
        self.seen += 1
        if self.seen < self.slow:  # the slow EMA is not ready (fast < slow, so neither may be): flat
            return float("nan")
        return 1.0 if fast >= slow else -1.0
