"""Signature and timestamp checks, exactly as ccxt signs REST and WebSocket API requests."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tradepulse.emulator.accounts import AccountRegistry
from tradepulse.emulator.auth import Authenticator, hmac_sha256_hex, remove_signature, ws_signature_payload
from tradepulse.emulator.errors import ApiError

KEY, SECRET, NOW = "api-key-1", "secret-1", 1_700_000_000_000


@pytest.fixture
def auth() -> Authenticator:
    accounts = AccountRegistry()
    accounts.add(KEY, SECRET, {"USDT": "1"})
    return Authenticator(accounts)


def _signed(params: dict, secret: str = SECRET) -> str:
    query = urlencode(params)
    return f"{query}&signature={hmac_sha256_hex(secret, query)}"


def _verify(auth: Authenticator, *, query: str = "", body: str = "", key: str | None = KEY, now: int = NOW):
    from urllib.parse import parse_qsl

    params = dict(parse_qsl(query) + parse_qsl(body))
    return auth.verify_rest(api_key=key, query_string=query, body=body, params=params, server_ms=now)


def test_a_correct_signature_in_the_query_or_the_body_is_accepted(auth):
    signed = _signed({"symbol": "BTCUSDT", "timestamp": NOW - 100, "recvWindow": 5000})
    assert _verify(auth, query=signed).api_key == KEY
    assert _verify(auth, body=signed).api_key == KEY


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda q: q.replace("BTCUSDT", "ETHUSDT"), -1022),      # tampered after signing
    (lambda q: q.split("&signature=")[0], -1102),             # no signature
])
def test_tampered_or_unsigned_requests_are_refused(auth, mutate, code):
    signed = _signed({"symbol": "BTCUSDT", "timestamp": NOW})
    with pytest.raises(ApiError) as refused:
        _verify(auth, query=mutate(signed))
    assert refused.value.code == code


def test_unknown_or_missing_api_keys_are_refused_with_401(auth):
    signed = _signed({"timestamp": NOW})
    for key, code in (("nope", -2015), (None, -2014)):
        with pytest.raises(ApiError) as refused:
            _verify(auth, query=signed, key=key)
        assert (refused.value.code, refused.value.status) == (code, 401)


@pytest.mark.parametrize(("timestamp", "window", "message"), [
    (NOW - 6000, None, "outside of the recvWindow"),
    (NOW - 11_000, 10_000, "outside of the recvWindow"),
    (NOW + 1500, None, "ahead of the server's time"),
])
def test_timestamps_outside_the_window_are_minus_1021(auth, timestamp, window, message):
    params = {"timestamp": timestamp} | ({"recvWindow": window} if window else {})
    with pytest.raises(ApiError) as refused:
        _verify(auth, query=_signed(params))
    assert refused.value.code == -1021 and message in refused.value.msg


def test_recv_window_above_one_minute_is_refused(auth):
    with pytest.raises(ApiError) as refused:
        _verify(auth, query=_signed({"timestamp": NOW, "recvWindow": 70_000}))
    assert refused.value.code == -1131


def test_remove_signature_keeps_the_signed_text_as_sent():
    assert remove_signature("a=1&b=%2C&signature=ff") == ("a=1&b=%2C", "ff")
    assert remove_signature("") == ("", None)


def test_ws_api_signature_covers_key_sorted_raw_parameters(auth):
    params = {"timestamp": NOW, "apiKey": KEY, "recvWindow": 5000}
    assert ws_signature_payload(params) == f"apiKey={KEY}&recvWindow=5000&timestamp={NOW}"
    signed = {**params, "signature": hmac_sha256_hex(SECRET, ws_signature_payload(params))}
    assert auth.verify_ws(signed, NOW).api_key == KEY
    with pytest.raises(ApiError) as refused:
        auth.verify_ws({**signed, "recvWindow": 6000}, NOW)
    assert refused.value.code == -1022
