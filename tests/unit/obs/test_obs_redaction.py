"""Secrets never reach a log line, however they are logged (design decision 8)."""

from __future__ import annotations

import logging

import pytest

from tradepulse.obs import SecretUrl, correlation, mask_url, redact_text, redact_value, register_secret
from tradepulse.obs.redaction import MASK, is_sensitive_key

REGISTERED = "sk-live-9f8e7d6c5b4a"
KEYED = "keyed-value-0123456789"
URL_TOKEN = "urltok-ABCDEF123456"
URL_PASSWORD = "hunter2-url-pw"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.sig"


def test_secrets_logged_every_which_way_never_appear_in_the_output(json_log):
    register_secret(REGISTERED)
    log = json_log.logger

    log.info(f"connecting with {REGISTERED}")  # inside the format string itself
    log.info("key %s in args", REGISTERED)  # as a %-argument
    log.info("dict arg %(k)s", {"k": REGISTERED})  # as a mapping argument
    log.info("in extras", extra={"note": f"prefix-{REGISTERED}", "nested": {"deep": [REGISTERED]}})
    log.info("by key", extra={"api_key": KEYED, "headers": {"Authorization": f"Bearer {BEARER}"}})
    log.info("config %s", {"password": KEYED, "venue": "binance"})  # a dict repr in the message
    log.info("text api_key=%s and token: %s", KEYED, KEYED)
    log.info("calling https://user:%s@api.example.com/v3/order?apiKey=%s&symbol=BTCUSDT", URL_PASSWORD, URL_TOKEN)
    log.info("header Authorization: Bearer %s", BEARER)
    try:
        raise ConnectionError(f"refused for secret={KEYED} using {REGISTERED}")
    except ConnectionError:
        log.exception("venue call failed")
    with correlation("ord-1"):
        log.warning("redacted inside a correlation block too: %s", REGISTERED)

    output = json_log.raw()
    records = json_log.records()

    assert len(records) == 11
    for secret in (REGISTERED, KEYED, URL_TOKEN, URL_PASSWORD, BEARER):
        assert secret not in output
    # Masked, not dropped: the fields and the harmless parts survive.
    assert records[3]["nested"] == {"deep": [MASK]}
    assert records[4]["api_key"] == MASK
    assert records[4]["headers"] == {"Authorization": MASK}
    assert records[5]["message"].count("binance") == 1
    assert "symbol=BTCUSDT" in records[7]["message"]
    assert "api.example.com" in records[7]["message"]
    assert records[9]["exception_type"] == "ConnectionError"
    assert records[10]["correlation_id"] == "ord-1"


def test_a_secret_registered_after_configuration_is_masked_from_then_on(json_log):
    json_log.logger.info("before: %s", "late-secret-value")
    register_secret("late-secret-value")
    json_log.logger.info("after: %s", "late-secret-value")

    first, second = json_log.records()

    assert "late-secret-value" in first["message"]
    assert "late-secret-value" not in second["message"]


def test_secret_wrappers_are_unwrapped_and_short_values_ignored():
    register_secret(SecretUrl("https://hooks.slack.com/services/T000/B000/XYZSECRET"))
    register_secret("ab")  # too short: masking it would garble ordinary text
    register_secret(None)

    text = redact_text("posting to https://hooks.slack.com/services/T000/B000/XYZSECRET about tabs")

    assert "XYZSECRET" not in text
    assert "tabs" in text


def test_a_secret_containing_another_is_masked_whole():
    register_secret("abcd")
    register_secret("abcd-efgh-ijkl")

    assert redact_text("x abcd-efgh-ijkl y") == f"x {MASK} y"


@pytest.mark.parametrize(
    "key", ["api_key", "apiKey", "X-API-KEY", "secret", "client_secret", "token", "access_token", "password",
            "Authorization", "private_key", "passphrase"],
)
def test_credential_names_are_sensitive(key):
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ["symbol", "qty", "price", "venue", "order_id", "message"])
def test_ordinary_names_are_not_sensitive(key):
    assert not is_sensitive_key(key)


def test_redact_value_keeps_numbers_and_structure():
    value = {"qty": 1.5, "ok": True, "none": None, "token": "t0k3n-value", "items": ({"secret": "s3cr3t-v"},)}

    assert redact_value(value) == {"qty": 1.5, "ok": True, "none": None, "token": MASK, "items": [{"secret": MASK}]}


def test_webhook_urls_are_masked_down_to_scheme_host_and_port():
    assert mask_url("https://hooks.slack.com/services/T0/B0/SECRET") == "https://hooks.slack.com/***"
    assert mask_url("http://u:p@127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert mask_url("not a url") == MASK
    assert "SECRET" not in repr(SecretUrl("https://h.example/SECRET"))


def test_records_from_other_handlers_are_unaffected_by_level_or_logger_choice(json_log):
    # Redaction happens in the handler, so child loggers propagating into it are covered too.
    child = logging.getLogger(f"{json_log.logger.name}.child")
    register_secret(REGISTERED)

    child.error("child saw %s", REGISTERED)

    record = json_log.records()[0]
    assert record["logger"] == child.name
    assert REGISTERED not in json_log.raw()
