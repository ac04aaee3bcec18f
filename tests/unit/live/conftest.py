"""Fixtures for the live engine tests: real embedded data, parsed once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def btc_recording_events():
    """Every event of the embedded BTC/USDT recording (both files), parsed once."""
    from tradepulse.adapters.paper.feeds import RecordingFeed

    return list(RecordingFeed.from_source("recording:binance:BTC/USDT").events())
