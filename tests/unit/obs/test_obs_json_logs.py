"""JSON log lines: shape, extras, correlation ids across tasks and threads, reconfiguration."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tradepulse.obs import configure_logging, correlation, current_correlation_id


def test_every_line_is_one_json_object_with_the_standard_fields(json_log):
    json_log.logger.info("first %s", "one")
    json_log.logger.warning("second")

    lines = json_log.raw().splitlines()
    records = json_log.records()

    assert len(lines) == 2
    for record in records:
        assert {"ts", "level", "logger", "message", "service"} <= record.keys()
        assert record["logger"] == json_log.logger.name
        assert record["service"] == "test-svc"
        ts = datetime.fromisoformat(record["ts"])
        assert ts.utcoffset() == timedelta(0)
        assert abs(datetime.now(timezone.utc) - ts) < timedelta(minutes=5)
    assert [r["level"] for r in records] == ["INFO", "WARNING"]
    assert records[0]["message"] == "first one"


def test_extras_become_top_level_fields_and_odd_types_are_stringified(json_log):
    json_log.logger.info(
        "filled", extra={"symbol": "BTC/USDT", "qty": 0.5, "price": Decimal("64000.10"), "tags": ["a", "b"]}
    )

    record = json_log.records()[0]

    assert record["symbol"] == "BTC/USDT"
    assert record["qty"] == 0.5
    assert record["price"] == "64000.10"
    assert record["tags"] == ["a", "b"]


def test_an_extra_named_like_a_standard_field_does_not_overwrite_it(json_log):
    json_log.logger.info("real", extra={"service": "spoofed", "level": "nope"})

    record = json_log.records()[0]

    assert record["service"] == "test-svc"
    assert record["extra_service"] == "spoofed"


def test_exceptions_are_recorded_with_their_type(json_log):
    try:
        raise KeyError("missing")
    except KeyError:
        json_log.logger.exception("lookup failed")

    record = json_log.records()[0]

    assert record["level"] == "ERROR"
    assert record["exception_type"] == "KeyError"
    assert "KeyError" in record["exception"]


def test_records_inside_a_correlation_block_carry_its_id_and_outside_none(json_log):
    json_log.logger.info("before")
    with correlation("ord-17") as cid:
        json_log.logger.info("inside")
        with correlation() as inner:
            json_log.logger.info("nested")
        json_log.logger.info("inside again")
    json_log.logger.info("after")

    ids = [r.get("correlation_id") for r in json_log.records()]

    assert cid == "ord-17"
    assert inner and inner != cid
    assert ids == [None, "ord-17", inner, "ord-17", None]
    assert current_correlation_id() is None


def test_concurrent_asyncio_tasks_keep_their_own_correlation_ids(json_log):
    async def work(order_id: str, other_started: asyncio.Event, mine_started: asyncio.Event) -> None:
        with correlation(order_id):
            mine_started.set()
            # Interleave: each task logs while the other is inside its own block.
            await other_started.wait()
            for step in range(3):
                json_log.logger.info("step", extra={"step": step, "expected": order_id})
                await asyncio.sleep(0)

    async def main() -> None:
        a_started, b_started = asyncio.Event(), asyncio.Event()
        await asyncio.gather(work("ord-A", b_started, a_started), work("ord-B", a_started, b_started))

    asyncio.run(main())
    records = json_log.records()

    assert len(records) == 6
    assert {r["correlation_id"] for r in records} == {"ord-A", "ord-B"}
    assert all(r["correlation_id"] == r["expected"] for r in records)
    # They really interleaved, so the test would catch a shared (non-context) id.
    ids = [r["correlation_id"] for r in records]
    assert sum(1 for before, after in zip(ids, ids[1:]) if before != after) >= 2


def test_threads_keep_their_own_correlation_ids(json_log):
    barrier = threading.Barrier(2)

    def work(order_id: str) -> None:
        with correlation(order_id):
            barrier.wait(timeout=5)
            json_log.logger.info("threaded", extra={"expected": order_id})

    threads = [threading.Thread(target=work, args=(oid,)) for oid in ("t-1", "t-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    records = json_log.records()
    assert sorted(r["correlation_id"] for r in records) == ["t-1", "t-2"]
    assert all(r["correlation_id"] == r["expected"] for r in records)


def test_an_explicit_correlation_id_extra_wins_over_the_context(json_log):
    with correlation("ctx"):
        json_log.logger.info("explicit", extra={"correlation_id": "given"})

    assert json_log.records()[0]["correlation_id"] == "given"


def test_configuring_twice_replaces_the_handler_instead_of_doubling_lines():
    logger = logging.getLogger("tp-obs-test-reconfigure")
    logger.propagate = False
    first, second = io.StringIO(), io.StringIO()
    foreign = logging.StreamHandler(io.StringIO())
    logger.addHandler(foreign)
    try:
        configure_logging("INFO", first, logger=logger)
        handler = configure_logging("WARNING", second, service="svc2", logger=logger)
        logger.info("dropped by level")
        logger.warning("kept")

        assert first.getvalue() == ""
        records = [json.loads(line) for line in second.getvalue().splitlines()]
        assert [(r["message"], r["service"]) for r in records] == [("kept", "svc2")]
        assert foreign in logger.handlers
        assert sum(1 for h in logger.handlers if h is not foreign) == 1
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(foreign)
