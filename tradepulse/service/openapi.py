"""The committed OpenAPI document: build it from the code, render it byte-for-byte reproducibly.

``tools/export_openapi.py`` writes :data:`DOCUMENT_PATH`; a test fails when the committed file
differs from what :func:`render` gives for the current code, so the document never drifts.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import tradepulse

__all__ = ["DOCUMENT_PATH", "openapi_document", "render"]

#: Where the document lives, relative to the repository root.
DOCUMENT_PATH = Path("docs") / "api" / "openapi.json"


class _DocumentOnly:
    """A backend for building the document only: the routes are never called."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the OpenAPI-only app has no backend (called {name})")


def openapi_document(version: str | None = None) -> dict[str, Any]:
    """The OpenAPI document of :func:`tradepulse.service.api.create_app` (it does not depend on the backend)."""
    from tradepulse.service.api import create_app
    from tradepulse.service.auth import ApiAuth

    auth = ApiAuth(read_tokens=[secrets.token_urlsafe(32)])
    app = create_app(_DocumentOnly(), auth, version=version or tradepulse.__version__ or "0.1.0")  # type: ignore[arg-type]
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indent, a trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
