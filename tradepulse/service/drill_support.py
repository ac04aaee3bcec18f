"""What a drill hands its children and how it asks the venue: credentials made for one drill, and
:func:`ask_venue`, the independent side of a drill's checks (what the venue itself says).

Split from :mod:`tradepulse.service.processes`, which re-exports both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Credentials", "ask_venue", "generated_credentials"]

T = TypeVar("T")

#: Variables of the parent that would point a child at another service, venue or webhook, or hand it
#: other keys and tokens than the ones made for the drill.
FOREIGN_PREFIXES = ("TRADEPULSE_API_", "TRADEPULSE_ALERT_", "TRADEPULSE_BINANCE_", "TRADEPULSE_VENUE_",
                    "TRADEPULSE_SERVICE_", "TRADEPULSE_STATE_")
OPERATE_TOKEN = "TRADEPULSE_API_OPERATE_TOKEN"


def ask_venue(read: Callable[[Any], Awaitable[T]], env: Mapping[str, str], *, exchange: str = "binance",
              timeout: float = 60.0) -> T:
    """``await read(client)`` with a ccxt client of the venue account that ``env`` names; return its result.

    What the venue itself says (balances, an order looked up by client order id, the account's
    trades) is the independent side of a drill's checks. The client is built from ``env`` as the
    service builds its own (``TRADEPULSE_<EXCHANGE>_API_KEY`` / ``_SECRET`` or their ``_FILE``
    twins, ``TRADEPULSE_<EXCHANGE>_URL``), its markets are loaded, and it is closed afterwards. It
    runs on a thread of its own with its own event loop, so it works where a loop is already
    running in the caller's thread (a notebook kernel).

    Parameters
    ----------
    read
        An async function of the ccxt client, e.g. ``lambda venue: venue.fetch_balance()``.
    env
        Where the key, secret and venue URL are read (a drill's ``env``); nothing is printed.
    exchange
        The ccxt exchange id.
    timeout
        Seconds the whole call may take.

    Returns
    -------
    What ``read`` returned.

    Raises
    ------
    TimeoutError
        It took longer than ``timeout``.

    Examples
    --------
    >>> balance = ask_venue(lambda venue: venue.fetch_balance(), drill.env)      # doctest: +SKIP
    >>> order = ask_venue(lambda venue: venue.fetch_order(None, "BTC/USDT",      # doctest: +SKIP
    ...                   params={"origClientOrderId": "tp-btc-sma-4"}), drill.env)
    """
    from tradepulse.adapters.ccxt.exchange import create_exchange
    from tradepulse.adapters.credentials import load_credentials

    async def session() -> T:
        client = create_exchange(exchange, credentials=load_credentials(exchange, env), environ=env)
        try:
            await client.load_markets()
            return await read(client)
        finally:
            await client.close()

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ask-venue") as pool:
        future = pool.submit(asyncio.run, asyncio.wait_for(session(), timeout))
        try:
            return future.result()
        except asyncio.TimeoutError:
            raise TimeoutError(f"the venue did not answer within {timeout:g} s") from None


@dataclass(frozen=True, repr=False)
class Credentials:
    """A venue account's key and secret and the service's API tokens, made for one drill.

    They reach the children through their environment (:meth:`environ`) and are never printed:
    the ``repr`` shows the key only.

    Attributes
    ----------
    venue_key, venue_secret
        The local venue's account (``TRADEPULSE_VENUE_API_*``), which the service uses as its
        Binance account (``TRADEPULSE_BINANCE_API_*``, ccxt's ``binance`` pointed at the venue).
    operate_token, read_token
        The service's API tokens (operate may also kill, resume, cancel and flatten).
    """

    venue_key: str
    venue_secret: str
    operate_token: str
    read_token: str

    def __repr__(self) -> str:
        return f"Credentials(venue_key={self.venue_key!r}, secrets not shown)"

    def environ(self, base: Mapping[str, str] | None = None, *, venue_url: str | None = None,
                token_file: Path | None = None) -> dict[str, str]:
        """The environment of a child: ``base`` without its TradePulse service, venue and alert variables, plus these.

        Parameters
        ----------
        base
            The environment to start from (default: this process's).
        venue_url
            The local venue's base URL, for ``TRADEPULSE_BINANCE_URL`` (ccxt's ``binance`` goes there).
        token_file
            Write the operate token to this file (mode 0600) and pass its name
            (``TRADEPULSE_APIOPERATE_TOKEN_FILE``) instead of the value.

        Returns
        -------
        A new dictionary; Python warnings are off in it, so logs hold only what the service says.
        """
        env = {key: value for key, value in (os.environ if base is None else base).items()
               if not key.startswith(FOREIGN_PREFIXES)}
        env.update({"PYTHONWARNINGS": "ignore",
                    "TRADEPULSE_VENUE_API_KEY": self.venue_key, "TRADEPULSE_VENUE_API_SECRET": self.venue_secret,
                    "TRADEPULSE_BINANCE_API_KEY": self.venue_key, "TRADEPULSE_BINANCE_API_SECRET": self.venue_secret,
                    "TRADEPULSE_API_READ_TOKEN": self.read_token})
        if token_file is None:
            env[OPERATE_TOKEN] = self.operate_token
        else:
            # 0600 before the token is in it (also for a file an earlier run left): no moment others could read it.
            descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(self.operate_token + "\n")
            env[f"{OPERATE_TOKEN}_FILE"] = str(token_file)
        if venue_url is not None:
            env["TRADEPULSE_BINANCE_URL"] = venue_url
        return env


def generated_credentials(prefix: str = "drill") -> Credentials:
    """Fresh random credentials for one drill.

    Parameters
    ----------
    prefix
        Starts the venue key (``drill-3f9a...``), so a venue's logs say which run the account is.

    Returns
    -------
    Credentials
        A new key, secret and pair of API tokens from :mod:`secrets`.
    """
    return Credentials(venue_key=f"{prefix}-{secrets.token_hex(6)}", venue_secret=secrets.token_urlsafe(32),
                       operate_token=secrets.token_urlsafe(32), read_token=secrets.token_urlsafe(32))
