"""Client orders and fills, and the JSON shapes Binance uses for them (REST answers, executionReport).

Amounts are exact decimals; every JSON view prints them with eight decimals like Binance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradepulse.emulator.accounts import Account
from tradepulse.emulator.decimals import ZERO, fmt8

__all__ = ["Fill", "Order", "OPEN_STATUSES", "cancel_json", "execution_report", "new_order_json", "order_json",
           "trade_json"]

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(frozen=True)
class Fill:
    """One execution of one order (a client-vs-client match makes one fill per side, same trade id)."""

    trade_id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass
class Order:
    """A client order and its execution state."""

    order_id: int
    symbol: str
    account: Account
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    stp_mode: str
    time_ms: int
    executed_qty: Decimal = ZERO
    cumm_quote_qty: Decimal = ZERO
    status: str = "NEW"
    update_time_ms: int = 0
    working_time_ms: int = -1
    # Funds still locked for this order (quote for a buy, base for a sell).
    locked_remaining: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)
    cancel_client_order_id: str = ""

    @property
    def remaining_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def record_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.executed_qty += fill.qty
        self.cumm_quote_qty += fill.quote_qty
        self.update_time_ms = fill.time_ms
        self.status = "FILLED" if self.executed_qty >= self.orig_qty > 0 else "PARTIALLY_FILLED"


def _price_text(order: Order) -> str:
    return fmt8(order.price)


def order_json(order: Order) -> dict[str, Any]:
    """Return the order as ``GET /api/v3/order`` shows it."""
    return {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1, "clientOrderId": order.client_order_id,
        "price": _price_text(order), "origQty": fmt8(order.orig_qty), "executedQty": fmt8(order.executed_qty),
        "cummulativeQuoteQty": fmt8(order.cumm_quote_qty), "status": order.status,
        "timeInForce": order.time_in_force, "type": order.type, "side": order.side, "stopPrice": fmt8(ZERO),
        "icebergQty": fmt8(ZERO), "time": order.time_ms, "updateTime": order.update_time_ms,
        "isWorking": order.working_time_ms >= 0, "workingTime": order.working_time_ms,
        "origQuoteOrderQty": fmt8(order.orig_quote_qty), "selfTradePreventionMode": order.stp_mode,
    }


def new_order_json(order: Order, response_type: str, fills: list[Fill]) -> dict[str, Any]:
    """Return the ``POST /api/v3/order`` answer for ``newOrderRespType`` ACK, RESULT or FULL."""
    body: dict[str, Any] = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
                            "clientOrderId": order.client_order_id, "transactTime": order.time_ms}
    if response_type == "ACK":
        return body
    body.update({
        "price": _price_text(order), "origQty": fmt8(order.orig_qty), "executedQty": fmt8(order.executed_qty),
        "origQuoteOrderQty": fmt8(order.orig_quote_qty), "cummulativeQuoteQty": fmt8(order.cumm_quote_qty),
        "status": order.status, "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "workingTime": order.working_time_ms, "selfTradePreventionMode": order.stp_mode,
    })
    if response_type == "FULL":
        body["fills"] = [{"price": fmt8(f.price), "qty": fmt8(f.qty), "commission": fmt8(f.commission),
                          "commissionAsset": f.commission_asset, "tradeId": f.trade_id} for f in fills]
    return body


def cancel_json(order: Order, transact_ms: int) -> dict[str, Any]:
    """Return the ``DELETE /api/v3/order`` answer."""
    return {
        "symbol": order.symbol, "origClientOrderId": order.client_order_id, "orderId": order.order_id,
        "orderListId": -1, "clientOrderId": order.cancel_client_order_id, "transactTime": transact_ms,
        "price": _price_text(order), "origQty": fmt8(order.orig_qty), "executedQty": fmt8(order.executed_qty),
        "origQuoteOrderQty": fmt8(order.orig_quote_qty), "cummulativeQuoteQty": fmt8(order.cumm_quote_qty),
        "status": order.status, "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "selfTradePreventionMode": order.stp_mode,
    }


def trade_json(fill: Fill) -> dict[str, Any]:
    """Return the fill as ``GET /api/v3/myTrades`` shows it."""
    return {
        "symbol": fill.symbol, "id": fill.trade_id, "orderId": fill.order_id, "orderListId": -1,
        "price": fmt8(fill.price), "qty": fmt8(fill.qty), "quoteQty": fmt8(fill.quote_qty),
        "commission": fmt8(fill.commission), "commissionAsset": fill.commission_asset, "time": fill.time_ms,
        "isBuyer": fill.is_buyer, "isMaker": fill.is_maker, "isBestMatch": True,
    }


def execution_report(order: Order, execution_type: str, event_ms: int, fill: Fill | None = None) -> dict[str, Any]:
    """Return the ``executionReport`` user-data event for one change of ``order``."""
    canceled = execution_type == "CANCELED"
    return {
        "e": "executionReport", "E": event_ms, "s": order.symbol,
        "c": order.cancel_client_order_id if canceled else order.client_order_id,
        "S": order.side, "o": order.type, "f": order.time_in_force, "q": fmt8(order.orig_qty),
        "p": _price_text(order), "P": fmt8(ZERO), "F": fmt8(ZERO), "g": -1,
        "C": order.client_order_id if canceled else "", "x": execution_type, "X": order.status, "r": "NONE",
        "i": order.order_id, "l": fmt8(fill.qty if fill else ZERO), "z": fmt8(order.executed_qty),
        "L": fmt8(fill.price if fill else ZERO), "n": fmt8(fill.commission if fill else ZERO),
        "N": fill.commission_asset if fill else None, "T": fill.time_ms if fill else event_ms,
        "t": fill.trade_id if fill else -1, "I": 0, "w": order.is_open and order.working_time_ms >= 0,
        "m": fill.is_maker if fill else False, "M": False, "O": order.time_ms, "Z": fmt8(order.cumm_quote_qty),
        "Y": fmt8(fill.quote_qty if fill else ZERO), "Q": fmt8(order.orig_quote_qty),
        "W": order.working_time_ms, "V": order.stp_mode,
    }
