"""docs/risk.md, "Ethical trading rules": every config example builds the limits it claims, and the
journal examples are what the real gate and breaker write."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from pathlib import Path

from risk_fakes import D, FakeClock, acts, context, intent, open_order
from tradepulse.risk import CircuitBreakers, RiskControls, RiskGate, RiskLimits, TradingMode, TradingState

DOC = (Path(__file__).resolve().parents[3] / "docs" / "risk.md").read_text()
SECTION = DOC.split("## Ethical trading rules", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, flags=re.DOTALL)


def test_the_section_exists_and_names_both_rules():
    assert "### Self-cross refusal (`self_cross`)" in SECTION
    assert "### Order-to-trade ratio breaker (`order_to_trade`)" in SECTION


def test_every_toml_example_builds_the_limits_it_shows():
    examples = blocks("toml")
    assert len(examples) == 1
    limits = RiskLimits.from_mapping(tomllib.loads(examples[0])["risk"], where="docs: [risk]")
    assert limits.max_order_to_trade_ratio == D(10)
    assert limits.order_to_trade_window_seconds == 300.0
    assert limits.order_to_trade_min_orders == 30
    assert limits.order_to_trade_action is TradingMode.REDUCING


def test_the_documented_defaults_are_the_defaults():
    limits = RiskLimits()
    table = {row[0]: row[1] for row in re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", SECTION, flags=re.MULTILINE)}
    assert table["max_order_to_trade_ratio"] == str(limits.max_order_to_trade_ratio)
    assert table["order_to_trade_window_seconds"] == f"{limits.order_to_trade_window_seconds:g}"
    assert table["order_to_trade_min_orders"] == str(limits.order_to_trade_min_orders)
    assert table["order_to_trade_action"] == limits.order_to_trade_action.value


def test_the_switch_off_shown_in_code_switches_it_off(clock: FakeClock):
    breakers = CircuitBreakers(RiskLimits(max_order_to_trade_ratio=None), TradingState(clock), clock)
    for _ in range(100):
        assert acts(breakers.on_order_submitted()) == []
    assert breakers.order_to_trade()["orders"] == 100


def test_the_denial_example_is_what_the_gate_journals(clock: FakeClock):
    documented = json.loads(blocks("json")[0])
    ask = replace(open_order("sell", "0.1", number=7), limit_price=D("50100.00"))
    gate = RiskGate(RiskLimits(), clock)
    payload = gate.check(intent("buy", "0.1"), context(clock, open_orders=(ask,))).to_payload()
    for key, value in documented.items():
        assert payload[key] == value, key


def test_the_trip_example_is_what_the_breaker_journals(clock: FakeClock):
    documented = json.loads(blocks("json")[1])
    controls = RiskControls(RiskLimits(max_order_to_trade_ratio=4, order_to_trade_min_orders=4), clock=clock)
    controls.on_trade("BTC/USDT")
    controls.on_trade("BTC/USDT")
    events = []
    for _ in range(8):
        events += acts(controls.on_order_submitted("BTC/USDT"))
    assert documented == events[0].to_payload()
