"""How a venue is set up: listen address, replay speed, accounts, fees, limits and faults.

:class:`VenueConfig` is frozen and validated once; bad values raise :class:`ConfigError` with a
sentence saying what to change, so the command line can print one line and exit 2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tradepulse.emulator.accounts import BNB_DISCOUNT, FeePayment
from tradepulse.emulator.decimals import to_decimal
from tradepulse.emulator.faults import FaultSettings
from tradepulse.errors import ConfigError

__all__ = ["AccountSpec", "DEFAULT_BALANCES", "DEFAULT_FEE_ASSET_PRICES", "VenueConfig", "fee_asset_problem"]

#: Starting balances of an account created without explicit ones.
DEFAULT_BALANCES: dict[str, str] = {"USDT": "10000", "BTC": "0.5", "ETH": "5"}

#: USDT price of a fee-asset market the venue lists without being given one: a round figure of the
#: order of BNB's price in August 2024 (the recordings' dates), not a recorded price.
DEFAULT_FEE_ASSET_PRICES: dict[str, Decimal] = {"BNB": Decimal("560")}


@dataclass(frozen=True)
class AccountSpec:
    """One trading account: its API key, HMAC secret, starting balances and how it pays commissions.

    The secret is kept out of ``repr`` so a logged config never shows it.

    Parameters
    ----------
    fee_asset
        Pay commissions in this asset while the account holds enough of it (Binance's "use BNB to
        pay for fees"); ``None`` pays the usual way. It is valued at the venue's price for it: a
        replayed market's last trade (ETH), or the fixed price of its listed market (BNB, see
        ``VenueConfig.fee_asset_prices``). See :class:`~tradepulse.emulator.accounts.FeePayment`.
    fee_asset_discount
        Fraction off commissions paid in ``fee_asset`` (Binance: 0.25 with BNB).
    """

    api_key: str
    api_secret: str = field(repr=False)
    balances: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    fee_asset: str | None = None
    fee_asset_discount: str = str(BNB_DISCOUNT)

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_key.isprintable() or " " in self.api_key:
            raise ConfigError("the venue API key must be a non-empty string without spaces")
        if not self.api_secret:
            raise ConfigError("the venue API secret must not be empty")
        for asset, amount in self.balances.items():
            try:
                value = to_decimal(amount)
            except ValueError:
                raise ConfigError(f"balance of {asset} must be a number, got {amount!r}") from None
            if value < 0:
                raise ConfigError(f"balance of {asset} must not be negative, got {amount}")
        self.fee_payment  # noqa: B018 - validates the fee options now, not at the first fill

    @property
    def fee_payment(self) -> FeePayment:
        """The fee options as the matching engine reads them."""
        if self.fee_asset is None:
            return FeePayment()
        asset = self.fee_asset
        if not (asset.isascii() and asset.isalnum() and asset.isupper() and 2 <= len(asset) <= 12):
            raise ConfigError(f"the fee asset must be an asset code such as BNB, got {asset!r}")
        try:
            discount = to_decimal(self.fee_asset_discount)
        except ValueError:
            discount = Decimal(-1)
        if not Decimal(0) <= discount < 1:
            raise ConfigError(f"the fee asset discount must be a fraction from 0 up to (not including) 1, got {self.fee_asset_discount!r}")
        return FeePayment(asset, discount)


def fee_asset_problem(spec: AccountSpec, symbols: tuple[str, ...], fee_asset_prices: Mapping[str, Decimal]) -> str | None:
    """Why the venue cannot value ``spec``'s fee asset (``None``: it can).

    It can when it replays the asset's market (``symbols``) or lists it at a fixed price
    (``fee_asset_prices``): the price a commission is charged at is then one a client can read.
    """
    from tradepulse.emulator.symbols import SYMBOLS

    asset = spec.fee_payment.asset
    if asset is None or asset in fee_asset_prices:
        return None
    if any(SYMBOLS[symbol].base_asset == asset for symbol in symbols if symbol in SYMBOLS):
        return None
    return (f"the venue has no {asset}USDT market to value fee asset {asset} of account {spec.api_key}: "
            f"it replays {', '.join(symbols)} and lists BNBUSDT only when started with a BNB price "
            "(fee_asset_prices, --fee-asset-price) or a BNB-paying account")


def _fee_asset_prices(given: Mapping[str, object], symbols: tuple[str, ...],
                      accounts: tuple[AccountSpec, ...]) -> dict[str, Decimal]:
    """The fee-asset markets to list: those ``given``, plus BNB at its default price for a BNB-paying account."""
    from tradepulse.emulator.symbols import FEE_ASSET_SYMBOLS, SYMBOLS

    prices: dict[str, Decimal] = {}
    replayed = {SYMBOLS[symbol].base_asset for symbol in symbols if symbol in SYMBOLS}
    for asset, raw in given.items():
        spec = FEE_ASSET_SYMBOLS.get(asset)
        if spec is None or asset in replayed:
            why = "it is replayed, at its recorded prices" if asset in replayed else "no such market is known"
            raise ConfigError(f"the venue lists a fixed-price market only for {', '.join(FEE_ASSET_SYMBOLS)}; "
                              f"not for {asset} ({why})")
        try:
            price = to_decimal(raw)  # type: ignore[arg-type]
        except ValueError:
            price = Decimal(-1)
        # One tick of room on each side for the static book's bid and ask.
        low, high = spec.min_price + spec.tick_size, spec.max_price - spec.tick_size
        if not (low <= price <= high and price % spec.tick_size == 0):
            raise ConfigError(f"the {asset} price must be between {low} and {high} USDT in steps of "
                              f"{spec.tick_size} ({spec.symbol}'s tick), got {raw!r}")
        prices[asset] = price
    for account in accounts:
        asset = account.fee_payment.asset
        # Binance always lists BNBUSDT; a BNB payer without a price gets it at the documented default.
        if asset in DEFAULT_FEE_ASSET_PRICES and asset not in prices and asset not in replayed:
            prices[asset] = DEFAULT_FEE_ASSET_PRICES[asset]
    return prices


@dataclass(frozen=True)
class VenueConfig:
    """Everything a venue needs to start.

    Parameters
    ----------
    host, port
        Listen address; port 0 picks a free port (the default, so parallel tests never clash).
    speed
        Replay speed: 1 is real time, 10 replays ten recorded seconds per wall second.
    start_offset_s
        Seconds of recording replayed silently before the venue opens, so klines, the 24h ticker
        and the book have history at the first request.
    accounts
        Accounts known to the venue; private endpoints answer ``-2015`` for any other key.
    maker_fee, taker_fee
        Commission rates as fractions (0.001 is 0.1 %). A negative maker fee is a rebate paid to
        makers; it may not exceed the taker fee.
    weight_limit_per_minute
        REQUEST_WEIGHT limit per IP and minute (Binance: 6000).
    orders_per_10s
        New-order limit per account and 10 seconds (Binance: 100).
    ban_seconds
        First IP ban length after a client ignores a 429; each repeat ban doubles it (cap 3 days).
    faults
        Initial fault settings (also changeable at run time through the control API).
    seed
        Seed of the random fault decisions, so a test run is repeatable.
    symbols
        Symbols to replay (a subset of BTCUSDT, ETHUSDT).
    fee_asset_prices
        Fee assets to list a market of at a fixed USDT price, e.g. ``{"BNB": Decimal("560")}``
        lists BNBUSDT at 560 (see :mod:`tradepulse.emulator.fee_markets`; BNB is the only one known).
        Default: none, except that an account paying fees in BNB lists it at
        :data:`DEFAULT_FEE_ASSET_PRICES` (560 USDT). The recordings have no BNB ticks for their
        dates, so this price is a constant, and commissions paid in BNB are charged at it.
    recordings_dir
        Folder with the ``binance_spot_*_stream.jsonl.gz`` files; None uses the package copy.
    ws_heartbeat_s
        Interval of the server's WebSocket ping frames (Binance pings every 20 s); 0 disables them.
    """

    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0
    start_offset_s: float = 300.0
    accounts: tuple[AccountSpec, ...] = ()
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    weight_limit_per_minute: int = 6000
    orders_per_10s: int = 100
    ban_seconds: float = 120.0
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int = 0
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    fee_asset_prices: Mapping[str, Decimal] = field(default_factory=dict)
    recordings_dir: Path | None = None
    ws_heartbeat_s: float = 20.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {self.port}")
        if not (math.isfinite(self.speed) and 0.01 <= self.speed <= 1000):
            raise ConfigError(f"speed must be between 0.01 and 1000, got {self.speed}")
        if not (math.isfinite(self.start_offset_s) and self.start_offset_s >= 0):
            raise ConfigError(f"start offset must be zero or more seconds, got {self.start_offset_s}")
        for name in ("maker_fee", "taker_fee"):
            value = Decimal(getattr(self, name))
            # Only a maker may earn: a rebate is a negative maker fee.
            low = -Decimal("0.1") if name == "maker_fee" else Decimal(0)
            if not value.is_finite() or not low <= value < Decimal("0.1"):
                raise ConfigError(f"{name.replace('_', ' ')} must be a fraction between {low} and 0.1, got {value}")
            object.__setattr__(self, name, value)
        if self.maker_fee < -self.taker_fee:
            # The venue would pay a maker more than it takes from the taker of the same trade.
            raise ConfigError(f"a maker fee rebate ({self.maker_fee}) may not exceed the taker fee ({self.taker_fee})")
        if self.weight_limit_per_minute < 1:
            raise ConfigError("the request weight limit must be at least 1 per minute")
        if self.orders_per_10s < 1:
            raise ConfigError("the order rate limit must be at least 1 per 10 seconds")
        if not self.ban_seconds > 0:
            raise ConfigError("the ban length must be more than 0 seconds")
        if self.ws_heartbeat_s < 0:
            raise ConfigError("the WebSocket heartbeat must be 0 (off) or more seconds")
        from tradepulse.emulator.symbols import SYMBOLS

        if not self.symbols:
            raise ConfigError("the venue needs at least one symbol")
        unknown = [s for s in self.symbols if s not in SYMBOLS]
        if unknown:
            raise ConfigError(f"no recording for {', '.join(unknown)}; available: {', '.join(SYMBOLS)}")
        keys = [a.api_key for a in self.accounts]
        if len(keys) != len(set(keys)):
            raise ConfigError("two accounts share one API key")
        prices = _fee_asset_prices(self.fee_asset_prices, self.symbols, self.accounts)
        object.__setattr__(self, "fee_asset_prices", prices)
        for account in self.accounts:
            problem = fee_asset_problem(account, self.symbols, prices)
            if problem:
                raise ConfigError(problem)
