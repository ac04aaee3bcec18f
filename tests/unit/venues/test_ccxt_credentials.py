"""Credentials come only from TRADEPULSE_* variables or files, and never show themselves."""

from __future__ import annotations

import logging
import pickle

import pytest

from tradepulse.errors import ConfigError
from tradepulse.adapters.ccxt.exchange import RedactingLogger, create_exchange
from tradepulse.adapters.credentials import (
    Credentials,
    Secret,
    credential_variables,
    load_credentials,
    redact,
    venue_env_prefix,
)

KEY = "pub-key-AbC123xyz"
SECRET = "priv-secret-9f8e7d6c"


def test_the_variable_names_follow_the_venue_id():
    assert venue_env_prefix("binance") == "TRADEPULSE_BINANCE"
    assert venue_env_prefix("coinbase-advanced") == "TRADEPULSE_COINBASE_ADVANCED"
    assert credential_variables("okx") == {"api_key": "TRADEPULSE_OKX_API_KEY", "api_secret": "TRADEPULSE_OKX_API_SECRET",
                                           "password": "TRADEPULSE_OKX_API_PASSWORD"}


def test_credentials_are_read_from_the_environment_as_masked_secrets():
    creds = load_credentials("binance", {"TRADEPULSE_BINANCE_API_KEY": KEY, "TRADEPULSE_BINANCE_API_SECRET": f" {SECRET}\n"})
    assert creds is not None
    assert creds.api_key.reveal() == KEY and creds.api_secret.reveal() == SECRET and creds.password is None
    for shown in (str(creds), repr(creds), f"{creds.api_secret}", str(creds.api_secret), repr(creds.api_key)):
        assert KEY not in shown and SECRET not in shown


def test_credentials_are_read_from_files_named_by_file_variables(tmp_path):
    key_file, secret_file, password_file = tmp_path / "key", tmp_path / "secret", tmp_path / "password"
    key_file.write_text(KEY + "\n")
    secret_file.write_text(SECRET)
    password_file.write_text("passphrase-1")
    for path in (key_file, secret_file, password_file):
        path.chmod(0o600)
    creds = load_credentials("okx", {
        "TRADEPULSE_OKX_API_KEY_FILE": str(key_file), "TRADEPULSE_OKX_API_SECRET_FILE": str(secret_file),
        "TRADEPULSE_OKX_API_PASSWORD_FILE": str(password_file),
    })
    assert creds is not None and creds.api_key.reveal() == KEY and creds.password is not None
    assert set(creds.secrets()) == {KEY, SECRET, "passphrase-1"}


@pytest.mark.parametrize(("environ", "message"), [
    ({}, "TRADEPULSE_BINANCE_API_KEY and TRADEPULSE_BINANCE_API_SECRET"),
    ({"TRADEPULSE_BINANCE_API_KEY": KEY}, "TRADEPULSE_BINANCE_API_SECRET"),
    ({"TRADEPULSE_BINANCE_API_KEY": KEY, "TRADEPULSE_BINANCE_API_SECRET": SECRET, "TRADEPULSE_BINANCE_API_SECRET_FILE": "/x"},
     "both TRADEPULSE_BINANCE_API_SECRET and TRADEPULSE_BINANCE_API_SECRET_FILE"),
    ({"TRADEPULSE_BINANCE_API_KEY": KEY, "TRADEPULSE_BINANCE_API_SECRET_FILE": "/no/such/file"}, "cannot read"),
    ({"TRADEPULSE_BINANCE_API_KEY": "ab", "TRADEPULSE_BINANCE_API_SECRET": SECRET}, "too short"),
])
def test_missing_or_ambiguous_credentials_are_one_clear_error_naming_variables_not_values(environ, message):
    with pytest.raises(ConfigError, match=message) as raised:
        load_credentials("binance", environ)
    assert SECRET not in str(raised.value) and KEY not in str(raised.value)


def test_market_data_needs_no_credentials():
    assert load_credentials("binance", {}, required=False) is None


def test_an_empty_secret_file_is_refused(tmp_path):
    empty = tmp_path / "secret"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_credentials("binance", {"TRADEPULSE_BINANCE_API_KEY": KEY, "TRADEPULSE_BINANCE_API_SECRET_FILE": str(empty)})


def test_a_secret_cannot_be_pickled_and_compares_by_value():
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(SECRET))
    assert Secret(SECRET) == Secret(SECRET) and Secret(SECRET) != Secret(KEY)


def test_redact_replaces_every_occurrence_and_ignores_trivially_short_values():
    assert redact(f"a {SECRET} b {SECRET}", [SECRET]) == "a *** b ***"
    assert redact("abc", ["ab"]) == "abc"


def test_ccxt_debug_logging_of_request_headers_is_redacted(caplog):
    logger = RedactingLogger(logging.getLogger("tradepulse.ccxt.test"), [KEY, SECRET])
    with caplog.at_level(logging.DEBUG, logger="tradepulse.ccxt.test"):
        # The shape ccxt's fetch() logs each request in: headers include the API key.
        logger.debug("%s %s, Request: %s %s", "POST", "http://x/api/v3/order", {"X-MBX-APIKEY": KEY}, f"signature={SECRET}")
    assert caplog.records and all(KEY not in r.getMessage() and SECRET not in r.getMessage() for r in caplog.records)


def test_the_exchange_factory_refuses_credentials_in_config_and_verbose_mode():
    with pytest.raises(ConfigError, match="environment variables only"):
        create_exchange("binance", config={"apiKey": KEY})
    with pytest.raises(ConfigError, match="verbose"):
        create_exchange("binance", config={"verbose": True})
    with pytest.raises(ConfigError, match="unknown ccxt exchange"):
        create_exchange("no-such-exchange")


async def _built(credentials):
    exchange = create_exchange("binance", credentials=credentials, exchange_url="http://127.0.0.1:9")
    try:
        return exchange.apiKey, exchange.secret, isinstance(exchange.logger, RedactingLogger), exchange.urls["api"]["private"]
    finally:
        await exchange.close()


def test_the_exchange_factory_hands_the_secret_to_ccxt_and_replaces_its_logger():
    import asyncio

    creds = Credentials("binance", Secret(KEY), Secret(SECRET))
    api_key, secret, redacting, private_url = asyncio.run(_built(creds))
    assert (api_key, secret, redacting) == (KEY, SECRET, True)
    assert private_url == "http://127.0.0.1:9/api/v3"
