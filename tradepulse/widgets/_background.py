"""Debounced, latest-wins recomputation on a worker thread, for widgets that must stay responsive.

A control change calls :meth:`LatestOnlyWorker.request` with a snapshot of the inputs. After a
short quiet period the snapshot is computed on one worker thread and the result is applied by
*setting widget traits* from that thread. That is deliberate: output captured with
``with output:`` from a thread is tied to no request and Voila drops it, while trait changes
are plain comm messages that reach every frontend (DESIGN.md, decision 9).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from tradepulse.errors import TradePulseError

__all__ = ["LatestOnlyWorker", "BUSY", "IDLE", "ERROR"]

logger = logging.getLogger(__name__)

BUSY, IDLE, ERROR = "busy", "idle", "error"

SnapshotT = TypeVar("SnapshotT")
ResultT = TypeVar("ResultT")


class LatestOnlyWorker(Generic[SnapshotT, ResultT]):
    """Compute the newest requested snapshot in the background; older requests are dropped.

    Parameters
    ----------
    compute
        Turns a snapshot of the inputs into a result (runs on the worker thread, may be slow).
    apply
        Shows a result by setting widget traits (runs on the worker thread).
    on_state
        Called with ``(state, message)``: ``BUSY`` when work is requested, ``IDLE`` when the newest
        request has been applied, ``ERROR`` with a one-line message when it failed.
    delay_s
        Quiet period before work starts, so a dragged slider triggers one run, not twenty.
    name
        Names the worker thread (visible in stack dumps).
    """

    def __init__(
        self,
        compute: Callable[[SnapshotT], ResultT],
        apply: Callable[[ResultT], None],
        on_state: Callable[[str, str | None], None],
        *,
        delay_s: float = 0.3,
        name: str = "tradepulse-widget",
    ) -> None:
        self._compute = compute
        self._apply = apply
        self._on_state = on_state
        self.delay_s = float(delay_s)
        self._name = name
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._requested = 0  # generation of the newest request
        self._finished = 0  # generation of the newest request that completed (applied or failed)
        self._timer: threading.Timer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.error: str | None = None
        self.seconds: float | None = None

    # -- requests (main thread) ----------------------------------------------------------------

    def request(self, snapshot: SnapshotT, *, delay_s: float | None = None) -> None:
        """Schedule ``snapshot`` to be computed after the quiet period, superseding any older request."""
        delay = self.delay_s if delay_s is None else delay_s
        with self._lock:
            self._requested += 1
            generation = self._requested
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            # Status changes happen under the lock so a finishing older run cannot overwrite "busy".
            self._on_state(BUSY, None)
            if delay > 0:
                self._timer = threading.Timer(delay, self._submit, args=(generation, snapshot))
                self._timer.daemon = True
                self._timer.start()
            else:
                self._pool().submit(self._run, generation, snapshot)

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the newest request has been applied (or failed).

        Raises
        ------
        TimeoutError
            If it takes longer than ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._settled:
            while self._finished != self._requested:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the widget did not finish recomputing within {timeout:g} s")
                self._settled.wait(remaining)

    @property
    def busy(self) -> bool:
        """True while a requested computation has not been applied yet."""
        with self._lock:
            return self._finished != self._requested

    def close(self) -> None:
        """Drop pending work and stop the worker thread."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._finished = self._requested
            self._settled.notify_all()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    # -- work (worker thread) ------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        # Created lazily: a widget that never recomputes costs no thread.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        return self._executor

    def _submit(self, generation: int, snapshot: SnapshotT) -> None:
        with self._lock:
            if generation != self._requested:
                return
            self._timer = None
            self._pool().submit(self._run, generation, snapshot)

    def _superseded(self, generation: int) -> bool:
        with self._lock:
            return generation != self._requested

    def _run(self, generation: int, snapshot: SnapshotT) -> None:
        if self._superseded(generation):
            return
        started = time.perf_counter()
        error: str | None = None
        try:
            result = self._compute(snapshot)
            if self._superseded(generation):
                return
            self._apply(result)
        except TradePulseError as exc:
            # Bad input (fast >= slow, unreadable file): the message already says what to do.
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a widget must show the failure, not die silently
            logger.exception("widget recomputation failed")
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if generation != self._requested:
                return  # a newer request owns the status now
            self.error = error
            self.seconds = time.perf_counter() - started
            self._finished = generation
            self._on_state(ERROR if error else IDLE, error)
            self._settled.notify_all()

