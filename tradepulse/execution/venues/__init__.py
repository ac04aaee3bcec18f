"""Venues: the protocol every execution venue implements, and the paper venue.

See :mod:`tradepulse.execution.venues.base` for the protocol and ``docs/live.md`` for the paper
venue's fill model.
"""

from tradepulse.execution.venues.base import (
    Balance,
    OrderUpdate,
    UpdateStream,
    Venue,
    VenueFill,
    VenueOrderStatus,
    VenueUpdate,
)
from tradepulse.execution.venues.paper import PaperVenue
from tradepulse.execution.venues.paper_market import FeeSchedule, LatencyModel, MarketState, slippage_fraction

__all__ = [
    "Balance",
    "FeeSchedule",
    "LatencyModel",
    "MarketState",
    "OrderUpdate",
    "PaperVenue",
    "UpdateStream",
    "Venue",
    "VenueFill",
    "VenueOrderStatus",
    "VenueUpdate",
    "slippage_fraction",
]
