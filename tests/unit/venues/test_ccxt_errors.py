"""ccxt exceptions are translated once, by one table, into TradePulse's error tree."""

from __future__ import annotations

import asyncio

import aiohttp
import ccxt
import pytest

from tradepulse.errors import (
    AuthenticationFailed,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    TemporaryVenueError,
    VenueError,
)
from tradepulse.adapters.ccxt.errors import (
    OrderAuthenticationFailed,
    OrderRateLimited,
    ccxt_cause,
    is_clock_skew,
    is_definite_refusal,
    translate_ccxt_error,
)

SECRET = "s3cr3t-api-secret-value"
KEY = "pub-api-key-123456"

TABLE = [
    (ccxt.RateLimitExceeded, RateLimited),
    (ccxt.DDoSProtection, RateLimited),
    (ccxt.InvalidNonce, TemporaryVenueError),
    (ccxt.ChecksumError, TemporaryVenueError),
    (ccxt.RequestTimeout, TemporaryVenueError),
    (ccxt.ExchangeNotAvailable, TemporaryVenueError),
    (ccxt.OnMaintenance, TemporaryVenueError),
    (ccxt.NetworkError, TemporaryVenueError),
    (ccxt.BadResponse, TemporaryVenueError),
    (ccxt.NullResponse, TemporaryVenueError),
    (ccxt.CancelPending, TemporaryVenueError),
    (ccxt.AuthenticationError, AuthenticationFailed),
    (ccxt.PermissionDenied, AuthenticationFailed),
    (ccxt.AccountSuspended, AuthenticationFailed),
    (ccxt.AccountNotEnabled, AuthenticationFailed),
    (ccxt.InsufficientFunds, InsufficientFunds),
    (ccxt.OrderNotFound, OrderNotFound),
    (ccxt.OrderNotCached, OrderNotFound),
    (ccxt.InvalidOrder, OrderRejected),
    (ccxt.DuplicateOrderId, OrderRejected),
    (ccxt.OrderImmediatelyFillable, OrderRejected),
    (ccxt.OrderNotFillable, OrderRejected),
    (ccxt.BadRequest, VenueError),
    (ccxt.BadSymbol, VenueError),
    (ccxt.NotSupported, VenueError),
    (ccxt.ExchangeError, VenueError),
]


@pytest.mark.parametrize(("ccxt_class", "expected"), TABLE, ids=[c.__name__ for c, _ in TABLE])
def test_every_ccxt_exception_maps_to_exactly_the_documented_tradepulse_class(ccxt_class, expected):
    translated = translate_ccxt_error(ccxt_class("binance {\"code\":-1}"), venue="binance", operation="fetch_balance")
    assert type(translated) is expected


@pytest.mark.parametrize("error", [asyncio.TimeoutError(), TimeoutError("slow"), aiohttp.ClientConnectionError("reset"),
                                   ConnectionResetError("peer")])
def test_transport_failures_below_ccxt_are_temporary(error):
    assert type(translate_ccxt_error(error, venue="binance", operation="fetch_order")) is TemporaryVenueError


def test_an_error_raised_during_ccxt_clean_up_is_reported_as_the_ccxt_error_behind_it():
    # ccxt 4.5.90 raises KeyError('spot') after a WebSocket authentication failure.
    try:
        try:
            raise ccxt.AuthenticationError('binance {"code":-1022,"msg":"Signature for this request is not valid."}')
        except ccxt.AuthenticationError:
            raise KeyError("spot")  # noqa: B904 - reproducing ccxt's own shape
    except KeyError as wrapped:
        error = wrapped
    assert isinstance(ccxt_cause(error), ccxt.AuthenticationError)
    assert type(translate_ccxt_error(error, venue="binance", operation="watch_orders")) is AuthenticationFailed


