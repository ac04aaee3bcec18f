"""The live service (`tradepulse serve`): journal listeners, API reads, live fan-out, memory.

Each part runs in its own interpreter (``bench/run.py`` calls it through ``run_isolated``) and
prints one JSON line last. Every figure has a baseline or a peer measured in the same run:

* ``journal``: journal appends per second with the service's listener attached exactly as
  :class:`~tradepulse.service.host.ServiceHost` attaches it (``MetricsRecorder``, the JSON log line
  per order event, ``EventBus.publish``; API tokens registered for log redaction, JSON logs to a
  file as under ``tradepulse live start``), with no live subscriber and with one draining the bus,
  against a bare ``Journal.append``. The three journals sit side by side on the same disk and are
  appended to in turn, one event each, so that fsync noise hits them alike. The appended events
  are a real engine's: a replay of the 5-minute sample's first days journaled once, then appended
  again in that mix (bar, mark, signal, risk decision, order submitted / accepted / filled), with
  the engine's yield to the event loop after each. Durability ``full`` and ``fast``.
* ``api``: a real ServiceHost on the paper venue trades the 10,999-bar 5-minute sample at full
  replay speed with a strategy that changes its target on every bar (about 11,000 orders, 77,000
  journal events; ``fast`` journal), while the fill rate of the first and last 1,000 orders is
  recorded. Then, with the journal full and the engine finished, the API (``create_app`` in process
  through ``httpx.ASGITransport``, bearer token and all) is timed on ``/status``, ``/orders``,
  ``/fills`` and ``/pnl`` against the same data read directly (``ServiceHost.status()`` and
  ``tradepulse.store.queries`` on the same read-only connection). Memory: resident set after the
  host started (nothing traded yet) and after the fill, and the process's peak.
* ``api-scale``: ``/orders`` and ``/fills`` (and ``/orders?status=FILLED``) through the real API
  on a host that has traded 1,000 one-minute bars and on one that has traded 100,000 (the tiled
  sample of ``bench_nautilus.py``; about one order per bar), p50 and p99 of each, so the cost of a
  page can be compared across journal sizes (the issue's target: p50 within 2x).
* ``fanout``: messages per second delivered to 1, 10 and 50 subscribers of ``EventBus`` (real
  ``order.filled`` messages, published paced so that no subscriber's queue overflows) and through
  the real ``/api/v1/stream`` served by uvicorn (clients in another process, as dashboards are),
  against publishing with no subscriber.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.strategy import IntParam, Strategy

sys.path.insert(0, str(Path(__file__).resolve().parent))

SOURCE = "sample:binance:BTC/USDT-PERP:5m"
STRATEGY_ID = "btc-flip"
TOKEN = "bench-read-token-0123456789abcdefghij"


class EveryBar(Strategy):
    """Long on even bars, flat on odd ones: one order per bar, to fill a journal the way months of trading would."""

    bar_seconds = IntParam(300, min=1, max=86_400, doc="bar length the parity is taken over")

    @property
    def warmup_bars(self) -> int:
        return 2

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        parity = (bars.index.asi8 // (self.bar_seconds * 1_000_000_000)) % 2
        return pd.Series(parity.astype(np.float64), index=bars.index)


# -- helpers -------------------------------------------------------------------------------------


def service_config(state_dir: Path, durability: str, source: str = SOURCE, bar: str = "5m") -> Any:
    """A paper-venue service trading :class:`EveryBar` on ``source`` (``bar`` bars) at full speed, no fees, no loss breakers."""
    from tradepulse.live.replay import REPLAY_RISK_LIMITS
    from tradepulse.service.config import parse_config

    document = {
        "service": {"name": "bench", "state_dir": str(state_dir), "durability": durability},
        "api": {"port": 0},
        # No fees: a strategy trading every bar would pay its capital away and stop trading.
        "venue": {"kind": "paper", "init_cash": 10_000, "fees_bps": 0},
        "strategies": [{"id": STRATEGY_ID, "strategy": f"{Path(__file__).resolve()}:EveryBar", "symbol": "BTC/USDT-PERP",
                        "feed": source, "bar": bar,
                        "params": {"bar_seconds": int(pd.Timedelta(bar).total_seconds())}}],
    }
    # The gate's checks stay on; the loss and drawdown breakers are off, as in a replay (TOML has no null).
    return dataclasses.replace(parse_config(document), risk=REPLAY_RISK_LIMITS)


def log_to(path: Path) -> Any:
    """JSON log lines to a file, as ``tradepulse live start`` does (``run_service`` configures the same)."""
    from tradepulse.obs.json_logs import configure_logging

    stream = path.open("w", encoding="utf-8")
    configure_logging("INFO", stream, service="bench")
    return stream


def register_tokens() -> Any:
    """The API's tokens, registered for log redaction as ``ApiAuth.from_environ`` does in the service."""
    from tradepulse.service.auth import ApiAuth

    return ApiAuth.from_environ({"TRADEPULSE_API_READ_TOKEN": TOKEN})


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """Current resident memory of this process (Linux)."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux; the same figure as ``ru_maxrss``, in the same units as ``rss_mib``)."""
    return _status_mib("VmHWM")


