"""Trading costs: proportional fees and slippage (a fixed number of bps, or a bar-range model).

Both are charged by vectorbt on every fill: a buy fills at ``open * (1 + slippage)``, a sell at
``open * (1 - slippage)``, and the fee is ``fees_bps / 10_000`` of the filled notional.

The range model (:class:`RangeSlippage`) follows the square-root market-impact law, with the
signal bar's high-low range standing in for volatility and the order's share of the bar's traded
notional for participation::

    range_bps      = 10_000 * (high - low) / close                 of the signal bar t
    participation  = min(1, notional / (close * volume))          of the signal bar t
    slippage_bps   = min(max_bps, base_bps + impact * range_bps * sqrt(participation))

and applies it to the fill at bar ``t + 1``'s open. Only bars up to the signal bar are used, so the
live engine can compute the same estimate when it places the order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError

__all__ = ["Costs", "FixedSlippage", "RangeSlippage", "SlippageModel", "rate_from_bps"]

BPS = 10_000.0


def rate_from_bps(bps: Decimal | float | int | str) -> Decimal:
    """A fee rate (fraction of notional) from basis points, exactly: ``rate_from_bps(10) == Decimal("0.001")``.

    The one conversion every venue simulation and the backtest use (:mod:`tradepulse.sim.fees`).
    """
    return Decimal(str(bps)) / Decimal(10_000)


def _check_bps(name: str, value: float, high: float = 10_000.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of basis points, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or number > high:
        raise ConfigError(f"{name} must be between 0 and {high:g} bps, got {value!r}")
    return number


@dataclass(frozen=True)
class FixedSlippage:
    """The same slippage on every fill, in basis points of the fill price."""

    bps: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bps", _check_bps("slippage", self.bps, high=1_000.0))

    def fractions(self, bars: pd.DataFrame, notional: float) -> float:
        """Return slippage as a fraction of price (a scalar: it does not vary by bar)."""
        return self.bps / BPS

    def to_dict(self) -> dict[str, Any]:
        return {"model": "fixed", "bps": self.bps}


@dataclass(frozen=True)
class RangeSlippage:
    """Slippage that grows with the signal bar's range and the order's share of its volume.

    Parameters
    ----------
    base_bps
        Floor paid on every fill (half the typical spread).
    impact
        Multiplier on ``range_bps * sqrt(participation)``; 1.0 is a common starting point.
    max_bps
        Cap, so a bar with no volume does not produce an absurd price.
    notional
        Order notional used for participation; ``None`` means the backtest's initial cash (a full
        switch from flat to fully invested).
    """

    base_bps: float = 1.0
    impact: float = 1.0
    max_bps: float = 100.0
    notional: float | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_bps", _check_bps("slippage base", self.base_bps, high=1_000.0))
        object.__setattr__(self, "max_bps", _check_bps("slippage cap", self.max_bps, high=1_000.0))
        if not (math.isfinite(self.impact) and self.impact >= 0):
            raise ConfigError(f"slippage impact must be a non-negative number, got {self.impact!r}")
        if self.max_bps < self.base_bps:
            raise ConfigError(f"slippage cap ({self.max_bps} bps) is below its base ({self.base_bps} bps)")
        if self.notional is not None and not (math.isfinite(self.notional) and self.notional > 0):
            raise ConfigError(f"slippage notional must be positive, got {self.notional!r}")

    def signal_bar_bps(self, bars: pd.DataFrame, notional: float) -> np.ndarray:
        """Return the slippage (bps) of an order decided at each bar's close."""
        high = bars["high"].to_numpy(dtype=np.float64)
        low = bars["low"].to_numpy(dtype=np.float64)
        close = bars["close"].to_numpy(dtype=np.float64)
        volume = np.nan_to_num(bars["volume"].to_numpy(dtype=np.float64), nan=0.0)
        order_notional = self.notional if self.notional is not None else notional
        range_bps = BPS * np.maximum(high - low, 0.0) / close
        with np.errstate(divide="ignore", invalid="ignore"):
            participation = np.minimum(1.0, order_notional / (close * volume))
        participation = np.where(np.isfinite(participation), participation, 1.0)  # no volume: worst case
        return np.minimum(self.max_bps, self.base_bps + self.impact * range_bps * np.sqrt(participation))

    def fractions(self, bars: pd.DataFrame, notional: float) -> np.ndarray:
        """Return slippage per fill bar as a fraction of price (bar ``t`` uses bar ``t-1``'s estimate)."""
        by_signal_bar = self.signal_bar_bps(bars, notional)
        per_fill_bar = np.empty_like(by_signal_bar)
        per_fill_bar[0] = self.base_bps  # nothing fills on the first bar: no signal precedes it
        per_fill_bar[1:] = by_signal_bar[:-1]
        return per_fill_bar / BPS

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "range",
            "base_bps": self.base_bps,
            "impact": self.impact,
            "max_bps": self.max_bps,
            "notional": self.notional,
        }


SlippageModel = FixedSlippage | RangeSlippage


@dataclass(frozen=True)
class Costs:
    """Fees and slippage applied to every fill.

    Examples
    --------
    >>> Costs(fees_bps=10, slippage=FixedSlippage(2)).fee_fraction
    0.001
    """

    fees_bps: float = 10.0
    slippage: SlippageModel = field(default_factory=FixedSlippage)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fees_bps", _check_bps("fees", self.fees_bps, high=1_000.0))
        if not isinstance(self.slippage, (FixedSlippage, RangeSlippage)):
            raise ConfigError(f"slippage must be FixedSlippage or RangeSlippage, got {self.slippage!r}")

    @property
    def fee_fraction(self) -> float:
        return float(rate_from_bps(self.fees_bps))

    def slippage_fractions(self, bars: pd.DataFrame, notional: float) -> float | np.ndarray:
        return self.slippage.fractions(bars, notional)

    def to_dict(self) -> dict[str, Any]:
        return {"fees_bps": self.fees_bps, "slippage": self.slippage.to_dict()}
