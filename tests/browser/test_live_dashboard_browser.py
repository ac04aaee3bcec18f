"""The live dashboard page in headless Chromium: Voila renders notebooks/live_dashboard.ipynb against a
real `tradepulse serve` process trading on paper, with a read token, as a manager would open it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService

from tradepulse.cli.dashboard_cmd import DashboardServer
from tradepulse.client import LiveClient

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
#: The page's kernel imports TradePulse and runs the notebook when the page is opened (no preheat).
PAGE_READY_MS = 120_000
PAGE = "live_dashboard.ipynb"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A folder holding the page and a running paper service whose state directory sits beside it."""
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / PAGE, folder / PAGE)
    # state_dir "live-state" beside the notebook: the page's default parameters find this service.
    with PaperService(folder, state_dir="live-state", speed=20, log_path=tmp_path / "service.log") as service:
        with LiveClient.from_state_dir(service.state_dir, token=READ_TOKEN) as reader:
            eventually(lambda: reader.orders(), 90)
        yield folder


@pytest.fixture
def live_voila(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DashboardServer]:
    """Voila on the site folder; its kernels get the read token, as a manager's dashboard would."""
    for variable in ("TRADEPULSE_API_READ_TOKEN", "TRADEPULSE_API_OPERATE_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TRADEPULSE_API_TOKEN", READ_TOKEN)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = DashboardServer(site, port=0, log_file=ARTIFACTS / "voila-live-dashboard.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_live_dashboard_page_shows_the_trading_state_and_orders_of_a_running_service(open_tab, live_voila, site):
    visit = open_tab(live_voila.url)
    visit.goto(live_voila.page_url(PAGE))
    page = visit.page
    page.wait_for_selector(".tp-live-monitor .tp-live-state", timeout=PAGE_READY_MS)
    page.wait_for_selector(".tp-live-orders tbody tr", timeout=PAGE_READY_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data.length > 0)",
        timeout=PAGE_READY_MS,
    )

    with LiveClient.from_state_dir(site / "live-state", token=READ_TOKEN) as reader:
        state = reader.status()["trading_state"]
        order_ids = {order["client_order_id"] for order in reader.orders(limit=100)}
    shown_state = page.get_attribute(".tp-live-header .tp-live-state", "data-state")
    assert shown_state == state and page.inner_text(".tp-live-header .tp-live-state") == state
    rows = page.locator(".tp-live-orders tbody tr")
    assert rows.count() >= 1
    first_id = rows.first.locator("td[data-column=client_order_id]").inner_text()
    assert first_id in order_ids
    assert rows.first.locator("td[data-column=status] [data-status]").inner_text() in {
        "SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "FILLED"}
    body = page.inner_text("body")
    assert "Live trading" in body and "No TradePulse service" not in body
    assert "BTC/USDT" in page.inner_text(".tp-live-positions")
    # Execution quality is the service's per-strategy table, not a sample of journal events.
    quality = page.locator(".tp-live-quality tbody tr")
    assert quality.count() == 1 and quality.first.locator("td[data-column=strategy_id]").inner_text() == "btc-sma"
    assert quality.first.locator("td[data-column=fill_ratio]").inner_text().endswith("%")

    # A read token: a view only, no operator buttons, and the token is nowhere on the page.
    assert page.get_attribute(".tp-live-access", "data-scope") == "read"
    assert not page.locator(".tp-live-kill").is_visible()
    content = page.content()
    assert READ_TOKEN not in content and OPERATE_TOKEN not in content
    assert "LiveMonitor.connect" not in content  # sources are stripped
    visit.screenshot("live_dashboard")
    assert visit.outside_requests == []