def percentiles_us(samples_ns: list[int]) -> dict[str, float]:
    values = np.asarray(samples_ns, dtype=np.float64) / 1_000
    return {"p50_us": round(float(np.percentile(values, 50)), 1), "p99_us": round(float(np.percentile(values, 99)), 1)}


async def recorded_mix(folder: Path, days: str = "2023-01-04") -> list[tuple[str, dict, str | None]]:
    """A real engine's journal events (kind, payload, correlation id) from replaying the sample's first days."""
    from tradepulse.live.replay import run_replay_async
    from tradepulse.model.costs import Costs
    from tradepulse.store import Journal

    path = folder / "mix.sqlite"
    await run_replay_async(SOURCE, EveryBar(), costs=Costs(fees_bps=0), journal_path=path, end=days, symbol="BTC/USDT")
    with Journal(path, read_only=True) as journal:
        events = [event for event in journal.iter_events() if event.kind.split(".")[0] in ("market", "portfolio", "strategy", "risk", "order")]
    first_bar = next(index for index, event in enumerate(events) if event.kind in ("market.bars", "market.bar"))
    return [(event.kind, event.payload, event.correlation_id) for event in events[first_bar:]]


# -- part 1: journal appends with the service's listener ---------------------------------------


async def _hosted_journal(folder: Path, durability: str) -> tuple[Any, Any]:
    """A host and one started engine slot whose journal carries the host's listener (as ``ServiceHost.start``)."""
    from tradepulse.service.host import ServiceHost
    from tradepulse.service.slots import build_slot

    config = service_config(folder, durability)
    host = ServiceHost(config, environ={})
    slot = build_slot(config, config.strategies[0], {})
    host.slots[slot.strategy_id] = slot
    slot.journal.add_listener(host._listener_for(slot))
    await slot.engine.start()  # connect the paper venue, build the OMS and execution (the recorder reads the execution)
    return host, slot


async def journal_part(folder: Path, appends: dict[str, int]) -> dict:
    """Three journals side by side, appended to in turn so that disk noise (fsync) hits all of them alike."""
    from tradepulse.store import Journal

    mix = await recorded_mix(folder)
    stream = log_to(folder / "service.log")
    register_tokens()
    variants = ["bare", "listener", "listener_subscriber"]
    rows = []
    for durability, count in appends.items():
        bare = Journal(folder / f"bare-{durability}.sqlite", durability=durability)
        hosted = [await _hosted_journal(folder / f"{variant}-{durability}", durability) for variant in variants[1:]]
        journals = [bare, hosted[0][1].journal, hosted[1][1].journal]
        bus = hosted[1][0].bus
        received = [0]

        async def drain(bus: Any = bus, received: list = received) -> None:
            async for _ in bus.subscribe():
                received[0] += 1

        consumer = asyncio.create_task(drain())
        await asyncio.sleep(0)
        timings: list[list[int]] = [[], [], []]
        for index in range(200 + count):  # the first 200 rounds warm up and are not counted
            kind, payload, correlation_id = mix[index % len(mix)]
            for turn in range(3):
                which = (index + turn) % 3
                begin = time.perf_counter_ns()
                journals[which].append(kind, payload, correlation_id=correlation_id)
                await asyncio.sleep(0)  # the engine yields between events; a subscriber drains here
                if index >= 200:
                    timings[which].append(time.perf_counter_ns() - begin)
        bus.close()
        await consumer
        bare.close()
        for host, slot in hosted:
            await slot.venue.close()
            slot.close()
        seconds = {name: sum(timings[number]) / 1e9 for number, name in enumerate(variants)}
        medians = {name: float(np.median(timings[number])) / 1e3 for number, name in enumerate(variants)}
        rows.append({
            "durability": durability, "appends": count,
            **{f"{name}_per_second": round(count / seconds[name]) for name in variants},
            **{f"{name}_p50_us": round(medians[name], 1) for name in variants},
            "listener_overhead": round(seconds["listener"] / seconds["bare"], 2),
            "subscriber_overhead": round(seconds["listener_subscriber"] / seconds["bare"], 2),
            "listener_us_per_event": round((seconds["listener"] - seconds["bare"]) / count * 1e6, 1),
            "subscriber_missed": 200 + count - received[0],
        })
    stream.close()
    return {"mix_events": len(mix), "rows": rows}


