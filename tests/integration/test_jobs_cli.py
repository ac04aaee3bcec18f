"""`tradepulse jobs` through the real command line, with real notebook runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tradepulse.jobs.history import JobHistory
from polling import eventually

NOTEBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"
SECRET_HOOK = "https://hooks.example.com/services/T0001/B0002/s3cr3t-t0ken"




@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    return tmp_path


def _jobs_toml(workdir: Path, body: str) -> Path:
    path = workdir / "jobs.toml"
    path.write_text(f'[scheduler]\noutput_dir = "archive"\n\n[alerts]\nwebhook_url = "{SECRET_HOOK}"\n\n{body}')
    return path


def _one_line_error(result) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("tradepulse: error:") or ": error:" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_run_succeeds_with_json_results_and_lands_in_history(cli, workdir):
    result = cli(
        "jobs",
        "run",
        "notebooks/records_results.ipynb",
        "-p",
        "lookback",
        "4",
        "-p",
        "options",
        '{"label": "cli"}',
        "-p",
        "enabled",
        "false",
        "--output-dir",
        "archive",
        "--json",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    record = result.json()
    assert record["status"] == "succeeded"
    assert record["parameters"] == {"lookback": 4, "options": {"label": "cli"}, "enabled": False}
    assert record["results"]["label"] == "cli" and record["results"]["mean_close"] == 8.5
    archived = Path(record["output_notebook"])
    assert archived.parent.parent == workdir / "archive" and archived.is_file()
    assert json.loads(archived.with_suffix(".json").read_text())["run_id"] == record["run_id"]

    history = cli("jobs", "history", "--json", cwd=workdir)  # default store: .tradepulse/jobs.sqlite here
    assert history.returncode == 0, history.stderr
    [run] = history.json()["runs"]
    assert (run["job"], run["status"], run["archive_path"]) == ("records_results", "succeeded", str(archived))
    assert (workdir / ".tradepulse" / "jobs.sqlite").is_file()


def test_a_failed_run_exits_one_naming_the_cell_and_the_error_without_a_traceback(cli, workdir):
    result = cli(
        "jobs", "run", "notebooks/fails_in_known_cell.ipynb", "--output-dir", "archive", "--no-history", cwd=workdir
    )
    assert result.returncode == 1
    assert (
        result.stdout.splitlines()[0] == "failed: fails_in_known_cell: cell 2 raised ValueError: threshold 5 is above 1"
    )
    assert "Traceback" not in result.stdout + result.stderr
    archived = result.stdout.splitlines()[1].split(maxsplit=1)[1]
    assert Path(archived).is_file()  # the failed run keeps its notebook
    assert not (workdir / ".tradepulse").exists()


@pytest.mark.parametrize(
    "arguments",
    [
        ["notebooks/missing.ipynb"],
        ["notebooks/records_results.ipynb", "-p", "options", "{label: [oops}"],
        ["notebooks/records_results.ipynb", "-p", "lookbak", "3"],
        ["notebooks/records_results.ipynb", "-p", "look-back", "3"],
        ["notebooks/records_results.ipynb", "--timeout", "0"],
        ["notebooks/records_results.ipynb", "--kernel", "no-such-kernel"],
        ["notebooks/records_results.ipynb", "-p", "lookback"],
    ],
)
def test_bad_input_is_one_line_and_exit_two(cli, workdir, arguments):
    result = cli("jobs", "run", *arguments, "--output-dir", "archive", cwd=workdir)
    _one_line_error(result)
    assert not (workdir / "archive").exists()


def test_an_unknown_parameter_error_lists_the_declared_ones(cli, workdir):
    result = cli("jobs", "run", "notebooks/records_results.ipynb", "-p", "lookbak", "3", cwd=workdir)
    assert result.returncode == 2
    for name in ("symbol", "lookback", "weights", "options", "enabled"):
        assert name in result.stderr


@pytest.mark.parametrize("subcommand", ["run", "list", "history", "scheduler"])
def test_every_subcommand_help_shows_an_example(cli, subcommand):
    result = cli("jobs", subcommand, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and f"tradepulse jobs {subcommand}" in result.stdout


def test_list_shows_each_jobs_next_run_and_masks_the_webhook(cli, workdir):
    _jobs_toml(
        workdir,
        """
