"""What an engine needs to trade at one venue, and the table of factories that build it from config.

A factory per venue kind (``adapters/paper/factory.py``, ``adapters/ccxt/factory.py``) turns the
``[venue]`` settings and one strategy's market into a :class:`VenueKit`. Callers (the service)
ask :func:`build_venue_kit` and never branch on the kind: what differs between kinds — whether
the venue outlives the process, where capital comes from by default, how much cash sizing keeps
back — is on the kit.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.model.clock import EngineClock
from tradepulse.model.costs import Costs
from tradepulse.model.venue import Venue

__all__ = ["VENUE_KINDS", "MarketRequest", "VenueKit", "VenueSettings", "build_venue_kit"]

# Kind -> module whose ``build_kit`` builds it; imported on use so a paper service never loads ccxt.
_FACTORIES = {"paper": "tradepulse.adapters.paper.factory", "ccxt": "tradepulse.adapters.ccxt.factory"}
VENUE_KINDS = tuple(_FACTORIES)


@dataclass(frozen=True)
class VenueSettings:
    """``[venue]``: the paper venue (in process, replayed data) or an exchange through ccxt."""

    kind: str = "paper"
    exchange: str = "binance"
    init_cash: Decimal = Decimal(10_000)
    fees_bps: Decimal = Decimal(10)
    latency_ms: float = 0.0
    allow_short: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MarketRequest:
    """The market one strategy trades: its symbol (or a portfolio's), where its data comes from, its bar length.

    A portfolio strategy names every member in ``symbols`` (``symbol`` is the first) and, on a paper
    venue, one replay source per member in ``feeds``; its kit holds one venue listing every member
    and one feed delivering all of their market data.
    """

    symbol: str
    feed: str = "venue"
    bar: timedelta = timedelta(minutes=1)
    speed: float | None = None
    cash_reserve_fraction: Decimal = Decimal("0.01")
    symbols: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()

    @property
    def members(self) -> tuple[str, ...]:
        """Every symbol traded: ``symbols``, or just ``symbol``."""
        return self.symbols or (self.symbol,)

    @property
    def member_feeds(self) -> tuple[str, ...]:
        """One data source per member (``feeds``, or ``feed`` for the one symbol)."""
        return self.feeds or (self.feed,)


@dataclass
class VenueKit:
    """A venue, its market-data feed, the costs sizing assumes and the engine's clock, built together.

    Attributes
    ----------
    bar_period
        Bar length to cut trades into; ``None`` when the feed delivers bars itself.
    persistent
        Whether the venue outlives this process (an exchange does; the paper venue does not, so a
        paper service always starts cold and keeps the old journal aside).
    default_capital
        The capital when the strategy names none (``None``: the venue's free quote balance).
    cash_reserve_fraction
        Share of the cash buys never spend (headroom for fills that walk thin books).
    """

    venue: Venue
    feed: Any
    costs: Costs
    clock: EngineClock
    bar_period: timedelta | None
    persistent: bool
    default_capital: Decimal | None
    cash_reserve_fraction: Decimal


def build_venue_kit(settings: VenueSettings, market: MarketRequest, environ: Mapping[str, str]) -> VenueKit:
    """Build the kit for ``market`` at the venue ``settings`` describe (credentials from ``environ``)."""
    module = _FACTORIES.get(settings.kind)
    if module is None:
        raise ConfigError(f"venue kind {settings.kind!r} is not one of {', '.join(VENUE_KINDS)}")
    kit: VenueKit = importlib.import_module(module).build_kit(settings, market, environ)
    return kit
