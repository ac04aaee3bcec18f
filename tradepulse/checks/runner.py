"""Strategy checks: does a strategy see the future, does it fit the live engine's window, is it sane?

A backtest happily reports +71% for a strategy reading ``close.shift(-1)``, and the live engine
quietly never trades one whose rolling indicators need more history than its ``warmup_bars``.
:func:`check` runs the strategy on real bars and says so, with the first bar and the size of what
it found (freqtrade's ``lookahead-analysis`` and ``recursive-analysis`` do the same for its users):

``lookahead``
    Signals recomputed on histories cut at several bars, and on histories whose bars after the cut
    are perturbed; any change at or before the cut is the strategy reading later bars.
``finite_memory``
    The live engine evaluates ``signals`` on the last ``warmup_bars`` bars only. The last row of
    each such window must equal the full-history row; if not, the smallest warm-up that makes
    them equal, or that none does within a bound.
``determinism``
    The same bars twice give the same signals, and the strategy leaves its input alone.
``range``
    Every value is finite (NaN means flat) and within the strategy's limits: [-1, 1] for a
    single-symbol target, each weight in [-1, 1] and the gross exposure within the strategy's
    ``max_gross_exposure`` for a portfolio.
``parity``
    A live replay of the bars through the engine and the paper venue gives the backtest's fills
    (single-symbol strategies): same bars, same sides, same count.

A strategy that raises is reported with its exception and its own frames, not the library's.
"""

from __future__ import annotations

import html
import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import DataError, StrategyError
from tradepulse.strategy.base import Strategy, live_window_bars

__all__ = ["CHECK_NAMES", "CheckReport", "CheckResult", "StrategyFailed", "check"]

CHECK_NAMES = ("lookahead", "finite_memory", "determinism", "range", "parity")
#: Cut points tried by the history checks (spread over the bars after the warm-up, the last included).
CUTS = 16
#: The warm-up search stops here (bars), or at half the data when that is less.
MAX_WARMUP = 5_000


class StrategyFailed(StrategyError):
    """The strategy raised while being checked; ``frames`` are its own (file, line, function, code)."""

    def __init__(self, strategy: Strategy, error: BaseException) -> None:
        self.error = error
        source = _source_file(strategy)
        frames = [frame for frame in traceback.extract_tb(error.__traceback__) if source and frame.filename == source]
        self.frames = frames
        where = "; ".join(f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}" for frame in frames[-3:])
        super().__init__(f"strategy {strategy.name} raised {type(error).__name__}: {error}" + (f" (at {where})" if where else ""))


@dataclass(frozen=True)
class CheckResult:
    """One check: its name, whether it passed, what it found in words, and the figures behind them."""

    name: str
    passed: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, **({"data": self.data} if self.data else {})}


@dataclass
class CheckReport:
    """Every check's result for one strategy on one set of bars; renders as HTML in a notebook."""

    strategy: str
    params: dict[str, Any]
    bars: int
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """``{"passed": bool, "checks": [{"name", "passed", "detail"}, ...]}`` plus the strategy and its parameters."""
        return {"passed": self.passed, "strategy": self.strategy, "params": self.params, "bars": self.bars,
                "checks": [result.to_dict() for result in self.checks]}

    def summary(self) -> str:
        lines = [f"{self.strategy} {self.params} on {self.bars:,} bars: {'passed' if self.passed else 'FAILED'}"]
        lines += [f"  {'pass' if result.passed else 'FAIL'}  {result.name:<14} {result.detail}" for result in self.checks]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='color:{'#1a7f37' if result.passed else '#cf222e'};font-weight:bold'>"
            f"{'pass' if result.passed else 'FAIL'}</td><td><code>{html.escape(result.name)}</code></td>"
            f"<td style='text-align:left'>{html.escape(result.detail)}</td></tr>"
            for result in self.checks
        )
        verdict = "passed" if self.passed else "failed"
        return (f"<div><b>{html.escape(self.strategy)}</b> {html.escape(str(self.params))} on {self.bars:,} bars: "
                f"<b>{verdict}</b><table><tr><th></th><th>check</th><th style='text-align:left'>finding</th></tr>{rows}</table></div>")


