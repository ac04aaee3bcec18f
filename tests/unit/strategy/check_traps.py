"""Strategies that each fall into one trap the checks must catch (used by test_strategy_checks.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradepulse.strategy import IntParam, Strategy


class PeeksAhead(Strategy):
    """Long when the next close is higher: +71% in a backtest, impossible live."""

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return (bars["close"].shift(-1) > bars["close"]).astype(float)


class ScaledByTheWholeColumn(Strategy):
    """Long in the top tenth of the whole history's range: the maximum is only known at the end."""

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["close"]
        return (close / close.max() > 0.97).astype(float)


class ForgetsItsWarmup(Strategy):
    """A 20-bar average and the default warmup_bars of 1: NaN on every live window, never trades live."""

    window = IntParam(20, min=2, max=500)

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return (bars["close"] > bars["close"].rolling(self.window).mean()).astype(float)


class Unsteady(Strategy):
    """Adds noise from an unseeded generator: the same bars give other targets each time."""

    @property
    def warmup_bars(self) -> int:
        return 2

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        noise = np.random.default_rng().normal(0.0, 1.0, len(bars))
        return pd.Series(np.where(noise > 0, 1.0, 0.0), index=bars.index)


class ChangesItsInput(Strategy):
    """Smooths the close in place: later code sees bars that are not the market's."""

    @property
    def warmup_bars(self) -> int:
        return 5

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        bars["close"] = bars["close"].rolling(5, min_periods=1).mean()
        return (bars["close"].diff() > 0).astype(float)


class OverLeveraged(Strategy):
    """Asks for twice its equity."""

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return pd.Series(2.0, index=bars.index)


class DisagreesLive(Strategy):
    """Its per-bar form is not its simple form: the live engine trades something the backtest never did."""

    window = IntParam(10, min=2, max=500)

    @property
    def warmup_bars(self) -> int:
        return self.window

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return (bars["close"] > bars["close"].rolling(self.window).mean()).astype(float)

    def incremental(self) -> _Contrarian:
        return _Contrarian()


class _Contrarian:
    def __init__(self) -> None:
        self.previous: float | None = None

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float:
        target = 1.0 if self.previous is not None and close < self.previous else 0.0
        self.previous = close
        return target


class Raises(Strategy):
    """Fails on every call."""

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return self._helper(bars)

    def _helper(self, bars: pd.DataFrame) -> pd.Series:
        raise ValueError("window must be positive")


class HoldsInsideTheBand(Strategy):
    """Enter outside a 2-sigma band, hold until the price is back inside: causal, but it remembers its own position."""

    window = IntParam(24, min=3, max=500)

    @property
    def warmup_bars(self) -> int:
        return self.window

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["close"]
        mean, spread = close.rolling(self.window).mean(), close.rolling(self.window).std()
        target, holding = np.zeros(len(close)), 0.0
        for row, (price, middle, width) in enumerate(zip(close.to_numpy(), mean.to_numpy(), spread.to_numpy(), strict=True)):
            if np.isnan(middle):
                continue
            if holding == 0.0 and price < middle - 2 * width:
                holding = 1.0
            elif holding == 1.0 and price > middle:
                holding = 0.0
            target[row] = holding
        return pd.Series(target, index=bars.index)


class HoldsInsideTheBandLive(HoldsInsideTheBand):
    """The same strategy, saying it needs its whole history: the live engine then gives it every bar."""

    full_history = True
