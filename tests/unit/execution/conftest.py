"""Fixtures for the execution tests: a real journal file, a deterministic clock, an OMS on both."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `--import-mode=importlib` does not put test folders on sys.path; the helper module lives here.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from execution_helpers import INSTRUMENTS, StepClock  # noqa: E402

from tradepulse.execution import OMS  # noqa: E402
from tradepulse.store import Journal  # noqa: E402


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def journal(journal_path: Path, clock: StepClock):
    with Journal(journal_path, durability="fast", clock=clock) as opened:
        yield opened


@pytest.fixture
def oms(journal: Journal, clock: StepClock) -> OMS:
    return OMS(journal, INSTRUMENTS, clock=clock)
