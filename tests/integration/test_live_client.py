"""`tradepulse.client`: LiveClient and AsyncLiveClient against a real service process.

The service is started with `tradepulse live start` on a paper-venue config (a recorded BTC/USDT
stream replayed at 4x, so the engine keeps trading for about two and a half minutes) and stopped
with `tradepulse live stop`. Tokens are random per run and must never show in an error, a repr or
a log record.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService

from tradepulse.client import (
    AsyncLiveClient,
    LiveClient,
    ServiceError,
    ServiceForbidden,
    ServiceInvalidRequest,
    ServiceNotFound,
    ServiceUnauthorized,
    ServiceUnreachable,
)
from tradepulse.errors import ConfigError, TradePulseError

TOKEN_VARIABLES = ("TRADEPULSE_API_TOKEN", "TRADEPULSE_API_OPERATE_TOKEN", "TRADEPULSE_API_READ_TOKEN")
# Status snapshots arrive every few seconds, so a loop over the stream checks its deadline often.
STREAM_LIMIT_SECONDS = 60


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with PaperService(tmp_path_factory.mktemp("live-client"), speed=4, launcher="live") as service:
        yield service.config_path


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in TOKEN_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_FILE", raising=False)
    return monkeypatch


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _hides_tokens(*texts: str) -> None:
    for text in texts:
        assert READ_TOKEN not in text and OPERATE_TOKEN not in text


def test_stream_yields_a_status_snapshot_then_events(config: Path):
    deadline = time.monotonic() + STREAM_LIMIT_SECONDS
    seen: list[dict] = []
    with LiveClient.from_config(config, token=READ_TOKEN) as client:
        for message in client.stream():
            seen.append(message)
            if message["type"] == "event" or time.monotonic() > deadline:
                break
    assert seen[0]["type"] == "status" and seen[0]["trading_state"] in ("ACTIVE", "HALTED", "REDUCING")
    event = seen[-1]
    assert event["type"] == "event", f"no event within {STREAM_LIMIT_SECONDS} s: {[m['type'] for m in seen]}"
    assert isinstance(event["strategy_id"], str) and event["strategy_id"]
    assert isinstance(event["seq"], int) and event["kind"] and isinstance(event["payload"], dict)


def test_async_client_reads_streams_and_operates(config: Path):
    async def scenario() -> dict[str, str]:
        async with AsyncLiveClient.from_config(config, token=READ_TOKEN) as reader:
            assert (await reader.health())["status"] == "ok"
            assert await reader.scope() == "read"
            assert [p["strategy_id"] for p in await reader.positions()] == ["btc-sma"]
            with pytest.raises(ServiceForbidden):
                await reader.kill("read tokens cannot act")
            kinds = []
            deadline = time.monotonic() + STREAM_LIMIT_SECONDS
            async for message in reader.stream():
                kinds.append(message["type"])
                if message["type"] == "event" or time.monotonic() > deadline:
                    break
            assert kinds[0] == "status" and kinds[-1] == "event", kinds
        async with AsyncLiveClient.from_config(config, token=OPERATE_TOKEN) as operator:
            states = {"kill": (await operator.kill("async client test"))["trading_state"]}
            states["status"] = (await operator.status())["trading_state"]
            states["resume"] = (await operator.resume("async client test done"))["trading_state"]
            report = await operator.cancel_all()
            assert isinstance(report["cancelled"], list) and report["failed"] == [] and isinstance(report["orders"], list)
            states["flatten"] = (await operator.flatten())["trading_state"]
            states["resume again"] = (await operator.resume("flatten checked"))["trading_state"]
            frame = await operator.pnl_frame()
            assert not frame.empty
            return states

    states = asyncio.run(asyncio.wait_for(scenario(), timeout=120))
    assert states == {"kill": "HALTED", "status": "HALTED", "resume": "ACTIVE", "flatten": "HALTED",
                      "resume again": "ACTIVE"}
    with LiveClient.from_config(config, token=READ_TOKEN) as client:
        status = client.status()
        assert status["trading_state"] == "ACTIVE" and status["engines"][0]["running"] is True
        kinds = {event["kind"] for event in client.events(kind_prefix="risk.state", limit=100)}
        assert "risk.state_change" in kinds



class RecordingTransport(httpx.HTTPTransport):
    """A real network transport that also remembers what went through it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, bool]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path, "authorization" in request.headers))
        return super().handle_request(request)


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        return await super().handle_async_request(request)


def test_both_clients_send_through_the_transport_they_are_given(config: Path):
    transport = RecordingTransport()
    with LiveClient.from_config(config, token=READ_TOKEN, transport=transport) as client:
        state = client.status()["trading_state"]
    assert state in ("ACTIVE", "REDUCING", "HALTED")
    assert transport.seen == [("GET", "/api/v1/status", True)]

    async_transport = AsyncRecordingTransport()

    async def read() -> list:
        async with AsyncLiveClient.from_config(config, token=READ_TOKEN, transport=async_transport) as reader:
            return await reader.positions()

    assert isinstance(asyncio.run(read()), list)
    assert async_transport.seen == [("GET", "/api/v1/positions")]


