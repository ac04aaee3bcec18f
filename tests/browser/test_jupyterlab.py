"""The same widget in JupyterLab: a quant runs the notebook and sees the chart, offline."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradepulse.cli.dashboard_cmd import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory) -> Iterator[str]:
    """JupyterLab on a copy of the notebooks (autosave must never write outputs into the repo)."""
    home = tmp_path_factory.mktemp("jupyterlab")
    root = home / "notebooks"
    shutil.copytree(REPO_ROOT / "notebooks", root)
    port = free_port()
    env = {
        **os.environ,
        # Settings, workspaces and runtime files go to the temporary home, not the user's.
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab-browser-tests.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--allow-root", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "JupyterLab exited while starting; see artifacts/jupyterlab-browser-tests.log"
        try:
            with urllib.request.urlopen(url + "api/status", timeout=2):
                break
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)  # polling a port that is not open yet
    try:
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


def test_backtest_explorer_notebook_draws_its_chart_in_jupyterlab(open_tab, jupyterlab):
    visit = open_tab(jupyterlab)
    visit.goto(jupyterlab + "lab/tree/backtest_explorer.ipynb")
    # Run All through JupyterLab's own command once the notebook and its kernel are ready: clicking
    # the menu races the kernel start-up (a click before it is connected can be lost).
    visit.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=120_000)
    visit.page.evaluate(
        """async () => {
            const app = window.jupyterapp;
            const notebook = app.shell.currentWidget;
            await notebook.context.ready;
            await notebook.sessionContext.ready;
            await app.commands.execute("notebook:run-all-cells");
        }"""
    )
    visit.wait_for_widget()
    assert "Sharpe" in visit.stats_text()
    assert len(visit.trace_values("equity")) == 583
    visit.screenshot("jupyterlab_backtest_explorer")
    assert visit.outside_requests == []
