"""The replay report: fills kept in a bounded log, and ``--json`` written a fill at a time in the format it always had."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import tradepulse.live.replay as replay_module
from tradepulse.cli import main
from tradepulse.live.report import FillLog, FillRecord, ReplayReport, round_trips
from tradepulse.model.jsonable import to_jsonable
from tradepulse.model.orders import Side

HOURLY = "sample:binance:BTC/USDT:1h"
# The keys of `tradepulse live replay --json`, in order, as the benchmark and docs/live.md read them.
JSON_KEYS = ["source", "symbol", "start", "end", "bars", "init_cash", "final_equity", "pnl", "total_return", "fees_paid", "position",
             "trades", "orders", "strategy", "params", "fees_bps", "slippage", "fill_convention", "journal", "fills", "trade_list"]
FILL_KEYS = ["time", "side", "quantity", "price", "fee", "target", "client_order_id", "trade_id"]


def _fills(count: int) -> list[FillRecord]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        FillRecord(start + timedelta(hours=i), Side.BUY if i % 3 else Side.SELL, Decimal("0.00100000") * (i + 1), Decimal("42000.10") + i,
                   Decimal("0.0421") * i, None if i % 4 == 0 else 0.25 * (i % 5), f"tp-{i}", f"paper-{i}", "BTC/USDT")
        for i in range(count)
    ]


def _iso(value):
    if isinstance(value, dict):
        return {key: _iso(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def test_replay_json_is_the_whole_report_in_the_previous_format_though_written_a_fill_at_a_time(monkeypatch, capsys):
    monkeypatch.setattr(FillLog, "BUFFER", 7)  # spill to the file many times over
    reports = []
    real = replay_module.run_replay

    def recording(*args, **kwargs):
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(replay_module, "run_replay", recording)
    assert main(["live", "replay", HOURLY, "--strategy", "sma_cross", "-p", "fast=10", "-p", "slow=30", "--end", "2019-12-01", "--json"]) == 0
    printed = capsys.readouterr().out
    (report,) = reports
    assert len(report.fills) > 3 * 7 and report.fills._offsets  # the fills went through the file
    # What the command printed before fills were streamed: the whole dict, dumped at once.
    expected = json.dumps(to_jsonable(_iso({"source": HOURLY, **report.to_dict()})), indent=2, allow_nan=False) + "\n"
    assert printed == expected
    output = json.loads(printed)
    assert list(output) == JSON_KEYS and [list(fill) for fill in output["fills"]] == [FILL_KEYS] * len(report.fills)
    assert output["trades"] == len(output["trade_list"]) > 0 and output["bars"] == report.bars


def test_a_report_whose_fills_spilled_reads_exactly_as_one_holding_them_in_a_list():
    fills = _fills(53)
    held = ReplayReport("BTC/USDT", Decimal("10000"), fills=list(fills), bars=60, final_equity=Decimal("10001.5"))
    spilled = ReplayReport("BTC/USDT", Decimal("10000"), bars=60, final_equity=Decimal("10001.5"))
    spilled.fills = FillLog(buffer=5)
    for fill in fills:
        spilled.fills.append(fill)
    assert isinstance(held.fills, FillLog) and held.fills == fills == spilled.fills
    assert spilled.to_dict() == held.to_dict()
    assert spilled.to_dict()["trade_list"] == round_trips(fills) and spilled.fees_paid == sum(f.fee for f in fills)
    summary, lists = spilled.to_json_parts()
    assert {**summary, **{key: list(items) for key, items in lists.items()}} == held.to_dict()
    assert spilled.summary_lines() == held.summary_lines()


def test_the_fill_log_is_a_sequence_equal_to_the_list_of_its_fills():
    fills = _fills(23)
    log = FillLog(fills, buffer=4)
    assert len(log) == 23 and list(log) == fills and log == fills and fills == log and log != fills[:-1]
    assert log[0] == fills[0] and log[-1] == fills[-1] and log[9] == fills[9]
    for part in (slice(None), slice(3, 17, 2), slice(-5, None), slice(20, 2, -3), slice(6, 6)):
        assert log[part] == fills[part]
    with pytest.raises(IndexError):
        log[23]
    assert log[9].quantity == Decimal("0.01000000") and str(log[9].quantity) == "0.01000000"  # exact, exponent kept
    assert pickle.loads(pickle.dumps(log)) == fills and copy.deepcopy(log) == fills
    assert FillLog() == [] and not FillLog()
    # Fills appended while the log is being read are read too, across a spill.
    reading = iter(log)
    head = [next(reading) for _ in range(22)]
    log.append(fills[0])
    log.append(fills[1])
    assert head + list(reading) == fills + fills[:2]
