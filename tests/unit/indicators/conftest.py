"""Fixtures for the indicator tests: a seeded random walk next to the real embedded samples.

``hourly_bars`` and ``five_minute_bars`` (the real Binance samples) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from indicator_strategies import geometric_path


@pytest.fixture(scope="session")
def random_walk_close() -> pd.Series:
    """A seeded Gaussian random walk in log price: 20,000 bars, 1% volatility per bar."""
    rng = np.random.default_rng(20240601)
    return pd.Series(geometric_path(rng.normal(0.0, 0.01, 19_999)), name="close")
