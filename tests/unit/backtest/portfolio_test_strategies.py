"""Small portfolio strategies the portfolio backtest, sweep and walk-forward tests share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradepulse.errors import StrategyError
from tradepulse.strategy import IntParam, PortfolioStrategy


class Rotation(PortfolioStrategy):
    """Hold the member with the best return over ``lookback`` bars, at ``weight_pct`` percent of equity."""

    lookback = IntParam(12, min=1, max=500)
    weight_pct = IntParam(90, min=0, max=300)

    @property
    def warmup_bars(self) -> int:
        return self.lookback + 1

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        momentum = close / close.shift(self.lookback) - 1.0
        best = momentum.to_numpy().argmax(axis=1)
        weights = np.zeros(close.shape)
        weights[np.arange(len(close)), best] = self.weight_pct / 100
        weights[momentum.isna().any(axis=1).to_numpy()] = 0.0
        return pd.DataFrame(weights, index=close.index, columns=close.columns)


class AboveAverage(PortfolioStrategy):
    """Hold each of the first ``members`` members on 1/members of equity while its close is above its SMA(``window``).

    Needs at least ``members`` members (a rule on the universe); ``signals_grid`` evaluates many
    combinations at once and counts its calls in ``grid_calls``.
    """

    window = IntParam(20, min=2, max=500)
    members = IntParam(2, min=1, max=50)
    grid_calls = 0

    @property
    def warmup_bars(self) -> int:
        return self.window

    def check_universe(self, symbols):
        super().check_universe(symbols)
        if self.members > len(symbols):
            raise StrategyError(f"{self.name}: members={self.members} needs {self.members} members, the universe has {len(symbols)}")

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        above = (close > close.rolling(self.window).mean()).to_numpy(dtype=float)
        above[:, self.members :] = 0.0
        return pd.DataFrame(above / self.members, index=close.index, columns=close.columns)

    @classmethod
    def signals_grid(cls, bars, combos, cache=None):
        cls.grid_calls += 1
        return np.hstack([cls(**combo).signals(bars).to_numpy() for combo in combos])
