"""TradePulse's live engine beside NautilusTrader 1.221.0, same data, same run (`python bench/run.py --engine-vs-nautilus`).

Nothing is asserted; figures, ratios and the issue's targets are printed side by side.

**Bars.** The real Binance BTC/USDT-PERP 5m sample (10,999 bars), relabelled as 1-minute bars and
tiled to N bars, every odd copy in reverse time order (a reversed bar opens at the original close
and closes at the original open), so copies join without a price jump; timestamps continue at one
minute. Written once to ``.cache/bench-data/`` as Parquet, and both engines read that file:

* NautilusTrader (its own venv, ``bench/nautilus_side.py``): the example ``EMACross`` (EMA 10/20)
  in a ``BacktestEngine``, ``stock`` (NETTING, post-run analysis) and ``tuned`` (HEDGING,
  ``run_analysis=False``);
* TradePulse: ``tradepulse live replay FILE --strategy bench/strategies/ema_cross.py`` (the same
  rule as a TradePulse strategy), ``--durability full`` and ``--durability fast``, no fees.

Each case is its own process, timed from launch to exit by this script, with its peak RSS from
``os.wait4``; NautilusTrader also reports its ``engine.run()`` time alone. Below a million bars the
four cases run three rounds, in turn, and each keeps its fastest run: the machine's speed drifts
within minutes, and a single round let a slow minute fall on one side only.

**Ticks.** The trades of the embedded BTC/USDT recording (19,904), tiled the same way to N trades
(odd copies reversed, the gaps between trades kept), a market order every 1,000 trades, long and
flat in turn. NautilusTrader: a tiny strategy on ``TradeTick``s. TradePulse: this file's
``tradepulse-ticks`` mode drives ``LiveEngine`` over the paper venue with the trades and, after the
engine has handled every 1,000th trade, submits an order through ``engine.execution.submit(
engine.execution.intent_for_target(...))``; tick-to-order latency runs from the feed handing over
that trade to the venue being called, i.e. after ``order.submitted`` is journaled (fsync'd when
durable). Trades are parsed into events before timing starts on both sides.

Usage::

    python bench/bench_nautilus.py --bars 100000,1000000 --ticks 1000000
    python bench/bench_nautilus.py --bars 20000 --ticks 100000        # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
NAUTILUS_VENV = ROOT / ".cache" / "bench-nautilus"
NAUTILUS_PYTHON = NAUTILUS_VENV / "bin" / "python"
DATA_DIR = ROOT / ".cache" / "bench-data"
STRATEGY_FILE = BENCH_DIR / "strategies" / "ema_cross.py"
BAR_SOURCE = "sample:binance:BTC/USDT-PERP:5m"
TICK_SOURCE = "recording:binance:BTC/USDT"
ORDER_EVERY = 1_000
# Rounds of the bar cases below a million bars (each case keeps its fastest run; see _run_cases).
ROUNDS = 3
# Bumped when the way the files are made changes, so stale files are not reused.
DATA_VERSION = 1


# -- data ------------------------------------------------------------------------------------------


def _tile(length: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions into the source and whether each row comes from a reversed copy."""
    copies = -(-count // length)
    forward = np.arange(length)
    positions = np.concatenate([forward if copy % 2 == 0 else forward[::-1] for copy in range(copies)])[:count]
    reversed_ = np.repeat(np.arange(copies) % 2 == 1, length)[:count]
    return positions, reversed_


def tiled_bars(count: int) -> pd.DataFrame:
    """The 5m sample as 1-minute bars, tiled to ``count`` bars with every odd copy reversed in time."""
    from tradepulse.data import load_bars

    sample = load_bars(BAR_SOURCE)
    positions, reversed_ = _tile(len(sample), count)
    values = {column: sample[column].to_numpy()[positions] for column in ("open", "high", "low", "close", "volume")}
    # Played backwards, a bar opens where it closed and closes where it opened.
    open_ = np.where(reversed_, values["close"], values["open"])
    close = np.where(reversed_, values["open"], values["close"])
    high = np.maximum.reduce([values["high"], open_, close])
    low = np.minimum.reduce([values["low"], open_, close])
    index = pd.date_range(sample.index[0], periods=count, freq="1min", name="timestamp", unit="ns")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": values["volume"]}, index=index)


def tiled_trades(count: int) -> pd.DataFrame:
    """The recording's trades tiled to ``count``, odd copies reversed, the gaps between trades kept."""
    from tradepulse.adapters.paper.feeds import RecordingFeed
    from tradepulse.model.events import Trade

    trades = [event for event in RecordingFeed.from_source(TICK_SOURCE).events() if isinstance(event, Trade)]
    times = np.array([int(trade.at.timestamp() * 1_000_000) for trade in trades], dtype=np.int64) * 1_000
    gaps = np.diff(times)
    join_gap = int(np.median(gaps))
    positions, reversed_ = _tile(len(trades), count)
    # Step into each row: the original gap before it, or (reversed) the gap after it; a copy's first row follows the median gap.
    steps = np.where(reversed_, np.append(gaps, join_gap)[positions], np.insert(gaps, 0, join_gap)[positions])
    first_of_copy = np.r_[True, positions[1:] == positions[:-1]] | np.r_[True, reversed_[1:] != reversed_[:-1]]
    steps[first_of_copy] = join_gap
    steps[0] = 0
    timestamps = times[0] + np.cumsum(steps)
    price = np.array([float(trade.price) for trade in trades])[positions].round(2)
    quantity = np.array([float(trade.quantity) for trade in trades])[positions].round(5)
    buyer_maker = np.array([bool(trade.buyer_is_maker) for trade in trades])[positions]
    index = pd.DatetimeIndex(pd.to_datetime(timestamps, unit="ns", utc=True), name="timestamp")
    return pd.DataFrame(
        {"price": price, "quantity": quantity, "buyer_maker": buyer_maker, "trade_id": np.arange(1, count + 1).astype(str)},
        index=index,
    )


def data_file(kind: str, count: int) -> Path:
    """Write (once) and return the Parquet file of ``count`` tiled bars or trades."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"{kind}-v{DATA_VERSION}-{count}.parquet"
    if not path.exists():
        frame = tiled_bars(count) if kind == "bars" else tiled_trades(count)
        scratch = path.with_suffix(".partial")
        frame.to_parquet(scratch)
        scratch.replace(path)
    return path


# -- running one case ------------------------------------------------------------------------------


def timed_process(command: list[str], stdout_path: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``command`` to its end; wall seconds from launch to exit and its own peak RSS (``wait4``)."""
    with open(stdout_path, "wb") as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(map(str, command))} failed ({process.returncode}):\n{stderr.read().decode()[-4000:]}")
    return {"process_seconds": round(seconds, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}


def _last_json(path: Path) -> dict:
    return json.loads(path.read_text().strip().splitlines()[-1])


def nautilus_case(workload: str, path: Path, config: str) -> dict:
    out = DATA_DIR / f"out-nautilus-{workload}-{config}-{path.stem}.json"
    measured = timed_process([str(NAUTILUS_PYTHON), str(BENCH_DIR / "nautilus_side.py"), workload, str(path), "--config", config,
                              "--every", str(ORDER_EVERY)], out)
    return {**_last_json(out), **measured}


def tradepulse_env(package_root: Path | None) -> dict[str, str] | None:
    """The environment of TradePulse's cases: its own package, or ``package_root``'s (a checkout of another revision)."""
    return None if package_root is None else {**os.environ, "PYTHONPATH": str(package_root)}


def tradepulse_bars_case(path: Path, durability: str, package_root: Path | None = None) -> dict:
    out = DATA_DIR / f"out-tradepulse-bars-{durability}-{path.stem}.json"
    command = [str(Path(sys.executable).parent / "tradepulse"), "live", "replay", str(path), "--strategy", str(STRATEGY_FILE),
               "--symbol", "BTC/USDT-PERP", "--fees-bps", "0", "--durability", durability, "--json"]
    measured = timed_process(command, out, tradepulse_env(package_root))
    report = json.loads(out.read_text())
    out.unlink()  # the fills of a million bars are tens of MB; the counts are what we keep
    return {"engine": "TradePulse", "config": durability, "bars": report["bars"], "orders": sum(report["orders"].values()),
            "filled": report["orders"].get("FILLED", 0),
            "order_statuses": report["orders"], "fills": len(report["fills"]), "total_return": report["total_return"], **measured}


def tradepulse_ticks_case(path: Path, durability: str, package_root: Path | None = None) -> dict:
    out = DATA_DIR / f"out-tradepulse-ticks-{durability}-{path.stem}.json"
    measured = timed_process([sys.executable, str(Path(__file__).resolve()), "tradepulse-ticks", str(path), "--durability", durability,
                              "--every", str(ORDER_EVERY)], out, tradepulse_env(package_root))
    return {**_last_json(out), **measured}


# -- TradePulse's tick driver (its own process) -------------------------------------------------


def _percentiles_us(samples_ns: list[int]) -> dict[str, float]:
    if not samples_ns:
        return {"p50_us": float("nan"), "p99_us": float("nan")}
    values = np.asarray(samples_ns, dtype=np.float64) / 1_000
    return {"p50_us": round(float(np.percentile(values, 50)), 1), "p99_us": round(float(np.percentile(values, 99)), 1)}


def drive_ticks(events: list, durability: str, every: int) -> dict:
    """The trades through ``LiveEngine`` and the paper venue; an order (long, flat, ...) after every ``every``-th trade."""
    from tradepulse.adapters.paper import PaperVenue
    from tradepulse.adapters.paper.feeds import get_recording
    from tradepulse.live.engine import EngineConfig, LiveEngine
    from tradepulse.live.replay import REPLAY_RISK_LIMITS
    from tradepulse.model.clock import SimulatedClock
    from tradepulse.model.costs import Costs
    from tradepulse.risk import RiskControls
    from tradepulse.sim.market import FeeSchedule
    from tradepulse.store import Journal
    from tradepulse.strategy import load_strategy

    instrument = get_recording(TICK_SOURCE).instrument
    handed_at = [0]
    latencies: list[int] = []

    class TimedVenue(PaperVenue):
        async def submit_order(self, order):  # noqa: ANN001, ANN201
            # The OMS calls the venue only once order.submitted is journaled.
            latencies.append(time.perf_counter_ns() - handed_at[0])
            return await super().submit_order(order)

    costs = Costs(fees_bps=10)
    capital = Decimal(10_000)
    clock = SimulatedClock(events[0].at)
    venue = TimedVenue([instrument], clock=clock.now, balances={instrument.quote: capital}, fees=FeeSchedule(), allow_short=False)
    risk = RiskControls(REPLAY_RISK_LIMITS, clock=clock.now, symbols=[instrument.symbol], currency=instrument.quote)
    # No bar period: trades close no bars, so the strategy is never evaluated; orders come from the driver.
    config = EngineConfig(symbol=instrument.symbol, capital=capital, sizing_costs=costs, cash_reserve_fraction=Decimal("0.001"))
    state = {"target": 0.0, "skipped": 0, "sent": 0}

    with tempfile.TemporaryDirectory(prefix="tradepulse-bench-") as folder, \
            Journal(Path(folder) / "journal.sqlite", durability=durability, clock=clock.now) as journal:
        engine: LiveEngine | None = None

        async def order_after(trade) -> None:  # noqa: ANN001
            assert engine is not None and engine.execution is not None
            state["target"] = 0.0 if state["target"] else 1.0
            intent = engine.execution.intent_for_target(state["target"], trade.price, None)
            if intent is None:
                state["skipped"] += 1
                return
            await engine.execution.submit(intent, trade.price, trade.at, target=state["target"])
            state["sent"] += 1

        async def feed():
            for number, event in enumerate(events, start=1):
                due = number % every == 0
                if due:
                    handed_at[0] = time.perf_counter_ns()
                yield event
                # The engine has handled this trade (the run loop asks for the next event only then).
                if due:
                    await order_after(event)

        engine = LiveEngine(load_strategy(STRATEGY_FILE)(), feed(), venue, journal, risk=risk, clock=clock, config=config)
        started = time.perf_counter()
        report = asyncio.run(engine.run())
        seconds = time.perf_counter() - started
        journal_events = journal.count()
    return {
        "engine": "TradePulse", "config": durability, "ticks": len(events), "run_seconds": round(seconds, 3),
        "ticks_per_second_run": round(len(events) / seconds), "orders": sum(report.orders.values()), "order_statuses": report.orders,
        "fills": len(report.fills), "skipped": state["skipped"], "journal_events": journal_events, **_percentiles_us(latencies),
    }


def tradepulse_ticks_main(path: str, durability: str, every: int) -> None:
    from tradepulse.model.events import Trade

    frame = pd.read_parquet(path)
    at = frame.index.to_pydatetime()
    events = [
        Trade("BTC/USDT", when, Decimal(repr(price)), Decimal(repr(quantity)), trade_id, buyer_maker)
        for when, price, quantity, trade_id, buyer_maker in zip(
            at, frame["price"].tolist(), frame["quantity"].tolist(), frame["trade_id"].tolist(), frame["buyer_maker"].tolist(), strict=True)
    ]
    drive_ticks(events[: 3 * every], "fast", every)  # warm-up: imports and first calls, not timed
    result = drive_ticks(events, durability, every)
    import tradepulse

    result["self_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["package"] = str(Path(tradepulse.__file__).resolve().parent)
    print(json.dumps(result))


# -- the comparison ---------------------------------------------------------------------------------


def _machine() -> dict:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg": [round(value, 2) for value in load], "at": datetime.now(UTC).isoformat(timespec="seconds")}


def _log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def ensure_nautilus() -> None:
    if not NAUTILUS_PYTHON.exists():
        raise SystemExit(f"no NautilusTrader venv at {NAUTILUS_VENV.relative_to(ROOT)}: run `make bench-nautilus` (or `make bench`) first")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def run_comparison(bar_counts: list[int], tick_count: int, tradepulse_revision: str | None = None) -> dict:
    """Every case, one after the other, in this run; returns the figures (see :func:`print_report`).

    TradePulse's cases import the package of this checkout, or, with ``tradepulse_revision``, the
    package of that revision (checked out into a temporary git worktree): other work on the tree
    then cannot change the code under measurement halfway through the run.
    """
    ensure_nautilus()
    if tradepulse_revision is None:
        dirty = bool(_git("status", "--porcelain", "--", "tradepulse"))
        described = f"working tree at {_git('rev-parse', '--short', 'HEAD')}" + (" with uncommitted changes" if dirty else "")
        return _run_cases(bar_counts, tick_count, None, described)
    sha = _git("rev-parse", "--short", tradepulse_revision)
    with tempfile.TemporaryDirectory(prefix="tradepulse-bench-") as folder:
        package_root = Path(folder) / "tradepulse"
        _git("worktree", "add", "--detach", "--quiet", str(package_root), sha)
        try:
            return _run_cases(bar_counts, tick_count, package_root, f"revision {sha}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(package_root)], cwd=ROOT, check=False)


def _run_cases(bar_counts: list[int], tick_count: int, package_root: Path | None, described: str) -> dict:
    result: dict = {"machine_before": _machine(), "tradepulse": described, "bars": [], "ticks": None}
    _log(f"TradePulse: {described}")
    # TradePulse's fixed cost per command (start-up, reading, the report) on a small file, for reading the figures.
    small = data_file("bars", 1_000)
    _log("TradePulse start-up: live replay of 1,000 bars")
    tradepulse_bars_case(small, "fast", package_root)  # warm the OS caches and numba/pyc caches
    result["tradepulse_startup"] = tradepulse_bars_case(small, "fast", package_root)
    for count in bar_counts:
        path = data_file("bars", count)
        row = {"bars": count, "cases": {}}
        # This machine's speed drifts by tens of per cent within minutes: below a million bars the
        # four cases run ROUNDS times, in turn, and each keeps its fastest run (as timeit does), so
        # a slow minute cannot land on one side only. A million bars take too long to repeat.
        rounds = ROUNDS if count < 1_000_000 else 1
        for round_number in range(rounds):
            for name, run in _cases("bars", path, package_root):
                case = _timed_case(f"{count:,} bars: {name}, round {round_number + 1} of {rounds}", run)
                kept = row["cases"].get(name)
                seconds = [*kept["rounds_process_seconds"], case["process_seconds"]] if kept else [case["process_seconds"]]
                if kept is None or case["process_seconds"] < kept["process_seconds"]:
                    kept = case
                row["cases"][name] = {**kept, "rounds_process_seconds": seconds}
        result["bars"].append(row)
    if tick_count:
        path = data_file("trades", tick_count)
        row = {"ticks": tick_count, "cases": {}}
        for name, run in _cases("ticks", path, package_root):
            row["cases"][name] = _timed_case(f"{tick_count:,} trades: {name}", run)
        result["ticks"] = row
    result["machine_after"] = _machine()
    (DATA_DIR / "last-run.json").write_text(json.dumps(result, indent=2))
    return result


def _cases(workload: str, path: Path, package_root: Path | None) -> list[tuple[str, Callable[[], dict]]]:
    """The four cases of ``workload`` (``bars`` or ``ticks``) on ``path``, by name, in the order they run."""
    tradepulse_case = tradepulse_bars_case if workload == "bars" else tradepulse_ticks_case
    return [
        ("nautilus_stock", lambda: nautilus_case(workload, path, "stock")),
        ("nautilus_tuned", lambda: nautilus_case(workload, path, "tuned")),
        ("tradepulse_full", lambda: tradepulse_case(path, "full", package_root)),
        ("tradepulse_fast", lambda: tradepulse_case(path, "fast", package_root)),
    ]


def _timed_case(label: str, run: Callable[[], dict]) -> dict:
    _log(f"{label} ... (load {os.getloadavg()[0]:.2f})")
    case = run()
    _log(f"  {case['process_seconds']:.1f} s")
    return case


def _ratio_text(value: float, target: float | None) -> str:
    if target is None:
        return f"{value:.2f}x"
    return f"{value:.2f}x (target >= {target:g}x: {'met' if value >= target else 'not met'})"


def print_report(result: dict) -> None:
    before, after = result["machine_before"], result["machine_after"]
    print("\n## Live engine vs NautilusTrader 1.221.0 (same files, one run)")
    print(f"machine: {before['cpus']} CPUs; load average {before['loadavg']} at {before['at']}, {after['loadavg']} at {after['at']}")
    print(f"TradePulse: {result.get('tradepulse', 'this checkout')}")
    startup = result["tradepulse_startup"]
    print(f"TradePulse `live replay` of 1,000 bars (start-up, reading, report): {startup['process_seconds']:.2f} s, "
          f"peak RSS {startup['peak_rss_mib']:,.0f} MiB")
    names = {
        "nautilus_stock": "NautilusTrader stock (NETTING, analysis)",
        "nautilus_tuned": "NautilusTrader tuned (HEDGING, no analysis)",
        "tradepulse_full": "TradePulse, durable journal",
        "tradepulse_fast": "TradePulse, fast journal",
    }
    print(f"\n{'EMA 10/20 on 1m bars':<46}{'bars':>11}{'process s':>11}{'bars/s':>10}{'run() s':>9}{'run() bars/s':>14}"
          f"{'orders':>8}{'filled':>8}{'peak MiB':>10}")
    for row in result["bars"]:
        for key, case in row["cases"].items():
            per_second = case["bars"] / case["process_seconds"]
            run_only = f"{case['run_seconds']:>9.2f}{case['bars_per_second_run']:>14,}" if "run_seconds" in case else f"{'-':>9}{'-':>14}"
            print(f"{names[key]:<46}{case['bars']:>11,}{case['process_seconds']:>11.2f}{per_second:>10,.0f}{run_only}"
                  f"{case['orders']:>8,}{case['filled']:>8,}{case['peak_rss_mib']:>10,.0f}")
    print("(NautilusTrader's EMACross reverses with two orders, a close and an open, and closes the position when it stops; "
          "TradePulse reverses with one order and ends holding its position.)")
    for row in result["bars"]:
        rounds = {key: case.get("rounds_process_seconds", [case["process_seconds"]]) for key, case in row["cases"].items()}
        if any(len(seconds) > 1 for seconds in rounds.values()):
            print(f"({row['bars']:,} bars: each case's fastest of {max(len(seconds) for seconds in rounds.values())} rounds run in turn; "
                  "process s of every round: " + "; ".join(f"{names[key]} " + ", ".join(f"{value:.2f}" for value in seconds)
                                                            for key, seconds in rounds.items()) + ")")
    ticks = result.get("ticks")
    if ticks:
        print(f"\n{'market order every 1,000 trades':<46}{'trades':>11}{'run() s':>9}{'ticks/s':>10}{'orders':>8}{'filled':>8}"
              f"{'p50 us':>9}{'p99 us':>9}{'peak MiB':>10}")
        for key, case in ticks["cases"].items():
            filled = case.get("filled", case.get("fills"))
            latency = f"{case['p50_us']:>9,.0f}{case['p99_us']:>9,.0f}" if "p50_us" in case else f"{'-':>9}{'-':>9}"
            print(f"{names[key]:<46}{case['ticks']:>11,}{case['run_seconds']:>9.2f}{case['ticks_per_second_run']:>10,}"
                  f"{case['orders']:>8,}{filled:>8,}{latency}{case['peak_rss_mib']:>10,.0f}")
        print("(run() s: NautilusTrader's engine.run(); TradePulse's engine.run() over the parsed trades. Tick-to-order: from the "
              "1,000th trade handed to the engine to the venue call, after order.submitted is journaled.)")

    print("\nRatios, TradePulse / NautilusTrader (throughput; > 1 means TradePulse is faster). 'process': both timed from launch "
          "to exit on the same file; 'run()': against NautilusTrader's engine.run() alone.")
    by_count = {row["bars"]: row["cases"] for row in result["bars"]}
    first = min(by_count) if by_count else None
    for count, cases in sorted(by_count.items()):
        comparisons = (
            ("tradepulse_full", "nautilus_stock", 3.0 if count >= 1_000_000 else (1.0 if count == first else None)),
            ("tradepulse_fast", "nautilus_tuned", 1.0),
            ("tradepulse_fast", "nautilus_stock", 3.0 if count >= 1_000_000 else None),
            ("tradepulse_full", "nautilus_tuned", None),
        )
        for ours, theirs, target in comparisons:
            our, their = cases[ours], cases[theirs]
            process = their["process_seconds"] / our["process_seconds"]
            run_only = their["run_seconds"] / our["process_seconds"]
            print(f"  {count:>9,} bars  {names[ours]:<28} / {names[theirs]:<44} process {_ratio_text(process, target)};  "
                  f"run() {run_only:.2f}x")
    if first is not None and max(by_count) > first:
        last = max(by_count)
        for key in ("tradepulse_full", "tradepulse_fast", "nautilus_stock", "nautilus_tuned"):
            growth = by_count[last][key]["peak_rss_mib"] / by_count[first][key]["peak_rss_mib"]
            target = " (target <= 1.5x: " + ("met)" if growth <= 1.5 else "not met)") if key.startswith("tradepulse") else ""
            print(f"  peak memory {last:,} / {first:,} bars, {names[key]:<44} {growth:.2f}x{target}")
    if ticks:
        cases = ticks["cases"]
        for ours in ("tradepulse_full", "tradepulse_fast"):
            for theirs in ("nautilus_stock", "nautilus_tuned"):
                ratio = cases[ours]["ticks_per_second_run"] / cases[theirs]["ticks_per_second_run"]
                print(f"  {ticks['ticks']:>9,} trades {names[ours]:<28} / {names[theirs]:<44} ticks/s {_ratio_text(ratio, 1.0)}")
        p99 = cases["tradepulse_full"]["p99_us"]
        print(f"  tick-to-order p99, durable journal: {p99 / 1000:.2f} ms (target <= 2 ms: {'met' if p99 <= 2_000 else 'not met'}); "
              f"p50 {cases['tradepulse_full']['p50_us'] / 1000:.2f} ms")


def parse_counts(text: str) -> list[int]:
    """``100000,1000000`` (underscores allowed) as a list of ints."""
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description="TradePulse's live engine vs NautilusTrader 1.221.0")
    sub = parser.add_subparsers(dest="mode")
    ticks = sub.add_parser("tradepulse-ticks", help="(internal) TradePulse's side of the tick case")
    ticks.add_argument("file")
    ticks.add_argument("--durability", choices=["fast", "full"], required=True)
    ticks.add_argument("--every", type=int, default=ORDER_EVERY)
    parser.add_argument("--bars", default="100000,1000000", help="bar counts, comma-separated (default 100000,1000000)")
    parser.add_argument("--ticks", type=int, default=1_000_000, help="trades in the tick case; 0 skips it (default 1000000)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--tradepulse-revision", metavar="REV",
                        help="measure TradePulse at this git revision (a temporary worktree) instead of this checkout")
    args = parser.parse_args()
    if args.mode == "tradepulse-ticks":
        tradepulse_ticks_main(args.file, args.durability, args.every)
        return
    result = run_comparison(parse_counts(args.bars), args.ticks, args.tradepulse_revision)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print_report(result)


if __name__ == "__main__":
    main()
