"""Hypothesis strategies and synthetic paths shared by the indicator tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def geometric_path(log_returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    """Return prices ``start * exp(cumsum(log_returns))`` with the start price first."""
    return start * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)]))


@st.composite
def price_paths(draw, min_size: int = 40, max_size: int = 120) -> np.ndarray:
    """Draw a positive, never-flat price path.

    The drawn returns get a fixed wiggle added so that shrinking (all-equal draws) still yields
    a path whose windows are not straight lines, which would make phase and curvature undefined.
    """
    size = draw(st.integers(min_size, max_size))
    drawn = draw(
        st.lists(st.floats(-0.05, 0.05, allow_nan=False, allow_infinity=False), min_size=size, max_size=size)
    )
    wiggle = 0.01 * np.sin(1.3 * np.arange(size))
    return geometric_path(np.asarray(drawn) + wiggle)[1:]
