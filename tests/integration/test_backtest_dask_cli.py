"""`tradepulse sweep | walkforward --dask` through the real command line against real Dask processes.

A scheduler (`dask scheduler`) and two single-thread workers (`dask worker`) run as separate
processes on loopback, as a user would start them; the command's output with ``--dask`` equals its
output without. A strategy from the user's own file runs on workers that cannot import that file
(it is sent by value). An unreachable address is one error line and exit 2 within the timeout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tradepulse.cli import main

FIVE_MINUTE = "sample:binance:BTC/USDT-PERP:5m"
BINANCE_4H = "universe:binance-usdt-4h"

pytestmark = pytest.mark.slow


def _dask_command() -> str:
    found = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    # distributed is pinned in requirements.lock: a missing command is a broken set-up, not a reason to skip.
    assert found is not None, "the dask command (from distributed, pinned in requirements.lock) is not installed: run make setup"
    return found


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """A `dask scheduler` and a `dask worker` process with two workers, on loopback; stopped after the module."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    dask = _dask_command()
    logs = [open(folder / name, "w") for name in ("scheduler.log", "worker.log")]  # noqa: SIM115
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        stdout=logs[0], stderr=subprocess.STDOUT,
    )
    processes = [scheduler]
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None:
            assert scheduler.poll() is None, (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start within 60 s"
            time.sleep(0.2)
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (FileNotFoundError, ValueError, KeyError):
                continue  # not written yet, or being written
        assert address.startswith("tcp://127.0.0.1:")
        workers = subprocess.Popen(
            [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--memory-limit", "2GiB", "--no-dashboard",
             "--host", "127.0.0.1"],
            stdout=logs[1], stderr=subprocess.STDOUT,
        )
        processes.append(workers)
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_sweep_of_a_strategy_file_on_a_scheduler_prints_what_one_process_prints(cli, capsys, scheduler_address, tmp_path):
    path = tmp_path / "breakout_strategy.py"
    path.write_text(
        textwrap.dedent(
            '''
            from tradepulse.strategy import IntParam, Strategy

            class Breakout(Strategy):
                """Long while the close is above the highest close of the lookback bars before it."""
                lookback = IntParam(24, min=2, max=500)

                @property
                def warmup_bars(self):
                    return self.lookback + 1

                def signals(self, bars):
                    close = bars["close"]
                    return (close > close.shift(1).rolling(self.lookback).max()).astype(float)
            '''
        )
    )
    args = ["sweep", FIVE_MINUTE, "--strategy", str(path), "-g", "lookback=6:96:6", "--top", "15", "--json"]
    code, single, err = run_main(capsys, *args)
    assert code == 0, err
    on_dask = cli(*args, "--dask", scheduler_address, "--progress")
    assert on_dask.returncode == 0, on_dask.stderr
    assert on_dask.json() == json.loads(single)
    assert on_dask.json()["combinations"] == 16
    assert "sweep on dask" in on_dask.stderr  # --progress: a bar on stderr though it is no terminal
    assert "Traceback" not in on_dask.stderr


def test_a_walkforward_over_a_universe_on_a_scheduler_equals_one_process(capsys, scheduler_address):
    args = ["walkforward", BINANCE_4H, "--strategy", "momentum", "-g", "lookback=6:48:6", "-g", "top=1,2",
            "--train", "200", "--test", "100", "--json"]
    code, single, err = run_main(capsys, *args)
    assert code == 0, err
    code, on_dask, err = run_main(capsys, *args, "--dask", scheduler_address)
    assert code == 0, err
    assert json.loads(on_dask) == json.loads(single)
    assert len(json.loads(single)["folds"]) == 2


def test_a_walkforward_on_a_local_cluster_equals_one_process(capsys):
    args = ["walkforward", FIVE_MINUTE, "--strategy", "sma_cross", "-g", "fast=5:20:5", "-g", "slow=50,100",
            "--train", "3000", "--test", "2000", "--json"]
    code, single, err = run_main(capsys, *args)
    assert code == 0, err
    code, on_dask, err = run_main(capsys, *args, "--dask", "local", "--dask-workers", "2", "--dask-worker-memory-mb", "1024")
    assert code == 0, err
    assert json.loads(on_dask) == json.loads(single)


@pytest.mark.timeout(180)  # a hang guard: the 10 s connect timeout must end the command
def test_an_unreachable_scheduler_is_one_line_and_exit_2_within_the_timeout(cli):
    result = cli("sweep", FIVE_MINUTE, "--strategy", "sma_cross", "-g", "fast=5,10", "--dask", "tcp://nowhere:1")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "tradepulse: error: cannot reach a Dask scheduler at tcp://nowhere:1 within 10 s; start one with "
        "`dask scheduler` and `dask worker ADDRESS`, or use --dask local"
    ]


def test_dask_settings_that_cannot_work_are_one_line_before_any_data_is_read(capsys, tmp_path):
    missing = str(tmp_path / "missing.csv")
    code, out, err = run_main(capsys, "sweep", missing, "--strategy", "sma_cross", "-g", "fast=5,10", "--dask", "lokal")
    assert (code, out) == (2, "")
    assert err == "tradepulse: error: --dask takes 'local' or a scheduler address such as tcp://HOST:PORT, got 'lokal'\n"
    code, out, err = run_main(capsys, "walkforward", missing, "--strategy", "sma_cross", "-g", "fast=5,10",
                              "--train", "10", "--test", "5", "--dask-workers", "2")
    assert (code, out) == (2, "")
    assert err == "tradepulse: error: --dask-workers and the worker memory limit need --dask local (dask='local')\n"
