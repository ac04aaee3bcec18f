"""Deterministic client order ids: ``<prefix>-<strategy>-<sequence>``.

The sequence number is global to one journal and is journaled with the order before the venue
sees the id, so after a restart the OMS continues from the highest journaled number and never
reuses an id (design decision 4: an id the venue may have seen must keep meaning that order).

Ids are at most 36 characters from ``[a-zA-Z0-9_-]``, which every venue TradePulse targets accepts
(Binance's ``newClientOrderId`` is the strictest). Because the sequence is the last ``-`` segment
and unique, two ids are equal only if their sequences are: truncating a long strategy id never
creates a collision.
"""

from __future__ import annotations

import re

from tradepulse.errors import ConfigError

MAX_CLIENT_ORDER_ID_LENGTH = 36
CLIENT_ORDER_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")
DEFAULT_PREFIX = "tp"
_PREFIX_PATTERN = re.compile(r"^[a-zA-Z0-9_]{1,8}$")
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]")


def sanitize_strategy_id(strategy: str) -> str:
    """Replace every character a venue would refuse with ``_`` (``"mom/btc v2"`` -> ``"mom_btc_v2"``)."""
    return _NOT_ALLOWED.sub("_", strategy)


def make_client_order_id(strategy: str, sequence: int, prefix: str = DEFAULT_PREFIX) -> str:
    """Build the client order id for ``sequence``, shortening the strategy part to fit 36 characters.

    Examples
    --------
    >>> make_client_order_id("momentum", 42)
    'tp-momentum-42'
    """
    if not _PREFIX_PATTERN.match(prefix):
        raise ConfigError(f"client order id prefix {prefix!r} must be 1-8 characters from [a-zA-Z0-9_]")
    if sequence < 1:
        raise ValueError(f"client order id sequence must be >= 1 (got {sequence})")
    tail = f"-{sequence}"
    room = MAX_CLIENT_ORDER_ID_LENGTH - len(prefix) - 1 - len(tail)
    if room < 1:
        raise ConfigError(f"client order id sequence {sequence} is too long to fit {MAX_CLIENT_ORDER_ID_LENGTH} characters")
    strategy_part = sanitize_strategy_id(strategy)[:room] or "s"
    return f"{prefix}-{strategy_part}{tail}"


def is_valid_client_order_id(client_order_id: str) -> bool:
    """Return whether ``client_order_id`` fits the venue-safe charset and length."""
    return bool(CLIENT_ORDER_ID_PATTERN.match(client_order_id))


class ClientOrderIds:
    """The id sequence of one OMS: hands out the next id and learns journaled ones on replay.

    Parameters
    ----------
    prefix
        Leading segment of every id. Services that share one venue account must use different
        prefixes, because each numbers its orders from 1.
    last_sequence
        The highest sequence number already used (0 for a new journal).
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX, last_sequence: int = 0) -> None:
        make_client_order_id("x", 1, prefix)  # validates the prefix up front
        self.prefix = prefix
        self._last_sequence = last_sequence

    @property
    def last_sequence(self) -> int:
        """The highest sequence number handed out or observed."""
        return self._last_sequence

    def peek(self, strategy: str) -> tuple[int, str]:
        """Return the next ``(sequence, client_order_id)`` without consuming it."""
        sequence = self._last_sequence + 1
        return sequence, make_client_order_id(strategy, sequence, self.prefix)

    def observe(self, sequence: int) -> None:
        """Record that ``sequence`` is used (journaled), so it is never handed out again."""
        self._last_sequence = max(self._last_sequence, sequence)
