"""Built-in portfolio strategies: ``momentum``, ``pairs`` and ``synchrony``.

Each returns target weights per bar and symbol (see :mod:`tradepulse.strategy.portfolio`) and is
causal and finite-memory: the weights on a bar depend only on the last ``warmup_bars`` bars, not on
where the frame starts, so the live engine's rolling window reproduces the backtest's weights
exactly. The rolling statistics are direct sums over their window (the ``*_nb`` kernels in
:mod:`tradepulse.indicators.nb`); the state a strategy keeps between bars (held rankings, an open
spread trade) is bounded in time by a rule of the strategy itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradepulse.errors import StrategyError
from tradepulse.indicators import cross_kuramoto_r
from tradepulse.indicators.nb import hedged_spread_zscore_nb, rolling_beta_nb, sma_nb
from tradepulse.strategy.base import BoolParam, FloatParam, IntParam
from tradepulse.strategy.portfolio import PortfolioStrategy, universe_symbols

__all__ = ["Momentum", "Pairs", "Synchrony", "PORTFOLIO_STRATEGIES", "rebalance_rows"]


def _closes(bars: pd.DataFrame, symbols: list[str]) -> np.ndarray:
    try:
        close = bars["close"]
    except KeyError:
        raise StrategyError("universe bars have no 'close' field") from None
    return np.ascontiguousarray(close.reindex(columns=symbols).to_numpy(dtype=np.float64))


def _weights_frame(values: np.ndarray, bars: pd.DataFrame, symbols: list[str]) -> pd.DataFrame:
    # "+ 0.0" turns -0.0 into 0.0, so printed weights and equality checks stay clean.
    return pd.DataFrame(values + 0.0, index=bars.index, columns=pd.Index(symbols, name="symbol"))


def rebalance_rows(index: pd.DatetimeIndex, every: int) -> np.ndarray:
    """Return, for each bar, the row of the bar that opened its rebalance period.

    Periods are fixed on the clock, not counted from the first bar of the frame: with ``interval``
    the smallest spacing between consecutive bars, bar ``t`` belongs to period
    ``timestamp // (every * interval)`` (timestamps since the Unix epoch, UTC). The first bar
    present in a period rebalances; the others hold. A period spans ``every`` intervals, so it holds
    at most ``every`` bars, and a window of ``every`` bars or more ending at ``t`` holds the bar
    that opened ``t``'s period whatever row the window starts on. When bars are missing (a closed
    market at weekends, a gap), the period is shorter in bars but keeps its place on the clock.

    Example
    -------
    >>> index = pd.date_range("2024-01-01 04:00", periods=5, freq="4h", tz="UTC")
    >>> rebalance_rows(index, 3).tolist()  # 4h periods of 12h: 00:00, 12:00, 00:00 ...
    [0, 0, 2, 2, 2]
    """
    rows = np.arange(len(index))
    if every == 1 or len(index) < 2:
        return rows
    stamps = np.asarray(index.asi8, dtype=np.int64)
    steps = np.diff(stamps)
    steps = steps[steps > 0]
    if not steps.size:
        return np.zeros(len(index), dtype=np.int64)
    period = stamps // (int(steps.min()) * every)
    opens = np.ones(len(index), dtype=bool)
    opens[1:] = period[1:] != period[:-1]
    return np.maximum.accumulate(np.where(opens, rows, 0))


class Momentum(PortfolioStrategy):
    """Portfolio: hold the members with the best trailing return long (and the worst short), rebalanced on a fixed clock.

    On a rebalancing bar the members are ranked by their return over the last ``lookback`` bars
    (``close_t / close_{t-lookback} - 1``; ties go to the member listed first). The ``top`` best are
    held long at ``1 / top`` each. With ``allow_short`` the ``top`` worst are also held short, and
    the book is split evenly: ``+0.5 / top`` on each long, ``-0.5 / top`` on each short (gross 1,
    net 0). Members without a return yet are not ranked; while fewer members than needed have
    one, the strategy is flat.

    Rebalancing happens every ``rebalance`` bar intervals, on periods fixed to the clock
    (:func:`rebalance_rows`: the bar whose ``timestamp // (rebalance * interval)`` differs from the
    previous bar's), so a live window starting on any row rebalances on the same bars as the
    backtest. Between rebalancing bars the weights are held. ``warmup_bars = lookback + rebalance``.
    """

    name = "momentum"
    min_symbols = 2

    lookback = IntParam(30, min=1, max=5000, doc="bars in the trailing return members are ranked by")
    top = IntParam(2, min=1, max=500, doc="members held long (and, with allow_short, short)")
    rebalance = IntParam(1, min=1, max=5000, doc="rebalance every this many bar intervals (clock-anchored)")
    allow_short = BoolParam(False, doc="also short the worst members (longs and shorts 0.5 gross each)")

    @property
    def warmup_bars(self) -> int:
        return self.lookback + self.rebalance

    def check_universe(self, symbols: list[str] | tuple[str, ...]) -> None:
        super().check_universe(symbols)
        needed = 2 * self.top if self.allow_short else self.top
        if needed > len(symbols):
            what = f"top={self.top} long and {self.top} short" if self.allow_short else f"top={self.top}"
            raise StrategyError(f"{self.name}: {what} needs {needed} members, the universe has {len(symbols)}")

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        symbols = universe_symbols(bars)
        self.check_universe(symbols)
        close = _closes(bars, symbols)
        ranked = self._ranked_weights(close)
        held = ranked[rebalance_rows(pd.DatetimeIndex(bars.index), self.rebalance)]
        return _weights_frame(held, bars, symbols)

    def _ranked_weights(self, close: np.ndarray) -> np.ndarray:
        """Weights each bar would get if it were a rebalancing bar, ``(bars, symbols)``."""
        n_bars, n_symbols = close.shape
        trailing = np.full_like(close, np.nan)
        if self.lookback < n_bars:
            trailing[self.lookback :] = close[self.lookback :] / close[: -self.lookback] - 1.0
        valid = np.isfinite(trailing)
        ranked_count = valid.sum(axis=1)
        # Best first; stable, so ties keep column order. Unranked members sort last.
        order = np.argsort(np.where(valid, -trailing, np.inf), axis=1, kind="stable")
        weights = np.zeros((n_bars, n_symbols))
        rows = np.flatnonzero(ranked_count >= (2 * self.top if self.allow_short else self.top))
        share = (0.5 if self.allow_short else 1.0) / self.top
        for rank in range(self.top):
            weights[rows, order[rows, rank]] = share
            if self.allow_short:
                weights[rows, order[rows, ranked_count[rows] - 1 - rank]] = -share
        return weights


class Pairs(PortfolioStrategy):
    """Portfolio (2 symbols): trade the log-price spread of A and B back to its mean, hedged with a rolling OLS ratio.

    With A and B the universe's first and second member:

    - hedge ratio ``beta_t``: least-squares slope (with intercept) of ``log A`` on ``log B`` over the
      last ``window`` bars;
    - spread ``log A_t - beta_t * log B_t``; its z-score ``z_t`` compares it with the spreads of the
      last ``z_window`` bars hedged with the same ``beta_t`` (so a change of ratio is not a jump);
    - short the spread (short A, long ``beta`` B) when ``z > entry_z``, held while ``z > exit_z``;
      long the spread (long A, short ``beta`` B) when ``z < -entry_z``, held while ``z < -exit_z``;
    - a trade is closed ``max_hold_bars`` after the latest bar beyond the entry band (time stop).

    Weights are ``∓gross / (1 + |beta|)`` on A and ``±gross * beta / (1 + |beta|)`` on B, so the gross
    exposure is ``gross``; ``beta`` is the ratio on the latest bar beyond the entry band (fixed
    while the trade is held, so it is not rebalanced on every bar). The time stop bounds the
    strategy's memory: ``warmup_bars = max(window, z_window) + max_hold_bars - 1``.
    :meth:`spread` returns the hedge ratio, spread, z-score and position for charts.
    """

    name = "pairs"
    min_symbols = 2
    max_symbols = 2

    window = IntParam(100, min=3, max=5000, doc="bars in the rolling OLS hedge ratio of log A on log B")
    z_window = IntParam(50, min=3, max=5000, doc="bars the spread's z-score is measured over")
    entry_z = FloatParam(2.0, min=0.1, max=10.0, doc="enter when the spread's z-score passes +/- this band")
    exit_z = FloatParam(0.5, min=0.0, max=10.0, doc="exit when the z-score is back inside +/- this band")
    max_hold_bars = IntParam(100, min=1, max=100_000, doc="close a trade this many bars after its last entry signal")
    gross = FloatParam(1.0, min=0.01, max=1.0, doc="gross exposure of an open trade (|w_A| + |w_B|)")

    def check(self) -> None:
        if self.exit_z >= self.entry_z:
            raise StrategyError(f"exit_z ({self.exit_z}) must be smaller than entry_z ({self.entry_z})")

    @property
    def warmup_bars(self) -> int:
        return max(self.window, self.z_window) + self.max_hold_bars - 1

    def spread(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Return ``hedge_ratio``, ``spread``, ``zscore`` and ``position`` (+1 long spread, -1 short) per bar."""
        symbols = universe_symbols(bars)
        self.check_universe(symbols)
        beta, spread, zscore = self._spread_arrays(_closes(bars, symbols))
        position, _ = self._position(beta, zscore)
        return pd.DataFrame(
            {"hedge_ratio": beta, "spread": spread, "zscore": zscore, "position": position}, index=bars.index
        )

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        symbols = universe_symbols(bars)
        self.check_universe(symbols)
        beta, _, zscore = self._spread_arrays(_closes(bars, symbols))
        position, held_beta = self._position(beta, zscore)
        # An open trade has a finite ratio (its entry bar had a z-score, hence a ratio); flat rows give 0.
        scale = np.where(position != 0, self.gross / (1.0 + np.abs(np.nan_to_num(held_beta))), 0.0)
        weights = np.column_stack([position * scale, -position * scale * np.nan_to_num(held_beta)])
        return _weights_frame(weights, bars, symbols)

    def _spread_arrays(self, close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        log_a = np.ascontiguousarray(np.log(close[:, 0]))
        log_b = np.ascontiguousarray(np.log(close[:, 1]))
        beta = rolling_beta_nb(log_a, log_b, self.window)
        zscore = hedged_spread_zscore_nb(log_a, log_b, beta, self.z_window)
        return beta, log_a - beta * log_b, zscore

    def _position(self, beta: np.ndarray, zscore: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spread position per bar (+1, -1, 0) and the hedge ratio it is held with."""
        long_spread, long_since = _band_hold(-zscore, self.entry_z, self.exit_z, self.max_hold_bars)
        short_spread, short_since = _band_hold(zscore, self.entry_z, self.exit_z, self.max_hold_bars)
        position = long_spread.astype(np.float64) - short_spread
        entry_row = np.where(long_spread, long_since, np.where(short_spread, short_since, 0))
        held_beta = np.where(position != 0, beta[entry_row], np.nan)
        return position, held_beta


def _band_hold(zscore: np.ndarray, entry_z: float, exit_z: float, max_hold_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a trade on ``zscore > entry_z`` is held (until ``zscore <= exit_z`` or the time stop), and its latest trigger row.

    Written without a loop over bars: the latest trigger and the latest release are running
    maxima of their row numbers. NaN releases (no z-score, no trade).
    """
    rows = np.arange(len(zscore))
    triggered = zscore > entry_z
    released = ~(zscore > exit_z)
    last_trigger = np.maximum.accumulate(np.where(triggered, rows, -1))
    last_release = np.maximum.accumulate(np.where(released, rows, -1))
    held = (last_trigger > last_release) & (rows - last_trigger < max_hold_bars)
    return held, np.maximum(last_trigger, 0)


class Synchrony(PortfolioStrategy):
    """Portfolio: hold the members long on equal shares, cut to a fraction when their phases synchronise.

    Synchrony is the Kuramoto order parameter across the members,
    ``R_t = |mean_j exp(i phi_j,t)|`` (:func:`tradepulse.indicators.cross_kuramoto_r`), where
    ``phi_j,t`` is member ``j``'s Hilbert phase from the linearly detrended log close of its last
    ``window`` bars. ``R`` near 1 means the members swing together (diversification is gone and a
    common move is under way); near 0 their cycles are spread.

    Base weights are ``1 / n`` long on every member (with ``trend_window > 0``: only on members
    whose close is above their ``trend_window`` SMA; the rest of the share stays in cash). When
    ``R_t > high`` every weight is multiplied by ``cut``, so the gross exposure falls from at most 1
    to at most ``cut``. Bars without ``R`` (warm-up, or fewer than two members with a phase
    because their price was flat) are flat. The rule looks at the current bar only (no hysteresis),
    so ``warmup_bars = max(window, trend_window)``.
    """

    name = "synchrony"
    min_symbols = 2

    window = IntParam(64, min=8, max=5000, doc="bars each member's Hilbert phase is computed over")
    high = FloatParam(0.8, min=0.0, max=1.0, doc="cut exposure while the order parameter R is above this")
    cut = FloatParam(0.5, min=0.0, max=1.0, doc="fraction of the base weights held while R > high")
    trend_window = IntParam(0, min=0, max=5000, doc="hold a member only above its SMA of this many bars (0: always)")

    @property
    def warmup_bars(self) -> int:
        return max(self.window, self.trend_window)

    def order_parameter(self, bars: pd.DataFrame) -> pd.Series:
        """Return the cross-member Kuramoto order parameter ``R`` per bar (NaN during warm-up)."""
        symbols = universe_symbols(bars)
        closes = pd.DataFrame(_closes(bars, symbols), index=bars.index, columns=symbols)
        return cross_kuramoto_r(closes, window=self.window, min_assets=2).rename("synchrony")

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        symbols = universe_symbols(bars)
        self.check_universe(symbols)
        close = _closes(bars, symbols)
        synchrony = self.order_parameter(bars).to_numpy()
        base = np.full(close.shape, 1.0 / len(symbols))
        if self.trend_window:
            above = np.column_stack(
                [close[:, j] > sma_nb(np.ascontiguousarray(close[:, j]), self.trend_window) for j in range(len(symbols))]
            )
            base = np.where(above, base, 0.0)
        scale = np.where(synchrony > self.high, self.cut, 1.0)
        scale = np.where(np.isnan(synchrony), 0.0, scale)
        return _weights_frame(base * scale[:, None], bars, symbols)


PORTFOLIO_STRATEGIES: dict[str, type[PortfolioStrategy]] = {cls.name: cls for cls in (Momentum, Pairs, Synchrony)}
