"""TradePulse: research-to-live trading on real market data.

The package is organised as the design card fixes it: ``data`` (bars and real datasets),
``indicators`` (TradePulse's signature indicators and classic ones), ``strategy`` (one class,
two runners), ``backtest`` (vectorbt underneath), and the command line in ``cli``.
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"

# Numba writes compile caches next to the source by default, which fails in read-only installs
# and litters site-packages. Keep them in a per-user cache unless the project (Makefile) set one.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tradepulse" / "numba")
)

from tradepulse.errors import ConfigError, DataError, StrategyError, TradePulseError  # noqa: E402

__all__ = ["__version__", "TradePulseError", "ConfigError", "DataError", "StrategyError", "check", "promote"]


def __getattr__(name: str) -> object:
    # ``tradepulse.check(strategy, bars)`` for notebooks, loaded on first use: the checks import
    # the backtest and the live engine, which ``import tradepulse`` alone should not pay for.
    if name == "check":
        from tradepulse.checks import check

        return check
    if name == "promote":
        from tradepulse.promotion import promote

        return promote
    raise AttributeError(f"module 'tradepulse' has no attribute {name!r}")
