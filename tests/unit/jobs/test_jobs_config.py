"""jobs.toml: strict validation naming job and key, and cron times across DST changes."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from tradepulse.errors import ConfigError
from tradepulse.jobs.schedule import CronSchedule, load_jobs_config

REPO_ROOT = Path(__file__).resolve().parents[3]
UTC = timezone.utc

VALID = """
[scheduler]
output_dir = "archive"
max_concurrent_runs = 3

[alerts]
webhook_url = "https://hooks.example.com/services/T000/B000/SECRETTOKEN"
format = "slack"

[jobs.daily]
notebook = "notebooks/records_results.ipynb"
cron = "30 2 * * *"
timezone = "Europe/Berlin"
timeout_seconds = 120
cell_timeout_seconds = 60
retries = 2
retry_backoff_seconds = 10
overlap = "queue"

[jobs.daily.parameters]
lookback = 5
options = { label = "nightly" }

[jobs.paused]
notebook = "notebooks/fails_in_known_cell.ipynb"
cron = "@hourly"
enabled = false
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    return path


def test_a_valid_file_loads_with_paths_relative_to_it(tmp_path, notebooks):
    config = load_jobs_config(_write(tmp_path, VALID))
    daily = config.jobs["daily"]
    assert daily.notebook == tmp_path / "notebooks" / "records_results.ipynb"
    assert daily.parameters == {"lookback": 5, "options": {"label": "nightly"}}
    assert (daily.timeout_seconds, daily.cell_timeout_seconds, daily.retries, daily.overlap) == (120, 60, 2, "queue")
    assert [daily.backoff_seconds(n) for n in (1, 2, 3)] == [10, 20, 40]
    assert config.jobs["paused"].enabled is False and config.jobs["paused"].overlap == "skip"
    assert config.output_dir == tmp_path / "archive" and config.max_concurrent_runs == 3
    assert config.alerts.format == "slack"
    assert "SECRETTOKEN" not in repr(config)
    assert config.alerts.webhook_url.reveal().endswith("SECRETTOKEN")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("retries = 2", 'retries = 2\ncolour = "red"'), r"job 'daily': unknown key 'colour'"),
        (('cron = "30 2 * * *"', 'cron = "61 2 * * *"'), r"job 'daily': key 'cron': bad cron expression"),
        (('cron = "30 2 * * *"', 'cron = "30 2 * *"'), r"job 'daily': key 'cron': .*5 fields"),
        (('cron = "30 2 * * *"', 'cron = "0 0 31 2 *"'), r"job 'daily': key 'cron'"),
        (
            ('timezone = "Europe/Berlin"', 'timezone = "Europe/Atlantis"'),
            r"job 'daily': key 'timezone': unknown time zone",
        ),
        (
            ('"notebooks/records_results.ipynb"', '"notebooks/missing.ipynb"'),
            r"job 'daily': key 'notebook': file not found",
        ),
        (
            ("lookback = 5", "lookbak = 5"),
            r"job 'daily': key 'parameters': unknown parameter 'lookbak'.*declares: symbol",
        ),
        (
            ('overlap = "queue"', 'overlap = "sometimes"'),
            r"job 'daily': key 'overlap' must be one of skip, queue, allow",
        ),
        (("retries = 2", "retries = -1"), r"job 'daily': key 'retries'"),
        (("retries = 2", 'retries = "2"'), r"job 'daily': key 'retries' must be an integer"),
        (("timeout_seconds = 120", "timeout_seconds = 0"), r"job 'daily': key 'timeout_seconds' must be a positive"),
        (("enabled = false", 'enabled = "no"'), r"job 'paused': key 'enabled' must be true or false"),
        (('cron = "@hourly"\n', ""), r"job 'paused': missing key 'cron'"),
        (('format = "slack"', 'format = "teams"'), r"\[alerts\]: key 'format'"),
        (("max_concurrent_runs = 3", "max_concurrent_runs = 0"), r"\[scheduler\]: key 'max_concurrent_runs'"),
        (("[scheduler]", "[scheduler]\nthreads = 4"), r"\[scheduler\]: unknown key 'threads'"),
    ],
)
def test_every_mistake_is_a_config_error_naming_job_and_key(tmp_path, notebooks, change, expected):
    old, new = change
    assert old in VALID
    with pytest.raises(ConfigError, match=expected):
        load_jobs_config(_write(tmp_path, VALID.replace(old, new, 1)))


def test_a_webhook_url_in_an_error_is_masked(tmp_path, notebooks):
    bad = VALID.replace("https://hooks.example.com", "ftp://hooks.example.com")
    with pytest.raises(ConfigError) as raised:
        load_jobs_config(_write(tmp_path, bad))
    assert "SECRETTOKEN" not in str(raised.value)


