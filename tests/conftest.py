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


# -- journals in both dialects ------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on loopback for this test process (password in TRADEPULSE_STORE_PASSWORD)."""
    from pg_server import PASSWORD, PostgresServer

    server = PostgresServer().start()
    previous = os.environ.get("TRADEPULSE_STORE_PASSWORD")
    os.environ["TRADEPULSE_STORE_PASSWORD"] = PASSWORD
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop("TRADEPULSE_STORE_PASSWORD", None)
        else:
            os.environ["TRADEPULSE_STORE_PASSWORD"] = previous
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_at(request, tmp_path):
    """``journal_at(name)``: where a journal called ``name`` lives, in a SQLite file or a PostgreSQL schema.

    Journal tests take it to run once per dialect: the same assertions hold for both.
    """
    if request.param == "sqlite":
        return lambda name="journal": tmp_path / f"{name}.sqlite"
    server = request.getfixturevalue("postgres_server")
    prefix = f"t{abs(hash(request.node.nodeid)) % 10**10}"
    return lambda name="journal": server.url(f"{prefix}_{name}")
