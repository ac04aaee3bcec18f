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

Run it with ``tradepulse live replay FILE --strategy bench/strategies/ema_cross.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from tradepulse.errors import StrategyError
from tradepulse.strategy import IntParam, Strategy


def ema_seeded_first(values: np.ndarray, period: int) -> np.ndarray:
    """EMA seeded with the first value; NaN until ``period`` values have been seen (NautilusTrader's rule)."""
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

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        close = np.ascontiguousarray(bars["close"].to_numpy(dtype=np.float64))
        fast = ema_seeded_first(close, self.fast)
        slow = ema_seeded_first(close, self.slow)
        target = np.where(fast >= slow, 1.0, -1.0)
        target[np.isnan(slow)] = np.nan  # not ready: flat
        return pd.Series(target, index=bars.index, name="target", dtype=np.float64)
