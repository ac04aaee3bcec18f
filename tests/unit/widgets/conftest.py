"""Widgets run here without a browser or kernel: ipywidgets falls back to inert comms."""

from __future__ import annotations

import pytest

HOURLY = "sample:binance:BTC/USDT:1h"


@pytest.fixture
def hourly_csv(tmp_path, hourly_bars):
    """The hourly sample written as a plain CSV file, as a quant's own data would be."""
    path = tmp_path / "btc_usdt_1h.csv"
    hourly_bars.reset_index().to_csv(path, index=False)
    return path