@pytest.mark.parametrize(("ccxt_class", "expected"), [
    (ccxt.InvalidOrder, OrderRejected),
    (ccxt.InsufficientFunds, InsufficientFunds),
    (ccxt.BadRequest, OrderRejected),
    (ccxt.BadSymbol, OrderRejected),
    (ccxt.OperationRejected, OrderRejected),
    (ccxt.DDoSProtection, OrderRateLimited),
    (ccxt.RateLimitExceeded, OrderRateLimited),
    (ccxt.AuthenticationError, OrderAuthenticationFailed),
])
def test_a_refused_order_request_is_an_order_rejection_because_the_order_does_not_exist(ccxt_class, expected):
    error = ccxt_class("refused")
    assert is_definite_refusal(error)
    translated = translate_ccxt_error(error, venue="binance", operation="create_order", order_request=True)
    assert type(translated) is expected
    assert isinstance(translated, (OrderRejected, InsufficientFunds))


def test_rate_limited_and_authentication_order_refusals_keep_both_meanings():
    limited = translate_ccxt_error(ccxt.DDoSProtection("429"), venue="binance", operation="create_order",
                                   retry_after_s=3, order_request=True)
    assert isinstance(limited, OrderRejected) and isinstance(limited, RateLimited) and limited.retry_after_s == 3
    denied = translate_ccxt_error(ccxt.AuthenticationError("-2015"), venue="binance", operation="create_order", order_request=True)
    assert isinstance(denied, OrderRejected) and isinstance(denied, AuthenticationFailed)


@pytest.mark.parametrize("error", [ccxt.RequestTimeout("t"), ccxt.ExchangeNotAvailable("503"), ccxt.NetworkError("reset"),
                                   ccxt.InvalidNonce("-1021"), ccxt.ExchangeError("unknown"), ccxt.BadResponse("garbled"),
                                   asyncio.TimeoutError(), ConnectionResetError()])
def test_an_order_request_failing_any_other_way_has_an_unknown_outcome(error):
    assert not is_definite_refusal(error)
    translated = translate_ccxt_error(error, venue="binance", operation="create_order", order_request=True)
    assert not isinstance(translated, (OrderRejected, InsufficientFunds))


def test_clock_skew_is_told_apart_from_an_order_book_gap():
    assert is_clock_skew(ccxt.InvalidNonce('binance {"code":-1021}'))
    assert not is_clock_skew(ccxt.ChecksumError("binance BTC/USDT orderbook sequence gap"))
    assert not is_clock_skew(ccxt.NetworkError("reset"))


def test_messages_name_the_venue_and_operation_and_drop_query_strings_and_secrets():
    raw = ccxt.ExchangeNotAvailable(
        f"binance GET http://127.0.0.1:8765/api/v3/account?timestamp=1&signature=abcdef&key={KEY} 503 Service Unavailable {SECRET}"
    )
    translated = translate_ccxt_error(raw, venue="binance", operation="fetch_balance", secrets=[KEY, SECRET])
    text = str(translated)
    assert text.startswith("binance fetch_balance failed temporarily")
    assert "signature" not in text and KEY not in text and SECRET not in text and "***" in text
    assert "http://127.0.0.1:8765/api/v3/account" in text
    assert translated.__cause__ is None and translated.ccxt_error == "ExchangeNotAvailable"


def test_an_authentication_failure_says_which_variables_to_check_and_never_shows_the_secret():
    raw = ccxt.AuthenticationError(f'binance {{"code":-1022,"msg":"Signature for this request is not valid."}} {SECRET}')
    translated = translate_ccxt_error(raw, venue="binance", operation="fetch_balance", secrets=[SECRET, KEY])
    assert isinstance(translated, AuthenticationFailed)
    assert "TRADEPULSE_BINANCE_API_KEY" in str(translated) and "TRADEPULSE_BINANCE_API_SECRET" in str(translated)
    assert "-1022" in str(translated)
    for shown in (str(translated), repr(translated), str(translated.args)):
        assert SECRET not in shown and KEY not in shown


def test_long_venue_messages_are_cut():
    translated = translate_ccxt_error(ccxt.ExchangeError("x" * 5000), venue="binance", operation="fetch_order")
    assert len(str(translated)) < 400


def test_tradepulse_errors_pass_through_unchanged():
    error = OrderNotFound("already ours")
    assert translate_ccxt_error(error, venue="binance", operation="fetch_order") is error