# -- part 2 and 4: API reads over a 10,000-order journal, and the host's memory -------------------


def sample_prefix(folder: Path, bars: int | None) -> str:
    """The 5-minute sample, or its first ``bars`` bars written to a CSV (the quick run's smaller journal)."""
    if bars is None:
        return SOURCE
    from tradepulse.data import load_bars

    path = folder / "bars.csv"
    load_bars(SOURCE).iloc[:bars].to_csv(path)
    return str(path)


async def api_part(folder: Path, requests: int, pnl_requests: int, bars: int | None) -> dict:
    import httpx

    from tradepulse.service.api import create_app
    from tradepulse.service.host import ServiceHost
    from tradepulse.store import queries

    stream = log_to(folder / "service.log")
    auth = register_tokens()
    gc.collect()
    rss_before = rss_mib()
    host = ServiceHost(service_config(folder / "state", "fast", sample_prefix(folder, bars)), environ={})
    started = time.perf_counter()
    await host.start()
    slot = host.slots[STRATEGY_ID]
    rss_started, peak_started = rss_mib(), peak_rss_mib()
    submitted: list[float] = []
    slot.journal.add_listener(lambda event: submitted.append(time.perf_counter()) if event.kind == "order.submitted" else None)
    await asyncio.shield(slot.task)
    fill_seconds = time.perf_counter() - started
    if slot.outcome != "completed":
        raise RuntimeError(f"the engine ended {slot.outcome}: {slot.error}")
    gc.collect()
    rss_filled, peak_filled = rss_mib(), peak_rss_mib()
    journal = slot.journal
    orders = journal.count("order.submitted")
    window = min(1_000, len(submitted) // 2)
    fill = {
        "seconds": round(fill_seconds, 1), "orders": orders, "events": journal.count(),
        "fills": journal.count("order.filled"), "marks": journal.count("portfolio.marks"),
        "first_orders_per_second": round((window - 1) / (submitted[window - 1] - submitted[0])),
        "last_orders_per_second": round((window - 1) / (submitted[-1] - submitted[-window])),
        "journal_mib": round(sum(Path(f"{journal.path}{suffix}").stat().st_size for suffix in ("", "-wal")
                                 if Path(f"{journal.path}{suffix}").exists()) / 2**20, 1),
    }

    reader = slot.open_reader()
    capital = slot.engine.execution.capital
    routes = [
        ("/status", requests, host.status),
        ("/orders?limit=100", requests, lambda: queries.orders(reader, limit=100)),
        ("/fills?limit=100", requests, lambda: queries.fills(reader, limit=100)),
        ("/pnl?limit=1000", pnl_requests, lambda: queries.pnl_series(reader, initial_equity=capital, last=1000)),
    ]
    rows = []
    app = create_app(host, auth)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers) as client:
        for path, count, direct in routes:
            for _ in range(3):
                response = await client.get(f"/api/v1{path}")
                response.raise_for_status()
                direct()
            api_ns, direct_ns = [], []
            for _ in range(count):
                begin = time.perf_counter_ns()
                response = await client.get(f"/api/v1{path}")
                api_ns.append(time.perf_counter_ns() - begin)
                begin = time.perf_counter_ns()
                result = direct()
                direct_ns.append(time.perf_counter_ns() - begin)
            body = response.json()
            api, raw = percentiles_us(api_ns), percentiles_us(direct_ns)
            rows.append({"route": path, "requests": count, "items": len(body) if isinstance(body, list) else 1,
                         "bytes": len(response.content), "direct_items": len(result) if hasattr(result, "__len__") else 1,
                         "api_p50_us": api["p50_us"], "api_p99_us": api["p99_us"],
                         "direct_p50_us": raw["p50_us"], "direct_p99_us": raw["p99_us"],
                         "overhead": round(api["p50_us"] / raw["p50_us"], 1)})
    memory = {
        "before_mib": round(rss_before, 1), "started_mib": round(rss_started, 1), "filled_mib": round(rss_filled, 1),
        "held_mib": round(rss_filled - rss_started, 1), "held_kib_per_order": round((rss_filled - rss_started) * 1024 / orders, 2),
        "peak_started_mib": round(peak_started, 1), "peak_filled_mib": round(peak_filled, 1),
        "peak_after_reads_mib": round(peak_rss_mib(), 1),
    }
    await host.stop()
    stream.close()
    return {"fill": fill, "routes": rows, "memory": memory}


