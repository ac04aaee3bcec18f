"""The debounced, latest-wins worker behind every widget's recompute."""

from __future__ import annotations

import threading

import pytest

from tradepulse.errors import ConfigError
from tradepulse.widgets._background import BUSY, ERROR, IDLE, LatestOnlyWorker


class Recorder:
    """Collects what the worker computed, applied and reported, guarded for cross-thread use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.computed: list[object] = []
        self.applied: list[object] = []
        self.states: list[tuple[str, str | None]] = []

    def compute(self, snapshot: object) -> object:
        with self.lock:
            self.computed.append(snapshot)
        return snapshot

    def apply(self, result: object) -> None:
        with self.lock:
            self.applied.append(result)

    def on_state(self, state: str, message: str | None) -> None:
        with self.lock:
            self.states.append((state, message))


def test_requests_within_the_quiet_period_compute_only_the_last_one():
    recorder = Recorder()
    worker = LatestOnlyWorker(recorder.compute, recorder.apply, recorder.on_state, delay_s=0.5)
    for value in range(5):
        worker.request(value)
    worker.wait(10)
    assert recorder.computed == [4]
    assert recorder.applied == [4]
    assert recorder.states[-1] == (IDLE, None)
    worker.close()


def test_an_older_result_never_overwrites_a_newer_request():
    release_first = threading.Event()
    first_started = threading.Event()
    applied: list[str] = []

    def compute(snapshot: str) -> str:
        if snapshot == "old":
            first_started.set()
            assert release_first.wait(10)
        return snapshot

    worker = LatestOnlyWorker(compute, applied.append, lambda *_: None, delay_s=0)
    worker.request("old")
    assert first_started.wait(10)
    worker.request("new")  # arrives while "old" is still computing
    release_first.set()
    worker.wait(10)
    assert applied == ["new"]
    worker.close()


def test_a_failure_is_reported_as_one_line_and_the_next_request_still_runs():
    recorder = Recorder()

    def compute(snapshot: str) -> str:
        if snapshot == "bad":
            raise ConfigError("fast (40) must be smaller than slow (30)")
        return snapshot

    worker = LatestOnlyWorker(compute, recorder.apply, recorder.on_state, delay_s=0)
    worker.request("bad")
    worker.wait(10)
    assert worker.error == "fast (40) must be smaller than slow (30)"
    assert recorder.states[-1] == (ERROR, "fast (40) must be smaller than slow (30)")
    worker.request("good")
    worker.wait(10)
    assert worker.error is None
    assert recorder.applied == ["good"]
    worker.close()


def test_an_unexpected_exception_becomes_a_message_naming_its_type():
    def compute(_snapshot: object) -> object:
        raise ZeroDivisionError("division by zero")

    worker = LatestOnlyWorker(compute, lambda _: None, lambda *_: None, delay_s=0)
    worker.request(1)
    worker.wait(10)
    assert worker.error == "ZeroDivisionError: division by zero"
    worker.close()


def test_busy_is_reported_at_once_and_cleared_when_the_result_is_shown():
    recorder = Recorder()
    release = threading.Event()

    def compute(snapshot: object) -> object:
        assert release.wait(10)
        return snapshot

    worker = LatestOnlyWorker(compute, recorder.apply, recorder.on_state, delay_s=0)
    worker.request(1)
    assert worker.busy
    assert recorder.states == [(BUSY, None)]
    release.set()
    worker.wait(10)
    assert not worker.busy
    assert recorder.states[-1] == (IDLE, None)
    worker.close()


def test_wait_gives_up_after_its_timeout():
    release = threading.Event()
    worker = LatestOnlyWorker(lambda s: release.wait(10), lambda _: None, lambda *_: None, delay_s=0)
    worker.request(1)
    with pytest.raises(TimeoutError, match="did not finish recomputing"):
        worker.wait(0.2)
    release.set()
    worker.wait(10)
    worker.close()