def check(
    strategy: Strategy,
    data: Any,
    *,
    checks: Sequence[str] = CHECK_NAMES,
    costs: Any = None,
    seed: int = 7,
) -> CheckReport:
    """Run the named checks on ``strategy`` over ``bars`` and return a :class:`CheckReport`.

    ``data`` is a single-symbol bar frame (:func:`tradepulse.data.load_bars`) or, for a portfolio
    strategy, a :class:`~tradepulse.data.Universe`. Raises :class:`StrategyFailed` when the
    strategy raises on the full bars, :class:`~tradepulse.errors.DataError` for unusable data.

    Examples
    --------
    >>> from tradepulse.data import load_bars
    >>> from tradepulse.strategy import load_strategy
    >>> report = check(load_strategy("sma_cross")(), load_bars("sample:binance:BTC/USDT:1h"), checks=["lookahead"])
    >>> report.passed
    True
    """
    unknown = [name for name in checks if name not in CHECK_NAMES]
    if unknown:
        raise StrategyError(f"unknown check(s) {', '.join(unknown)}; the checks are {', '.join(CHECK_NAMES)}")
    universe = data if hasattr(data, "bars") and hasattr(data, "symbols") else None
    bars = universe.bars if universe is not None else data
    if _is_portfolio(strategy) and universe is None:
        raise DataError(f"{strategy.name} is a portfolio strategy: check it on a universe (tradepulse.data.load_universe)")
    if not _is_portfolio(strategy) and universe is not None:
        raise DataError(f"{strategy.name} is a single-symbol strategy: check it on one symbol's bars")
    if not isinstance(bars, pd.DataFrame) or len(bars) < 3:
        raise DataError(f"checks need at least 3 bars, got {len(bars) if isinstance(bars, pd.DataFrame) else type(bars).__name__}")
    # The strategy gets copies: one that modifies its input must not change the caller's bars.
    given = bars.copy()
    full = _evaluate(strategy, given)
    changed_input = not given.equals(bars)
    runners: dict[str, Callable[[], CheckResult]] = {
        "lookahead": lambda: _lookahead(strategy, bars, full, seed),
        "finite_memory": lambda: _finite_memory(strategy, bars, full),
        "determinism": lambda: _determinism(strategy, bars, full, changed_input),
        "range": lambda: _range(strategy, full, bars),
        "parity": lambda: _portfolio_parity(strategy, universe, costs) if universe is not None else _parity(strategy, bars, costs),
    }
    results = []
    for name in checks:
        try:
            results.append(runners[name]())
        except StrategyFailed as failure:
            results.append(CheckResult(name, False, str(failure)))
    return CheckReport(strategy.name, dict(strategy.params), len(bars), results)


# -- evaluation ----------------------------------------------------------------------------------


def _is_portfolio(strategy: Strategy) -> bool:
    return bool(getattr(strategy, "is_portfolio", False))


def _evaluate(strategy: Strategy, bars: pd.DataFrame) -> np.ndarray:
    """The strategy's raw signals as a 2-D float array (rows = bars, one column per symbol)."""
    try:
        signals = strategy.signals(bars)
    except Exception as error:  # noqa: BLE001 - the strategy's own failure, reported as such
        raise StrategyFailed(strategy, error) from None
    if isinstance(signals, pd.DataFrame):
        values = signals.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(signals, dtype=np.float64)
        values = values.reshape(-1, 1) if values.ndim == 1 else values
    if values.shape[0] != len(bars):
        raise StrategyFailed(strategy, StrategyError(f"signals has {values.shape[0]} rows for {len(bars)} bars"))
    return values


def _latest(strategy: Strategy, window: pd.DataFrame) -> np.ndarray:
    """What the live engine acts on for the last bar of ``window`` (NaN is flat)."""
    return np.nan_to_num(_evaluate(strategy, window)[-1], nan=0.0)


def _cuts(length: int, first: int) -> list[int]:
    first = min(max(first, 1), length - 1)
    return sorted({int(round(value)) for value in np.linspace(first, length - 1, CUTS)})


