"""Alert hooks against a real HTTP server on 127.0.0.1; the URL's token never leaks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from tradepulse.jobs.alerts import AlertSettings, SecretUrl, mask_url, send_alert
from tradepulse.jobs.archive import TIMED_OUT, RunError, RunRecord

T0 = datetime(2026, 11, 22, 6, 30, tzinfo=timezone.utc)


def _failed_run() -> RunRecord:
    return RunRecord(
        run_id="1a2b3c4d",
        job="daily",
        notebook="/nb/report.ipynb",
        parameters={},
        status="running",
        started_at=T0,
        output_notebook="/archive/2026-11-22/report-20261122T063000Z-1a2b3c4d.ipynb",
        scheduled_for=T0,
        trigger="schedule",
    ).finished(
        TIMED_OUT, T0 + timedelta(seconds=90), error=RunError("TimeoutError", "it ran past the 60 s per-cell limit", 3)
    )


def test_a_json_alert_carries_the_runs_facts(webhook):
    outcome = send_alert(AlertSettings(SecretUrl(webhook.url)), _failed_run(), attempts=3)
    assert outcome.delivered and outcome.http_status == 200
    [request] = webhook.requests
    assert request["headers"]["Content-Type"] == "application/json"
    [body] = webhook.bodies()
    assert body["job"] == "daily" and body["status"] == "timed_out" and body["cell"] == 3
    assert body["error"] == "cell 3 timed out: it ran past the 60 s per-cell limit"
    assert body["archive_path"].endswith("-1a2b3c4d.ipynb") and body["sidecar_path"].endswith("-1a2b3c4d.json")
    assert (body["started_at"], body["finished_at"]) == ("2026-11-22T06:30:00.000Z", "2026-11-22T06:31:30.000Z")
    assert body["attempts"] == 3


def test_a_slack_alert_is_one_text_field(webhook):
    send_alert(AlertSettings(SecretUrl(webhook.url), format="slack"), _failed_run(), attempts=3)
    [body] = webhook.bodies()
    assert list(body) == ["text"]
    assert "*daily*" in body["text"] and "timed out after 3 attempts" in body["text"]


def test_a_receiver_error_is_reported_not_raised(webhook):
    webhook.status = 500
    outcome = send_alert(AlertSettings(SecretUrl(webhook.url)), _failed_run(), attempts=1)
    assert (outcome.delivered, outcome.http_status) == (False, 500)


def test_an_unreachable_receiver_is_reported_without_the_token(closed_port_url, caplog):
    with caplog.at_level(logging.DEBUG):
        outcome = send_alert(AlertSettings(SecretUrl(closed_port_url), timeout_seconds=2), _failed_run(), attempts=1)
    assert not outcome.delivered and outcome.http_status is None and outcome.error
    assert "s3cr3t" not in outcome.error
    assert all("s3cr3t" not in record.getMessage() for record in caplog.records)


def test_masking_hides_path_query_and_credentials():
    assert mask_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/***"
    assert mask_url("http://u:p@127.0.0.1:9000/h?token=1") == "http://127.0.0.1:9000/***"
    assert mask_url("https://example.com") == "https://example.com"
    assert mask_url("not a url") == "***"
    secret = SecretUrl("https://hooks.slack.com/services/T0/B0/XYZ")
    assert "XYZ" not in f"{secret} {secret!r}"
