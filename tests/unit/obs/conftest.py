"""Fixtures for the observability tests: a private JSON logger and a clean secret registry."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from tradepulse.obs import configure_logging
from tradepulse.obs.redaction import clear_secrets


class JsonLog:
    """A logger wired to an in-memory stream, with the lines parsed back as JSON records."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.logger = logging.getLogger(f"tp-obs-test-{uuid.uuid4().hex[:8]}")
        # Keep test records out of the root logger and pytest's capture.
        self.logger.propagate = False
        self.handler = configure_logging("DEBUG", self.stream, service="test-svc", logger=self.logger)

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def raw(self) -> str:
        return self.stream.getvalue()


@pytest.fixture(autouse=True)
def _clean_secret_registry() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    log = JsonLog()
    yield log
    log.logger.removeHandler(log.handler)
