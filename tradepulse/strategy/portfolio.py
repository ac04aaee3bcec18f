"""Portfolio strategies: one strategy over a universe, returning target weights per symbol per bar.

A portfolio strategy receives the universe's wide bar frame, whose columns are ``(field, symbol)``
pairs (``bars["close"]`` is a ``bars x symbols`` frame), and returns a frame of target weights of
the same shape as ``bars["close"]``: the share of total equity to hold in each symbol, positive
long, negative short, NaN meaning 0. Its gross exposure (the sum of absolute weights on a bar) must
stay within :attr:`PortfolioStrategy.max_gross_exposure`; the backtest and the live engine check it.

A single-symbol strategy runs over a universe unchanged through :class:`EqualShare`: each member
gets its own signal, scaled to an equal share (1/n) of equity.

Example
-------
>>> class EqualWeight(PortfolioStrategy):
...     '''Hold every member with the same weight.'''
...     def signals(self, bars):
...         close = bars["close"]
...         return close * 0.0 + 1.0 / close.shape[1]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tradepulse.errors import StrategyError
from tradepulse.strategy.base import Strategy

__all__ = ["EqualShare", "PortfolioStrategy", "as_portfolio", "check_weights", "member_bars", "universe_symbols"]

#: Tolerance on the gross exposure check: weights summed in floating point may exceed a limit of 1 by a hair.
GROSS_TOLERANCE = 1e-9


def universe_symbols(bars: pd.DataFrame) -> list[str]:
    """Return the symbols of a universe's wide bar frame, in column order."""
    if not isinstance(bars.columns, pd.MultiIndex) or bars.columns.nlevels != 2:
        raise StrategyError("a portfolio strategy needs a universe's bars: columns (field, symbol), e.g. Universe.bars")
    return list(dict.fromkeys(bars.columns.get_level_values(1)))


