"""Secret redaction: keep registered secrets, credential-named fields and URL tokens out of logs.

Decision 8 of the design says secrets never reach a log. Config already holds them as secret
types, but a secret can still slip through a format string, an ``extra=`` field, an exception
message or a URL quoted by a socket error; this module is the last line that catches all of those.

Three rules apply, in order:

1. every value passed to :func:`register_secret` is replaced by ``***`` wherever it appears;
2. the value under a sensitive key (``api_key``, ``secret``, ``token``, ``password``,
   ``authorization``, ...) is replaced, both in mappings and in ``key=value`` / ``key: value`` text;
3. URLs lose their user-info password and the values of sensitive query parameters.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MASK",
    "SecretUrl",
    "clear_secrets",
    "is_sensitive_key",
    "mask_url",
    "redact_text",
    "redact_value",
    "register_secret",
]

MASK = "***"

# Shorter values would mask ordinary words and numbers all over the log ("abc", "42").
_MIN_SECRET_LENGTH = 4

_SENSITIVE_WORDS = (
    "api_key", "apikey", "api-key", "secret", "token", "password", "passwd", "pwd",
    "authorization", "private_key", "credential", "cookie", "signature", "passphrase",
)
_SENSITIVE_KEY = re.compile("|".join(re.escape(word) for word in _SENSITIVE_WORDS), re.IGNORECASE)

# key=value, key: value, "key": "value" in free text; the value ends at whitespace, a quote,
# a comma, an ampersand or a closing bracket so neighbouring fields survive.
_SENSITIVE_ALTERNATION = "|".join(re.escape(word) for word in _SENSITIVE_WORDS)
_KEY_VALUE = re.compile(
    r"""(?P<key>["']?[A-Za-z0-9_\-]*(?:""" + _SENSITIVE_ALTERNATION + r""")[A-Za-z0-9_\-]*["']?)"""
    r"""(?P<sep>\s*[=:]\s*)(?P<quote>["']?)(?P<scheme>(?:Bearer|Basic|Token)\s+)?(?P<value>[^\s"',&;)\]}]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{6,}", re.IGNORECASE)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(?P<scheme>://)(?P<user>[^/@:\s]*):(?P<password>[^/@\s]+)@")
_QUERY_PARAM = re.compile(r"(?P<prefix>[?&;])(?P<key>[^=&#\s]+)=(?P<value>[^&#\s]*)")

_lock = threading.Lock()
_secrets: set[str] = set()
# Longest first, so a secret containing another secret is masked whole.
_ordered: tuple[str, ...] = ()


def register_secret(value: Any) -> None:
    """Mask ``value`` in every log record from now on.

    Parameters
    ----------
    value : str or secret-like
        The secret. Objects with ``reveal()`` or ``get_secret_value()`` (``SecretUrl``,
        pydantic ``SecretStr``) are unwrapped. Values shorter than 4 characters and ``None``
        are ignored, since masking them would garble ordinary text.

    Examples
    --------
    >>> register_secret("sk-live-123456")
    >>> redact_text("key is sk-live-123456")
    'key is ***'
    """
    global _ordered
    if value is None:
        return
    for unwrap in ("reveal", "get_secret_value"):
        if hasattr(value, unwrap):
            value = getattr(value, unwrap)()
            break
    text = str(value)
    if len(text) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(text)
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def clear_secrets() -> None:
    """Forget every registered secret (for tests and service restarts in one process)."""
    global _ordered
    with _lock:
        _secrets.clear()
        _ordered = ()


def is_sensitive_key(key: Any) -> bool:
    """Return whether a field named ``key`` holds a credential (``api_key``, ``X-Auth-Token``, ...)."""
    return isinstance(key, str) and bool(_SENSITIVE_KEY.search(key))


def redact_text(text: str) -> str:
    """Return ``text`` with registered secrets, credential fields and URL tokens masked.

    Examples
    --------
    >>> redact_text("GET https://u:pw@x.io/a?apiKey=abc&n=1 Authorization: Bearer abcdef123")
    'GET https://u:***@x.io/a?apiKey=***&n=1 Authorization: Bearer ***'
    """
    if not text:
        return text
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL.sub(_mask_url_tokens, text)
    text = _KEY_VALUE.sub(_mask_key_value, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def redact_value(value: Any, key: Any = None) -> Any:
    """Return a copy of ``value`` (mappings, sequences, strings) with secrets masked.

    Parameters
    ----------
    value : Any
        A log field; containers are walked, strings are passed through :func:`redact_text`,
        other scalars (numbers, booleans, ``None``) are returned unchanged.
    key : str, optional
        The field's name; a sensitive name masks the whole value.
    """
    if key is not None and is_sensitive_key(key) and value not in (None, "", MASK):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Anything else (Decimal, datetime, SecretUrl, custom objects) reaches the log as its str().
    return redact_text(str(value))


def _mask_url_tokens(match: re.Match[str]) -> str:
    url = _USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", match.group(0))
    return _QUERY_PARAM.sub(
        lambda m: f"{m.group('prefix')}{m.group('key')}={MASK}" if is_sensitive_key(m.group("key")) else m.group(0),
        url,
    )


def _mask_key_value(match: re.Match[str]) -> str:
    if match.group("value") == MASK:
        return match.group(0)
    scheme = match.group("scheme") or ""
    return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{scheme}{MASK}"


def mask_url(url: str) -> str:
    """Hide everything in a webhook URL that may be a token: credentials, path and query.

    Webhook URLs (Slack's ``/services/T…/B…/XXXX``) carry the token in the path, so unlike
    :func:`redact_text` this keeps only scheme, host and port.

    Examples
    --------
    >>> mask_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    'https://hooks.slack.com/***'
    >>> mask_url("http://user:pw@127.0.0.1:8080/hook?token=abc")
    'http://127.0.0.1:8080/***'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    hidden = "/***" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


class SecretUrl:
    """A URL that may hold a token: prints masked, gives the real value only on :meth:`reveal`.

    Examples
    --------
    >>> url = SecretUrl("https://hooks.slack.com/services/T000/B000/XXXX")
    >>> str(url), url.reveal().endswith("XXXX")
    ('https://hooks.slack.com/***', True)
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the full URL, for the HTTP request only."""
        return self._value

    def __str__(self) -> str:
        return mask_url(self._value)

    def __repr__(self) -> str:
        return f"SecretUrl({mask_url(self._value)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
