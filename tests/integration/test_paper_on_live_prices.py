"""Paper trading on live prices: the paper venue fed by the local venue's public streams through ccxt, no keys."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D

import pytest
from emulator_fixtures import run

from tradepulse.adapters.kit import MarketRequest, VenueSettings, build_venue_kit
from tradepulse.errors import ConfigError
from tradepulse.live.engine import EngineConfig, LiveEngine
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.service.config import parse_config
from tradepulse.store import Journal
from tradepulse.store.journal import segment_rows
from tradepulse.strategy import load_strategy

BTC = "BTC/USDT"
RUN_SECONDS = 14  # 140 s of recorded market at 10x: 28 bars of 5 s


@pytest.fixture(scope="module")
def venue_url() -> Iterator[str]:
    """The local venue as its own process, replaying the recordings ten times faster than real time."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tradepulse.cli", "venue", "serve", "--port", "0", "--speed", "10", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            raise AssertionError(f"the venue did not start: {process.stderr.read() if process.stderr else ''}")
        yield json.loads(line)["rest"].rsplit("/api/v3", 1)[0]
    finally:
        process.terminate()
        process.wait(timeout=15)


async def paper_on_live(venue_url: str, journal_path) -> dict:
    environ = {"TRADEPULSE_BINANCE_URL": venue_url}  # public data only: no key, no secret
    kit = build_venue_kit(VenueSettings(kind="paper", exchange="binance", init_cash=D(1000), fees_bps=D(10)),
                          MarketRequest(symbol=BTC, feed="live", bar=timedelta(seconds=5)), environ)
    risk = RiskControls(RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=None), clock=kit.clock.now,
                        symbols=[BTC], currency="USDT")
    config = EngineConfig(symbol=BTC, capital=D(1000), bar_period=kit.bar_period, sizing_costs=kit.costs,
                          cash_reserve_fraction=kit.cash_reserve_fraction, heartbeat_seconds=0.5)
    with Journal(journal_path, clock=kit.clock.now) as journal:
        engine = LiveEngine(load_strategy("sma_cross")(fast=2, slow=3), kit.feed, kit.venue, journal, risk=risk,
                            clock=kit.clock, config=config)
        asyncio.get_running_loop().call_later(RUN_SECONDS, kit.feed.stop)
        report = await engine.run()
        books = [row for event in journal.iter_events(kinds=["market.bars"]) for row in segment_rows(event.payload)]
        instrument = (await kit.venue.instruments())[BTC]
    return {"report": report, "bars": books, "instrument": instrument, "venue": kit.venue, "state": risk.state.mode}


def test_the_paper_venue_trades_on_the_exchanges_live_book_without_keys(venue_url, tmp_path):
    outcome = run(paper_on_live(venue_url, tmp_path / "journal.sqlite"), timeout_s=90)
    report, venue = outcome["report"], outcome["venue"]
    assert venue.name == "paper" and str(outcome["state"]).upper().endswith("ACTIVE")
    assert report.bars >= 10 and len(report.fills) >= 2
    # The instrument is the exchange's own (its tick and lot), and every fill is on that grid,
    # priced inside the range of the live bars around it.
    instrument = outcome["instrument"]
    assert instrument.tick_size == D("0.01") and instrument.lot_size == D("0.00001")
    low = min(bar["low"] for bar in outcome["bars"])
    high = max(bar["high"] for bar in outcome["bars"])
    for fill in report.fills:
        assert fill.quantity % instrument.lot_size == 0
        assert D(repr(low)) * D("0.99") <= fill.price <= D(repr(high)) * D("1.01")


def test_the_service_config_takes_live_data_for_a_paper_venue_only(tmp_path):
    strategy = {"id": "paper-live", "strategy": "sma_cross", "symbol": BTC, "feed": "live", "bar": "1m"}
    config = parse_config({"service": {"state_dir": str(tmp_path)}, "venue": {"kind": "paper", "exchange": "binance"},
                           "strategies": [strategy]})
    assert config.strategies[0].feed == "live"
    with pytest.raises(ConfigError, match="feed"):
        parse_config({"service": {"state_dir": str(tmp_path)}, "venue": {"kind": "ccxt", "exchange": "binance"},
                      "strategies": [strategy]})
