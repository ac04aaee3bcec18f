"""``symbols = [...]``: a strategy entry trading a portfolio, and every way to get it wrong, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradepulse.errors import ConfigError
from tradepulse.service.config import load_config
from tradepulse.strategy.portfolio import EqualShare, PortfolioStrategy

HEADER = '[service]\nstate_dir = "state"\n[venue]\nkind = "paper"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text, encoding="utf-8")
    return path


def entry(body: str, strategy_id: str = "book", strategy: str = "momentum") -> str:
    return f'[[strategies]]\nid = "{strategy_id}"\nstrategy = "{strategy}"\n{body}\n'


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    return str(caught.value).splitlines()


MAJORS = 'symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]'


def test_a_portfolio_entry_names_its_members_and_one_feed_each(tmp_path):
    feeds = ", ".join(f'"sample:binance:{b}/USDT:4h"' for b in ("BTC", "ETH", "SOL", "BNB"))
    config = load_config(write(tmp_path, HEADER + entry(f"{MAJORS}\nfeed = [{feeds}]")), environ={})
    (book,) = config.strategies
    assert book.is_portfolio and book.members == ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT")
    assert book.symbol == "BTC/USDT" and len(book.feeds) == 4
    assert book.bar.total_seconds() == 4 * 3600  # the feeds' own bar length
    assert isinstance(book.strategy, PortfolioStrategy)


def test_a_named_universe_is_a_portfolio_feed(tmp_path):
    config = load_config(write(tmp_path, HEADER + entry(f'{MAJORS}\nfeed = "universe:binance-usdt-4h"')), environ={})
    assert config.strategies[0].feeds == tuple(f"sample:binance:{b}/USDT:4h" for b in ("BTC", "ETH", "SOL", "BNB"))


def test_a_single_symbol_strategy_over_symbols_runs_on_each_at_an_equal_share(tmp_path):
    body = 'symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = ["recording:binance:BTC/USDT", "recording:binance:ETH/USDT"]\nbar = "10s"'
    config = load_config(write(tmp_path, HEADER + entry(body, strategy="sma_cross")), environ={})
    (book,) = config.strategies
    assert book.is_portfolio and not isinstance(book.strategy, PortfolioStrategy)
    assert isinstance(EqualShare(book.strategy), PortfolioStrategy)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('symbol = "BTC/USDT"\nsymbols = ["BTC/USDT", "ETH/USDT"]\nfeed = "venue"', "symbol (one) or symbols (a portfolio), not both"),
        ('symbols = ["BTC/USDT"]\nfeed = "venue"', "symbols must list two or more symbols"),
        ('symbols = ["BTC/USDT", "BTC/USDT"]\nfeed = "venue"', "lists a symbol twice"),
        ('symbols = ["BTC/USDT", "ETH/BTC"]\nfeed = "venue"', "share one quote currency"),
        ('symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = ["sample:binance:BTC/USDT:4h"]', "one source per symbol (2)"),
        ('symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = "sample:binance:BTC/USDT:4h"', "a portfolio needs one feed per symbol"),
        ('symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = ["sample:binance:ETH/USDT:4h", "sample:binance:BTC/USDT:4h"]', "is not what feed"),
        ('symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = ["sample:binance:BTC/USDT:4h", "sample:binance:BTC/USDT:1h"]', "is not what feed"),
        ('symbol = "BTC/USDT"\nfeed = ["sample:binance:BTC/USDT:4h", "sample:binance:ETH/USDT:4h"]', "feed is a list, but the strategy trades one symbol"),
    ],
)
def test_each_portfolio_mistake_is_one_line(tmp_path, body, fragment):
    lines = problems(tmp_path, HEADER + entry(body, strategy="sma_cross"))
    assert any(fragment in line for line in lines), lines


def test_members_with_different_bar_lengths_are_refused(tmp_path):
    body = 'symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = ["sample:binance:BTC/USDT:1h", "sample:binance:ETH/USDT:4h"]'
    lines = problems(tmp_path, HEADER + entry(body, strategy="sma_cross"))
    assert any("different bar lengths" in line for line in lines), lines


def test_pairs_refuses_anything_but_two_members(tmp_path):
    lines = problems(tmp_path, HEADER + entry(f'{MAJORS}\nfeed = "universe:binance-usdt-4h"', strategy="pairs"))
    assert any("symbols:" in line and "exactly 2" in line for line in lines), lines


def test_a_member_base_asset_traded_by_another_strategy_is_refused(tmp_path):
    first = entry('symbols = ["BTC/USDT", "ETH/USDT"]\nfeed = "venue"', strategy="sma_cross")
    second = entry('symbol = "ETH/USDT"', strategy_id="eth", strategy="sma_cross")
    text = '[venue]\nkind = "ccxt"\nexchange = "binance"\n[governance]\nrequire_versions = false\n' + first + "capital = 500\n" + second + "capital = 500\n"
    lines = problems(tmp_path, text)
    assert any("trades ETH, which strategy 'book' already trades" in line for line in lines), lines
