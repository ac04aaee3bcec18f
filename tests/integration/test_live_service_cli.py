"""`tradepulse live start|stop|status|kill|cancel-all|resume|positions|orders` against real service processes.

Each service is a real `tradepulse serve` started in the background by `tradepulse live start` on a
paper-venue config (a recorded BTC/USDT stream replayed at 4x, so the engine keeps trading for
about two and a half minutes). Tokens are random per run; no command may ever print them.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService, paper_config, service_env
from tradepulse.cli import main

# The recorded BTC/USDT stream replayed at 4x.
SPEED = 4


def tp(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the real command line; fail the test if a token shows up in what it prints."""
    result = subprocess.run([sys.executable, "-m", "tradepulse.cli", *args], capture_output=True, text=True,
                            env=env if env is not None else service_env(), timeout=timeout)
    for token in (READ_TOKEN, OPERATE_TOKEN):
        assert token not in result.stdout and token not in result.stderr, f"a token was printed by {args}"
    return result


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    assert "Traceback" not in text
    return lines[0]


def _start(config: Path) -> int:
    started = tp("live", "start", "--config", str(config), "--json")
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)["pid"]


def _stop(config: Path) -> subprocess.CompletedProcess[str]:
    return tp("live", "stop", "--config", str(config), "--timeout", "60", "--force")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperService]:
    with PaperService(tmp_path_factory.mktemp("live-cli"), speed=SPEED, launcher="live") as running:
        yield running


