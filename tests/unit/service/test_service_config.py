"""The service TOML: validated once, unknown keys and secrets refused, one clear sentence per mistake."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradepulse.errors import ConfigError
from tradepulse.service.config import load_config, parse_config

PAPER = """
[service]
state_dir = "state"
[api]
port = 0
[venue]
kind = "paper"
init_cash = 2500
[[strategies]]
id = "btc-sma"
strategy = "sma_cross"
symbol = "btc/usdt"
params = { fast = 3, slow = 8 }
feed = "recording:binance:BTC/USDT"
bar = "10s"
speed = 20
[risk]
max_order_notional = 1000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_paper_config_is_parsed_into_frozen_typed_sections(tmp_path):
    config = load_config(write(tmp_path, PAPER), environ={})
    assert config.state_dir == (tmp_path / "state").resolve()
    assert config.api.host == "127.0.0.1" and config.api.port == 0
    assert config.venue.kind == "paper" and config.venue.init_cash == Decimal(2500)
    (entry,) = config.strategies
    assert entry.symbol == "BTC/USDT" and entry.strategy.params["fast"] == 3 and entry.bar.total_seconds() == 10
    assert config.risk.max_order_notional == Decimal(1000)
    assert config.alerts.webhook_url is None
    with pytest.raises(AttributeError):
        config.api.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[api]\nport = 0", "[api]\nport = 0\ncolour = 1"), "unknown key 'colour'"),
        (("[api]\nport = 0", "[api]\nport = 0\nhost = \"0.0.0.0\""), "allow_remote"),
        (("[api]\nport = 0", "[api]\nport = 70000"), "port must be an integer"),
        (("kind = \"paper\"", "kind = \"fax\""), "kind must be one of paper, ccxt"),
        (("params = { fast = 3, slow = 8 }", "params = { fast = 3, slow = 8, speedy = 1 }"), "unknown parameter 'speedy'"),
        (("strategy = \"sma_cross\"", "strategy = \"no_such_strategy\""), "no_such_strategy"),
        (("feed = \"recording:binance:BTC/USDT\"\n", ""), "paper venue has no market data"),
        (("bar = \"10s\"", "bar = \"ten seconds\""), "bar"),
        (("id = \"btc-sma\"", "id = \"has spaces\""), "must be 1-32 letters"),
        (("[risk]\nmax_order_notional = 1000", "[risk]\nmax_order_notional = -5"), "max_order_notional"),
        (("[service]\nstate_dir = \"state\"", "[service]\nstate_dir = \"state\"\napi_key = \"abc\""), "looks like a secret"),
    ],
)
def test_each_mistake_is_one_sentence_naming_the_file_and_key(tmp_path, change, message):
    old, new = change
    assert old in PAPER
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, PAPER.replace(old, new)), environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_two_strategies_on_one_base_asset_are_refused_because_balances_could_not_be_reconciled(tmp_path):
    second = PAPER.replace("[risk]", '[[strategies]]\nid = "btc-two"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
                                     'feed = "recording:binance:BTC/USDT"\n[risk]')
    with pytest.raises(ConfigError, match="one strategy per base asset"):
        load_config(write(tmp_path, second), environ={})


def test_a_ccxt_venue_refuses_paper_only_keys_and_replay_feeds(tmp_path):
    ccxt = PAPER.replace('kind = "paper"\ninit_cash = 2500', 'kind = "ccxt"\nexchange = "binance"')
    with pytest.raises(ConfigError, match="trades on its own market data"):
        load_config(write(tmp_path, ccxt), environ={})
    ccxt = ccxt.replace('feed = "recording:binance:BTC/USDT"\n', "").replace("speed = 20\n", "")
    assert load_config(write(tmp_path, ccxt), environ={}).venue.exchange == "binance"
    with pytest.raises(ConfigError, match="applies to kind = \"paper\" only"):
        load_config(write(tmp_path, ccxt.replace('exchange = "binance"', 'exchange = "binance"\ninit_cash = 5')), environ={})


def test_the_alert_webhook_comes_from_the_environment_and_stays_masked(tmp_path):
    url = "https://hooks.example.test/services/T000/B000/s3cr3t-hook-token"
    config = load_config(write(tmp_path, PAPER), environ={"TRADEPULSE_ALERT_WEBHOOK_URL": url})
    assert config.alerts.webhook_url is not None and config.alerts.webhook_url.reveal() == url
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in str(config)
    secret_file = tmp_path / "hook"
    secret_file.write_text(url)
    from_file = load_config(write(tmp_path, PAPER), environ={"TRADEPULSE_ALERT_WEBHOOK_URL_FILE": str(secret_file)})
    assert from_file.alerts.webhook_url.reveal() == url
    with pytest.raises(ConfigError, match="must be an http"):
        load_config(write(tmp_path, PAPER), environ={"TRADEPULSE_ALERT_WEBHOOK_URL": "ftp://nope"})


def test_missing_file_bad_toml_and_no_strategies_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[service\n"))
    with pytest.raises(ConfigError, match="at least one strategy"):
        parse_config({"venue": {"kind": "paper"}}, environ={})


def test_serve_check_validates_without_starting_and_bad_config_exits_2_with_one_line(cli, tmp_path):
    path = write(tmp_path, PAPER)
    env = {"TRADEPULSE_API_READ_TOKEN": "read-token-abcdefghijklmnop"}
    checked = cli("serve", "--config", str(path), "--check", env=env)
    assert checked.returncode == 0 and "valid; 1 strategies on a paper venue" in checked.stdout
    bad_path = tmp_path / "bad.toml"
    bad_path.write_text(PAPER.replace("port = 0", "port = 0\nnope = 1"), encoding="utf-8")
    bad = cli("serve", "--config", str(bad_path), "--check", env=env)
    assert bad.returncode == 2 and "unknown key 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    no_token = cli("serve", "--config", str(path), "--check", env={"TRADEPULSE_API_READ_TOKEN": ""})
    assert no_token.returncode == 2 and "no API token configured" in no_token.stderr
