"""`tradepulse serve --check` run the way systemd or cron runs it: from another working directory.

A config's relative paths resolve from the config file, so the check passes wherever it is run
from, and everything the service could not run is refused by the check, one line per mistake.
"""

from __future__ import annotations

from pathlib import Path

from tradepulse.data import load_bars

TOKEN = {"TRADEPULSE_API_READ_TOKEN": "read-token-abcdefghijklmnop"}

STRATEGY_FILE = '''
from tradepulse.strategy import IntParam, Strategy


class Breakout(Strategy):
    """Long above the highest close of the last lookback bars."""

    lookback = IntParam(20, min=2, max=500)

    def signals(self, bars):
        return (bars["close"] > bars["close"].rolling(self.lookback).max().shift(1)).astype(float)
'''

GOOD = """
[service]
state_dir = "state"
[api]
port = 0
[venue]
kind = "paper"
[[strategies]]
id = "btc-file"
strategy = "strategies/breakout.py"
symbol = "BTC/USDT"
params = { lookback = 5 }
feed = "data/btc_1h.csv"
bar = "1h"
[[strategies]]
id = "eth-rec"
strategy = "sma_cross"
symbol = "ETH/USDT"
feed = "recording:binance:ETH/USDT"
bar = "10s"
"""

BAD = """
[venue]
kind = "paper"
[[strategies]]
id = "eth"
strategy = "sma_cross"
symbol = "ETH/USDT"
feed = "recording:binance:BTC/USDT"
[[strategies]]
id = "perp"
strategy = "sma_cross"
symbol = "BTC/USDT-PERP"
feed = "sample:binance:BTC/USDT-PERP:5m"
bar = "1h"
[[strategies]]
id = "sol"
strategy = "sma_cross"
symbol = "SOL/USDT"
feed = "sample:binance:SOL/USDT:1h"
[[strategies]]
id = "xrp"
strategy = "strategies/missing.py"
symbol = "XRP/USDT"
feed = "data/btc_1h.csv"
"""


def project(folder: Path) -> Path:
    """A config folder as a user lays it out: the TOML, a strategy file and a bar file beside it."""
    (folder / "strategies").mkdir(parents=True)
    (folder / "strategies" / "breakout.py").write_text(STRATEGY_FILE, encoding="utf-8")
    (folder / "data").mkdir()
    load_bars("sample:binance:BTC/USDT:1h").reset_index().to_csv(folder / "data" / "btc_1h.csv", index=False)
    elsewhere = folder.parent / "elsewhere"
    elsewhere.mkdir()
    return elsewhere


def test_a_good_config_checks_from_another_working_directory(cli, tmp_path):
    folder = tmp_path / "service"
    elsewhere = project(folder)
    (folder / "live.toml").write_text(GOOD, encoding="utf-8")
    checked = cli("serve", "--config", str(folder / "live.toml"), "--check", "--json", cwd=elsewhere, env=TOKEN)
    assert checked.returncode == 0, checked.stderr
    summary = checked.json()
    assert summary["state_dir"] == str((folder / "state").resolve())
    assert [entry["id"] for entry in summary["strategies"]] == ["btc-file", "eth-rec"]
    # Breakout never sets warmup_bars: its rolling maximum is undefined on every live window, so it
    # would never trade. The check says so (a warning: the file is valid) with the warm-up it needs.
    [warning] = summary["warnings"]
    assert warning.startswith("strategy 'btc-file': finite_memory:") and "needs warmup_bars >= 6 (it declares 1)" in warning
    assert "warning: strategy 'btc-file': finite_memory" in checked.stderr


def test_a_bad_config_is_refused_from_anywhere_with_one_line_per_mistake(cli, tmp_path):
    folder = tmp_path / "service"
    elsewhere = project(folder)
    (folder / "live.toml").write_text(BAD, encoding="utf-8")
    bad = cli("serve", "--config", str(folder / "live.toml"), "--check", cwd=elsewhere, env=TOKEN)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = bad.stderr.splitlines()
    assert len(lines) == 4, bad.stderr
    assert "'eth' symbol" in lines[0] and "BTC/USDT" in lines[0]
    assert "'perp' bar '1h'" in lines[1] and "5m" in lines[1]
    assert "'sol' feed" in lines[2] and "unknown sample" in lines[2]
    assert "'xrp' strategy" in lines[3] and str(folder / "strategies" / "missing.py") in lines[3]
    assert bad.stdout == ""


def test_strategies_sharing_one_accounts_quote_balance_without_capital_fail_the_check(cli, tmp_path):
    config = tmp_path / "live.toml"
    config.write_text('[venue]\nkind = "ccxt"\nexchange = "binance"\n[governance]\nrequire_versions = false\n'
                      '[[strategies]]\nid = "btc"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
                      '[[strategies]]\nid = "eth"\nstrategy = "sma_cross"\nsymbol = "ETH/USDT"\n', encoding="utf-8")
    bad = cli("serve", "--config", str(config), "--check", env=TOKEN)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 2 and "capital" in bad.stderr