def test_the_webhook_url_can_come_from_the_environment_or_a_file(tmp_path, notebooks, monkeypatch):
    from_env = VALID.replace(
        'webhook_url = "https://hooks.example.com/services/T000/B000/SECRETTOKEN"', 'webhook_url_env = "TP_TEST_HOOK"'
    )
    with pytest.raises(ConfigError, match="TP_TEST_HOOK is not set"):
        load_jobs_config(_write(tmp_path, from_env))
    monkeypatch.setenv("TP_TEST_HOOK", "https://hooks.example.com/from-env")
    assert (
        load_jobs_config(_write(tmp_path, from_env)).alerts.webhook_url.reveal() == "https://hooks.example.com/from-env"
    )

    (tmp_path / "hook.secret").write_text("https://hooks.example.com/from-file\n")
    from_file = from_env.replace('webhook_url_env = "TP_TEST_HOOK"', 'webhook_url_file = "hook.secret"')
    assert (
        load_jobs_config(_write(tmp_path, from_file)).alerts.webhook_url.reveal()
        == "https://hooks.example.com/from-file"
    )


def test_a_file_that_is_not_toml_or_has_no_jobs_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_jobs_config(_write(tmp_path, "[jobs\n"))
    with pytest.raises(ConfigError, match="no jobs defined"):
        load_jobs_config(_write(tmp_path, "[scheduler]\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_jobs_config(tmp_path / "absent.toml")


def test_the_example_jobs_toml_is_valid_for_the_agreed_report_parameters(tmp_path):
    # The report notebook is another module's; a stand-in declaring its agreed parameters checks the example.
    shutil.copy(REPO_ROOT / "jobs.toml", tmp_path / "jobs.toml")
    report = new_notebook(
        cells=[
            new_code_cell(
                'source = "sample:binance:BTC/USDT:1h"\nstrategy = "sma_cross"\nparams = {}\nfees_bps = 10.0\nslippage_bps = 5.0',
                metadata={"tags": ["parameters"]},
            )
        ]
    )
    (tmp_path / "notebooks" / "reports").mkdir(parents=True)
    nbformat.write(report, tmp_path / "notebooks" / "reports" / "backtest_report.ipynb")
    config = load_jobs_config(tmp_path / "jobs.toml")
    assert {job.parameters["strategy"] for job in config.jobs.values()} == {"sma_cross", "mean_reversion"}


# -- cron and DST -----------------------------------------------------------------------------


def _berlin(*args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_0230_berlin_job_on_the_spring_forward_day_runs_once_at_0300():
    schedule = CronSchedule("30 2 * * *", "Europe/Berlin")
    fires = schedule.fire_times(_berlin(2026, 3, 28, 12, 0), _berlin(2026, 3, 30, 12, 0))
    assert [f.astimezone(schedule.time_zone).isoformat() for f in fires] == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night
        "2026-03-30T02:30:00+02:00",
    ]


def test_a_0230_berlin_job_on_the_fall_back_day_runs_once():
    schedule = CronSchedule("30 2 * * *", "Europe/Berlin")
    fires = schedule.fire_times(_berlin(2026, 10, 24, 12, 0), _berlin(2026, 10, 26, 12, 0))
    assert [f.isoformat() for f in fires] == [
        "2026-10-25T00:30:00+00:00",  # the first 02:30 (CEST), not the repeated one
        "2026-10-26T01:30:00+00:00",
    ]
    # Asking from inside the repeated hour does not hand back the 02:30 already past.
    second_0215 = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, after 02:30 CEST
    assert schedule.next_after(second_0215).isoformat() == "2026-10-26T01:30:00+00:00"


def test_an_hourly_job_runs_in_both_repeated_hours_of_the_fall_back_day():
    schedule = CronSchedule("0 * * * *", "Europe/Berlin")
    fires = schedule.fire_times(datetime(2026, 10, 24, 23, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC))
    assert [f.strftime("%H:%M") for f in fires] == ["00:00", "01:00", "02:00"]  # UTC: 02:00 CEST, 02:00 CET, 03:00 CET


def test_next_run_is_computed_in_the_jobs_time_zone():
    schedule = CronSchedule("0 9 * * MON", "America/New_York")
    friday = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert schedule.next_after(friday).isoformat() == "2026-11-23T14:00:00+00:00"


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(["30 2 * * *", "0 * * * *", "*/15 1-3 * * *", "0 9 * * 1-5", "45 23 L * *"]),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
    offset_minutes=st.integers(min_value=0, max_value=366 * 24 * 60),
)
def test_latest_at_or_before_and_next_after_agree(expression, zone, offset_minutes):
    schedule = CronSchedule(expression, zone)
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset_minutes, seconds=17)
    latest = schedule.latest_at_or_before(moment)
    following = schedule.next_after(moment)
    assert latest <= moment < following
    assert schedule.next_after(latest) == following
