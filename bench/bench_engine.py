"""The live engine on real data: throughput, tick-to-order latency, journal appends, beside a bare asyncio baseline.

Workloads (all in one run, so the figures are comparable):

* **ticks**: the embedded Binance BTC/USDT recording (trades, book tickers, depth diffs, ~100k events)
  through feed -> 1 s time bars -> sma_cross(2, 5) -> risk gate -> OMS -> paper venue walking the
  real book, journaled in durable mode (``synchronous=FULL``).
* **bars**: the 10,999-bar 5-minute sample through the same path with sma_cross(12, 48).
* **baseline**: an asyncio producer handing items to a consumer through a one-slot queue and doing
  nothing else: the floor any asyncio engine pays per event.
* **journal**: appends per second of an order-sized payload, durable vs fast.

Tick-to-order latency is the wall time from the feed handing the engine the event that triggers an
order to the order reaching the venue; it includes the risk decision and the ``order.submitted``
append, each fsync'd in durable mode. Events are parsed before timing starts. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _percentiles_us(samples_ns: list[int]) -> dict[str, float]:
    if not samples_ns:
        return {"p50_us": float("nan"), "p99_us": float("nan"), "count": 0}
    values = np.asarray(samples_ns, dtype=np.float64) / 1_000
    return {"p50_us": round(float(np.percentile(values, 50)), 1), "p99_us": round(float(np.percentile(values, 99)), 1), "count": len(values)}


def run_engine(events: list, instrument, *, strategy: str, params: dict, bar_period: timedelta | None, durability: str) -> dict:
    """Replay ``events`` through the engine once, timing the run and every tick-to-order path."""
    from tradepulse.model.costs import Costs
    from tradepulse.adapters.paper import PaperVenue
    from tradepulse.model.clock import SimulatedClock
    from tradepulse.live.engine import EngineConfig, LiveEngine
    from tradepulse.live.replay import REPLAY_RISK_LIMITS
    from tradepulse.risk import RiskControls
    from tradepulse.store import Journal
    from tradepulse.strategy import load_strategy

    handed_at = [0]
    latencies: list[int] = []

    class TimedVenue(PaperVenue):
        async def submit_order(self, order):  # noqa: ANN001, ANN201
            latencies.append(time.perf_counter_ns() - handed_at[0])
            return await super().submit_order(order)

    async def feed():
        for event in events:
            handed_at[0] = time.perf_counter_ns()
            yield event

    costs = Costs(fees_bps=10)
    clock = SimulatedClock(events[0].at)
    venue = TimedVenue([instrument], clock=clock.now, balances={instrument.quote: Decimal(10_000)}, allow_short=True, slippage=costs.slippage)
    risk = RiskControls(REPLAY_RISK_LIMITS, clock=clock.now, symbols=[instrument.symbol], currency=instrument.quote)
    config = EngineConfig(symbol=instrument.symbol, capital=Decimal(10_000), bar_period=bar_period, sizing_costs=costs,
                          cash_reserve_fraction=Decimal("0.001") if bar_period else Decimal(0))
    with tempfile.TemporaryDirectory() as folder, Journal(Path(folder) / "journal.sqlite", durability=durability, clock=clock.now) as journal:
        engine = LiveEngine(load_strategy(strategy)(**params), feed(), venue, journal, risk=risk, clock=clock, config=config)
        started = time.perf_counter()
        report = asyncio.run(engine.run())
        seconds = time.perf_counter() - started
        appended = journal.count()
    return {
        "events": len(events),
        "seconds": round(seconds, 3),
        "events_per_second": round(len(events) / seconds),
        "bars": report.bars,
        "orders": sum(report.orders.values()),
        "journal_events": appended,
        **_percentiles_us(latencies),
    }


def run_baseline(count: int) -> dict:
    """An asyncio producer/consumer pass-through over a one-slot queue: no work per item."""
    latencies: list[int] = []

    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)

        async def consume() -> None:
            while True:
                item = await queue.get()
                if item is None:
                    return
                latencies.append(time.perf_counter_ns() - item)

        consumer = asyncio.create_task(consume())
        for _ in range(count):
            await queue.put(time.perf_counter_ns())
        await queue.put(None)
        await consumer

    started = time.perf_counter()
    asyncio.run(main())
    seconds = time.perf_counter() - started
    return {"events": count, "seconds": round(seconds, 3), "events_per_second": round(count / seconds), **_percentiles_us(latencies)}


def run_journal(durability: str, count: int) -> dict:
    """Appends per second of an order-sized event, one transaction each."""
    from tradepulse.store import Journal

    payload = {
        "symbol": "BTC/USDT", "client_order_id": "tp-sma_cross-1", "client_order_sequence": 1, "at": "2024-08-09T00:00:00+00:00",
        "intent": {"strategy": "sma_cross", "symbol": "BTC/USDT", "side": "buy", "quantity": "0.16158", "order_type": "market",
                   "limit_price": None, "time_in_force": "GTC", "reference_price": "61826.02", "reason": "target 1"},
    }
    with tempfile.TemporaryDirectory() as folder, Journal(Path(folder) / "journal.sqlite", durability=durability) as journal:
        started = time.perf_counter()
        for _ in range(count):
            journal.append("order.submitted", payload, correlation_id="tp-sma_cross-1")
        seconds = time.perf_counter() - started
    return {"durability": durability, "appends": count, "seconds": round(seconds, 3), "appends_per_second": round(count / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal-appends", type=int, default=2_000)
    args = parser.parse_args()

    from tradepulse.adapters.paper.feeds import BarReplayFeed, RecordingFeed

    ticks = RecordingFeed.from_source("recording:binance:BTC/USDT")
    tick_events = list(ticks.events())
    bars = BarReplayFeed.from_source("sample:binance:BTC/USDT-PERP:5m")
    bar_events = list(bars.events())
    # Warm up numba's cache and the imports so the timed runs measure the steady state.
    run_engine(bar_events[:200], bars.instrument, strategy="sma_cross", params={"fast": 12, "slow": 48}, bar_period=None, durability="fast")

    result = {
        "ticks": run_engine(tick_events, ticks.instrument, strategy="sma_cross", params={"fast": 2, "slow": 5},
                            bar_period=timedelta(seconds=1), durability="full"),
        "ticks_fast_journal": run_engine(tick_events, ticks.instrument, strategy="sma_cross", params={"fast": 2, "slow": 5},
                                         bar_period=timedelta(seconds=1), durability="fast"),
        "bars": run_engine(bar_events, bars.instrument, strategy="sma_cross", params={"fast": 12, "slow": 48}, bar_period=None, durability="full"),
        "baseline": run_baseline(len(tick_events)),
        "journal": [run_journal("full", args.journal_appends), run_journal("fast", args.journal_appends * 5)],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