# -- part 2b: the trading routes as the journal grows --------------------------------------------


SCALE_ROUTES = ("/orders?limit=100", "/fills?limit=100", "/orders?limit=100&status=FILLED")


async def _filled_host(folder: Path, bars: int) -> tuple[Any, float]:
    """A real host that has traded :class:`EveryBar` on ``bars`` one-minute bars (about one order per bar)."""
    from bench_nautilus import data_file

    from tradepulse.service.host import ServiceHost

    host = ServiceHost(service_config(folder / "state", "fast", str(data_file("bars", bars)), bar="1m"), environ={})
    started = time.perf_counter()
    await host.start()
    slot = host.slots[STRATEGY_ID]
    await asyncio.shield(slot.task)
    if slot.outcome != "completed":
        raise RuntimeError(f"the engine ended {slot.outcome}: {slot.error}")
    return host, time.perf_counter() - started


async def scale_part(folder: Path, sizes: list[int], requests: int) -> dict:
    """``/orders`` and ``/fills`` through the real API on journals of each size (one real host each, filled by trading)."""
    import httpx

    from tradepulse.service.api import create_app

    stream = log_to(folder / "service.log")
    auth = register_tokens()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    results = []
    for bars in sizes:
        sized = folder / f"bars-{bars}"
        sized.mkdir()
        host, fill_seconds = await _filled_host(sized, bars)
        journal = host.slots[STRATEGY_ID].journal
        row: dict[str, Any] = {"bars": bars, "orders": journal.count("order.submitted"), "events": journal.count(),
                               "fill_seconds": round(fill_seconds, 1), "rss_mib": round(rss_mib(), 1), "routes": {}}
        app = create_app(host, auth)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers) as client:
            for path in SCALE_ROUTES:
                for _ in range(3):
                    (await client.get(f"/api/v1{path}")).raise_for_status()
                samples = []
                for _ in range(requests):
                    begin = time.perf_counter_ns()
                    response = await client.get(f"/api/v1{path}")
                    samples.append(time.perf_counter_ns() - begin)
                response.raise_for_status()
                row["routes"][path] = {"items": len(response.json()), **percentiles_us(samples)}
        await host.stop()
        results.append(row)
        gc.collect()
    stream.close()
    return {"sizes": results, "requests": requests}


# -- part 3: fan-out to live subscribers ---------------------------------------------------------


async def _sample_message() -> dict:
    """A real ``order.filled`` message (the largest kind subscribers receive often)."""
    from tradepulse.service.events import event_message
    from tradepulse.store import Journal

    with tempfile.TemporaryDirectory() as folder:
        mix = await recorded_mix(Path(folder), days="2023-01-03")
        with Journal(Path(folder) / "one.sqlite", durability="fast") as journal:
            kind, payload, correlation_id = next(item for item in mix if item[0] == "order.filled")
            return event_message(STRATEGY_ID, journal.append(kind, payload, correlation_id=correlation_id))


async def _paced_publish(bus: Any, message: dict, count: int, high_water: int = 200) -> None:
    """Publish ``count`` copies, letting subscribers drain whenever the slowest falls ``high_water`` behind."""
    for index in range(count):
        bus.publish(message)
        if index % 50 == 49:
            while bus.backlog() > high_water:
                await asyncio.sleep(0)


async def bus_fanout(message: dict, subscribers: int, count: int) -> dict:
    from tradepulse.service.events import EventBus

    bus = EventBus()
    received = [0] * subscribers

    async def consume(index: int) -> None:
        async for _ in bus.subscribe():
            received[index] += 1

    tasks = [asyncio.create_task(consume(index)) for index in range(subscribers)]
    await asyncio.sleep(0)
    started = time.perf_counter()
    await _paced_publish(bus, message, count)
    while bus.backlog():
        await asyncio.sleep(0)
    seconds = time.perf_counter() - started
    dropped = sum(bus.dropped.values())
    bus.close()
    await asyncio.gather(*tasks)
    delivered = sum(received)
    return {"subscribers": subscribers, "published": count, "delivered": delivered, "dropped": dropped,
            "seconds": round(seconds, 4), "published_per_second": round(count / seconds),
            "delivered_per_second": round(delivered / seconds) if subscribers else None}


