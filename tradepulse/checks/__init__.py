"""Evidence about a strategy before it trades: the checks (lookahead, finite memory, determinism, range, parity).

It sits above the engines: the parity check replays the bars through the live engine beside a
backtest, so it may import both (docs/architecture.md).
"""

from __future__ import annotations

from tradepulse.checks.runner import CHECK_NAMES, CheckReport, CheckResult, StrategyFailed, check

__all__ = ["CHECK_NAMES", "CheckReport", "CheckResult", "StrategyFailed", "check"]
