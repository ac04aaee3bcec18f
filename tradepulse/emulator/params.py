"""Request parameters as Binance validates them, with Binance's ``-1100``/``-1102`` answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from tradepulse.emulator.errors import ApiError

if TYPE_CHECKING:
    from aiohttp import web

    from tradepulse.emulator.accounts import Account
    from tradepulse.emulator.app import Venue

__all__ = ["RequestContext", "decimal_param", "enum_param", "int_param", "required", "symbol_param"]

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"


@dataclass
class RequestContext:
    """One REST request as handlers see it: merged parameters, the venue, the signed-in account."""

    venue: Venue
    request: web.Request
    params: dict[str, str]
    account: Account | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Set by the order handler when the lost-response fault fires: the answer is never sent.
    lose_response: bool = False

    @property
    def signed_account(self) -> Account:
        assert self.account is not None, "route must be signed"
        return self.account


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError.mandatory(name)
    return value


def symbol_param(ctx: RequestContext, name: str = "symbol", *, optional: bool = False) -> str | None:
    """Return a known symbol (upper case), ``-1102`` if missing, ``-1121`` if unknown."""
    value = ctx.params.get(name)
    if not value:
        if optional:
            return None
        raise ApiError.mandatory(name)
    symbol = value.upper()
    if symbol not in ctx.venue.markets:
        raise ApiError.bad_symbol()
    return symbol


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    """Return the decimal parameter ``name`` or None; ``-1100`` if it is not a plain number."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not _DECIMAL.match(value):
        raise ApiError.illegal(name, _DECIMAL_RANGE)
    return Decimal(value)


def int_param(params: Mapping[str, str], name: str, *, default: int | None = None,
              minimum: int | None = None, maximum: int | None = None) -> int | None:
    """Return the integer parameter ``name`` (``default`` when absent); ``-1100`` if malformed."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError.illegal(name, "^-?[0-9]{1,20}$") from None
    if minimum is not None and number < minimum:
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{minimum}..'.")
    if maximum is not None and number > maximum:
        number = maximum  # Binance clamps limits to their maximum
    return number


def enum_param(params: Mapping[str, str], name: str, allowed: tuple[str, ...], *, default: str | None = None,
               code: int | None = None, msg: str | None = None) -> str | None:
    """Return the parameter if it is one of ``allowed`` (``default`` when absent), else Binance's error."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        if code is not None and msg is not None:
            raise ApiError(code, msg)
        raise ApiError.illegal(name, ", ".join(allowed))
    return value

