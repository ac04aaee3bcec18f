"""The service TOML: validated once, unknown keys and secrets refused, one clear sentence per mistake."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tradepulse.errors import ConfigError
from tradepulse.service.config import load_config, parse_config

#: Built-in strategies on an exchange venue: these tests are about other rules than the review one.
UNREVIEWED = "\n[governance]\nrequire_versions = false\n"

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
    ccxt = PAPER.replace('kind = "paper"\ninit_cash = 2500', 'kind = "ccxt"\nexchange = "binance"') + UNREVIEWED
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


# -- what the service could not run: caught by validation, each mistake one line --------------------

STRATEGY_FILE = '''
from tradepulse.strategy import IntParam, Strategy


class Breakout(Strategy):
    """Long above the highest close of the last lookback bars."""

    lookback = IntParam(20, min=2, max=500)

    def signals(self, bars):
        return (bars["close"] > bars["close"].rolling(self.lookback).max().shift(1)).astype(float)
'''


def paper_entry(strategy_id: str, symbol: str, feed: str, extra: str = "", strategy: str = "sma_cross") -> str:
    return f'[[strategies]]\nid = "{strategy_id}"\nstrategy = "{strategy}"\nsymbol = "{symbol}"\nfeed = "{feed}"\n{extra}'


def paper_config(*entries: str) -> str:
    return '[service]\nstate_dir = "state"\n[venue]\nkind = "paper"\n' + "".join(entries)


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ=environ or {})
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{tmp_path / 'live.toml'}: ") for line in lines), lines
    return lines


@pytest.mark.parametrize(
    ("symbol", "feed", "feed_symbol"),
    [
        ("ETH/USDT", "recording:binance:BTC/USDT", "BTC/USDT"),
        ("ETH/USDT", "sample:binance:BTC/USDT:1h", "BTC/USDT"),
        ("BTC/USDT", "sample:binance:BTC/USDT-PERP:5m", "BTC/USDT-PERP"),
    ],
)
def test_a_replay_feed_of_another_symbol_is_refused_rather_than_traded_at_its_prices(tmp_path, symbol, feed, feed_symbol):
    (line,) = problems(tmp_path, paper_config(paper_entry("one", symbol, feed)))
    assert "[[strategies]] 'one' symbol" in line and repr(feed) in line and feed_symbol in line


def test_a_cache_feed_of_another_symbol_is_refused_too(tmp_path):
    lines = problems(tmp_path, paper_config(paper_entry("one", "ETH/USDT", "cache:binance:BTC/USDT:1m")),
                     environ={"TRADEPULSE_CACHE_DIR": str(tmp_path / "cache")})
    assert any("'one' symbol" in line and "BTC/USDT" in line for line in lines)
    assert any("'one' feed" in line and "not in the cache" in line for line in lines)


def test_a_live_venue_feed_of_the_same_symbol_is_fine(tmp_path):
    ccxt = ('[venue]\nkind = "ccxt"\nexchange = "binance"\n' + UNREVIEWED +
            '[[strategies]]\nid = "eth"\nstrategy = "sma_cross"\nsymbol = "ETH/USDT"\nbar = "1h"\n')
    (entry,) = load_config(write(tmp_path, ccxt), environ={}).strategies
    assert entry.feed == "venue" and entry.bar.total_seconds() == 3600


def test_an_unknown_sample_or_recording_is_refused_by_validation(tmp_path):
    lines = problems(tmp_path, paper_config(paper_entry("sol", "SOL/USDT", "sample:binance:SOL/USDT:1h"),
                                            paper_entry("xrp", "XRP/USDT", "recording:binance:XRP/USDT")))
    assert len(lines) == 2
    assert "'sol' feed" in lines[0] and "unknown sample" in lines[0]
    assert "'xrp' feed" in lines[1] and "unknown recording" in lines[1]


def test_bar_on_a_bar_feed_is_refused_unless_it_is_the_feeds_own_timeframe(tmp_path):
    (line,) = problems(tmp_path, paper_config(paper_entry("perp", "BTC/USDT-PERP", "sample:binance:BTC/USDT-PERP:5m", 'bar = "1h"\n')))
    assert "'perp' bar '1h'" in line and "5m" in line
    same = load_config(write(tmp_path, paper_config(paper_entry("perp", "BTC/USDT-PERP", "sample:binance:BTC/USDT-PERP:5m", 'bar = "5m"\n'))), environ={})
    assert same.strategies[0].bar.total_seconds() == 300
    # Left out, bar is the feed's own, so what the service reports is what it replays.
    omitted = load_config(write(tmp_path, paper_config(paper_entry("btc", "BTC/USDT", "sample:binance:BTC/USDT:1h"))), environ={})
    assert omitted.strategies[0].bar.total_seconds() == 3600


def test_bar_on_a_tick_feed_is_honoured(tmp_path):
    config = load_config(write(tmp_path, paper_config(paper_entry("btc", "BTC/USDT", "recording:binance:BTC/USDT", 'bar = "1h"\n'))), environ={})
    assert config.strategies[0].bar.total_seconds() == 3600


def test_relative_paths_resolve_from_the_config_file_not_the_working_directory(tmp_path, monkeypatch, hourly_bars):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "breakout.py").write_text(STRATEGY_FILE, encoding="utf-8")
    (tmp_path / "data").mkdir()
    hourly_bars.reset_index().to_csv(tmp_path / "data" / "btc_1h.csv", index=False)
    text = paper_config(paper_entry("btc", "BTC/USDT", "data/btc_1h.csv", 'params = { lookback = 5 }\n', strategy="strategies/breakout.py"))
    path = write(tmp_path, text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path, environ={})
    (entry,) = config.strategies
    assert config.state_dir == (tmp_path / "state").resolve()
    assert type(entry.strategy).__name__ == "Breakout"
    assert Path(entry.feed) == (tmp_path / "data" / "btc_1h.csv").resolve()
    assert entry.bar.total_seconds() == 3600  # read from the file: a bar file replays its own bars
    # A relative config path (the way a user types it) resolves the same way.
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("live.toml"), environ={}).strategies[0].feed == entry.feed


def test_a_missing_strategy_file_or_feed_file_and_a_wrong_bar_in_a_file_are_refused(tmp_path, monkeypatch, hourly_bars):
    hourly_bars.reset_index().to_csv(tmp_path / "btc_1h.csv", index=False)
    (tmp_path / "breakout.py").write_text(STRATEGY_FILE, encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    lines = problems(tmp_path, paper_config(
        paper_entry("gone", "BTC/USDT", "recording:binance:BTC/USDT", strategy="strategies/gone.py"),
        paper_entry("nofile", "ETH/USDT", "data/eth.csv"),
        paper_entry("wrongbar", "SOL/USDT", "btc_1h.csv", 'bar = "5m"\n', strategy="breakout.py:Breakout"),
    ))
    assert len(lines) == 3
    assert "'gone' strategy" in lines[0] and str(tmp_path / "strategies" / "gone.py") in lines[0]
    assert "'nofile' feed" in lines[1] and str(tmp_path / "data" / "eth.csv") in lines[1]
    assert "'wrongbar' bar '5m'" in lines[2] and "1h" in lines[2]


def test_every_mistaken_entry_is_reported_not_only_the_first(tmp_path):
    lines = problems(tmp_path, paper_config(
        paper_entry("eth", "ETH/USDT", "recording:binance:BTC/USDT"),
        paper_entry("perp", "BTC/USDT-PERP", "sample:binance:BTC/USDT-PERP:5m", 'bar = "1h"\n'),
        paper_entry("sol", "SOL/USDT", "sample:binance:SOL/USDT:1h"),
        paper_entry("bad id!", "ADA/USDT", "sample:binance:ADA/USDT:1h"),
    ) + "[risk]\nmax_order_notional = -5\n")
    assert len(lines) == 5, lines
    assert ["'eth' symbol" in lines[0], "'perp' bar" in lines[1], "'sol' feed" in lines[2],
            "must be 1-32 letters" in lines[3], "max_order_notional" in lines[4]] == [True] * 5


# -- several strategies on one account --------------------------------------------------------------

def ccxt_config(*entries: tuple[str, str, str | None]) -> str:
    text = '[venue]\nkind = "ccxt"\nexchange = "binance"\n' + UNREVIEWED
    for strategy_id, symbol, capital in entries:
        text += f'[[strategies]]\nid = "{strategy_id}"\nstrategy = "sma_cross"\nsymbol = "{symbol}"\n'
        text += f"capital = {capital}\n" if capital is not None else ""
    return text


def test_strategies_sharing_a_quote_balance_on_one_account_must_each_set_capital(tmp_path):
    lines = problems(tmp_path, ccxt_config(("btc", "BTC/USDT", None), ("eth", "ETH/USDT", None), ("sol", "SOL/USDT", "500")))
    assert len(lines) == 2
    assert "'btc' capital" in lines[0] and "'eth'" in lines[0] and "'sol'" in lines[0] and "USDT" in lines[0]
    assert "'eth' capital" in lines[1] and "'btc'" in lines[1]
    assert len(load_config(write(tmp_path, ccxt_config(("btc", "BTC/USDT", "500"), ("eth", "ETH/USDT", "500"))), environ={}).strategies) == 2


def test_one_strategy_per_quote_or_paper_accounts_need_no_capital(tmp_path):
    # Different quote currencies draw on different balances.
    assert len(load_config(write(tmp_path, ccxt_config(("btc", "BTC/USDT", None), ("eth", "ETH/EUR", None))), environ={}).strategies) == 2
    # Each paper strategy has its own in-process account of init_cash.
    paper = paper_config(paper_entry("btc", "BTC/USDT", "recording:binance:BTC/USDT"), paper_entry("eth", "ETH/USDT", "recording:binance:ETH/USDT"))
    assert len(load_config(write(tmp_path, paper), environ={}).strategies) == 2


# -- [governance] -----------------------------------------------------------------------------------


def test_governance_defaults_follow_the_venue_and_bad_values_are_one_line_each(tmp_path):
    paper = load_config(write(tmp_path, PAPER), environ={})
    assert paper.governance.require_versions is False and paper.governance.on_retire == "cancel"
    assert paper.governance.store == tmp_path.resolve() / ".tradepulse" / "store"
    from_env = load_config(write(tmp_path, PAPER), environ={"TRADEPULSE_STORE": "/srv/store"})
    assert str(from_env.governance.store) == "/srv/store"
    bad = PAPER + '\n[governance]\non_retire = "abandon"\npoll_seconds = 0\nstores = "x"\n'
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, bad), environ={})
    (line,) = str(error.value).splitlines()
    assert "[governance] unknown key 'stores'" in line
    for text, expected in (('on_retire = "abandon"', "on_retire must be one of cancel, flatten, keep"),
                           ("poll_seconds = 0", "poll_seconds must be a number of seconds within [0.2, 3600]"),
                           ('require_versions = "yes"', "require_versions must be true or false")):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            load_config(write(tmp_path, PAPER + f"\n[governance]\n{text}\n"), environ={})


def test_an_exchange_venue_requires_a_version_unless_told_otherwise(tmp_path):
    ccxt = ('[venue]\nkind = "ccxt"\nexchange = "binance"\n'
            '[[strategies]]\nid = "eth"\nstrategy = "sma_cross"\nsymbol = "ETH/USDT"\n')
    with pytest.raises(ConfigError, match="trades only reviewed strategy versions"):
        load_config(write(tmp_path, ccxt), environ={})
    assert load_config(write(tmp_path, ccxt + UNREVIEWED), environ={}).governance.require_versions is False
    with pytest.raises(ConfigError, match="no strategy store at"):
        load_config(write(tmp_path, ccxt.replace('"sma_cross"', '"promoted:sma_cross"')), environ={})
