"""Exchange credentials: read from the environment or from files, held as masked secrets.

Design decision 8: secrets come only from ``TRADEPULSE_…`` environment variables or from files
named by ``…_FILE`` variables, never from a TOML file or a command-line flag, and never reach a
log, the journal, an API response or an error message. For a venue called ``binance``:

=================================  ============================================================
``TRADEPULSE_BINANCE_API_KEY``     the API key (or ``TRADEPULSE_BINANCE_API_KEY_FILE``: a path)
``TRADEPULSE_BINANCE_API_SECRET``  the API secret (or ``TRADEPULSE_BINANCE_API_SECRET_FILE``)
``TRADEPULSE_BINANCE_API_PASSWORD`` optional passphrase some exchanges need (or ``…_FILE``)
=================================  ============================================================

The venue part is the ccxt exchange id upper-cased, with anything but letters and digits turned
into ``_`` (``coinbase-advanced`` -> ``COINBASE_ADVANCED``). Setting both a variable and its
``_FILE`` twin is refused (which one would win is a question nobody should have to answer at 3 am).
A file's content is used with surrounding whitespace stripped, so ``echo key > file`` works.

:class:`Secret` masks itself in ``str``, ``repr`` and f-strings and refuses to be pickled; only
:meth:`Secret.reveal` returns the value, and the ccxt adapter calls it exactly once, when it
builds the exchange client. :func:`redact` removes secret values from any text (log records,
error messages) as a second line of defence.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tradepulse.errors import ConfigError

__all__ = ["Credentials", "Secret", "credential_variables", "load_credentials", "redact", "venue_env_prefix"]

_log = logging.getLogger(__name__)
MASK = "***"
# Shorter values are not redacted from free text: a 1-3 character "secret" would blank out
# ordinary words and is no secret anyway (load_credentials refuses it).
_MIN_REDACTED_LENGTH = 4


class Secret:
    """A string that does not show itself: ``str``/``repr``/``format`` give ``***``.

    Examples
    --------
    >>> token = Secret("s3cr3t-value")
    >>> token, f"{token}", token.reveal()
    (Secret('***'), '***', 's3cr3t-value')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        """Return the value; call it only where the secret is handed to the library that needs it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(other._value.encode(), self._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple:
        # Pickling would write the value into whatever the pickle lands in (a cache, a job archive).
        raise TypeError("a Secret cannot be pickled; pass the environment variable's name instead")


@dataclass(frozen=True)
class Credentials:
    """API credentials of one venue; every field masks itself.

    Parameters
    ----------
    venue
        The ccxt exchange id they belong to (``"binance"``).
    api_key, api_secret
        The key pair.
    password
        A passphrase, for exchanges that need one (OKX, KuCoin, Coinbase); ``None`` otherwise.
    """

    venue: str
    api_key: Secret
    api_secret: Secret
    password: Secret | None = None

    def secrets(self) -> tuple[str, ...]:
        """The raw values, for :func:`redact` (never print the result)."""
        values = [self.api_key.reveal(), self.api_secret.reveal()]
        if self.password is not None:
            values.append(self.password.reveal())
        return tuple(value for value in values if value)


def venue_env_prefix(venue: str) -> str:
    """The environment-variable prefix of ``venue``.

    Examples
    --------
    >>> venue_env_prefix("coinbase-advanced")
    'TRADEPULSE_COINBASE_ADVANCED'
    """
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", venue.strip()).strip("_").upper()
    if not cleaned:
        raise ConfigError(f"venue name {venue!r} has no letters or digits")
    return f"TRADEPULSE_{cleaned}"


def credential_variables(venue: str) -> dict[str, str]:
    """The variable names read for ``venue``: ``{"api_key": "TRADEPULSE_X_API_KEY", ...}``."""
    prefix = venue_env_prefix(venue)
    return {"api_key": f"{prefix}_API_KEY", "api_secret": f"{prefix}_API_SECRET", "password": f"{prefix}_API_PASSWORD"}


def load_credentials(venue: str, environ: Mapping[str, str] | None = None, *, required: bool = True) -> Credentials | None:
    """Read ``venue``'s credentials from the environment (or the files it names).

    Parameters
    ----------
    venue
        The ccxt exchange id, e.g. ``"binance"``.
    environ
        Where to read variables; ``os.environ`` by default (tests pass a dict).
    required
        Raise :class:`ConfigError` when no key is configured; otherwise return ``None`` then
        (market data needs no credentials).

    Raises
    ------
    ConfigError
        A variable and its ``_FILE`` twin are both set, a file cannot be read or is empty, only
        one of key and secret is set, or (``required``) neither is. The message names variables,
        never values.

    Examples
    --------
    >>> creds = load_credentials("binance", {"TRADEPULSE_BINANCE_API_KEY": "abcd1234",
    ...                                      "TRADEPULSE_BINANCE_API_SECRET": "efgh5678"})
    >>> creds.api_key
    Secret('***')
    """
    env = os.environ if environ is None else environ
    names = credential_variables(venue)
    values = {field: read_secret_variable(name, env) for field, name in names.items()}
    key, secret = values["api_key"], values["api_secret"]
    if key is None and secret is None:
        if required:
            raise ConfigError(
                f"no credentials for {venue}: set {names['api_key']} and {names['api_secret']} "
                f"(or {names['api_key']}_FILE and {names['api_secret']}_FILE naming files that hold them)"
            )
        return None
    if key is None or secret is None:
        missing = names["api_key"] if key is None else names["api_secret"]
        raise ConfigError(f"incomplete credentials for {venue}: {missing} (or {missing}_FILE) is not set")
    for field in ("api_key", "api_secret"):
        if len(values[field] or "") < _MIN_REDACTED_LENGTH:
            raise ConfigError(f"{names[field]} is too short to be a real credential (fewer than {_MIN_REDACTED_LENGTH} characters)")
    password = values["password"]
    return Credentials(venue, Secret(key), Secret(secret), Secret(password) if password else None)


def read_secret_variable(name: str, env: Mapping[str, str]) -> str | None:
    direct = env.get(name)
    file_name = env.get(f"{name}_FILE")
    if direct and file_name:
        raise ConfigError(f"both {name} and {name}_FILE are set; keep one")
    if direct:
        return direct.strip()
    if not file_name:
        return None
    path = Path(file_name).expanduser()
    try:
        text = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except OSError as error:
        raise ConfigError(f"cannot read {name}_FILE ({path}): {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}_FILE ({path}) is not UTF-8 text") from None
    if not text:
        raise ConfigError(f"{name}_FILE ({path}) is empty")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Not fatal (containers mount secrets with odd modes), but worth a line: others can read it.
        _log.warning("%s_FILE (%s) is readable by group or others; chmod 600 it", name, path)
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret value in ``text`` with ``***``.

    Examples
    --------
    >>> redact("key=abcd1234&x=1", ["abcd1234"])
    'key=***&x=1'
    """
    for value in sorted((s for s in secrets if s and len(s) >= _MIN_REDACTED_LENGTH), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text
