"""Fixtures for the jobs tests: the fixture notebooks, a real webhook receiver, a bounded poll."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from polling import eventually as poll_until

NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
KERNEL = "python3"


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    """A private copy of the fixture notebooks (a job's config points at files next to it)."""
    target = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, target)
    return target


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """The bounded poll, as a fixture: ``eventually(lambda: ..., timeout_seconds=30)``."""
    return poll_until


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records every POST and answers with ``status``."""

    url: str
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)

    def bodies(self) -> list[Any]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def webhook():
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            receiver.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length).decode()}
            )
            self.send_response(receiver.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{server.server_port}/services/T0001/B0002/s3cr3t-t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook/s3cr3t-t0ken"
