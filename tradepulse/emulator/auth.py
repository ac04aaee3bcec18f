"""Request signing as Binance checks it: API key header, HMAC-SHA256 signature, timestamp window.

REST: the signature is the hex HMAC-SHA256, keyed with the account's secret, of the parameter
string exactly as sent (query string followed by form body, without the ``signature`` parameter).
WebSocket API: the HMAC of the parameters sorted by key and joined as ``k=v&k=v`` without
URL-encoding (what ccxt's ``rawencode`` produces).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from tradepulse.emulator.accounts import Account, AccountRegistry
from tradepulse.emulator.errors import ApiError

__all__ = ["Authenticator", "hmac_sha256_hex", "remove_signature", "ws_signature_payload"]

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
# A timestamp this far ahead of the server clock is refused even inside recvWindow (Binance: 1 s).
MAX_AHEAD_MS = 1000


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def remove_signature(raw: str) -> tuple[str, str | None]:
    """Split ``raw`` (``a=1&b=2&signature=…``) into the signed text and the signature value."""
    if not raw:
        return raw, None
    kept: list[str] = []
    signature: str | None = None
    for item in raw.split("&"):
        if item.startswith("signature="):
            signature = item[len("signature="):]
        else:
            kept.append(item)
    return "&".join(kept), signature


def ws_signature_payload(params: Mapping[str, Any]) -> str:
    """Return the text a WebSocket API signature covers: params sorted by key, raw ``k=v`` pairs."""
    parts = []
    for key in sorted(params):
        if key == "signature":
            continue
        value = params[key]
        if isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(f"{key}={value}")
    return "&".join(parts)


def _check_timestamp(params: Mapping[str, Any], server_ms: int) -> None:
    raw_ts = params.get("timestamp")
    if raw_ts in (None, ""):
        raise ApiError.mandatory("timestamp")
    try:
        timestamp = int(str(raw_ts))
    except ValueError:
        raise ApiError.illegal("timestamp", "^[0-9]{1,20}$") from None
    raw_window = params.get("recvWindow")
    recv_window = DEFAULT_RECV_WINDOW_MS
    if raw_window not in (None, ""):
        try:
            recv_window = int(float(str(raw_window)))
        except ValueError:
            raise ApiError.illegal("recvWindow", "^[0-9]{1,20}$") from None
        if recv_window > MAX_RECV_WINDOW_MS or recv_window <= 0:
            raise ApiError(-1131, "recvWindow must be less than 60000")
    if timestamp > server_ms + MAX_AHEAD_MS:
        raise ApiError.ahead_of_server()
    if server_ms - timestamp > recv_window:
        raise ApiError.outside_recv_window()


class Authenticator:
    """Checks signed requests against the venue's accounts."""

    def __init__(self, accounts: AccountRegistry) -> None:
        self._accounts = accounts

    def _account(self, api_key: str | None) -> Account:
        if not api_key:
            raise ApiError.api_key_format()
        account = self._accounts.by_api_key(api_key)
        if account is None:
            raise ApiError.bad_api_key()
        return account

    def verify_rest(
        self, *, api_key: str | None, query_string: str, body: str, params: Mapping[str, str], server_ms: int
    ) -> Account:
        """Return the account of a signed REST request, or raise Binance's auth error.

        Raises
        ------
        ApiError
            ``-2014``/``-2015`` for a missing/unknown key, ``-1102`` without a signature or timestamp,
            ``-1022`` for a wrong signature, ``-1021`` for a timestamp outside recvWindow.
        """
        account = self._account(api_key)
        signed_query, query_signature = remove_signature(query_string)
        signed_body, body_signature = remove_signature(body)
        signature = body_signature or query_signature
        if not signature:
            raise ApiError.mandatory("signature")
        expected = hmac_sha256_hex(account.api_secret, signed_query + signed_body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError.bad_signature()
        _check_timestamp(params, server_ms)
        return account

    def verify_ws(self, params: Mapping[str, Any], server_ms: int) -> Account:
        """Return the account of a signed WebSocket API request, or raise Binance's auth error."""
        account = self._account(params.get("apiKey"))
        signature = params.get("signature")
        if not signature or not isinstance(signature, str):
            raise ApiError.mandatory("signature")
        expected = hmac_sha256_hex(account.api_secret, ws_signature_payload(params))
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError.bad_signature()
        _check_timestamp(params, server_ms)
        return account
