"""Fixtures for the risk tests: a clock moved by hand (tests never sleep)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `--import-mode=importlib` does not put test folders on sys.path; the helper module lives here.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from risk_fakes import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
