"""``tradepulse venue serve``: one-line errors with exit 2, URLs on start, a clean stop on signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from decimal import Decimal

import pytest

from tradepulse.cli import main


_KEYS = {"TRADEPULSE_VENUE_API_KEY": "k", "TRADEPULSE_VENUE_API_SECRET": "s"}


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--port", "70000"], {}, "port must be between 0 and 65535"),
    (["--speed", "0"], {}, "speed must be between"),
    (["--faults", "latency_ms=soon"], {}, "--faults: latency_ms must be a number"),
    (["--faults", "explode=1"], {}, "unknown fault setting 'explode'"),
    (["--api-key", "k"], {}, "the venue API secret is missing"),
    ([], {"TRADEPULSE_VENUE_API_SECRET": "s"}, "the venue API key is missing"),
    (["--balance", "USDT"], {"TRADEPULSE_VENUE_API_KEY": "k", "TRADEPULSE_VENUE_API_SECRET": "s"},
     "--balance expects key=value"),
    (["--balance", "USDT=-5"], {"TRADEPULSE_VENUE_API_KEY": "k", "TRADEPULSE_VENUE_API_SECRET": "s"},
     "balance of USDT must not be negative"),
    (["--host", "not a host"], {}, "--host must be an IP address"),
    (["--maker-fee", "lots"], {}, "--maker-fee must be a number"),
    (["--taker-fee", "NaN"], {}, "taker fee must be a fraction between 0 and 0.1"),
    (["--weight-limit", "0"], {}, "weight limit must be at least 1"),
    (["--fee-asset", "BNB"], {}, "--fee-asset needs an account"),
    (["--fee-asset", "BNB", "--balance", "USDT=100"], _KEYS, "give the account some BNB (--balance BNB=1)"),
    (["--fee-asset-price", "560"], _KEYS, "--fee-asset-price needs --fee-asset"),
    (["--fee-asset", "ETH", "--fee-asset-price", "3000"], _KEYS, "only for BNB; not for ETH"),
    (["--fee-asset", "BNB", "--fee-asset-price", "560.001"], _KEYS, "BNB price must be between"),
    (["--fee-asset", "XRP"], _KEYS, "no XRPUSDT market to value fee asset XRP"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, monkeypatch, args, env, message):
    for name in ("TRADEPULSE_VENUE_API_KEY", "TRADEPULSE_VENUE_API_SECRET", "TRADEPULSE_VENUE_API_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["venue", "serve", *args]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and message in stderr and "Traceback" not in stderr


def test_the_real_command_line_reports_bad_input_in_one_line(cli):
    result = cli("venue", "serve", "--faults", "explode=1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "explode" in result.stderr


def _start(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tradepulse.cli", "venue", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env, "PYTHONWARNINGS": "ignore"})


def test_serve_prints_urls_never_the_secret_and_stops_cleanly_on_sigint():
    secret = "do-not-print-this-secret"
    process = _start("--json", "--speed", "2", env={"TRADEPULSE_VENUE_API_KEY": "cli-key",
                                                      "TRADEPULSE_VENUE_API_SECRET": secret})
    try:
        banner = json.loads(process.stdout.readline())
        assert banner["rest"].startswith("http://127.0.0.1:") and banner["rest"].endswith("/api/v3")
        assert banner["ws_market"].endswith("/stream/ws") and banner["ws_api"].endswith("/ws-api/v3")
        assert banner["api_key"] == "cli-key"
        with urllib.request.urlopen(banner["rest"] + "/time", timeout=10) as answer:
            assert json.loads(answer.read())["serverTime"] > 0
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert secret not in stdout + stderr and "Traceback" not in stderr and "venue stopped" in stderr


def test_serve_banner_names_the_urls_of_an_account_free_venue_and_stops_on_sigterm(monkeypatch):
    for name in ("TRADEPULSE_VENUE_API_KEY", "TRADEPULSE_VENUE_API_SECRET", "TRADEPULSE_VENUE_API_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    process = _start(env={})
    try:
        lines = [process.stdout.readline() for _ in range(7)]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = "".join(lines)
    assert "REST" in text and "WS market" in text and "WS API" in text and "-2015" in text
    assert process.returncode == 0 and "venue stopped" in stderr


def test_credentials_come_from_flags_environment_or_a_secret_file(tmp_path, monkeypatch):
    from tradepulse.cli import build_parser
    from tradepulse.cli.venue_cmds import _build_config

    for name in ("TRADEPULSE_VENUE_API_KEY", "TRADEPULSE_VENUE_API_SECRET", "TRADEPULSE_VENUE_API_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("TRADEPULSE_VENUE_API_KEY", "env-key")
    monkeypatch.setenv("TRADEPULSE_VENUE_API_SECRET_FILE", str(secret_file))
    config = _build_config(build_parser().parse_args(["venue", "serve", "--balance", "usdt=5", "--seed", "3"]))
    account = config.accounts[0]
    assert (account.api_key, account.api_secret, account.balances) == ("env-key", "from-file", {"USDT": "5"})
    assert "from-file" not in repr(config) and config.seed == 3
    flags = build_parser().parse_args(["venue", "serve", "--api-key", "flag-key", "--api-secret", "flag-secret"])
    assert _build_config(flags).accounts[0].api_key == "flag-key"


def test_fee_asset_flags_make_a_bnb_paying_account_and_list_bnbusdt(monkeypatch):
    from tradepulse.cli import build_parser
    from tradepulse.cli.venue_cmds import _build_config

    for name, value in _KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TRADEPULSE_VENUE_API_SECRET_FILE", raising=False)

    def config(*args: str):
        return _build_config(build_parser().parse_args(["venue", "serve", *args]))

    priced = config("--fee-asset", "bnb", "--fee-asset-price", "612.5", "--balance", "USDT=100", "--balance", "BNB=0")
    account = priced.accounts[0]
    assert (account.fee_asset, account.balances) == ("BNB", {"USDT": "100", "BNB": "0"})
    assert priced.fee_asset_prices == {"BNB": Decimal("612.5")}
    # Default balances gain one BNB, and the market comes at the documented default price.
    seeded = config("--fee-asset", "BNB")
    assert seeded.accounts[0].balances == {"USDT": "10000", "BTC": "0.5", "ETH": "5", "BNB": "1"}
    assert seeded.fee_asset_prices == {"BNB": Decimal("560")}
    # A replayed asset needs no market of its own; the default balances already hold ETH.
    assert config("--fee-asset", "ETH").fee_asset_prices == {} and config().fee_asset_prices == {}


def test_help_shows_the_fee_asset_flags_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["venue", "serve", "--help"])
    text = capsys.readouterr().out
    assert "--fee-asset ASSET" in text and "--fee-asset-price USDT" in text
    assert "tradepulse venue serve --fee-asset BNB --fee-asset-price 560 --balance USDT=10000 --balance BNB=1" in text
