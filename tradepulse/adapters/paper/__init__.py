"""The paper venue: a simulated venue in the engine's process, and the replay feeds it trades on.

The venue protocol and its update types live in :mod:`tradepulse.model.venue` (re-exported here);
the fill rules in :mod:`tradepulse.sim`. ``docs/live.md`` describes the paper venue's fill model.
"""

from tradepulse.adapters.paper.venue import PaperVenue
from tradepulse.model.venue import Balance, OrderUpdate, UpdateStream, Venue, VenueFill, VenueOrderStatus, VenueUpdate
from tradepulse.sim.market import FeeSchedule, LatencyModel, MarketState, slippage_fraction

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
