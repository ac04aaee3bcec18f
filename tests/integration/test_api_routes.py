"""The service API over real HTTP and WebSocket, in front of a real service host trading on paper.

One :class:`~service_fixtures.InProcessService` per module (the ``service`` fixture): a
:class:`~tradepulse.service.host.ServiceHost` replaying a recorded BTC/USDT feed into the paper venue,
and uvicorn serving :func:`create_app` in the same event loop (as ``tradepulse serve`` does), on a
background thread. Tests talk to it as clients do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, InProcessService, bearer, service  # noqa: F401 - fixture
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tradepulse.client import AsyncLiveClient, LiveClient
from tradepulse.errors import ConfigError


@pytest.fixture
def reader(service: InProcessService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, headers=bearer(READ_TOKEN), timeout=30) as client:
        yield client


@pytest.fixture
def operator(service: InProcessService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, headers=bearer(OPERATE_TOKEN), timeout=30) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def wait_for_orders(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    return eventually(lambda: (rows := client.get("/api/v1/orders").json()) and len(rows) >= count and rows, 60)


# -- monitoring --------------------------------------------------------------------------------


def test_health_and_status_describe_the_running_service(reader: httpx.Client) -> None:
    health = reader.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["trading_state"] == "ACTIVE"
    assert health.json()["uptime_seconds"] >= 0
    assert len(health.headers["X-Correlation-ID"]) == 32

    status = reader.get("/api/v1/status").json()
    assert status["trading_state"] == "ACTIVE"
    assert status["service"]["start_mode"] == "cold" and status["service"]["pid"] > 0
    assert status["venue"] == {"name": "paper", "kind": "paper", "connected": True}
    (engine,) = status["engines"]
    assert engine["strategy_id"] == "btc-sma" and engine["symbol"] == "BTC/USDT" and engine["running"] is True
    assert status["watchdog"]["stalled"] == []


def test_a_client_correlation_id_is_echoed_and_a_malformed_one_replaced(reader: httpx.Client) -> None:
    assert reader.get("/api/v1/health", headers={"X-Correlation-ID": "desk-42"}).headers["X-Correlation-ID"] == "desk-42"
    replaced = reader.get("/api/v1/health", headers={"X-Correlation-ID": "x" * 200}).headers["X-Correlation-ID"]
    assert replaced != "x" * 200 and len(replaced) == 32


def test_strategies_and_positions(reader: httpx.Client) -> None:
    (strategy,) = reader.get("/api/v1/strategies").json()
    assert strategy["strategy_id"] == "btc-sma" and strategy["strategy"] == "sma_cross"
    assert strategy["params"]["fast"] == 3 and strategy["params"]["slow"] == 8
    assert strategy["bar_seconds"] == 10 and strategy["capital"] == "10000"
    (position,) = reader.get("/api/v1/positions").json()
    assert position["strategy_id"] == "btc-sma" and position["symbol"] == "BTC/USDT"
    assert all(isinstance(position[key], str) for key in ("quantity", "realized_pnl", "fees_quote", "net_pnl"))


def test_metrics_need_a_token_and_serve_the_prometheus_text(service: InProcessService, reader: httpx.Client) -> None:
    for path in ("/metrics", "/api/v1/metrics"):
        response = reader.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'tradepulse_trading_state{state="ACTIVE"} 1.0' in response.text
        assert_error(httpx.get(service.base_url + path), 401, "unauthorized")


# -- trading data ------------------------------------------------------------------------------


def test_orders_fills_and_paging(reader: httpx.Client) -> None:
    orders = wait_for_orders(reader, 2)
    assert all(order["strategy_id"] == "btc-sma" and order["symbol"] == "BTC/USDT" for order in orders)
    assert [order["journaled_at"] for order in orders] == sorted((o["journaled_at"] for o in orders), reverse=True)

    first, second = (reader.get("/api/v1/orders", params={"limit": 1, "offset": n}).json() for n in (0, 1))
    assert len(first) == len(second) == 1 and first[0]["client_order_id"] != second[0]["client_order_id"]

    filled = reader.get("/api/v1/orders", params={"status": "FILLED"}).json()
    assert filled and {order["status"] for order in filled} == {"FILLED"}
    several = reader.get("/api/v1/orders", params=[("status", "FILLED"), ("status", "CANCELED")]).json()
    assert {order["status"] for order in several} <= {"FILLED", "CANCELED"}
    assert reader.get("/api/v1/orders", params={"symbol": "ETH/USDT"}).json() == []
    assert reader.get("/api/v1/orders", params={"strategy_id": "btc-sma", "limit": 1}).json()[0]["strategy_id"] == "btc-sma"

    fills = eventually(lambda: reader.get("/api/v1/fills").json(), 60)
    assert {fill["client_order_id"] for fill in fills} <= {order["client_order_id"] for order in reader.get(
        "/api/v1/orders", params={"limit": 1000}).json()}
    assert all(fill["fill_quantity"] and fill["fill_price"] for fill in fills)


def _execution_snapshot(service: InProcessService, reader: httpx.Client) -> dict[str, Any] | None:
    """Execution quality with the orders, fills and submissions it was computed from, or ``None`` if the
    engine journaled an order event meanwhile (the orders read before and after differ)."""
    before = reader.get("/api/v1/orders", params={"limit": 1000}).json()
    snapshot = {
        "execution": reader.get("/api/v1/execution").json(),
        "fills": reader.get("/api/v1/fills", params={"limit": 1000}).json(),
        "submitted": reader.get("/api/v1/events", params={"kind_prefix": "order.submitted", "limit": 1000}).json(),
        "since_newest": reader.get("/api/v1/execution", params={"since": before[0]["journaled_at"]}).json() if before else [],
    }
    with LiveClient(service.base_url, token=READ_TOKEN) as client:
        snapshot["client"] = client.execution(strategy_id="btc-sma")
    snapshot["async_client"] = asyncio.run(_async_execution(service))
    after = reader.get("/api/v1/orders", params={"limit": 1000}).json()
    return {**snapshot, "orders": before} if before == after else None


async def _async_execution(service: InProcessService) -> list[dict[str, Any]]:
    async with AsyncLiveClient(service.base_url, token=READ_TOKEN) as client:
        return await client.execution()


def test_execution_quality_agrees_with_the_orders_fills_and_submissions(service: InProcessService,
                                                                         reader: httpx.Client) -> None:
    eventually(lambda: (rows := reader.get("/api/v1/fills").json()) and len({f["client_order_id"] for f in rows}) >= 2, 90)
    shown = eventually(lambda: _execution_snapshot(service, reader), 60)
    orders, fills = shown["orders"], shown["fills"]
    assert len(orders) < 1000 and len(fills) < 1000 and len(shown["submitted"]) < 1000
    (row,) = shown["execution"]
    assert (row["strategy_id"], row["strategy"], row["symbol"]) == ("btc-sma", "btc-sma", "BTC/USDT")
    assert shown["client"] == shown["async_client"] == shown["execution"]

    sent = [order for order in orders if order["status"] != "DENIED"]
    assert row["orders"] == len(sent) and row["denials"] == len(orders) - len(sent)
    assert row["rejects"] == sum(order["status"] == "REJECTED" for order in orders)
    assert row["orders_with_fills"] == len({fill["client_order_id"] for fill in fills})
    ordered = sum(Decimal(order["quantity"]) for order in sent)
    filled = sum(Decimal(fill["fill_quantity"]) for fill in fills)
    assert Decimal(row["ordered_quantity"]) == ordered and Decimal(row["filled_quantity"]) == filled
    assert row["fill_ratio"] == pytest.approx(float(filled / ordered))
    assert Decimal(row["fees_quote"]) == sum(Decimal(fill["fee_quote"]) for fill in fills)

    # Slippage recomputed from each order's arrival price (journaled at submission) and its fills.
    arrival = {event["correlation_id"]: Decimal(event["payload"]["intent"]["reference_price"]) for event in shown["submitted"]}
    cost, value = Decimal(0), Decimal(0)
    for fill in fills:
        reference, quantity, price = arrival[fill["client_order_id"]], Decimal(fill["fill_quantity"]), Decimal(fill["fill_price"])
        cost += (price - reference) * quantity * (1 if fill["side"] == "buy" else -1)
        value += reference * quantity
    assert Decimal(row["slippage_quote"]) == cost
    assert row["slippage_bps_avg"] == pytest.approx(float(cost / value * 10_000))
    assert row["slippage_orders"] == row["orders_with_fills"] and row["slippage_bps_worst"] >= row["slippage_bps_avg"] - 1e-9
    assert row["ack_orders"] >= row["orders_with_fills"]
    assert 0 <= row["ack_ms_p50"] <= row["ack_ms_p95"] <= row["ack_ms_max"]

    # ``since`` selects by submission: the newest order's journal time leaves the orders journaled then.
    newest = [order for order in sent if order["journaled_at"] >= orders[0]["journaled_at"]]
    assert sum(row["orders"] for row in shown["since_newest"]) == len(newest)
    assert reader.get("/api/v1/execution", params={"since": "2100-01-01T00:00:00Z"}).json() == []
    assert reader.get("/api/v1/execution", params={"strategy_id": "btc-sma"}).json()[0]["strategy_id"] == "btc-sma"
    # A time without a zone could mean any; it is refused, by the service and by the client before sending.
    assert_error(reader.get("/api/v1/execution", params={"since": "2024-03-01T00:00:00"}), 422, "validation_error")
    with LiveClient(service.base_url, token=READ_TOKEN) as client, pytest.raises(ConfigError, match="time zone"):
        client.execution(since=datetime(2024, 3, 1))


def test_invalid_parameters_are_422_in_the_error_shape(reader: httpx.Client) -> None:
    for path, params in [("/api/v1/orders", {"limit": 0}), ("/api/v1/orders", {"limit": 1001}),
                         ("/api/v1/orders", {"offset": -1}), ("/api/v1/orders", {"status": "LOST"}),
                         ("/api/v1/fills", {"limit": "many"}), ("/api/v1/events", {"after_seq": -5}),
                         ("/api/v1/events", {"kind_prefix": "ORDER; DROP"}), ("/api/v1/pnl", {"strategy_id": "../etc"})]:
        error = assert_error(reader.get(path, params=params), 422, "validation_error")
        assert error["details"] and error["details"][0]["loc"][0] == "query"


def test_an_unknown_strategy_is_404(reader: httpx.Client) -> None:
    for path in ("/api/v1/orders", "/api/v1/fills", "/api/v1/pnl", "/api/v1/events", "/api/v1/execution"):
        error = assert_error(reader.get(path, params={"strategy_id": "no-such"}), 404, "not_found")
        assert "no-such" in error["message"]
    assert_error(reader.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(reader.delete("/api/v1/health"), 405, "method_not_allowed")


def test_pnl_series_risk_and_events(reader: httpx.Client) -> None:
    points = eventually(lambda: reader.get("/api/v1/pnl").json(), 60)
    assert [point["ts"] for point in points] == sorted(point["ts"] for point in points)
    # The service keeps marking while the test reads: the newest two now are at or after the newest seen.
    newest = reader.get("/api/v1/pnl", params={"strategy_id": "btc-sma", "limit": 2}).json()
    assert len(newest) == min(2, len(points)) and newest[-1]["ts"] >= points[-1]["ts"]
    assert all(point["gross_exposure"] is not None for point in newest)

    risk = reader.get("/api/v1/risk").json()
    assert risk["trading_state"] == "ACTIVE"
    assert risk["engines"][0]["strategy_id"] == "btc-sma" and risk["engines"][0]["status"]["state"]["mode"] == "ACTIVE"

    events = reader.get("/api/v1/events", params={"limit": 5}).json()
    assert len(events) == 5 and [event["seq"] for event in events] == sorted(event["seq"] for event in events)
    later = reader.get("/api/v1/events", params={"after_seq": events[-1]["seq"], "limit": 5}).json()
    assert later and min(event["seq"] for event in later) > events[-1]["seq"]
    # The first order waits for the strategy's first signal; on a loaded machine that can come after the first marks.
    orders_only = eventually(lambda: reader.get("/api/v1/events", params={"kind_prefix": "order.", "limit": 20}).json(), 60)
    assert all(event["kind"].startswith("order.") for event in orders_only)


def test_the_service_journal_is_readable_as_strategy_service(reader: httpx.Client) -> None:
    events = reader.get("/api/v1/events", params={"strategy_id": "service", "limit": 50}).json()
    assert events and {event["strategy_id"] for event in events} == {"service"}
    assert events[0]["kind"] == "service.started"


# -- auth --------------------------------------------------------------------------------------


def test_a_client_can_ask_the_scope_of_its_token(reader: httpx.Client, operator: httpx.Client) -> None:
    assert reader.get("/api/v1/token").json() == {"scope": "read", "name": None}
    assert operator.get("/api/v1/token").json() == {"scope": "operate", "name": None}


GET_ROUTES = ["/api/v1/health", "/api/v1/token", "/api/v1/status", "/api/v1/strategies", "/api/v1/positions", "/api/v1/orders",
              "/api/v1/fills", "/api/v1/execution", "/api/v1/pnl", "/api/v1/risk", "/api/v1/alerts", "/api/v1/events", "/api/v1/metrics",
              "/metrics"]
ACTIONS = ["kill", "resume", "cancel-all", "flatten"]


def test_every_route_needs_a_known_token(service: InProcessService) -> None:
    with httpx.Client(base_url=service.base_url, timeout=30) as anonymous:
        for path in GET_ROUTES:
            missing = anonymous.get(path)
            assert_error(missing, 401, "unauthorized")
            assert missing.headers["WWW-Authenticate"].startswith("Bearer")
            unknown = anonymous.get(path, headers=bearer("not-a-configured-token-000"))
            assert_error(unknown, 401, "unauthorized")
            assert 'error="invalid_token"' in unknown.headers["WWW-Authenticate"]
            assert_error(anonymous.get(path, headers={"Authorization": f"Basic {READ_TOKEN}"}), 401, "unauthorized")
        for action in ACTIONS:
            assert_error(anonymous.post(f"/api/v1/actions/{action}", json={"reason": "test"}), 401, "unauthorized")
            # Even a body that is not JSON is refused for the missing token first.
            assert_error(anonymous.post(f"/api/v1/actions/{action}", content=b"{not json",
                                        headers={"Content-Type": "application/json"}), 401, "unauthorized")
        assert anonymous.get("/api/v1/openapi.json").status_code == 200
        assert anonymous.get("/docs").status_code == 401


def test_a_read_token_may_not_act(service: InProcessService, reader: httpx.Client) -> None:
    for action in ACTIONS:
        response = reader.post(f"/api/v1/actions/{action}", json={"reason": "a reader tries", "flatten": False}
                               if action == "kill" else {"reason": "a reader tries"})
        assert_error(response, 403, "forbidden")
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert reader.get("/api/v1/health").json()["trading_state"] == "ACTIVE"


def test_action_bodies_are_validated(operator: httpx.Client) -> None:
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "ok", "flaten": True},
                 {"reason": 5}, ["reason"]):
        assert_error(operator.post("/api/v1/actions/kill", json=body), 422, "validation_error")
    assert operator.get("/api/v1/health").json()["trading_state"] == "ACTIVE"


# -- operator actions and the stream -----------------------------------------------------------


EVENT_SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "api" / "asyncapi.yaml").read_text())[
    "components"]["schemas"]["EventMessage"]


def stream_messages(url: str, **kwargs: Any) -> Any:
    return connect(url, open_timeout=10, close_timeout=5, **kwargs)


def receive_until(websocket: Any, predicate: Any, limit: int = 500) -> dict[str, Any]:
    for _ in range(limit):
        message = json.loads(websocket.recv(timeout=30))
        if message["type"] == "event":
            jsonschema.validate(message, EVENT_SCHEMA)
        if predicate(message):
            return message
    raise AssertionError("the expected stream message did not arrive")


def test_the_stream_needs_a_token(service: InProcessService) -> None:
    for url, headers in [(service.ws_url, None), (service.ws_url + "?token=wrong-token-0000000000", None),
                         (service.ws_url, bearer("wrong-token-0000000000"))]:
        with stream_messages(url, additional_headers=headers) as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_a_query_token_stays_out_of_the_server_log(service: InProcessService, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        with stream_messages(f"{service.ws_url}?token={READ_TOKEN}&since=now") as websocket:
            assert json.loads(websocket.recv(timeout=30))["type"] == "status"
    accepted = [record.getMessage() for record in caplog.records if "[accepted]" in record.getMessage()]
    assert accepted and "since=now" in accepted[-1]
    assert all(READ_TOKEN not in line for line in accepted)


def test_operator_actions_over_http_show_up_in_the_stream(service: InProcessService, operator: httpx.Client,
                                                          reader: httpx.Client) -> None:
    with stream_messages(f"{service.ws_url}?token={READ_TOKEN}") as websocket:
        first = json.loads(websocket.recv(timeout=30))
        assert first["type"] == "status" and first["trading_state"] == "ACTIVE"

        killed = operator.post("/api/v1/actions/kill", json={"reason": "API test: kill", "flatten": True})
        assert killed.status_code == 200, killed.text
        assert killed.json()["trading_state"] == "HALTED"
        change = receive_until(websocket, lambda m: m["type"] == "event" and m["kind"] == "risk.state_change")
        assert change["strategy_id"] == "btc-sma" and change["payload"]["new"] == "HALTED"
        assert change["payload"]["actor"] == "operator:operate@api" and change["payload"]["reason"] == "API test: kill"
        status = receive_until(websocket, lambda m: m["type"] == "status")
        assert status["trading_state"] == "HALTED"

    history = reader.get("/api/v1/risk", params={"limit": 5}).json()["history"]
    assert history[0]["kind"] == "risk.state_change" and history[0]["payload"]["new"] == "HALTED"
    alerts = reader.get("/api/v1/alerts").json()
    assert alerts[0]["kind"] == "kill" and alerts[0]["severity"] == "critical"
    assert OPERATE_TOKEN not in json.dumps(alerts) and OPERATE_TOKEN not in json.dumps(history)

    cancelled = operator.post("/api/v1/actions/cancel-all", json={"reason": "API test: cancel"})
    assert cancelled.status_code == 200
    report = cancelled.json()
    assert set(report) >= {"cancelled", "failed", "pending", "orders"}
    assert {order["outcome"] for order in report["orders"]} <= {"cancelled", "failed", "pending"}
    assert len(report["orders"]) == len(report["cancelled"]) + len(report["failed"]) + len(report["pending"])

    with stream_messages(service.ws_url, additional_headers=bearer(OPERATE_TOKEN)) as websocket:
        assert json.loads(websocket.recv(timeout=30))["type"] == "status"
        resumed = operator.post("/api/v1/actions/resume", json={"reason": "API test: resume"})
        assert resumed.status_code == 200 and resumed.json()["trading_state"] == "ACTIVE"
        change = receive_until(websocket, lambda m: m["type"] == "event" and m["kind"] == "risk.state_change")
        assert change["payload"]["new"] == "ACTIVE"

    flattened = operator.post("/api/v1/actions/flatten", json={"reason": "API test: flatten"})
    assert flattened.status_code == 200 and flattened.json()["trading_state"] == "HALTED"
    assert operator.post("/api/v1/actions/resume", json={"reason": "API test: back"}).json()["trading_state"] == "ACTIVE"
    assert reader.get("/api/v1/health").json()["trading_state"] == "ACTIVE"
