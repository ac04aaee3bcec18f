"""Real dashboards in a real browser: Voila started as `tradepulse dashboard` starts it, headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by `make browser`); Playwright cannot download
browsers here. A missing Chromium fails these tests with that instruction rather than skipping
them: a skipped browser suite looks green while checking nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TRADEPULSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = REPO_ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
#: A preheated page renders in seconds, but the first one waits for its kernel to import
#: vectorbt and run the notebook while Chromium starts on the same two cores.
PAGE_READY_MS = 120_000
RECOMPUTE_MS = 60_000


class Visit:
    """A browser tab on one dashboard page, remembering every URL the page asked for."""

    def __init__(self, page: object, server_url: str) -> None:
        self.page = page
        self.server_origin = urlsplit(server_url).netloc
        self.requested: list[str] = []
        page.on("request", lambda request: self.requested.append(request.url))

    def goto(self, url: str) -> None:
        self.page.goto(url, timeout=PAGE_READY_MS)

    def open(self, url: str) -> None:
        """Open a dashboard page and wait for its widget's first result."""
        self.goto(url)
        self.wait_for_widget()

    def wait_for_widget(self) -> None:
        """Wait until a TradePulse widget shows its first result and its chart has data."""
        # The status line turns idle once the kernel's first result is on the page, and the chart
        # has data once plotly drew the FigureWidget from the synced state.
        self.page.wait_for_selector(".tp-status[data-state=idle]", timeout=PAGE_READY_MS)
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot')].some(g => g.data && g.data.length > 0)",
            timeout=PAGE_READY_MS,
        )

    @property
    def outside_requests(self) -> list[str]:
        """Requests to anywhere but the dashboard server (inline data: and blob: URLs are local)."""
        return sorted(
            {url for url in self.requested
             if urlsplit(url).scheme not in {"data", "blob"} and urlsplit(url).netloc != self.server_origin}
        )

    def stats_text(self) -> str:
        return self.page.inner_text(".tp-stats")

    def trace_values(self, name: str) -> list:
        """The y values plotly is drawing for the trace called ``name``."""
        return self.page.evaluate(
            """(name) => {
                for (const graph of document.querySelectorAll('.js-plotly-plot')) {
                    const trace = (graph.data || []).find(t => t.name === name);
                    if (trace) return Array.from(trace.y);
                }
                return null;
            }""",
            name,
        )

    def wait_for_chart_title(self, title: str) -> None:
        """Wait until the page's first chart carries ``title`` (plotly redraws asynchronously)."""
        self.page.wait_for_function(
            """(title) => {
                const graph = document.querySelector('.js-plotly-plot');
                return graph && graph.layout && (graph.layout.title || {}).text === title;
            }""",
            arg=title,
            timeout=RECOMPUTE_MS,
        )

    def type_into_slider(self, css_class: str, value: str) -> None:
        """Type an exact value into a slider's readout and press Enter, as a user does."""
        readout = self.page.locator(f".{css_class} .widget-readout")
        readout.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(value)
        self.page.keyboard.press("Enter")

    def wait_until_recomputed(self, stats_before: str) -> None:
        self.page.wait_for_function(
            """(before) => {
                const status = document.querySelector('.tp-status');
                const stats = document.querySelector('.tp-stats');
                return status && status.dataset.state !== 'busy' && stats && stats.innerText !== before;
            }""",
            arg=stats_before,
            timeout=RECOMPUTE_MS,
        )

    def screenshot_path(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS / f"{name}.png"

    def screenshot(self, name: str) -> Path:
        """Save the whole page as artifacts/screenshots/<name>.png."""
        path = self.screenshot_path(name)
        # Voila scrolls inside #rendered_cells, so a "full page" shot would stop at the window;
        # make the window as tall as the content for the shot instead.
        size = self.page.viewport_size
        height = self.page.evaluate(
            """() => Math.max(document.body.scrollHeight,
                              (document.querySelector('#rendered_cells') || {}).scrollHeight || 0)"""
        )
        self.page.set_viewport_size({"width": size["width"], "height": min(max(height + 40, size["height"]), 4000)})
        try:
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(size)
        return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install it with `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def dashboard() -> Iterator[object]:
    """`tradepulse dashboard`'s server (same class, same Voila configuration, preheated) on a free port."""
    from tradepulse.cli.dashboard_cmd import DashboardServer, find_notebooks_dir

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = DashboardServer(
        find_notebooks_dir(REPO_ROOT / "notebooks"), port=0, log_file=ARTIFACTS / "voila-browser-tests.log"
    )
    server.start()
    yield server
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test item, so fixtures can tell a failed test at teardown.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def open_tab(browser, request) -> Iterator[Callable[[str], Visit]]:
    """Open fresh browser tabs (own cookies and storage) against a server; closed after the test.

    When the test fails, each tab is saved as artifacts/screenshots/FAILED-<test>-<n>.png first.
    """
    tabs: list[tuple[object, Visit]] = []

    def open_tab(server_url: str) -> Visit:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        visit = Visit(context.new_page(), server_url)
        tabs.append((context, visit))
        return visit

    yield open_tab
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for number, (context, visit) in enumerate(tabs):
        if failed:
            visit.screenshot(f"FAILED-{request.node.name}-{number}")
        context.close()


@pytest.fixture
def visit(open_tab, dashboard) -> Visit:
    """A tab on the dashboard server."""
    return open_tab(dashboard.url)
