"""The venue's instruments: Binance's real spot filters for BTCUSDT and ETHUSDT, and the checks they imply.

Filter values are those Binance published for these symbols in August 2024 (the recordings' dates):
tick size 0.01 for both, lot step 0.00001 BTC / 0.0001 ETH, minimum notional 5 USDT. The emulator
enforces PRICE_FILTER, PERCENT_PRICE_BY_SIDE, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL and MAX_NUM_ORDERS
with Binance's ``-1013 Filter failure: <NAME>`` answers; the other filters are listed for fidelity.

:data:`FEE_ASSET_SYMBOLS` holds the markets the venue can list for a fee asset without replaying
them (BNBUSDT, see :mod:`tradepulse.emulator.fee_markets`). BNBUSDT's tick (0.01), lot step and
minimum (0.001 BNB) and minimum notional (5 USDT) are Binance's; its maximums (price 100,000,
quantity 9,000, market quantity 1,000) are round figures of the same order as Binance's, not taken
from a listing of the recordings' dates. It is listed with status ``BREAK`` (``trading=False``):
nothing trades there, so only its prices matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradepulse.emulator.decimals import ZERO, fmt8, is_multiple
from tradepulse.emulator.errors import ApiError

__all__ = ["FEE_ASSET_SYMBOLS", "SUPPORTED_ORDER_TYPES", "SymbolSpec", "SYMBOLS", "check_order_filters",
           "exchange_info_symbol"]

#: The order types the matching engine implements; exchangeInfo advertises exactly these.
SUPPORTED_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")


@dataclass(frozen=True)
class SymbolSpec:
    """One spot instrument and its Binance filters."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal
    max_num_orders: int = 200
    percent_up: Decimal = Decimal(5)
    percent_down: Decimal = Decimal("0.2")
    # False lists the symbol with Binance's status BREAK: visible, priced, not accepting orders.
    trading: bool = True

    @property
    def stream_name(self) -> str:
        return self.symbol.lower()


SYMBOLS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec(
        symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT",
        tick_size=Decimal("0.01"), min_price=Decimal("0.01"), max_price=Decimal("1000000"),
        step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"), max_qty=Decimal("9000"),
        market_max_qty=Decimal("83.91406750"),
        min_notional=Decimal(5), max_notional=Decimal("9000000"),
    ),
    "ETHUSDT": SymbolSpec(
        symbol="ETHUSDT", base_asset="ETH", quote_asset="USDT",
        tick_size=Decimal("0.01"), min_price=Decimal("0.01"), max_price=Decimal("1000000"),
        step_size=Decimal("0.0001"), min_qty=Decimal("0.0001"), max_qty=Decimal("9000"),
        market_max_qty=Decimal("2217.64018750"),
        min_notional=Decimal(5), max_notional=Decimal("9000000"),
    ),
}

#: Markets listed for a fee asset at a configured price, by asset (see the module docstring).
FEE_ASSET_SYMBOLS: dict[str, SymbolSpec] = {
    "BNB": SymbolSpec(
        symbol="BNBUSDT", base_asset="BNB", quote_asset="USDT",
        tick_size=Decimal("0.01"), min_price=Decimal("0.01"), max_price=Decimal("100000"),
        step_size=Decimal("0.001"), min_qty=Decimal("0.001"), max_qty=Decimal("9000"),
        market_max_qty=Decimal("1000"),
        min_notional=Decimal(5), max_notional=Decimal("9000000"), trading=False,
    ),
}


def exchange_info_symbol(spec: SymbolSpec) -> dict[str, Any]:
    """Return the ``exchangeInfo`` entry for ``spec``, field for field as Binance sends it."""
    return {
        "symbol": spec.symbol,
        "status": "TRADING" if spec.trading else "BREAK",
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(SUPPORTED_ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        # The venue has no margin account; saying so keeps ccxt from offering margin modes.
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt8(spec.min_price), "maxPrice": fmt8(spec.max_price),
             "tickSize": fmt8(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt8(spec.min_qty), "maxQty": fmt8(spec.max_qty),
             "stepSize": fmt8(spec.step_size)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt8(ZERO), "maxQty": fmt8(spec.market_max_qty),
             "stepSize": fmt8(ZERO)},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": str(spec.percent_up),
             "bidMultiplierDown": str(spec.percent_down), "askMultiplierUp": str(spec.percent_up),
             "askMultiplierDown": str(spec.percent_down), "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": fmt8(spec.min_notional), "applyMinToMarket": True,
             "maxNotional": fmt8(spec.max_notional), "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": list(STP_MODES),
    }


def check_order_filters(
    spec: SymbolSpec,
    *,
    order_type: str,
    side: str,
    price: Decimal | None,
    quantity: Decimal | None,
    quote_order_qty: Decimal | None,
    avg_price: Decimal | None,
    open_orders: int,
) -> None:
    """Raise Binance's ``-1013`` filter failure if the order breaks one of the symbol's filters.

    ``avg_price`` is the symbol's recent average price (the 5-minute average Binance uses for
    PERCENT_PRICE_BY_SIDE and market-order NOTIONAL); None skips those checks.
    """
    if price is not None:
        if price < spec.min_price or price > spec.max_price or not is_multiple(price, spec.tick_size):
            raise ApiError.filter_failure("PRICE_FILTER")
        if avg_price is not None and avg_price > 0:
            if price > avg_price * spec.percent_up or price < avg_price * spec.percent_down:
                raise ApiError.filter_failure("PERCENT_PRICE_BY_SIDE")
    if quantity is not None:
        if quantity < spec.min_qty or quantity > spec.max_qty or not is_multiple(quantity, spec.step_size):
            raise ApiError.filter_failure("LOT_SIZE")
        if order_type == "MARKET" and quantity > spec.market_max_qty:
            raise ApiError.filter_failure("MARKET_LOT_SIZE")
    notional: Decimal | None = None
    if order_type == "MARKET":
        if quote_order_qty is not None:
            notional = quote_order_qty
        elif quantity is not None and avg_price is not None:
            notional = quantity * avg_price
        if notional is not None and notional < spec.min_notional:
            raise ApiError.filter_failure("NOTIONAL")
    elif price is not None and quantity is not None:
        notional = price * quantity
        if notional < spec.min_notional or notional > spec.max_notional:
            raise ApiError.filter_failure("NOTIONAL")
    if open_orders >= spec.max_num_orders and order_type != "MARKET":
        raise ApiError.filter_failure("MAX_NUM_ORDERS")