def _first_difference(a: np.ndarray, b: np.ndarray) -> tuple[int, float] | None:
    """Row of the first difference (NaN equals NaN) and the largest difference there, or ``None``."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return None
    row = int(np.argmax(~same.all(axis=1)))
    with np.errstate(invalid="ignore"):
        size = np.nanmax(np.abs(np.nan_to_num(a[row], nan=0.0) - np.nan_to_num(b[row], nan=0.0)))
    return row, float(size) if math.isfinite(size) else float("inf")


def _bar_label(bars: pd.DataFrame, row: int) -> str:
    stamp = bars.index[row]
    return stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)


# -- the checks ----------------------------------------------------------------------------------


def _perturbed(bars: pd.DataFrame, cut: int, rng: np.random.Generator) -> pd.DataFrame:
    """``bars`` with every bar after ``cut`` moved: prices scaled together per bar, volume rescaled."""
    changed = bars.copy()
    later = len(bars) - cut - 1
    if later <= 0:
        return changed
    price_factor = np.exp(np.cumsum(rng.normal(0.0, 0.02, later)))
    volume_factor = rng.uniform(0.3, 3.0, later)
    fields = changed.columns.get_level_values(0) if isinstance(changed.columns, pd.MultiIndex) else changed.columns
    for position, name in enumerate(fields):
        if name in ("open", "high", "low", "close"):
            changed.iloc[cut + 1:, position] = changed.iloc[cut + 1:, position].to_numpy() * price_factor
        elif name == "volume":
            changed.iloc[cut + 1:, position] = changed.iloc[cut + 1:, position].to_numpy() * volume_factor
    return changed


def _lookahead(strategy: Strategy, bars: pd.DataFrame, full: np.ndarray, seed: int) -> CheckResult:
    rng = np.random.default_rng(seed)
    cuts = _cuts(len(bars), max(strategy.warmup_bars, 2))
    for cut in cuts:
        for how, history in (("cut after", bars.iloc[: cut + 1].copy()), ("later bars perturbed after", _perturbed(bars, cut, rng))):
            seen = _evaluate(strategy, history)[: cut + 1]
            found = _first_difference(seen, full[: cut + 1])
            if found is not None:
                row, size = found
                return CheckResult("lookahead", False,
                                   f"signals change with bars after the one they are for: with the history {how} "
                                   f"{_bar_label(bars, cut)}, the signal at {_bar_label(bars, row)} moves by {size:.6g}",
                                   {"first_bar": _bar_label(bars, row), "cut": _bar_label(bars, cut), "size": size, "how": how})
    return CheckResult("lookahead", True, f"signals at {len(cuts)} cut points unchanged by truncating or perturbing later bars",
                       {"cuts": len(cuts)})


def _memory_mismatch(strategy: Strategy, bars: pd.DataFrame, full: np.ndarray, window: int, rows: list[int]) -> int | None:
    """The first sampled row whose live value with ``window`` bars differs from the full history's, or ``None``."""
    expected = np.nan_to_num(full, nan=0.0)
    for row in rows:
        # What the engine holds at this bar: the last ``window`` bars, or all of them so far.
        got = _latest(strategy, bars.iloc[max(0, row + 1 - window): row + 1].copy())
        if not np.array_equal(got, expected[row]):
            return row
    return None


