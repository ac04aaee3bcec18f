"""Bearer tokens of the HTTP API: *read*, *operate* and *approve* scopes, from the environment.

The tokens follow the same rules as exchange credentials (docs/configuration.md): they come only
from environment variables or from files named by ``…_FILE`` twins, never from a TOML file or a
flag, and they never reach a log, an API response or an error message.

==================================  ===========================================================
``TRADEPULSE_API_READ_TOKEN``       may call every ``GET`` route, ``/metrics`` and the stream
``TRADEPULSE_API_OPERATE_TOKEN``    may also call the operator actions (kill, resume, rollback, ...)
``TRADEPULSE_API_APPROVE_TOKEN``    may read, and approve or reject strategy versions; each token
                                    is written ``name:token`` and the name is who approved
``…_FILE``                          a path to a file holding the value instead
==================================  ===========================================================

A variable may hold several tokens separated by commas, so a token can be rotated without a
window in which no token works; the service re-reads the variables (and their files) on SIGHUP,
so a rotation needs no restart (:meth:`ApiAuth.replace_with`). An operate token also reads; so does an approve token. Approving
is a separate duty: a token may not be both an operate and an approve token (a reviewer signs
off on a version, an operator runs the service; the same key doing both defeats the review).
Any token may carry a name (``alice:token``); the journal then says who acted, not only with
which scope. An approve token must: a sign-off without a name is not a sign-off. With no token configured at all
:meth:`ApiAuth.from_environ` raises :class:`~tradepulse.errors.ConfigError`: the service refuses
to serve its API without authentication rather than start open.

Tokens are compared in constant time (SHA-256 digests through :func:`hmac.compare_digest`, so
neither the content nor the length of a configured token leaks through timing).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tradepulse.adapters.credentials import Secret, read_secret_variable
from tradepulse.errors import ConfigError
from tradepulse.obs.redaction import register_secret
from tradepulse.service.contract import APPROVE, OPERATE, READ

__all__ = [
    "APPROVE_TOKEN_VARIABLE",
    "MIN_TOKEN_LENGTH",
    "OPERATE_TOKEN_VARIABLE",
    "READ_TOKEN_VARIABLE",
    "ApiAuth",
    "Grant",
    "bearer_token",
]

READ_TOKEN_VARIABLE = "TRADEPULSE_API_READ_TOKEN"
OPERATE_TOKEN_VARIABLE = "TRADEPULSE_API_OPERATE_TOKEN"
APPROVE_TOKEN_VARIABLE = "TRADEPULSE_API_APPROVE_TOKEN"

#: Who holds a token: what the journal records as the actor (letters, digits, ``.``, ``_``, ``-``, ``@``).
_NAME_SYNTAX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

#: Shorter tokens are refused: a token is a password that a script can try millions of times.
MIN_TOKEN_LENGTH = 16

# RFC 6750 ``b64token``: what can travel in an ``Authorization: Bearer`` header unquoted.
_TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_BEARER_HEADER = re.compile(r"Bearer[ \t]+(?P<token>\S+)[ \t]*", re.IGNORECASE)

_GENERATE_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Grant:
    """What a token grants: its scope, and the name of who holds it when the token has one."""

    scope: str
    name: str | None = None

    @property
    def actor(self) -> str:
        """Who the journal says acted (``operator:<name>@api``, else ``operator:<scope>@api``; never the token)."""
        return f"operator:{self.name or self.scope}@api"


def split_named(entry: str, where: str) -> tuple[str | None, str]:
    """``"alice:tok..."`` -> ``("alice", "tok...")``; ``"tok..."`` -> ``(None, "tok...")``.

    A token cannot hold ``:`` (RFC 6750), so the first colon always separates a name.

    Examples
    --------
    >>> split_named("alice:" + "t" * 20, "x")[0], split_named("t" * 20, "x")[0]
    ('alice', None)
    """
    name, colon, token = entry.partition(":")
    if not colon:
        return None, entry
    if not _NAME_SYNTAX.fullmatch(name):
        raise ConfigError(f"{where}: a token's name (before the ':') must be 1-64 letters, digits or ._@- starting with "
                          "a letter or digit")
    return name, token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or ``None``.

    Examples
    --------
    >>> bearer_token("Bearer abc.def"), bearer_token("bearer  abc"), bearer_token("Basic abc")
    ('abc.def', 'abc', None)
    """
    if not authorization:
        return None
    match = _BEARER_HEADER.fullmatch(authorization)
    return match.group("token") if match else None


