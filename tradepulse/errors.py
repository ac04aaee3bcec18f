"""The TradePulse error tree.

Every error a user can cause derives from :class:`TradePulseError`; the command line turns one
into a single clear line and exit code 2. Messages say what went wrong and what to do about it.
"""

from __future__ import annotations


class TradePulseError(Exception):
    """Base class of every error TradePulse raises on purpose."""


class ConfigError(TradePulseError):
    """A configuration value, parameter or command-line argument is invalid."""


class DataError(TradePulseError):
    """Market data is missing, unreadable or fails a content check."""


class StrategyError(TradePulseError):
    """A strategy cannot be found, loaded or evaluated with the given parameters."""


class VenueError(TradePulseError):
    """A trading venue refused or failed a request."""


class TemporaryVenueError(VenueError):
    """A venue failure that is safe to retry with backoff."""


class RateLimited(TemporaryVenueError):
    """The venue asked the client to slow down."""


class AuthenticationFailed(VenueError):
    """The venue rejected the credentials."""


class InsufficientFunds(VenueError):
    """The account cannot fund the order."""


class OrderRejected(VenueError):
    """The venue rejected an order."""


class OrderNotFound(VenueError):
    """The venue does not know the order."""
