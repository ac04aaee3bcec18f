"""Binance's error answers: ``{"code": <int>, "msg": "<text>"}`` with the HTTP status Binance uses.

Handlers raise :class:`ApiError`; the REST middleware and the WebSocket API turn it into Binance's
error body. The messages are Binance's own wording, because ccxt matches some of them exactly
(``"Account has insufficient balance for requested action."`` becomes ``InsufficientFunds``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError"]


class ApiError(Exception):
    """An error answer in Binance's format.

    Parameters
    ----------
    code
        Binance's negative error code, e.g. ``-1013``.
    msg
        The message text, worded as Binance words it.
    status
        HTTP status of the REST answer (400 for most request errors).
    headers
        Extra response headers, e.g. ``Retry-After`` on 429/418.
    """

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """Return the JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}

    # Constructors for the errors the venue raises in more than one place; the names are Binance's.

    @classmethod
    def unknown(cls, msg: str = "An unknown error occurred while processing the request.") -> ApiError:
        return cls(-1000, msg)

    @classmethod
    def mandatory(cls, name: str) -> ApiError:
        return cls(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")

    @classmethod
    def illegal(cls, name: str, legal: str) -> ApiError:
        return cls(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")

    @classmethod
    def bad_symbol(cls) -> ApiError:
        return cls(-1121, "Invalid symbol.")

    @classmethod
    def filter_failure(cls, name: str) -> ApiError:
        return cls(-1013, f"Filter failure: {name}")

    @classmethod
    def insufficient_balance(cls) -> ApiError:
        return cls(-2010, "Account has insufficient balance for requested action.")

    @classmethod
    def would_take(cls) -> ApiError:
        return cls(-2010, "Order would immediately match and take.")

    @classmethod
    def market_closed(cls) -> ApiError:
        # Binance's errors list puts this matching-engine message under -2010 NEW_ORDER_REJECTED.
        return cls(-2010, "Market is closed.")

    @classmethod
    def duplicate_order(cls) -> ApiError:
        return cls(-2010, "Duplicate order sent.")

    @classmethod
    def unknown_order_cancel(cls) -> ApiError:
        return cls(-2011, "Unknown order sent.")

    @classmethod
    def order_does_not_exist(cls) -> ApiError:
        return cls(-2013, "Order does not exist.")

    @classmethod
    def bad_api_key(cls) -> ApiError:
        return cls(-2015, "Invalid API-key, IP, or permissions for action.", status=401)

    @classmethod
    def api_key_format(cls) -> ApiError:
        return cls(-2014, "API-key format invalid.", status=401)

    @classmethod
    def bad_signature(cls) -> ApiError:
        return cls(-1022, "Signature for this request is not valid.")

    @classmethod
    def outside_recv_window(cls) -> ApiError:
        return cls(-1021, "Timestamp for this request is outside of the recvWindow.")

    @classmethod
    def ahead_of_server(cls) -> ApiError:
        return cls(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
