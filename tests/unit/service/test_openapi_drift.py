"""The committed API documents must match the code: docs/api/openapi.json and docs/api/asyncapi.yaml."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import yaml

import tradepulse
from tradepulse.service.api import create_app
from tradepulse.service.auth import ApiAuth
from tradepulse.service.config import load_config
from tradepulse.service.host import ServiceHost
from tradepulse.service.openapi import DOCUMENT_PATH, openapi_document, render

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / DOCUMENT_PATH
ASYNCAPI = ROOT / "docs" / "api" / "asyncapi.yaml"
FIX = "run `python tools/export_openapi.py` and commit docs/api/openapi.json"

CONFIG = """\
[service]
state_dir = "state"
[[strategies]]
id = "btc-sma"
strategy = "sma_cross"
symbol = "BTC/USDT"
feed = "recording:binance:BTC/USDT"
"""


def test_the_committed_openapi_document_matches_the_code(tmp_path: Path) -> None:
    (tmp_path / "service.toml").write_text(CONFIG)
    app = create_app(ServiceHost(load_config(tmp_path / "service.toml")), ApiAuth(read_tokens=["r" * 32]))
    expected = render(app.openapi())
    assert COMMITTED.exists(), f"{DOCUMENT_PATH} is missing: {FIX}"
    committed = COMMITTED.read_text(encoding="utf-8")
    if committed != expected:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), expected.splitlines(True),
                                                 "committed", "from the code", n=1))[:60])
        raise AssertionError(f"{DOCUMENT_PATH} differs from the API's code; {FIX}.\n{diff}")


def test_the_document_does_not_depend_on_the_backend_or_tokens() -> None:
    assert render(openapi_document()) == render(openapi_document())
    assert openapi_document()["info"]["version"] == tradepulse.__version__


def test_the_export_script_checks_and_writes_deterministically() -> None:
    checked = subprocess.run([sys.executable, str(ROOT / "tools" / "export_openapi.py"), "--check"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert checked.returncode == 0, checked.stderr
    text = COMMITTED.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_every_operation_is_secured_and_documents_its_errors() -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearer"]["description"]}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["security"] == [{"bearer": []}], (method, path)
            assert {"200", "401", "422"} <= set(operation["responses"]), (method, path)
            if method == "post":
                assert "403" in operation["responses"] and operation["requestBody"]["required"] is True
            for status, response in operation["responses"].items():
                assert "X-Correlation-ID" in response["headers"], (method, path, status)


def test_the_asyncapi_document_describes_the_stream() -> None:
    asyncapi = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    openapi = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert asyncapi["asyncapi"].startswith("2.6")
    assert asyncapi["info"]["version"] == openapi["info"]["version"], "keep both documents at the package version"
    channel = asyncapi["channels"]["/api/v1/stream"]
    messages = [ref["$ref"].rsplit("/", 1)[1] for ref in channel["subscribe"]["message"]["oneOf"]]
    assert sorted(messages) == ["event", "status"]
    assert set(asyncapi["components"]["messages"]) == {"event", "status"}
    for close_code in ("4401", "4403", "1001"):
        assert close_code in asyncapi["info"]["description"]
    # The status message reuses the REST schema by reference; the reference must resolve.
    reference = asyncapi["components"]["schemas"]["StatusMessage"]["allOf"][1]["$ref"]
    file_name, pointer = reference.split("#")
    assert file_name == "openapi.json" and pointer.rsplit("/", 1)[1] in openapi["components"]["schemas"]
