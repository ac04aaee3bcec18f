"""RiskLimits: validated at construction, strict about unknown keys, exact Decimals, journal-ready."""

from __future__ import annotations

import tomllib
from datetime import time
from decimal import Decimal

import pytest

from risk_fakes import round_trips_through_json
from tradepulse.errors import ConfigError
from tradepulse.risk import RiskLimits, SymbolLimits, TradingMode


def test_defaults_switch_on_every_account_independent_limit():
    limits = RiskLimits()
    assert limits.max_order_notional is None  # money limits depend on the account: off until set
    assert limits.price_band_bps == Decimal(500)
    assert limits.max_open_orders == 50
    assert limits.max_orders_per_window == 30
    assert limits.max_daily_loss_fraction == Decimal("0.05")
    assert limits.max_drawdown_fraction == Decimal("0.20")
    assert limits.stale_after_seconds == 60.0
    assert limits.stale_data_action is TradingMode.HALTED
    assert limits.trading_day_start_utc == time(0, 0)


def test_from_mapping_parses_a_toml_risk_table_into_exact_decimals():
    document = tomllib.loads(
        """
        [risk]
        max_order_notional = 10000
        max_position_notional = 25_000.50
        price_band_bps = "150"
        max_daily_loss_fraction = 0.03
        trading_day_start_utc = "21:00"
        stale_data_action = "reducing"
        max_open_orders = 12

        [risk.symbols."BTC/USDT"]
        max_position_quantity = "0.5"
        """
    )
    limits = RiskLimits.from_mapping(document["risk"])
    assert limits.max_order_notional == Decimal("10000")
    assert limits.max_position_notional == Decimal("25000.5")
    assert limits.price_band_bps == Decimal("150")
    assert limits.max_daily_loss_fraction == Decimal("0.03")  # via str(): not 0.0299999...
    assert limits.trading_day_start_utc == time(21, 0)
    assert limits.stale_data_action is TradingMode.REDUCING
    assert limits.max_open_orders == 12
    assert limits.symbols["BTC/USDT"].max_position_quantity == Decimal("0.5")


def test_unknown_key_is_rejected_naming_it_and_the_allowed_keys():
    with pytest.raises(ConfigError, match=r"risk: unknown key 'max_order_notionl' \(allowed: .*max_order_notional"):
        RiskLimits.from_mapping({"max_order_notionl": 10000})


def test_unknown_key_in_a_symbol_table_is_rejected_with_its_path():
    with pytest.raises(ConfigError, match=r"risk\.symbols\.'BTC/USDT': unknown key 'max_drawdown'"):
        RiskLimits.from_mapping({"symbols": {"BTC/USDT": {"max_drawdown": 5}}})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_order_notional", -1, r"risk\.max_order_notional must be greater than 0, got -1"),
        ("max_order_notional", 0, r"greater than 0"),
        ("max_order_notional", "lots", r"must be a number such as 10000"),
        ("max_order_notional", float("nan"), r"must be a number"),
        ("max_open_orders", 2.5, r"risk\.max_open_orders must be a whole number"),
        ("max_open_orders", True, r"must be a whole number such as 20, got True"),
        ("price_band_bps", 20_000, r"at most 10000"),
        ("max_daily_loss_fraction", 1.5, r"at most 1"),
        ("stale_after_seconds", 0, r"greater than 0"),
        ("order_window_seconds", None, r"risk\.order_window_seconds cannot be switched off"),
        ("stale_data_action", "ACTIVE", r"must be one of REDUCING, HALTED"),
        ("trading_day_start_utc", "25:00", r"UTC time of day such as"),
        ("trading_day_start_utc", "09:00+02:00", r"drop the offset"),
        ("flatten_on_breaker_halt", "yes", r"must be true or false"),
        ("symbols", ["BTC/USDT"], r"risk\.symbols must be a table"),
    ],
)
def test_bad_values_raise_config_error_naming_key_and_value(key, value, message):
    with pytest.raises(ConfigError, match=message):
        RiskLimits.from_mapping({key: value})


def test_direct_construction_is_validated_too():
    with pytest.raises(ConfigError, match="max_gross_leverage must be greater than 0"):
        RiskLimits(max_gross_leverage=Decimal("-2"))


def test_none_switches_a_limit_off():
    limits = RiskLimits(price_band_bps=None, max_open_orders=None, stale_after_seconds=None)
    assert limits.price_band_bps is None and limits.max_open_orders is None and limits.stale_after_seconds is None


def test_limits_are_immutable_including_symbol_overrides():
    limits = RiskLimits(symbols={"BTC/USDT": {"max_position_quantity": 1}})
    with pytest.raises(AttributeError):
        limits.max_order_notional = Decimal(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        limits.symbols["ETH/USDT"] = SymbolLimits()  # type: ignore[index]


def test_symbol_override_wins_and_missing_fields_fall_back_to_global():
    limits = RiskLimits(
        max_order_notional=Decimal(10_000), price_band_bps=Decimal(100), symbols={"BTC/USDT": SymbolLimits(price_band_bps=Decimal(300))}
    )
    btc, eth = limits.for_symbol("BTC/USDT"), limits.for_symbol("ETH/USDT")
    assert btc.price_band_bps == Decimal(300) and btc.max_order_notional == Decimal(10_000)
    assert eth.price_band_bps == Decimal(100)


def test_limits_payload_is_json_safe_with_decimals_as_strings():
    limits = RiskLimits(max_order_notional=Decimal("10000.50"), symbols={"BTC/USDT": {"max_position_quantity": "0.5"}})
    payload = limits.to_payload()
    assert payload["kind"] == "risk.limits"
    assert payload["max_order_notional"] == "10000.50"
    assert payload["symbols"]["BTC/USDT"]["max_position_quantity"] == "0.5"
    assert payload["trading_day_start_utc"] == "00:00:00"
    assert round_trips_through_json(payload)


def test_payload_rebuilds_the_same_limits():
    limits = RiskLimits(max_order_notional=Decimal("10000"), stale_data_action="REDUCING", symbols={"ETH/USDT": {"price_band_bps": 50}})
    payload = limits.to_payload()
    payload.pop("kind")
    assert RiskLimits.from_mapping(payload) == limits
