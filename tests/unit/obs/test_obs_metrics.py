"""TradingMetrics: names, types, labels and values, read back through Prometheus's own parser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tradepulse.obs import TRADING_STATES, TradingMetrics
from tradepulse.risk.state import TradingMode


def parse(metrics: TradingMetrics) -> dict:
    """Return {family name: family} from the rendered exposition."""
    return {family.name: family for family in text_string_to_metric_families(metrics.render().decode("utf-8"))}


def sample(families: dict, family: str, name: str | None = None, **labels: str) -> float:
    for s in families[family].samples:
        if s.name == (name or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((family, name, labels))


def test_every_documented_metric_is_exposed_with_its_type():
    families = parse(TradingMetrics())

    expected = {
        "tradepulse_orders_submitted": "counter",
        "tradepulse_fills": "counter",
        "tradepulse_fill_quantity": "counter",
        "tradepulse_rejects": "counter",
        "tradepulse_risk_denials": "counter",
        "tradepulse_reconnects": "counter",
        "tradepulse_tick_to_order_seconds": "histogram",
        "tradepulse_order_to_ack_seconds": "histogram",
        "tradepulse_position": "gauge",
        "tradepulse_equity": "gauge",
        "tradepulse_drawdown": "gauge",
        "tradepulse_trading_state": "gauge",
        "tradepulse_feed_staleness_seconds": "gauge",
        "tradepulse_journal_lag_events": "gauge",
    }
    assert {name: families[name].type for name in expected} == expected


def test_counters_count_per_label():
    metrics = TradingMetrics()
    for _ in range(3):
        metrics.order_submitted("BTC/USDT")
    metrics.order_submitted("ETH/USDT")
    metrics.fill("BTC/USDT", Decimal("0.25"))
    metrics.fill("BTC/USDT", -0.5)  # a sell: quantity counts by size
    metrics.rejected("ETH/USDT")
    metrics.denied("max_position")
    metrics.denied("max_position")
    metrics.denied("price_band")
    metrics.reconnected("market_data")

    f = parse(metrics)

    assert sample(f, "tradepulse_orders_submitted", "tradepulse_orders_submitted_total", symbol="BTC/USDT") == 3
    assert sample(f, "tradepulse_orders_submitted", "tradepulse_orders_submitted_total", symbol="ETH/USDT") == 1
    assert sample(f, "tradepulse_fills", "tradepulse_fills_total", symbol="BTC/USDT") == 2
    assert sample(f, "tradepulse_fill_quantity", "tradepulse_fill_quantity_total", symbol="BTC/USDT") == 0.75
    assert sample(f, "tradepulse_rejects", "tradepulse_rejects_total", symbol="ETH/USDT") == 1
    assert sample(f, "tradepulse_risk_denials", "tradepulse_risk_denials_total", check="max_position") == 2
    assert sample(f, "tradepulse_risk_denials", "tradepulse_risk_denials_total", check="price_band") == 1
    assert sample(f, "tradepulse_reconnects", "tradepulse_reconnects_total", stream="market_data") == 1


def test_latency_histograms_bucket_their_observations():
    metrics = TradingMetrics()
    metrics.observe_tick_to_order(0.003)
    metrics.observe_tick_to_order(0.2)
    metrics.observe_order_to_ack(1.5)

    f = parse(metrics)

    t2o = "tradepulse_tick_to_order_seconds"
    assert sample(f, t2o, f"{t2o}_count") == 2
    assert sample(f, t2o, f"{t2o}_sum") == pytest.approx(0.203)
    assert sample(f, t2o, f"{t2o}_bucket", le="0.005") == 1
    assert sample(f, t2o, f"{t2o}_bucket", le="0.25") == 2
    o2a = "tradepulse_order_to_ack_seconds"
    assert sample(f, o2a, f"{o2a}_bucket", le="1.0") == 0
    assert sample(f, o2a, f"{o2a}_bucket", le="2.5") == 1


def test_gauges_hold_the_last_value_set():
    metrics = TradingMetrics()
    metrics.set_position("BTC/USDT", Decimal("0.5"))
    metrics.set_position("BTC/USDT", Decimal("-0.25"))
    metrics.set_equity(Decimal("10250.75"))
    metrics.set_drawdown(0.031)
    metrics.set_feed_staleness(4.5)
    metrics.set_journal_lag(7)

    f = parse(metrics)

    assert sample(f, "tradepulse_position", symbol="BTC/USDT") == -0.25
    assert sample(f, "tradepulse_equity") == 10250.75
    assert sample(f, "tradepulse_drawdown") == 0.031
    assert sample(f, "tradepulse_feed_staleness_seconds") == 4.5
    assert sample(f, "tradepulse_journal_lag_events") == 7


def test_trading_state_has_one_series_per_state_with_exactly_the_current_one_set():
    metrics = TradingMetrics()
    starts = {s: sample(parse(metrics), "tradepulse_trading_state", state=s) for s in TRADING_STATES}

    metrics.set_trading_state("HALTED")
    halted = {s: sample(parse(metrics), "tradepulse_trading_state", state=s) for s in TRADING_STATES}
    metrics.set_trading_state(TradingMode.REDUCING)
    reducing = {s: sample(parse(metrics), "tradepulse_trading_state", state=s) for s in TRADING_STATES}

    assert starts == {"ACTIVE": 1, "REDUCING": 0, "HALTED": 0}
    assert halted == {"ACTIVE": 0, "REDUCING": 0, "HALTED": 1}
    assert reducing == {"ACTIVE": 0, "REDUCING": 1, "HALTED": 0}


def test_an_unknown_trading_state_is_refused_and_the_current_one_kept():
    metrics = TradingMetrics()
    metrics.set_trading_state("HALTED")

    with pytest.raises(ValueError):
        metrics.set_trading_state("PAUSED")
    assert sample(parse(metrics), "tradepulse_trading_state", state="HALTED") == 1


def test_instances_use_private_registries_not_the_global_one():
    first, second = TradingMetrics(), TradingMetrics()  # same names twice would clash in one registry
    first.order_submitted("BTC/USDT")

    assert first.registry is not REGISTRY and first.registry is not second.registry
    assert "tradepulse_orders_submitted" not in {f.name for f in REGISTRY.collect()}
    assert not [s for s in parse(second)["tradepulse_orders_submitted"].samples if s.name.endswith("_total")]


def test_a_custom_namespace_prefixes_every_metric():
    names = set(parse(TradingMetrics(namespace="paper")))

    assert "paper_equity" in names
    assert not [n for n in names if n.startswith("tradepulse_")]