class ApiAuth:
    """Which scope, if any, a bearer token grants, and whose token it is.

    Parameters
    ----------
    read_tokens
        Tokens granting the ``read`` scope.
    operate_tokens
        Tokens granting the ``operate`` scope (which includes ``read``).
    approve_tokens
        ``name:token`` entries granting the ``approve`` scope (which includes ``read``).

    Any entry may be ``name:token``; the name is who acted, in the journal.

    Raises
    ------
    ConfigError
        A token is shorter than :data:`MIN_TOKEN_LENGTH` characters or holds characters a bearer
        token cannot (spaces, quotes, commas, non-ASCII); an approve token has no name or is also
        an operate token. The message never quotes the token.

    Examples
    --------
    >>> auth = ApiAuth(read_tokens=["r" * 20], operate_tokens=[Secret("o" * 20)], approve_tokens=["ann:" + "a" * 20])
    >>> auth.scope_of("r" * 20), auth.scope_of("o" * 20), auth.scope_of("a" * 20), auth.scope_of("x" * 20)
    ('read', 'operate', 'approve', None)
    >>> auth.grant_of("a" * 20)
    Grant(scope='approve', name='ann')
    """

    def __init__(self, read_tokens: Iterable[Secret | str] = (), operate_tokens: Iterable[Secret | str] = (),
                 approve_tokens: Iterable[Secret | str] = ()) -> None:
        self._tokens: list[tuple[bytes, Grant]] = []
        for scope, tokens in ((OPERATE, operate_tokens), (APPROVE, approve_tokens), (READ, read_tokens)):
            for index, token in enumerate(tokens, start=1):
                value = token.reveal() if isinstance(token, Secret) else token
                if not isinstance(value, str):
                    raise TypeError("an API token is a str or a Secret")
                where = f"{scope} token #{index}"
                name, value = split_named(value, where)
                _check_token(value, where)
                if scope == APPROVE and name is None:
                    raise ConfigError(f"{where} has no name: write it name:token (e.g. alice:...), since the name is who "
                                      "signed off in the promotion record")
                register_secret(value)
                self._tokens.append((_digest(value), Grant(scope, name)))
        operate = {digest for digest, grant in self._tokens if grant.scope == OPERATE}
        if any(grant.scope == APPROVE and digest in operate for digest, grant in self._tokens):
            raise ConfigError("an approve token is also an operate token: approving a strategy and operating the service "
                              "are separate duties, give each its own token")

    @property
    def configured(self) -> bool:
        """Whether any token is configured (an instance without one lets nobody in)."""
        return bool(self._tokens)

    def __repr__(self) -> str:
        counts = {scope: sum(1 for _, grant in self._tokens if grant.scope == scope) for scope in (READ, OPERATE, APPROVE)}
        return f"ApiAuth(read_tokens={counts[READ]}, operate_tokens={counts[OPERATE]}, approve_tokens={counts[APPROVE]})"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ApiAuth:
        """Read the tokens from ``TRADEPULSE_API_READ_TOKEN`` / ``_OPERATE_TOKEN`` / ``_APPROVE_TOKEN``.

        Parameters
        ----------
        environ
            Where to read variables; ``os.environ`` by default (tests pass a dict).

        Raises
        ------
        ConfigError
            No read or operate token is configured, a variable and its ``_FILE`` twin are both set, a
            file cannot be read or is empty, or a token is malformed or too short.
        """
        env = os.environ if environ is None else environ
        found: dict[str, list[str]] = {}
        for variable in (READ_TOKEN_VARIABLE, OPERATE_TOKEN_VARIABLE, APPROVE_TOKEN_VARIABLE):
            raw = read_secret_variable(variable, env)
            tokens = [part.strip() for part in (raw or "").split(",") if part.strip()]
            for token in tokens:
                _check_token(split_named(token, variable)[1], variable)
            found[variable] = tokens
        if not found[READ_TOKEN_VARIABLE] and not found[OPERATE_TOKEN_VARIABLE]:
            raise ConfigError(
                f"no API token configured: set {READ_TOKEN_VARIABLE} and/or {OPERATE_TOKEN_VARIABLE} "
                f"(or their _FILE twins naming files that hold them), since the service refuses to serve "
                f"its API without authentication; {_GENERATE_HINT}"
            )
        return cls(read_tokens=found[READ_TOKEN_VARIABLE], operate_tokens=found[OPERATE_TOKEN_VARIABLE],
                   approve_tokens=found[APPROVE_TOKEN_VARIABLE])

    def replace_with(self, other: ApiAuth) -> None:
        """Take ``other``'s tokens in one step (a token reload): requests checked after this see only them."""
        if not other.configured:
            raise ConfigError("a token reload must leave at least one token configured")
        self._tokens = list(other._tokens)

    def counts(self) -> dict[str, int]:
        """How many tokens each scope has (never the tokens)."""
        return {scope: sum(1 for _, grant in self._tokens if grant.scope == scope) for scope in (READ, OPERATE, APPROVE)}

    def grant_of(self, token: str | None) -> Grant | None:
        """What ``token`` grants, or ``None`` (no token, or one that is not configured).

        Every configured token is compared, in constant time, whatever the outcome. A token
        configured as both read and operate grants operate (the wider scope).
        """
        if not token or not isinstance(token, str):
            return None
        digest = _digest(token)
        granted: Grant | None = None
        for stored, grant in self._tokens:
            if hmac.compare_digest(stored, digest) and (granted is None or granted.scope == READ):
                granted = grant
        return granted

    def scope_of(self, token: str | None) -> str | None:
        """``"operate"``, ``"approve"``, ``"read"`` or ``None`` (see :meth:`grant_of`)."""
        grant = self.grant_of(token)
        return grant.scope if grant else None


def _check_token(value: str, where: str) -> None:
    if len(value) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{where} is too short to be an API token (fewer than {MIN_TOKEN_LENGTH} characters); {_GENERATE_HINT}")
    if not _TOKEN_SYNTAX.fullmatch(value):
        raise ConfigError(
            f"{where} holds characters a bearer token cannot (only letters, digits and -._~+/ with trailing =); "
            f"{_GENERATE_HINT}"
        )
