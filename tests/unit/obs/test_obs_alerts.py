"""AlertSender against a real HTTP server on 127.0.0.1: delivered, refused with 500, unreachable."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tradepulse.obs import ALERT_KINDS, AlertSender, configure_logging, correlation

HOOK_TOKEN = "T0KEN-b00-XYZ987654321"


class Receiver:
    """A webhook receiver in a thread that records what it got and answers with ``status``."""

    def __init__(self, status: int = 200, delay_seconds: float = 0.0) -> None:
        self.status = status
        self.delay_seconds = delay_seconds
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                if receiver.delay_seconds:
                    threading.Event().wait(receiver.delay_seconds)
                try:
                    self.send_response(receiver.status)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the timeout case: the sender already gave up, as intended

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown (and so each test) fast.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/{HOOK_TOKEN}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def alert_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger("tradepulse.obs.alerts")
    handler = configure_logging("DEBUG", stream, logger=logger)
    yield stream
    logger.removeHandler(handler)


def fixed_clock() -> datetime:
    return datetime(2026, 11, 22, 4, 0, 0, tzinfo=UTC)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_json_alert_is_delivered_with_the_generic_body(alert_log):
    with Receiver() as receiver, correlation("ord-99"):
        sender = AlertSender(receiver.url, timeout=5, service="live-btc", clock=fixed_clock)
        result = sender.send(
            "breaker_trip", "critical", "Drawdown breaker tripped; trading HALTED.",
            {"breaker": "drawdown", "drawdown": Decimal("0.051"), "limit": 0.05},
        )

    assert (result.delivered, result.http_status, result.error) == (True, 200, None)
    [request] = receiver.requests
    assert request["path"] == f"/services/{HOOK_TOKEN}"
    assert request["content_type"] == "application/json"
    assert request["body"] == {
        "kind": "breaker_trip",
        "severity": "critical",
        "message": "Drawdown breaker tripped; trading HALTED.",
        "service": "live-btc",
        "at": "2026-11-22T04:00:00+00:00",
        "correlation_id": "ord-99",
        "details": {"breaker": "drawdown", "drawdown": "0.051", "limit": 0.05},
    }
    [record] = [json.loads(line) for line in alert_log.getvalue().splitlines()]
    assert (record["alert_kind"], record["delivered"], record["http_status"]) == ("breaker_trip", True, 200)


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_slack_format_posts_one_text_field_for_every_kind(kind):
    with Receiver() as receiver:
        result = AlertSender(receiver.url, format="slack", timeout=5).send(
            kind, "warning", "something needs a human", {"symbol": "BTC/USDT"}
        )

    assert result.delivered
    body = receiver.requests[0]["body"]
    assert list(body) == ["text"]
    assert kind in body["text"] and "BTC/USDT" in body["text"]


def test_secrets_in_details_are_masked_in_the_posted_body():
    with Receiver() as receiver:
        AlertSender(receiver.url, timeout=5).send(
            "kill", "critical", "operator kill", {"api_key": "live-key-123456", "note": f"hook {receiver.url}"}
        )

    posted = json.dumps(receiver.requests[0]["body"])
    assert "live-key-123456" not in posted
    assert HOOK_TOKEN not in posted


def test_a_500_answer_is_reported_not_raised_and_the_url_stays_masked(alert_log):
    with Receiver(status=500) as receiver:
        result = AlertSender(receiver.url, timeout=5).send("feed_loss", "warning", "no ticks for 30 s")

    assert (result.delivered, result.http_status) == (False, 500)
    assert len(receiver.requests) == 1
    [record] = [json.loads(line) for line in alert_log.getvalue().splitlines()]
    assert (record["level"], record["delivered"], record["http_status"]) == ("WARNING", False, 500)
    assert HOOK_TOKEN not in alert_log.getvalue() and HOOK_TOKEN not in (result.error or "")


def test_an_unreachable_receiver_is_reported_not_raised(alert_log):
    url = f"http://127.0.0.1:{unused_port()}/services/{HOOK_TOKEN}"

    result = AlertSender(url, timeout=2).send("reconciliation_mismatch", "critical", "position differs")

    assert result.delivered is False and result.http_status is None
    assert result.error
    assert HOOK_TOKEN not in result.error
    [record] = [json.loads(line) for line in alert_log.getvalue().splitlines()]
    assert record["delivered"] is False
    assert HOOK_TOKEN not in alert_log.getvalue()


def test_a_receiver_slower_than_the_timeout_is_reported_not_raised():
    with Receiver(delay_seconds=1.0) as receiver:
        result = AlertSender(receiver.url, timeout=0.2).send("feed_loss", "warning", "slow hook")

    assert result.delivered is False and result.error


def test_an_unknown_kind_is_not_sent_and_not_raised():
    with Receiver() as receiver:
        result = AlertSender(receiver.url, timeout=5).send("breaker_trp", "critical", "typo")

    assert result.delivered is False and result.error
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("url", "fmt"),
    [("ftp://example.com/x", "json"), ("not a url", "json"), ("http://127.0.0.1:1/x", "teams")],
)
def test_configuration_mistakes_fail_at_construction_with_the_url_masked(url, fmt):
    with pytest.raises(ValueError) as info:
        AlertSender(url + "/SECRETPATH", format=fmt)

    assert "SECRETPATH" not in str(info.value)
