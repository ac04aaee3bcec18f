"""The TradePulse panel in a real JupyterLab, in headless Chromium, beside a real paper service.

JupyterLab loads the committed prebuilt extension (extensions/labextensions/tradepulse-lab; no
Node.js here) the way extensions/README.md says: ``LabApp.extra_labextensions_path`` in a
``jupyter_lab_config.json`` of the (temporary) Jupyter config directory, which ``jupyter
labextension list`` reads too. The server extension is enabled with the config file shipped in
extensions/jupyter_server_config.d/. The server's root is a temporary folder holding a copy of the
runbooks (autosave must not write into the repository) and a real strategy store under
``.tradepulse/store``, where the server extension looks when ``TRADEPULSE_STORE`` is not set.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from polling import eventually
from service_fixtures import READ_TOKEN, PaperService, clean_env, stop_process

from tradepulse.cli.dashboard_cmd import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = REPO_ROOT / "extensions"
LABEXTENSIONS = EXTENSIONS / "labextensions"
ARTIFACTS = REPO_ROOT / "artifacts"
JUPYTER_TOKEN = secrets.token_hex(24)
PANEL = "#tradepulse-panel"
LOAD_MS = 60_000


def make_store(folder: Path) -> dict[str, str]:
    """A real strategy store with one version at each of live, paper and research; ``{stage: version id}``."""
    from tradepulse.data import load_bars
    from tradepulse.promotion import StrategyStore
    from tradepulse.strategy import load_strategy

    bars = load_bars("sample:binance:BTC/USDT:1h")
    sma = load_strategy("sma_cross")
    with StrategyStore(folder) as store:
        live = store.create_version(sma(fast=10, slow=30), bars, author="ana")
        store.promote(live.id, bars, actor="ana", comment="paper for two weeks")
        store.approve(live.id, approver="risk-bob", comment="reviewed fills and drawdown")
        paper = store.create_version(sma(fast=8, slow=30), bars, author="ana")
        store.promote(paper.id, bars, actor="ana")
        research = store.create_version(sma(fast=5, slow=30), bars, author="carl")
    return {"live": live.id, "paper": paper.id, "research": research.id}


def stored_newest_first(versions: dict[str, str]) -> list[str]:
    """The store's own order (created_at to the second, then id), newest first, as the panel lists them."""
    from tradepulse.promotion import StrategyStore

    folder = Path(versions["store"])
    with StrategyStore(folder) as store:
        return [version.id for version in reversed(store.versions())]


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory) -> Path:
    """Jupyter's config folder for these tests: the lab extension's path and the server extension, as documented."""
    home = tmp_path_factory.mktemp("jupyterlab-panel")
    config = home / "config"
    (config / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(EXTENSIONS / "jupyter_server_config.d" / "tradepulse_jupyter.json", config / "jupyter_server_config.d")
    (config / "jupyter_lab_config.json").write_text(
        json.dumps({"LabApp": {"extra_labextensions_path": [str(LABEXTENSIONS)]}}))
    # No "get Jupyter news?" toast over the screenshots (offline anyway).
    notifications = home / "settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    return home


def jupyter_env(home: Path, **extra: str) -> dict[str, str]:
    env = clean_env("JUPYTER_", "TRADEPULSE_STORE")
    env.update({
        "PYTHONPATH": os.pathsep.join([str(EXTENSIONS), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "PYTHONWARNINGS": "ignore", **extra,
    })
    return env


@pytest.fixture(scope="module")
def service(lab_home) -> Iterator[PaperService]:
    """A real paper service (the panel test stops it to see the panel say so)."""
    with PaperService(lab_home / "service", speed=5) as running:
        yield running


@pytest.fixture(scope="module")
def versions(lab_home) -> dict[str, str]:
    root = lab_home / "root"
    shutil.copytree(REPO_ROOT / "runbooks", root / "runbooks")
    folder = root / ".tradepulse" / "store"
    return {**make_store(folder), "store": str(folder)}


@pytest.fixture(scope="module")
def jupyterlab(lab_home, service, versions) -> Iterator[str]:
    """JupyterLab with both TradePulse extensions, reading ``service`` with a read token; yields its URL."""
    port = free_port()
    env = jupyter_env(lab_home, JUPYTER_TOKEN=JUPYTER_TOKEN, TRADEPULSE_STATE_DIR=str(service.state_dir),
                      TRADEPULSE_API_TOKEN=READ_TOKEN)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "jupyterlab-panel-browser-tests.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--allow-root", f"--ServerApp.root_dir={lab_home / 'root'}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True"],
        env=env, cwd=lab_home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"

    def ready() -> bool:
        assert process.poll() is None, f"JupyterLab exited while starting; see {log_path.relative_to(REPO_ROOT)}"
        try:
            with urllib.request.urlopen(url + "api/status", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (403 without the token): up
        except (urllib.error.URLError, OSError):
            return False

    try:
        eventually(ready, timeout_seconds=120, interval_seconds=0.2)
        assert "tradepulse_jupyter | extension was successfully loaded" in log_path.read_text(errors="replace")
        yield url
    finally:
        stop_process(process, timeout=30)  # it shuts its kernels down on SIGTERM
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything of its session still left
        except ProcessLookupError:
            pass
        log.close()


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_labextension_list_shows_the_panel_enabled_and_ok(lab_home):
    env = jupyter_env(lab_home)
    listed = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    text = _plain(listed.stdout + listed.stderr)
    version = json.loads((LABEXTENSIONS / "tradepulse-lab" / "package.json").read_text())["version"]
    # Listed under its own folder, enabled, and its dependencies satisfied by this JupyterLab ("OK").
    section = text.split(str(LABEXTENSIONS), 1)[1].split("\n\n", 1)[0]
    assert re.search(rf"^\s*tradepulse-lab v{re.escape(version)} enabled OK\s*$", section, re.MULTILINE), text
    servers = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"], env=env,
                             capture_output=True, text=True, timeout=120)
    text = _plain(servers.stdout + servers.stderr)
    assert re.search(r"^\s*tradepulse_jupyter enabled$", text, re.MULTILINE), text
    assert re.search(r"^\s*tradepulse_jupyter\s+OK$", text, re.MULTILINE), text


def test_the_panel_shows_service_versions_and_runbooks_and_says_when_the_service_is_down(
        open_tab, jupyterlab, service, versions):
    visit = open_tab(jupyterlab)
    page = visit.page
    # Uncaught errors whose stack passes through the panel's bundle (JupyterLab's own are not this test's).
    panel_errors: list[str] = []
    page.on("pageerror", lambda error: panel_errors.append(f"{error}\n{error.stack or ''}"))
    visit.goto(f"{jupyterlab}lab?token={JUPYTER_TOKEN}")
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='tradepulse-panel']")
    tab.wait_for(timeout=LOAD_MS)
    assert tab.get_attribute("title") == "TradePulse"
    tab.click()
    panel = page.locator(PANEL)
    panel.wait_for(state="visible", timeout=LOAD_MS)

    # The service: its trading state, equity, positions and open orders, as the server extension reads them.
    page.wait_for_selector(f"{PANEL} .tp-lab-service[data-state=ok]", timeout=LOAD_MS)
    assert panel.locator(".tp-lab-trading-state").inner_text() == "ACTIVE"
    assert panel.locator(".tp-lab-trading-state").get_attribute("data-trading-state") == "ACTIVE"
    equity = panel.locator(".tp-lab-equity").inner_text()
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", equity) and 9000 < float(equity.replace(",", "")) < 11000, equity
    assert panel.locator(".tp-lab-positions").inner_text().isdigit()
    assert panel.locator(".tp-lab-open-orders").inner_text().isdigit()
    assert panel.locator(".tp-lab-engine[data-strategy-id='btc-sma'] .tp-lab-engine-state").inner_text() == "ACTIVE"
    shown_url = panel.locator(".tp-lab-url").inner_text()
    assert shown_url.startswith("http://127.0.0.1:") and shown_url.endswith("/api/v1"), shown_url

    # The strategy versions with their stage, newest first.
    page.wait_for_selector(f"{PANEL} .tp-lab-strategies[data-state=ok]", timeout=LOAD_MS)
    for stage in ("live", "paper", "research"):
        version_id = versions[stage]
        row = panel.locator(f".tp-lab-version[data-version-id='{version_id}']")
        assert row.locator(".tp-lab-version-id").inner_text() == version_id
        assert row.locator(".tp-lab-stage").inner_text() == stage
    shown = panel.locator(".tp-lab-version").evaluate_all("rows => rows.map(row => row.dataset.versionId)")
    assert shown == stored_newest_first(versions)

    # The runbooks, by their headings; a click opens one as a notebook in the main area.
    page.wait_for_selector(f"{PANEL} .tp-lab-runbooks[data-state=ok]", timeout=LOAD_MS)
    runbooks = panel.locator(".tp-lab-runbook")
    names = runbooks.evaluate_all("buttons => buttons.map(button => button.dataset.runbook)")
    assert names == sorted(path.stem for path in (REPO_ROOT / "runbooks").glob("*.ipynb"))
    health_check = panel.locator(".tp-lab-runbook[data-runbook='service_health_check']")
    assert health_check.inner_text() == "Service health check"
    health_check.click()
    page.wait_for_function(
        """() => {
            const widget = window.jupyterapp.shell.currentWidget;
            return widget && widget.context && widget.context.path === 'runbooks/service_health_check.ipynb'
                && widget.hasClass('jp-NotebookPanel');
        }""",
        timeout=LOAD_MS,
    )
    page.locator(".jp-NotebookPanel:visible .jp-MarkdownCell").first.wait_for(timeout=LOAD_MS)
    notebook_tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    assert notebook_tab.inner_text() == "service_health_check.ipynb"
    assert panel.is_visible()  # the sidebar stays open beside the runbook
    visit.screenshot("jupyterlab_tradepulse_panel")

    # The service stops: the periodic refresh turns the service section into one line saying so.
    service.stop()
    page.wait_for_selector(f"{PANEL} .tp-lab-service[data-state=error]", timeout=30_000)
    line = panel.locator(".tp-lab-service .tp-lab-error")
    text = line.inner_text()
    assert text.startswith("Service unavailable: ") and "no TradePulse service is running" in text, text
    assert "\n" not in text and "Traceback" not in text and READ_TOKEN not in text
    assert line.evaluate("node => node.getClientRects().length") > 0 and panel.locator(".tp-lab-facts").count() == 0
    # The other sections carry on; the refresh button asks again at once.
    assert panel.locator(".tp-lab-strategies").get_attribute("data-state") == "ok"
    asked = sum("/tradepulse/service" in url for url in visit.requested)
    panel.locator(".tp-lab-refresh").click()
    eventually(lambda: sum("/tradepulse/service" in url for url in visit.requested) > asked, timeout_seconds=10)
    page.wait_for_function(f"() => !document.querySelector('{PANEL}').dataset.refreshing", timeout=10_000)
    assert panel.locator(".tp-lab-service").get_attribute("data-state") == "error"
    visit.screenshot("jupyterlab_tradepulse_panel_service_down")
    assert visit.outside_requests == []
    assert [error for error in panel_errors if "tradepulse" in error] == []
