"""Calling ccxt safely: backoff with jitter, a rate-limit gate, clock resync, one error translation.

:class:`CcxtCaller` wraps every request the ccxt adapter, the ccxt feed and the downloader make:

* errors are translated once (:func:`~.ccxt_errors.translate_ccxt_error`);
* only calls marked ``retry=True`` are retried (reads and cancels; **never order creation**, whose
  unknown outcomes are settled by looking the order up, see :mod:`.ccxt_orders`), and only on
  :class:`~tradepulse.errors.TemporaryVenueError`, after an exponential delay with jitter drawn
  from a seeded (or injected) random generator;
* a 429/418 answer closes a :class:`RateGate` for the venue's ``Retry-After``: while it is closed
  no request leaves this client. A wait up to ``max_rate_limit_wait_s`` is sat out; a longer one
  (an IP ban) fails fast with ``RateLimited``, because every request during a ban extends it;
* a ``-1021`` (timestamp outside recvWindow) resyncs the clock offset with ``load_time_difference``
  before the error is raised or the call retried.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt

from tradepulse.adapters.ccxt.errors import OrderRateLimited, ccxt_cause, is_clock_skew, translate_ccxt_error
from tradepulse.errors import ConfigError, RateLimited, TemporaryVenueError, TradePulseError

__all__ = ["CcxtCaller", "RateGate", "RetryPolicy"]

T = TypeVar("T")
# A 429 without Retry-After still means "not now"; one second is what Binance sends for a fresh limit.
_DEFAULT_RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    """How retryable calls are retried.

    Parameters
    ----------
    attempts
        Tries in total for a retryable call (1 means no retry).
    base_delay_s, max_delay_s
        The delay before retry ``n`` (from 0) is ``min(max_delay_s, base_delay_s * 2**n)``, less up to
        ``jitter`` of it at random (so many clients recovering together do not retry in step).
    jitter
        Fraction of each delay drawn at random, 0 to 1.
    max_rate_limit_wait_s
        Longest ``Retry-After`` a call sits out; a longer one (an IP ban) fails fast.
    seed
        Seed of the jitter's random generator (``None``: unpredictable).

    Examples
    --------
    >>> policy = RetryPolicy(attempts=3, base_delay_s=0.1, jitter=0.0)
    >>> [policy.delay(n, random.Random(0)) for n in range(3)]
    [0.1, 0.2, 0.4]
    """

    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 5.0
    jitter: float = 0.5
    max_rate_limit_wait_s: float = 15.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"retry attempts must be at least 1, got {self.attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ConfigError("retry delays must satisfy 0 <= base_delay_s <= max_delay_s")
        if not 0.0 <= self.jitter <= 1.0:
            raise ConfigError(f"retry jitter must be between 0 and 1, got {self.jitter}")
        if self.max_rate_limit_wait_s < 0:
            raise ConfigError("max_rate_limit_wait_s must not be negative")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** max(attempt, 0)))
        return ceiling * (1.0 - self.jitter * rng.random())


class RateGate:
    """Closed while the venue has asked this client to wait; nothing is sent through a closed gate."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._open_at = 0.0

    def close_for(self, seconds: float) -> None:
        """Keep the gate closed for ``seconds`` from now (never shortens an earlier closure)."""
        self._open_at = max(self._open_at, self._monotonic() + max(seconds, 0.0))

    def remaining_s(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self._open_at - self._monotonic())