def _status(service: PaperService) -> dict:
    result = tp("live", "status", "--config", str(service.config_path), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_start_writes_its_files_and_status_shows_an_active_running_engine(service):
    assert service.url.startswith("http://127.0.0.1:") and service.url.endswith("/api/v1")
    assert (service.state_dir / "service.pid").read_text().strip() == str(service.pid)
    assert json.loads((service.state_dir / "service.json").read_text())["pid"] == service.pid

    status = _status(service)
    assert status["url"] == service.url
    assert status["trading_state"] == "ACTIVE"
    assert status["health"]["status"] == "ok"
    assert status["service"]["pid"] == service.pid
    [engine] = status["engines"]
    assert engine["strategy_id"] == "btc-sma" and engine["running"] is True

    table = tp("live", "status", "--url", service.url)
    assert table.returncode == 0, table.stderr
    assert "ACTIVE" in table.stdout and "running" in table.stdout and "btc-sma" in table.stdout
    assert service.url in table.stdout


def test_kill_with_a_read_token_is_refused_with_one_clear_line(service):
    refused = tp("live", "kill", "--config", str(service.config_path), "--reason", "should not happen",
                 env=service_env(TRADEPULSE_API_TOKEN=READ_TOKEN))
    assert refused.returncode != 0
    line = one_line(refused.stderr)
    assert "operate token" in line and "TRADEPULSE_API_TOKEN" in line and "read scope" in line
    assert refused.stdout == ""
    assert _status(service)["trading_state"] == "ACTIVE"


def test_a_wrong_token_is_refused_and_names_the_variable(service):
    wrong = f"wrong-{secrets.token_urlsafe(24)}"
    refused = tp("live", "status", "--url", service.url, env=service_env(TRADEPULSE_API_TOKEN=wrong))
    assert refused.returncode != 0
    line = one_line(refused.stderr)
    assert "does not accept the token in TRADEPULSE_API_TOKEN" in line
    assert wrong not in refused.stderr + refused.stdout


def test_kill_and_resume_with_the_operate_token(service):
    killed = tp("live", "kill", "--config", str(service.config_path), "--reason", "integration test halt", "--json")
    assert killed.returncode == 0, killed.stderr
    assert json.loads(killed.stdout)["trading_state"] == "HALTED"
    assert _status(service)["trading_state"] == "HALTED"
    halted_table = tp("live", "status", "--config", str(service.config_path))
    assert "HALTED" in halted_table.stdout

    resumed = tp("live", "resume", "--url", service.url, "--reason", "integration test all clear")
    assert resumed.returncode == 0, resumed.stderr
    assert "trading is now ACTIVE" in resumed.stdout
    status = _status(service)
    assert status["trading_state"] == "ACTIVE"
    assert status["engines"][0]["trading_state"] == "ACTIVE"


def test_cancel_all_reports_each_order_and_exits_zero_when_nothing_failed(service):
    answer = tp("live", "cancel-all", "--config", str(service.config_path), "--reason", "integration test cancel", "--json")
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    assert report["failed"] == [] and report["pending"] == []
    assert sorted(report["cancelled"]) == sorted(order["client_order_id"] for order in report["orders"])
    table = tp("live", "cancel-all", "--url", service.url, "--reason", "integration test cancel")
    assert table.returncode == 0, table.stderr
    assert "0 failed" in table.stdout


def test_a_second_start_is_refused_while_the_first_runs(service):
    again = tp("live", "start", "--config", str(service.config_path))
    assert again.returncode != 0
    line = one_line(again.stderr)
    assert "already running" in line and str(service.pid) in line
    assert (service.state_dir / "service.pid").read_text().strip() == str(service.pid)
    assert _status(service)["service"]["pid"] == service.pid


def test_positions_and_orders_show_what_the_engine_traded(service):
    def orders() -> list[dict]:
        result = tp("live", "orders", "--config", str(service.config_path), "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    placed = eventually(orders, timeout_seconds=120, interval_seconds=0.5)
    assert {order["strategy_id"] for order in placed} == {"btc-sma"}
    assert all(order["symbol"] == "BTC/USDT" for order in placed)

    positions = json.loads(tp("live", "positions", "--config", str(service.config_path), "--json").stdout)
    assert [(p["strategy_id"], p["symbol"]) for p in positions] == [("btc-sma", "BTC/USDT")]

    table = tp("live", "orders", "--url", service.url, "--limit", "1")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["CREATED", "STRATEGY", "ORDER"]
    created, strategy, order_id, side, *_rest, state = row.split()
    assert strategy == "btc-sma" and side in ("buy", "sell") and state in {order["status"] for order in placed} | {"NEW", "SUBMITTED", "ACCEPTED", "FILLED"}
    assert created >= placed[0]["created_at"] and order_id.startswith(placed[0]["client_order_id"].rsplit("-", 1)[0])
    filtered = json.loads(tp("live", "orders", "--url", service.url, "--status", "FILLED", "--json").stdout)
    assert all(order["status"] == "FILLED" for order in filtered)
    positions_table = tp("live", "positions", "--config", str(service.config_path))
    assert "BTC/USDT" in positions_table.stdout and "NET P&L" in positions_table.stdout


@pytest.fixture
def run_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run a command in this process (for checks that never reach a service: quicker than a subprocess)."""

    def run(*args: str, tokens: bool = True) -> subprocess.CompletedProcess[str]:
        for key in [key for key in os.environ if key.startswith("TRADEPULSE_API_")]:
            monkeypatch.delenv(key)
        if tokens:
            monkeypatch.setenv("TRADEPULSE_API_READ_TOKEN", READ_TOKEN)
            monkeypatch.setenv("TRADEPULSE_API_OPERATE_TOKEN", OPERATE_TOKEN)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as stop:  # argparse usage errors
            code = int(stop.code or 0)
        out, err = capsys.readouterr()
        for token in (READ_TOKEN, OPERATE_TOKEN):
            assert token not in out and token not in err
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


def test_an_unreachable_or_malformed_target_gives_one_clear_line(tmp_path, run_here):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = run_here("live", "status", "--url", f"http://127.0.0.1:{port}/api/v1")
    assert nobody.returncode == 1
    assert "no TradePulse service answers at" in one_line(nobody.stderr)

    malformed = run_here("live", "positions", "--url", "not a url")
    assert malformed.returncode == 2
    assert "not an http:// or https:// URL" in one_line(malformed.stderr)

    config = tmp_path / "live.toml"
    config.write_text(paper_config(speed=SPEED))
    not_started = run_here("live", "orders", "--config", str(config))
    assert not_started.returncode == 1
    assert "no TradePulse service is running" in one_line(not_started.stderr)

    missing = run_here("live", "status", "--config", str(tmp_path / "nowhere.toml"))
    assert missing.returncode == 2
    assert "no such config file" in one_line(missing.stderr)

    no_reason = run_here("live", "kill", "--config", str(config))
    assert no_reason.returncode == 2 and "--reason" in one_line(no_reason.stderr)
    blank_reason = run_here("live", "kill", "--config", str(config), "--reason", "  ")
    assert blank_reason.returncode == 2 and "--reason" in one_line(blank_reason.stderr)
    both = run_here("live", "status", "--config", str(config), "--url", "http://127.0.0.1:1")
    assert both.returncode == 2 and "not allowed with" in one_line(both.stderr)


def test_every_command_has_help_with_an_example(run_here):
    for command in ("start", "stop", "status", "kill", "resume", "positions", "orders"):
        shown = run_here("live", command, "--help")
        assert shown.returncode == 0
        assert "Example" in shown.stdout and f"tradepulse live {command} " in shown.stdout


def test_start_with_a_bad_config_or_no_token_fails_before_anything_runs(tmp_path, run_here):
    config = tmp_path / "live.toml"
    config.write_text(paper_config(speed=SPEED, strategy="no_such_strategy"))
    bad = run_here("live", "start", "--config", str(config))
    assert bad.returncode == 2 and "no_such_strategy" in one_line(bad.stderr)
    config.write_text(paper_config(speed=SPEED))
    no_token = run_here("live", "start", "--config", str(config), tokens=False)
    assert no_token.returncode == 2 and "TRADEPULSE_API_READ_TOKEN" in one_line(no_token.stderr)
    assert not (tmp_path / "state" / "service.pid").exists()


def test_a_service_that_dies_while_starting_is_reported_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = tmp_path / "live.toml"
        config.write_text(paper_config(speed=SPEED, port=busy.getsockname()[1]))
        died = tp("live", "start", "--config", str(config))
    assert died.returncode == 1 and "Traceback" not in died.stderr
    progress, error = died.stderr.splitlines()
    assert progress.startswith("starting the service (pid ")
    assert error.startswith("tradepulse: error: the service exited with code 2 while starting: ")
    assert "Address already in use" in error and "service.log" in error
    assert not (tmp_path / "state" / "service.pid").exists()
    assert not (tmp_path / "state" / "service.json").exists()


def test_stop_is_graceful_and_a_second_start_works(tmp_path):
    config = tmp_path / "live.toml"
    config.write_text(paper_config(speed=SPEED))
    state = tmp_path / "state"
    started = tp("live", "start", "--config", str(config))
    try:
        assert started.returncode == 0, started.stderr
        assert "service started" in started.stdout and "/api/v1" in started.stdout
        first_pid = int((state / "service.pid").read_text())

        stopped = tp("live", "stop", "--config", str(config), "--timeout", "60")
        assert stopped.returncode == 0, stopped.stderr
        assert f"service stopped (pid {first_pid})" in stopped.stdout
        assert not (state / "service.pid").exists()
        assert not (state / "service.json").exists()
        assert not _alive(first_pid)

        again = tp("live", "stop", "--config", str(config))
        assert again.returncode == 0 and "nothing to stop" in again.stdout

        restarted_pid = _start(config)
        assert restarted_pid != first_pid
        assert tp("live", "status", "--config", str(config), "--json").returncode == 0
        stopped = tp("live", "stop", "--config", str(config), "--json")
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout) == {"stopped": True, "pid": restarted_pid, "forced": False,
                                              "state_dir": str(state)}
        assert not (state / "service.json").exists()
    finally:
        _stop(config)
    log = (state / "service.log").read_text()
    assert READ_TOKEN not in log and OPERATE_TOKEN not in log