[jobs.nightly]
notebook = "notebooks/records_results.ipynb"
cron = "30 2 * * *"
timezone = "Europe/Berlin"
[jobs.paused]
notebook = "notebooks/fails_in_known_cell.ipynb"
cron = "@hourly"
enabled = false
""",
    )
    result = cli("jobs", "list", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    listing = result.json()
    nightly, paused = listing["jobs"]
    assert nightly["next_run_local"].endswith(("T02:30:00+01:00", "T02:30:00+02:00", "T03:00:00+02:00"))
    assert datetime.fromisoformat(nightly["next_run"].replace("Z", "+00:00")) > datetime.now(timezone.utc)
    assert paused["next_run"] is None
    assert listing["alerts"]["webhook_url"] == "https://hooks.example.com/***"
    table = cli("jobs", "list", cwd=workdir)
    assert table.returncode == 0 and "nightly" in table.stdout
    assert "s3cr3t" not in result.stdout + result.stderr + table.stdout + table.stderr


def test_an_invalid_jobs_file_names_the_job_and_key(cli, workdir):
    _jobs_toml(
        workdir,
        '[jobs.nightly]\nnotebook = "notebooks/records_results.ipynb"\ncron = "30 2 * * *"\ntimezone = "Mars/Olympus"\n',
    )
    result = cli("jobs", "list", cwd=workdir)
    _one_line_error(result)
    assert "job 'nightly'" in result.stderr and "'timezone'" in result.stderr


def test_scheduler_once_runs_what_is_due_and_history_shows_it(cli, workdir):
    _jobs_toml(workdir, '[jobs.minutely]\nnotebook = "notebooks/records_results.ipynb"\ncron = "* * * * *"\n')
    store = workdir / "state" / "jobs.sqlite"
    JobHistory(store).set_last_scheduled_for("minutely", datetime.now(timezone.utc) - timedelta(minutes=2))
    result = cli("jobs", "scheduler", "--once", "--store", str(store), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr

    history = cli("jobs", "history", "minutely", "--limit", "5", "--store", str(store), "--json", cwd=workdir)
    [run] = history.json()["runs"]
    assert run["status"] == "succeeded" and run["trigger"] == "schedule" and run["scheduled_for"]
    assert Path(run["archive_path"]).parent.parent == workdir / "archive"
    text = cli("jobs", "history", "--store", str(store), cwd=workdir)
    assert text.returncode == 0 and "minutely" in text.stdout and "succeeded" in text.stdout


def test_scheduler_stops_cleanly_on_sigterm_cancelling_the_running_notebook(workdir):
    _jobs_toml(
        workdir, '[jobs.slow]\nnotebook = "notebooks/sleeps_past_timeout.ipynb"\ncron = "* * * * *"\nretries = 2\n'
    )
    store = workdir / "jobs.sqlite"
    history = JobHistory(store)
    history.set_last_scheduled_for("slow", datetime.now(timezone.utc) - timedelta(minutes=2))
    process = subprocess.Popen(
        [sys.executable, "-m", "tradepulse.cli", "jobs", "scheduler", "--store", str(store)],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        eventually(lambda: [e for e in history.entries("slow") if e.status == "running"])
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    [run] = history.entries("slow")
    assert run.status == "cancelled" and Path(run.archive_path).is_file()
    assert "Traceback" not in stderr and "s3cr3t" not in stdout + stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ["scheduler", "--until", "yesterday-ish"],
        ["scheduler", "--until", "2001-01-01T00:00:00Z"],
        ["scheduler", "--config", "absent.toml"],
        ["history", "--store", "absent.sqlite"],
        ["history", "--limit", "0"],
    ],
)
def test_bad_scheduler_and_history_input_is_one_line_and_exit_two(cli, workdir, arguments):
    _jobs_toml(workdir, '[jobs.minutely]\nnotebook = "notebooks/records_results.ipynb"\ncron = "* * * * *"\n')
    _one_line_error(cli("jobs", *arguments, cwd=workdir))