class CcxtCaller:
    """Run ccxt calls for one exchange client with translation, retries, the rate gate and clock resync.

    Parameters
    ----------
    exchange
        The ccxt (async or pro) exchange instance.
    venue
        Name used in error messages (the exchange id).
    secrets
        Values redacted from every error message.
    policy
        See :class:`RetryPolicy`.
    sleep, rng, monotonic
        Injectable time and randomness (tests pass fakes); ``rng`` defaults to ``Random(policy.seed)``.

    Attributes
    ----------
    stats
        Counters: ``requests`` (calls attempted), ``retries``, ``rate_limited``, ``refused_locally``
        (calls failed fast by the closed gate, no request sent), ``clock_resyncs``.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        venue: str,
        secrets: Iterable[str] = (),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exchange = exchange
        self.venue = venue
        self.secrets = tuple(secrets)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random(self.policy.seed)
        self.gate = RateGate(monotonic)
        self.stats: Counter[str] = Counter()
        self._resync_lock = asyncio.Lock()

    async def call(
        self, operation: str, make_call: Callable[[], Awaitable[T]], *, retry: bool = True, order_request: bool = False
    ) -> T:
        """Await ``make_call()``; translate its errors and retry what is safe to retry.

        Parameters
        ----------
        operation
            What the call does, for messages (``"fetch_balance"``).
        make_call
            A zero-argument function returning a fresh awaitable each time (a retry calls it again).
        retry
            Retry temporary failures (reads, cancels). Order creation passes ``False``.
        order_request
            Errors answer an order submission (see :func:`~.ccxt_errors.translate_ccxt_error`).
        """
        attempts = self.policy.attempts if retry else 1
        for attempt in range(attempts):
            await self.wait_for_gate(operation, order_request=order_request)
            self.stats["requests"] += 1
            try:
                return await make_call()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - every failure is translated here, once
                translated = self.translate(error, operation, order_request=order_request)
                if is_clock_skew(error):
                    await self.resync_clock()
                last = attempt == attempts - 1
                if last or not isinstance(translated, TemporaryVenueError) or isinstance(translated, OrderRateLimited):
                    raise translated from None
                self.stats["retries"] += 1
                if not isinstance(translated, RateLimited):
                    await self._sleep(self.policy.delay(attempt, self._rng))
                # A rate limit closed the gate; the next attempt waits it out (or fails fast).
        raise AssertionError("unreachable")  # pragma: no cover

    async def wait_for_gate(self, operation: str, *, order_request: bool = False) -> None:
        """Sit out a short closure of the rate gate; fail fast (no request) on a long one."""
        remaining = self.gate.remaining_s()
        if remaining <= 0:
            return
        if remaining > self.policy.max_rate_limit_wait_s:
            self.stats["refused_locally"] += 1
            cls = OrderRateLimited if order_request else RateLimited
            error = cls(
                f"{self.venue} asked this client to wait {remaining:.0f} s more (rate limit or IP ban); "
                f"{operation} was not sent, because requests during a ban extend it"
            )
            error.retry_after_s = remaining  # type: ignore[attr-defined]
            raise error
        await self._sleep(remaining)

    def translate(self, error: BaseException, operation: str, *, order_request: bool = False) -> TradePulseError:
        """Translate ``error``; a rate-limit answer also closes the gate for its ``Retry-After``."""
        retry_after = None
        if isinstance(ccxt_cause(error), (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
            retry_after = self._retry_after_s()
            self.gate.close_for(retry_after)
            self.stats["rate_limited"] += 1
        return translate_ccxt_error(
            error, venue=self.venue, operation=operation, secrets=self.secrets, retry_after_s=retry_after,
            order_request=order_request,
        )

    async def resync_clock(self) -> None:
        """Re-measure the offset between our clock and the venue's (``load_time_difference``)."""
        if not self.exchange.has.get("fetchTime"):
            return
        async with self._resync_lock:
            self.stats["clock_resyncs"] += 1
            try:
                await self.exchange.load_time_difference()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the original error is what the caller reports
                self.translate(error, "load_time_difference")

    def _retry_after_s(self) -> float:
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        value = None
        for name, text in dict(headers).items():
            if str(name).lower() == "retry-after":
                value = text
                break
        try:
            seconds = float(value) if value is not None else _DEFAULT_RETRY_AFTER_S
        except (TypeError, ValueError):
            seconds = _DEFAULT_RETRY_AFTER_S
        return max(seconds, 0.0)
