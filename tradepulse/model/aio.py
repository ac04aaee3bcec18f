"""Running TradePulse's coroutines from synchronous code, in a script and in a Jupyter kernel alike."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_sync"]


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion and return its result (its exception propagates).

    ``asyncio.run`` refuses to start inside a running event loop, which is where every cell of a
    Jupyter kernel runs. There the coroutine runs on a loop of its own in a worker thread while the
    calling cell waits, as it would for any long computation; elsewhere it is ``asyncio.run``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradepulse-run") as pool:
        return pool.submit(asyncio.run, coroutine).result()
