"""Bounded polling for tests: wait for a condition without bare sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(condition: Callable[[], T], timeout_seconds: float = 60.0, interval_seconds: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_seconds} s")
        time.sleep(interval_seconds)
