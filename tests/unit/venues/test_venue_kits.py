"""Venue kits: one factory per kind builds venue, feed, costs and clock; the service never branches on the kind."""

from __future__ import annotations

import ast
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tradepulse.adapters.kit import MarketRequest, VenueSettings, build_venue_kit
from tradepulse.adapters.paper import PaperVenue
from tradepulse.errors import ConfigError
from tradepulse.model.clock import SimulatedClock
from tradepulse.model.venue import SimulatedVenue

SERVICE = Path(__file__).resolve().parents[3] / "tradepulse" / "service"


def test_the_paper_kit_replays_a_sample_on_a_paper_venue_that_does_not_outlive_the_process():
    kit = build_venue_kit(VenueSettings(kind="paper", init_cash=Decimal(2500), fees_bps=Decimal(7)),
                          MarketRequest(symbol="BTC/USDT", feed="sample:binance:BTC/USDT:1h"), {})
    assert isinstance(kit.venue, PaperVenue) and isinstance(kit.venue, SimulatedVenue)
    assert isinstance(kit.clock, SimulatedClock)
    assert kit.persistent is False and kit.default_capital == Decimal(2500)
    assert kit.bar_period is None and kit.cash_reserve_fraction == 0  # bars come whole; a bar replay matches the backtest
    assert kit.costs.fees_bps == 7.0


def test_the_paper_kit_cuts_a_tick_recording_into_the_requested_bars():
    kit = build_venue_kit(VenueSettings(kind="paper"),
                          MarketRequest(symbol="BTC/USDT", feed="recording:binance:BTC/USDT", bar=timedelta(seconds=10)), {})
    assert kit.bar_period == timedelta(seconds=10) and kit.cash_reserve_fraction > 0


def test_an_unknown_kind_is_one_clear_error():
    with pytest.raises(ConfigError, match="venue kind 'fix' is not one of paper, ccxt"):
        build_venue_kit(VenueSettings(kind="fix"), MarketRequest(symbol="BTC/USDT"), {})


def test_the_service_builds_engines_without_branching_on_the_venue_kind():
    branches = []
    for name in ("slots.py", "host.py", "views.py", "events.py"):
        tree = ast.parse((SERVICE / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            left = node.left if isinstance(node, ast.Compare) else None
            if (isinstance(left, ast.Attribute) and left.attr == "kind" and isinstance(left.value, ast.Attribute)
                    and left.value.attr == "venue"):
                branches.append(f"{name}:{node.lineno}")
    assert branches == []