def _finite_memory(strategy: Strategy, bars: pd.DataFrame, full: np.ndarray) -> CheckResult:
    if strategy.full_history:
        kept = live_window_bars(strategy)
        rows = _cuts(len(bars), 1)
        mismatch = _memory_mismatch(strategy, bars, full, kept, rows)
        if mismatch is None:
            return CheckResult("finite_memory", True, f"full_history: the engine keeps every bar (up to {kept:,}), and its "
                               f"signal equals the full history's at {len(rows)} bars", {"full_history": True, "kept": kept})
        return CheckResult("finite_memory", False, f"full_history, yet at {_bar_label(bars, mismatch)} the signal on the bars so far "
                           "differs from the full history's (it depends on later bars)", {"full_history": True})
    declared = max(int(strategy.warmup_bars), 1)
    bound = min(MAX_WARMUP, len(bars) // 2)
    # Sampled rows start past the largest window the search may try, so every window tried is whole.
    rows = _cuts(len(bars), max(declared, bound))
    mismatch = _memory_mismatch(strategy, bars, full, declared, rows)
    if mismatch is None:
        return CheckResult("finite_memory", True,
                           f"with warmup_bars = {declared}, the live window's last signal equals the full history's at {len(rows)} bars",
                           {"warmup_bars": declared})
    live = _latest(strategy, bars.iloc[mismatch + 1 - declared: mismatch + 1])
    where = f"at {_bar_label(bars, mismatch)} the live window of {declared} bar(s) gives {_text(live)}, the full history {_text(np.nan_to_num(full[mismatch], nan=0.0))}"
    # Grow the window until every sampled row agrees, then narrow down to the smallest that does.
    low, high = declared, None
    size = declared
    while size < bound:
        size = min(size * 2, bound)
        if _memory_mismatch(strategy, bars, full, size, rows) is None:
            high = size
            break
        low = size
    if high is None:
        return CheckResult("finite_memory", False, f"{where}; no warm-up up to {bound} bars reproduces the full history "
                           "(it remembers further back than a window holds: set full_history = True if it keeps its own position)",
                           {"warmup_bars": declared, "needed": None, "searched_up_to": bound})
    while high - low > 1:
        middle = (low + high) // 2
        if _memory_mismatch(strategy, bars, full, middle, rows) is None:
            high = middle
        else:
            low = middle
    return CheckResult("finite_memory", False, f"{where}; it needs warmup_bars >= {high} (it declares {declared}) on the bars "
                       "sampled, or full_history = True if it remembers its own position",
                       {"warmup_bars": declared, "needed": high})


def _text(values: np.ndarray) -> str:
    return f"{values[0]:.6g}" if values.size == 1 else "[" + ", ".join(f"{value:.6g}" for value in values) + "]"


def _determinism(strategy: Strategy, bars: pd.DataFrame, full: np.ndarray, changed_input: bool) -> CheckResult:
    if changed_input:
        return CheckResult("determinism", False, "the strategy changed the bars it was given (signals must not modify their input)")
    again = _evaluate(strategy, bars.copy())
    found = _first_difference(again, full)
    if found is not None:
        row, size = found
        return CheckResult("determinism", False, f"the same bars gave different signals: at {_bar_label(bars, row)} they differ by {size:.6g}",
                           {"first_bar": _bar_label(bars, row), "size": size})
    return CheckResult("determinism", True, "the same bars give the same signals, and the input is left as it was")


def _range(strategy: Strategy, full: np.ndarray, bars: pd.DataFrame) -> CheckResult:
    infinite = np.isinf(full)
    if infinite.any():
        row = int(np.argmax(infinite.any(axis=1)))
        return CheckResult("range", False, f"an infinite value at {_bar_label(bars, row)}", {"first_bar": _bar_label(bars, row)})
    values = np.nan_to_num(full, nan=0.0)
    outside = np.abs(values) > 1.0
    if outside.any():
        row = int(np.argmax(outside.any(axis=1)))
        return CheckResult("range", False, f"{_text(values[row])} at {_bar_label(bars, row)} is outside [-1, 1]",
                           {"first_bar": _bar_label(bars, row)})
    if _is_portfolio(strategy):
        limit = float(strategy.max_gross_exposure)  # type: ignore[attr-defined]
        gross = np.abs(values).sum(axis=1)
        over = gross > limit + 1e-9
        if over.any():
            row = int(np.argmax(over))
            return CheckResult("range", False, f"gross exposure {gross[row]:.6g} at {_bar_label(bars, row)} exceeds the strategy's "
                               f"max_gross_exposure {limit:g}", {"first_bar": _bar_label(bars, row), "gross": float(gross[row])})
    share = float(np.mean(np.isnan(full)))
    return CheckResult("range", True, f"every value finite and within the strategy's limits ({share:.0%} NaN, i.e. flat)")


def _parity(strategy: Strategy, bars: pd.DataFrame, costs: Any) -> CheckResult:
    from tradepulse.adapters.paper.feeds import BarReplayFeed
    from tradepulse.backtest import run_backtest
    from tradepulse.live.replay import run_replay

    symbol = str(bars.attrs.get("symbol") or "ASSET/QUOTE")
    try:
        backtest = run_backtest(bars, strategy, costs=costs)
        replay = run_replay(BarReplayFeed(bars, symbol), strategy, costs=costs).to_dict()
    except StrategyError as error:
        return CheckResult("parity", False, f"the replay could not run: {error}")
    expected = [(str(row.time), row.side) for row in backtest.fills.itertuples()]
    got = [(str(pd.Timestamp(fill["time"])), str(fill["side"]).lower()) for fill in replay["fills"]]
    return _compare_fills(expected, got)


def _portfolio_parity(strategy: Strategy, universe: Any, costs: Any) -> CheckResult:
    from tradepulse.backtest.portfolio import run_portfolio_backtest
    from tradepulse.live.portfolio_replay import run_portfolio_replay

    try:
        backtest = run_portfolio_backtest(universe, strategy, costs=costs)
        replay = run_portfolio_replay(universe, strategy, costs=costs).to_dict()
    except StrategyError as error:
        return CheckResult("parity", False, f"the replay could not run: {error}")
    expected = sorted((str(row.time), str(row.symbol), row.side) for row in backtest.fills.itertuples())
    got = sorted((str(pd.Timestamp(fill["time"])), str(fill["symbol"]), str(fill["side"]).lower()) for fill in replay["fills"])
    return _compare_fills(expected, got)


def _compare_fills(expected: list[tuple], got: list[tuple]) -> CheckResult:
    for number, (want, have) in enumerate(zip(expected, got, strict=False), start=1):
        if want != have:
            return CheckResult("parity", False, f"fill {number} differs: the backtest has {want}, the replay {have} "
                               f"({len(expected)} fills in the backtest, {len(got)} in the replay)",
                               {"backtest_fills": len(expected), "replay_fills": len(got), "first_difference": number})
    if len(expected) != len(got):
        return CheckResult("parity", False, f"the backtest has {len(expected)} fills, the replay {len(got)}",
                           {"backtest_fills": len(expected), "replay_fills": len(got)})
    return CheckResult("parity", True, f"the live replay gives the backtest's {len(expected)} fills (times and sides)",
                       {"fills": len(expected)})


def _source_file(strategy: Strategy) -> str | None:
    import inspect

    try:
        return inspect.getsourcefile(type(strategy))
    except TypeError:
        return None
