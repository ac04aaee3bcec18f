"""The managers' pages in headless Chromium, with the local venue, a service trading on it through ccxt,
and `tradepulse dashboard --config` serving the pages: the overview moves as fills happen, the history
marks its anomalies, the reports page lists runs with the failure standing out, a read token gets no
buttons, and an operate token's confirmed kill halts the service and the page says HALTED."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import eventually
from test_dashboard_command import read_json_announcement

from tradepulse.client import LiveClient
from tradepulse.service.processes import Drill

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
PAGE_READY_MS = 120_000
REPORT = REPO_ROOT / "notebooks" / "reports" / "backtest_report.ipynb"

CONFIG = """\
[service]
state_dir = "state"
status_interval_seconds = 1

[api]
port = 0

[venue]
kind = "ccxt"
exchange = "binance"

[[strategies]]
id = "btc-sma"
strategy = "sma_cross"
symbol = "BTC/USDT"
params = { fast = 2, slow = 4 }
bar = "2s"

[governance]
require_versions = false  # a built-in on the local venue: these pages are under test, not a strategy
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Drill, Path, Path]]:
    """The local venue, a ccxt service trading on it, and a job history with a good and a failed report run."""
    folder = tmp_path_factory.mktemp("managers")
    history = folder / "jobs.sqlite"
    for name, extra, code in (("btc_report", [], 0), ("broken_report", ["-p", "source", "sample:nowhere:XYZ:1h"], 1)):
        run = subprocess.run([sys.executable, "-m", "tradepulse.cli", "jobs", "run", str(REPORT), "--name", name,
                              "--output-dir", str(folder / "archive"), "--store", str(history), *extra],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == code, run.stderr
    with Drill(folder / "drill", prefix="managers") as drill:
        drill.venue(speed=10, balances={"USDT": "10000"})
        config = drill.folder / "live.toml"
        config.write_text(CONFIG, encoding="utf-8")
        service = drill.service(config)
        client = service.client(token=drill.credentials.read_token)
        eventually(lambda: client.fills(limit=5), 90)
        client.close()
        yield drill, config, history


def _dashboard(stack: tuple[Drill, Path, Path], token: str) -> tuple[subprocess.Popen[str], dict]:
    drill, config, history = stack
    env = {key: value for key, value in drill.env.items() if not key.startswith("TRADEPULSE_API_")}
    env.update({"TRADEPULSE_API_TOKEN": token, "PYTHONWARNINGS": "ignore"})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "tradepulse.cli", "dashboard", "--no-browser", "--no-preheat", "--port", "0", "--json",
         "--config", str(config), "--jobs-history", str(history)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return process, read_json_announcement(process)


@pytest.fixture(scope="module")
def read_site(stack) -> Iterator[dict]:
    process, announcement = _dashboard(stack, stack[0].credentials.read_token)
    try:
        yield announcement
    finally:
        process.terminate()
        process.wait(60)


def test_the_command_points_the_live_pages_at_the_configured_service(read_site, stack):
    assert read_site["state_dir"] == str((stack[1].parent / "state").resolve())
    assert read_site["jobs_history"] == str(stack[2].resolve())
    assert {"overview_dashboard.ipynb", "history_dashboard.ipynb", "research_reports.ipynb", "live_dashboard.ipynb"} <= set(read_site["pages"])


def _headline(page, name: str) -> str:
    return page.inner_text(f'.tp-overview-tile[data-figure="{name}"] .tp-overview-value')


def test_the_overview_moves_when_fills_happen_and_shows_no_buttons_to_a_read_token(open_tab, read_site, stack):
    drill = stack[0]
    visit = open_tab(read_site["url"])
    visit.goto(read_site["pages"]["overview_dashboard.ipynb"])
    page = visit.page
    page.wait_for_selector(".tp-overview-headline", timeout=PAGE_READY_MS)
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data.length > 1)",
                           timeout=PAGE_READY_MS)
    assert _headline(page, "trading_state") == "ACTIVE"
    as_of = page.inner_text(".tp-overview-headline")
    with LiveClient.from_state_dir(stack[1].parent / "state", token=drill.credentials.read_token) as reader:
        fills = len(reader.fills(limit=1000))
        eventually(lambda: len(reader.fills(limit=1000)) > fills, 90)
    # The page follows the stream: the headline's "as of" moves on with the new marks and fills.
    page.wait_for_function("(before) => document.querySelector('.tp-overview-headline').innerText !== before",
                           arg=as_of, timeout=30_000)
    equity = float(_headline(page, "equity").replace(",", ""))
    with LiveClient.from_state_dir(stack[1].parent / "state", token=drill.credentials.read_token) as reader:
        latest = reader.pnl(limit=1)[-1]
    assert abs(equity - float(latest["equity"])) < 100  # the service's own figure, give or take the marks since
    assert page.get_attribute(".tp-live-access", "data-scope") == "read"
    assert not page.locator(".tp-live-kill").is_visible() and not page.locator(".tp-live-flatten").is_visible()
    content = page.content()
    assert drill.credentials.read_token not in content and drill.credentials.operate_token not in content
    visit.screenshot("overview_dashboard")
    assert visit.outside_requests == []