def test_reads_return_the_documented_shapes(config: Path):
    with LiveClient.from_config(config, token=READ_TOKEN) as client:
        assert client.url.startswith("http://127.0.0.1:") and client.url.endswith("/api/v1")
        assert client.health()["status"] == "ok"
        status = client.status()
        assert status["trading_state"] == "ACTIVE"
        assert [(e["strategy_id"], e["running"]) for e in status["engines"]] == [("btc-sma", True)]
        [strategy] = client.strategies()
        assert strategy["strategy"] == "sma_cross" and strategy["params"]["slow"] == 8
        assert [p["symbol"] for p in client.positions()] == ["BTC/USDT"]
        assert client.risk()["trading_state"] == "ACTIVE"
        assert isinstance(client.alerts(), list)
        assert "# TYPE tradepulse_" in client.metrics()

        placed = eventually(lambda: client.orders(strategy_id="btc-sma"), timeout_seconds=120, interval_seconds=0.5)
        assert all(order["strategy_id"] == "btc-sma" for order in placed)
        assert all(order["status"] == "FILLED" for order in client.orders(status="FILLED"))
        assert len(client.orders(limit=1)) == 1
        fills = eventually(client.fills, timeout_seconds=60, interval_seconds=0.5)
        assert fills[0]["symbol"] == "BTC/USDT"

        first = client.events(limit=5)
        assert [event["seq"] for event in first] == sorted(event["seq"] for event in first)
        following = client.events(after_seq=first[-1]["seq"], limit=5)
        assert following and all(event["seq"] > first[-1]["seq"] for event in following)
        assert all(event["kind"].startswith("order.") for event in client.events(kind_prefix="order.", limit=20))

        frame = client.pnl_frame(strategy_id="btc-sma")
        assert not frame.empty and isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
        assert frame["equity"].dtype == "float64" and set(frame["strategy_id"]) == {"btc-sma"}
        assert len(client.pnl(limit=3)) <= 3


def test_the_token_comes_from_the_environment_and_never_shows(config: Path, no_token_env, caplog):
    caplog.set_level(logging.DEBUG)
    no_token_env.setenv("TRADEPULSE_API_READ_TOKEN", READ_TOKEN)
    client = LiveClient.from_state_dir(config.parent / "state")
    assert client.token_source == "the token in TRADEPULSE_API_READ_TOKEN"
    assert client.health()["status"] == "ok" and client.scope() == "read"
    with pytest.raises(ServiceForbidden) as refused:
        client.kill("should not happen")
    client.close()
    no_token_env.setenv("TRADEPULSE_API_TOKEN", OPERATE_TOKEN)  # the client's own variable wins
    with LiveClient.from_config(config) as operator:
        assert operator.token_source == "the token in TRADEPULSE_API_TOKEN"
        assert operator.health()["trading_state"] == "ACTIVE" and operator.scope() == "operate"
        _hides_tokens(repr(operator), str(operator.__dict__))
    _hides_tokens(repr(client), str(refused.value), repr(refused.value), caplog.text)
    assert "operate token" in str(refused.value) and "TRADEPULSE_API_READ_TOKEN" in str(refused.value)
    assert refused.value.status == 403


def test_errors_are_one_clear_sentence_without_the_token(config: Path, tmp_path: Path, no_token_env, caplog):
    caplog.set_level(logging.DEBUG)
    url = LiveClient.from_config(config, token=READ_TOKEN).url
    wrong = f"wrong-{secrets.token_urlsafe(24)}"
    problems: list[ServiceError] = []

    def failure(kind: type[ServiceError], call) -> ServiceError:
        with pytest.raises(kind) as raised:
            call()
        problems.append(raised.value)
        return raised.value

    with LiveClient(url, token=wrong) as client:
        unknown = failure(ServiceUnauthorized, client.health)
        streamed = failure(ServiceUnauthorized, lambda: next(client.stream()))
    assert "does not accept the token given to the client" in str(unknown) and unknown.status == 401
    assert "TRADEPULSE_API_TOKEN" in str(streamed)
    assert wrong not in str(unknown) + repr(unknown) + str(streamed) + caplog.text

    with LiveClient(url) as anonymous:
        assert "no API token: set TRADEPULSE_API_TOKEN" in str(failure(ServiceUnauthorized, anonymous.status))
    with LiveClient(url, token=READ_TOKEN) as client:
        assert "operate token" in str(failure(ServiceForbidden, lambda: client.resume("no")))
        assert "no strategy 'nope'" in str(failure(ServiceNotFound, lambda: client.orders(strategy_id="nope")))
        invalid = failure(ServiceInvalidRequest, lambda: client.orders(status="BOGUS"))
        assert "status" in str(invalid) and invalid.status == 422
    nobody = f"http://127.0.0.1:{_closed_port()}/api/v1"
    with LiveClient(nobody, token=READ_TOKEN) as client:
        assert str(failure(ServiceUnreachable, client.health)).startswith(f"no TradePulse service answers at {nobody}")
        failure(ServiceUnreachable, lambda: next(client.stream()))
    assert "no TradePulse service is running from" in str(failure(ServiceUnreachable,
                                                                  lambda: LiveClient.from_state_dir(tmp_path)))
    with pytest.raises(ConfigError, match="not an http:// or https:// URL"):
        LiveClient("127.0.0.1:8765", token=READ_TOKEN)

    for problem in problems:
        assert isinstance(problem, TradePulseError)
        text = str(problem)
        assert "\n" not in text and "Traceback" not in text
        _hides_tokens(text, repr(problem))
    _hides_tokens(caplog.text)

def test_the_crash_trials_count_every_journaled_order_across_pages(config: Path):
    from tradepulse.service.trials import count_journaled_orders

    with LiveClient.from_config(config, token=READ_TOKEN) as client:
        eventually(lambda: len(client.orders()) >= 5, timeout_seconds=120, interval_seconds=0.5)
        before = len(client.orders(limit=1000))
        counted = count_journaled_orders(client, page=2)  # pages of two: the count must not stop at one page
        after = len(client.orders(limit=1000))
    assert before >= 5 and before <= counted <= after
