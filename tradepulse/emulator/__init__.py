"""A local Binance-spot venue replaying real recorded market data, for tests and rehearsals.

ccxt's real ``binance`` classes (REST and ccxt.pro WebSocket) work against it unchanged: point their
URLs at :meth:`VenueEndpoints.ccxt_config`. The venue replays the recorded BTCUSDT and ETHUSDT
streams (trades, book ticker, depth diffs) in a seamless loop, matches client orders against the
replayed book, and can inject faults (dropped sockets, 5xx, rate-limit bans, latency, lost order
answers, clock skew). See docs/emulator.md.

Examples
--------
>>> from tradepulse.emulator import AccountSpec, VenueThread
>>> with VenueThread(accounts=(AccountSpec("key", "secret"),)) as venue:  # doctest: +SKIP
...     exchange = ccxt.pro.binance(venue.endpoints.ccxt_config("key", "secret"))
"""

from tradepulse.emulator.accounts import FeePayment
from tradepulse.emulator.config import DEFAULT_BALANCES, DEFAULT_FEE_ASSET_PRICES, AccountSpec, VenueConfig
from tradepulse.emulator.faults import FaultSettings, parse_fault_flags
from tradepulse.emulator.server import VenueEndpoints, VenueServer, VenueThread

__all__ = [
    "DEFAULT_BALANCES",
    "DEFAULT_FEE_ASSET_PRICES",
    "AccountSpec",
    "FaultSettings",
    "FeePayment",
    "VenueConfig",
    "VenueEndpoints",
    "VenueServer",
    "VenueThread",
    "parse_fault_flags",
]