def test_the_history_page_marks_anomalies_past_the_threshold_the_reader_sets(open_tab, read_site):
    visit = open_tab(read_site["url"])
    visit.goto(read_site["pages"]["history_dashboard.ipynb"])
    page = visit.page
    page.wait_for_selector(".tp-history-explorer .tp-status[data-state=idle]", timeout=PAGE_READY_MS)
    assert "|z| ≥ 3.5" in page.inner_text(".tp-history-threshold-note")
    before = page.inner_text(".tp-status")
    visit.type_into_slider("tp-history-threshold", "1.5")
    page.wait_for_function("(before) => document.querySelector('.tp-status').innerText !== before "
                           "&& document.querySelector('.tp-status').dataset.state === 'idle'", arg=before, timeout=60_000)
    assert "|z| ≥ 1.5" in page.inner_text(".tp-history-threshold-note")
    marked = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(g => g.data || [])
                                 .filter(t => (t.name || '').startsWith('anomaly')).reduce((n, t) => n + t.x.length, 0)""")
    listed = page.locator(".tp-history-anomalies tbody tr").count()
    assert marked == listed and listed >= 1, (marked, listed)
    assert page.locator(".tp-history-fills tbody tr").count() >= 1
    visit.screenshot("history_dashboard")
    assert visit.outside_requests == []


def test_the_reports_page_lists_runs_the_failure_stands_out_and_a_report_opens(open_tab, read_site):
    visit = open_tab(read_site["url"])
    visit.goto(read_site["pages"]["research_reports.ipynb"])
    page = visit.page
    page.wait_for_selector(".tp-reports-summary", timeout=PAGE_READY_MS)
    assert page.get_attribute(".tp-reports-summary", "data-failed") == "1"
    failed = page.locator('.tp-reports-row[data-failed="true"]')
    assert failed.count() == 1 and "broken_report" in failed.inner_text()
    assert page.locator('.tp-reports-row[data-failed="false"] [data-status="succeeded"]').count() == 1
    picker = page.locator(".tp-reports-run select")
    label = next(text for text in picker.locator("option").all_inner_texts() if text.startswith("btc_report"))
    picker.select_option(label=label)
    frame = page.frame_locator("iframe.tp-reports-frame")
    frame.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    visit.screenshot("research_reports")
    assert visit.outside_requests == []


def test_an_operate_token_gets_buttons_and_a_confirmed_kill_halts_the_engine(open_tab, stack):
    drill = stack[0]
    process, site = _dashboard(stack, drill.credentials.operate_token)
    try:
        visit = open_tab(site["url"])
        visit.goto(site["pages"]["overview_dashboard.ipynb"])
        page = visit.page
        page.wait_for_selector(".tp-live-kill", state="visible", timeout=PAGE_READY_MS)
        assert page.get_attribute(".tp-live-access", "data-scope") == "operate"
        page.fill(".tp-live-reason input", "browser test: kill from the overview")
        page.click("button.tp-live-kill")
        page.wait_for_selector(".tp-live-confirm-text", state="visible", timeout=30_000)
        assert "open orders are cancelled" in page.inner_text(".tp-live-confirm-text")
        page.click("button.tp-live-confirm")
        page.wait_for_function("() => (document.querySelector('.tp-overview-tile[data-figure=\"trading_state\"] "
                               ".tp-overview-value') || {}).innerText === 'HALTED'", timeout=30_000)
        with LiveClient.from_state_dir(stack[1].parent / "state", token=drill.credentials.read_token) as reader:
            assert reader.status()["trading_state"] == "HALTED"
            assert reader.risk()["engines"][0]["status"]["state"]["reason"] == "browser test: kill from the overview"
        visit.screenshot("overview_dashboard_halted")
        assert visit.outside_requests == []
    finally:
        process.terminate()
        process.wait(60)
