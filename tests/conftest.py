"""Fixtures shared by the whole suite: real embedded data, and a runner for the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / ".cache" / "numba"))

HOURLY = "sample:binance:BTC/USDT:1h"
FIVE_MINUTE = "sample:binance:BTC/USDT-PERP:5m"


@pytest.fixture(scope="session")
def hourly_bars() -> pd.DataFrame:
    from tradepulse.data import load_bars

    return load_bars(HOURLY)


@pytest.fixture(scope="session")
def five_minute_bars() -> pd.DataFrame:
    from tradepulse.data import load_bars

    return load_bars(FIVE_MINUTE)


@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None) -> CommandResult:
    """Run the real ``tradepulse`` command in a subprocess, as a user would (``env`` adds variables)."""
    completed = subprocess.run(
        [sys.executable, "-m", "tradepulse.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
    )
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def cli():
    return run_cli