def member_bars(bars: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return one symbol's single-symbol bar frame out of a universe's wide frame."""
    frame = bars.xs(symbol, axis=1, level=1)
    frame.columns.name = None
    return frame


class PortfolioStrategy(Strategy):
    """Base class of strategies over a universe: ``signals(bars)`` returns weights, ``bars x symbols``.

    Subclasses declare typed parameters exactly as single-symbol strategies do, may set
    :attr:`min_symbols` / :attr:`max_symbols`, and override :attr:`max_gross_exposure` when they
    hold more than 100% of equity gross (a long/short book).
    """

    #: Members the strategy needs at least / at most (``pairs`` needs exactly two).
    min_symbols: ClassVar[int] = 1
    max_symbols: ClassVar[int | None] = None
    is_portfolio: ClassVar[bool] = True

    @property
    def max_gross_exposure(self) -> float:
        """The most gross exposure (sum of |weight|) the strategy may ask for on any bar."""
        return 1.0

    def check_universe(self, symbols: list[str] | tuple[str, ...]) -> None:
        """Raise StrategyError when the strategy cannot run over these members."""
        count = len(symbols)
        if count < self.min_symbols or (self.max_symbols is not None and count > self.max_symbols):
            wanted = (
                f"exactly {self.min_symbols}"
                if self.max_symbols == self.min_symbols
                else f"at least {self.min_symbols}" + (f" and at most {self.max_symbols}" if self.max_symbols else "")
            )
            raise StrategyError(f"{self.name} needs {wanted} symbols, got {count} ({', '.join(symbols)})")

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        """Return target weights per bar and symbol (rows = bars, columns = symbols; NaN = 0)."""
        raise NotImplementedError(f"strategy {self.name!r} does not implement signals(bars)")

    def latest_target(self, bars: pd.DataFrame) -> float:
        raise StrategyError(f"{self.name} is a portfolio strategy: use latest_targets(bars) for its weights")

    def latest_targets(self, bars: pd.DataFrame) -> dict[str, float]:
        """Return ``{symbol: weight}`` for the last bar of ``bars`` (what the live engine acts on)."""
        symbols = universe_symbols(bars)
        weights = check_weights(self.signals(bars), bars, symbols, self.name, self.max_gross_exposure)
        return {symbol: float(weights[-1, column]) for column, symbol in enumerate(symbols)}


class EqualShare(PortfolioStrategy):
    """Run a single-symbol strategy on every member, each on an equal share (1/n) of equity."""

    name = "equal_share"

    def __init__(self, strategy: Strategy, **params: Any) -> None:
        if isinstance(strategy, PortfolioStrategy):
            raise StrategyError(f"{strategy.name} is already a portfolio strategy")
        self.inner = strategy.with_params(**params) if params else strategy
        self._values = self.inner.params
        # Reports and the journal name the user's strategy, not the wrapper.
        self.name = self.inner.name  # type: ignore[misc]

    @property
    def params(self) -> dict[str, Any]:
        return self.inner.params

    @property
    def warmup_bars(self) -> int:
        return self.inner.warmup_bars

    def with_params(self, **changes: Any) -> EqualShare:
        return EqualShare(self.inner.with_params(**changes))

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        symbols = universe_symbols(bars)
        share = 1.0 / len(symbols)
        columns = {}
        for symbol in symbols:
            targets = np.asarray(self.inner.signals(member_bars(bars, symbol)), dtype=np.float64)
            # Each member's own target must be an exposure as for one symbol; the gross check alone
            # would let one member take n times its share while the others sit flat.
            outside = np.abs(np.nan_to_num(targets)) > 1.0
            if outside.any():
                bad = targets[np.argmax(outside)]
                raise StrategyError(f"{self.inner.name} on {symbol}: target exposure must be within [-1, 1], got {bad:g}")
            columns[symbol] = targets * share
        return pd.DataFrame(columns, index=bars.index)

    def __repr__(self) -> str:
        return f"EqualShare({self.inner!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EqualShare) and other.inner == self.inner

    def __hash__(self) -> int:
        return hash((EqualShare, self.inner))


def as_portfolio(strategy: Strategy) -> PortfolioStrategy:
    """Return ``strategy`` itself if it is a portfolio strategy, else it wrapped in :class:`EqualShare`."""
    return strategy if isinstance(strategy, PortfolioStrategy) else EqualShare(strategy)


def check_weights(
    weights: pd.DataFrame | np.ndarray | Mapping[str, Any],
    bars: pd.DataFrame,
    symbols: list[str] | tuple[str, ...],
    source: str,
    max_gross_exposure: float = 1.0,
) -> np.ndarray:
    """Return weights as a ``(bars, symbols)`` float array: NaN becomes 0, gross exposure checked.

    A frame must be indexed like the bars and hold one column per symbol (in any order; missing
    symbols are an error, extra ones too). Raise StrategyError naming the first bar over the limit.
    """
    n_rows = len(bars)
    if isinstance(weights, pd.Series):
        raise StrategyError(f"{source}: a portfolio strategy must return a DataFrame (bars x symbols), got a Series")
    if isinstance(weights, pd.DataFrame):
        if len(weights) != n_rows or not weights.index.equals(bars.index):
            raise StrategyError(f"{source}: weights must have one row per bar, indexed like the bars")
        names = [str(c) for c in weights.columns]
        missing = [s for s in symbols if s not in names]
        extra = [c for c in names if c not in symbols]
        if missing or extra:
            what = f"lack {', '.join(missing)}" if missing else f"name unknown symbol(s) {', '.join(extra)}"
            raise StrategyError(f"{source}: weights {what}; columns must be the universe's symbols")
        weights = weights.reindex(columns=list(symbols))
        array = weights.to_numpy()
    else:
        array = np.asarray(weights)
    try:
        values = np.array(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise StrategyError(f"{source}: weights must be numbers (share of equity per symbol)") from None
    if values.shape != (n_rows, len(symbols)):
        raise StrategyError(f"{source}: weights must have shape ({n_rows}, {len(symbols)}), got {values.shape}")
    values[np.isnan(values)] = 0.0
    if not np.isfinite(values).all():
        raise StrategyError(f"{source}: weights must be finite")
    gross = np.abs(values).sum(axis=1)
    over = np.flatnonzero(gross > max_gross_exposure + GROSS_TOLERANCE)
    if over.size:
        row = int(over[0])
        stamp = bars.index[row]
        when = stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)
        raise StrategyError(
            f"{source}: gross exposure {gross[row]:.4g} at {when} exceeds the strategy's limit "
            f"{max_gross_exposure:g} ({over.size} bar(s) over)"
        )
    return values