async def stream_fanout(message: dict, clients: int, count: int, folder: Path) -> dict:
    """The same messages through the real ``/api/v1/stream`` (uvicorn as ``tradepulse serve`` runs it)."""
    import socket

    import uvicorn

    from tradepulse.service.api import create_app
    from tradepulse.service.host import ServiceHost

    host = ServiceHost(service_config(folder / f"stream-{clients}", "fast"), environ={})  # the API's backend; not trading
    app = create_app(host, register_tokens())
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", ws_ping_interval=20))
    serving = asyncio.ensure_future(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.01)
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "stream-clients", "--url", f"ws://127.0.0.1:{port}/api/v1/stream",
        "--clients", str(clients), stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    ready = await process.stdout.readline()
    if ready.strip() != b"ready":
        raise RuntimeError(f"stream clients did not connect: {ready!r}")
    while host.bus.subscribers < clients:
        await asyncio.sleep(0.01)
    started, cpu_started = time.monotonic(), time.process_time()
    await _paced_publish(host.bus, message, count)
    host.bus.publish({"type": "bench_end"})
    while host.bus.backlog():
        await asyncio.sleep(0.001)
    server_cpu = time.process_time() - cpu_started
    output = json.loads((await process.stdout.read()).decode().strip().splitlines()[-1])
    await process.wait()
    seconds = max(output["ended_at"]) - started
    server.should_exit = True
    await serving
    listener.close()
    delivered = sum(output["received"])
    return {"subscribers": clients, "published": count, "delivered": delivered, "dropped": clients * count - delivered,
            "seconds": round(seconds, 3), "delivered_per_second": round(delivered / seconds),
            # CPU seconds over the same interval: which side of the socket is the bottleneck.
            "server_cpu_seconds": round(server_cpu, 3), "clients_cpu_seconds": round(output["cpu_seconds"], 3)}


async def stream_clients(url: str, clients: int) -> None:
    """Helper process: ``clients`` WebSocket subscribers counting messages until ``bench_end``."""
    import websockets

    connections = [await websockets.connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_size=None)
                   for _ in range(clients)]
    for connection in connections:
        json.loads(await connection.recv())  # the status snapshot
    print("ready", flush=True)
    cpu_started = time.process_time()

    async def consume(connection: Any) -> tuple[int, float]:
        received = 0
        async for frame in connection:
            message = json.loads(frame)
            if message.get("type") == "bench_end":
                return received, time.monotonic()
            if message.get("type") == "event":
                received += 1
        raise RuntimeError("the stream ended before bench_end")

    results = await asyncio.gather(*(consume(connection) for connection in connections))
    cpu_seconds = time.process_time() - cpu_started
    for connection in connections:
        await connection.close()
    print(json.dumps({"received": [r for r, _ in results], "ended_at": [t for _, t in results], "cpu_seconds": cpu_seconds}),
          flush=True)


async def fanout_part(folder: Path, messages: int, stream_messages: int, counts: list[int]) -> dict:
    logging.getLogger().setLevel(logging.WARNING)
    message = await _sample_message()
    await bus_fanout(message, 1, 500)  # warm-up
    baseline = await bus_fanout(message, 0, messages)
    bus_rows = [await bus_fanout(message, count, messages) for count in counts]
    stream_rows = [await stream_fanout(message, count, stream_messages, folder) for count in counts]
    return {"message_bytes": len(json.dumps(message, default=str, separators=(",", ":"))), "baseline": baseline,
            "bus": bus_rows, "stream": stream_rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["journal", "api", "api-scale", "fanout", "stream-clients"])
    parser.add_argument("--quick", action="store_true", help="fewer appends, requests and messages")
    parser.add_argument("--url")
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    if args.part == "stream-clients":
        asyncio.run(stream_clients(args.url, args.clients))
        return
    quick = args.quick
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        if args.part == "journal":
            appends = {"full": 1_000, "fast": 3_000} if quick else {"full": 3_000, "fast": 10_000}
            result = asyncio.run(journal_part(folder, appends))
        elif args.part == "api-scale":
            # Quick: 1,000 and 10,000 orders; full: 1,000 and 100,000 (the sizes).
            result = asyncio.run(scale_part(folder, sizes=[1_000, 10_000] if quick else [1_000, 100_000],
                                            requests=50 if quick else 200))
        elif args.part == "api":
            # Quick: the first 4,000 bars (about 4,000 orders); full: the whole sample (about 11,000 orders).
            result = asyncio.run(api_part(folder, requests=50 if quick else 200, pnl_requests=20 if quick else 50,
                                          bars=4_000 if quick else None))
        else:
            result = asyncio.run(fanout_part(folder, messages=5_000 if quick else 20_000,
                                             stream_messages=1_000 if quick else 3_000, counts=[1, 10, 50]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
