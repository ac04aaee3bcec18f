"""The ``tradepulse_jupyter`` server extension inside a real ``jupyter server`` process.

The Jupyter server runs with the extension enabled on the command line (``extensions/`` on its
PYTHONPATH, as the README says), a random port, its own token and a private config/runtime
directory; it finds the TradePulse service through ``TRADEPULSE_STATE_DIR`` and reads it with
``TRADEPULSE_API_TOKEN``. The service is a real ``tradepulse serve`` on the paper venue.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService, clean_env, stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = REPO_ROOT / "extensions"
sys.path.insert(0, str(EXTENSIONS))  # the extension is importable the way Jupyter imports it

JUPYTER_TOKEN = secrets.token_hex(24)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jupyter-service") / "state"


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory, state_dir: Path):
    """A real Jupyter server with the extension; yields its base URL."""
    home = tmp_path_factory.mktemp("jupyter-home")
    runtime = home / "runtime"
    env = clean_env("JUPYTER_")
    env.update({
        "PYTHONPATH": os.pathsep.join([str(EXTENSIONS), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_TOKEN": JUPYTER_TOKEN,
        "TRADEPULSE_API_TOKEN": READ_TOKEN, "TRADEPULSE_STATE_DIR": str(state_dir),
        "PYTHONWARNINGS": "ignore",
    })
    log = (home / "jupyter.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.port=0", f"--ServerApp.root_dir={REPO_ROOT}",
         '--ServerApp.jpserver_extensions={"tradepulse_jupyter": True}'],
        env=env, cwd=home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def server_info() -> dict | None:
        assert process.poll() is None, (home / "jupyter.log").read_text()
        for path in runtime.glob(f"jpserver-{process.pid}.json"):
            try:
                return json.loads(path.read_text())
            except ValueError:
                return None
        return None

    try:
        info = eventually(server_info, timeout_seconds=90, interval_seconds=0.2)
        base = f"http://127.0.0.1:{info['port']}"
        eventually(lambda: _get(base, "/api/status").status_code == 200, timeout_seconds=60)
        assert "tradepulse_jupyter | extension was successfully loaded" in (home / "jupyter.log").read_text()
        yield base
    finally:
        stop_process(process)
        log.close()


@pytest.fixture
def service(state_dir: Path) -> Iterator[PaperService]:
    """A real paper service in ``state_dir`` (the test may stop it)."""
    with PaperService(state_dir.parent, speed=5) as running:
        yield running


def _get(base: str, path: str, token: str | None = JUPYTER_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(f"{base}{path}", headers=headers, timeout=30, trust_env=False)


def _no_tokens(response: httpx.Response) -> None:
    for token in (READ_TOKEN, OPERATE_TOKEN, JUPYTER_TOKEN):
        assert token not in response.text


def test_extension_declares_its_entry_points():
    import tradepulse_jupyter

    assert tradepulse_jupyter._jupyter_server_extension_points() == [{"module": "tradepulse_jupyter"}]
    assert callable(tradepulse_jupyter._load_jupyter_server_extension)


def test_unauthenticated_requests_are_forbidden(jupyter):
    for path in ("/tradepulse/service", "/tradepulse/runbooks"):
        response = _get(jupyter, path, token=None)
        assert response.status_code == 403, (path, response.text)
        _no_tokens(response)
    assert _get(jupyter, "/tradepulse/service", token="not-the-jupyter-token").status_code == 403


def test_runbooks_are_listed_with_their_headings(jupyter):
    response = _get(jupyter, "/tradepulse/runbooks")
    assert response.status_code == 200, response.text
    body = response.json()
    assert Path(body["runbooks_dir"]) == REPO_ROOT / "runbooks"
    titles = {entry["name"]: entry["title"] for entry in body["runbooks"]}
    assert titles["service_health_check"] == "Service health check"
    assert titles["kill_switch"].startswith("Kill switch")
    assert titles["venue_outage_drill"] == "Venue outage drill"
    assert all(entry["file"] == f"{entry['name']}.ipynb" for entry in body["runbooks"])


def test_service_status_while_running_then_503_once_stopped(jupyter, service):
    response = _get(jupyter, "/tradepulse/service")
    assert response.status_code == 200, response.text
    _no_tokens(response)
    body = response.json()
    assert body["status"]["service"]["pid"] == service.pid
    assert body["status"]["trading_state"] == "ACTIVE"
    assert body["status"]["engines"][0]["strategy_id"] == "btc-sma"
    assert body["health"]["status"] in ("ok", "degraded")
    assert body["url"].startswith("http://127.0.0.1:") and body["url"].endswith("/api/v1")

    service.stop()
    response = eventually(lambda: (r := _get(jupyter, "/tradepulse/service")).status_code == 503 and r,
                          timeout_seconds=30, interval_seconds=0.2)
    _no_tokens(response)
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "no TradePulse service is running" in error["message"]
