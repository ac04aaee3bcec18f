"""Trading accounts: API credentials and exact balances, free and locked.

Every balance is a :class:`~decimal.Decimal`. An open order locks what it could spend (quote for a
buy at its limit price, base for a sell); fills move locked funds out and the received asset in;
a cancel unlocks the rest. The invariant ``free >= 0 and locked >= 0`` holds after every operation.

An account may pay its commissions in a separate asset (:class:`FeePayment`, Binance's "use BNB to
pay for fees"); the matching engine decides per fill whether it can.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradepulse.emulator.decimals import ZERO, fmt8, to_decimal

__all__ = ["BNB_DISCOUNT", "Account", "AccountRegistry", "Balance", "FeePayment"]

#: Binance's discount on spot commissions paid in BNB.
BNB_DISCOUNT = Decimal("0.25")


@dataclass
class Balance:
    """One asset's free and locked amounts."""

    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True)
class FeePayment:
    """How an account pays commissions: in ``asset`` while it holds enough of it, else the usual way.

    Parameters
    ----------
    asset
        The asset commissions are paid in (Binance: BNB); ``None`` pays the usual way (a buyer in
        the base asset, a seller in the quote asset). The venue values it at its own price for
        ``<asset>USDT`` (a replayed market's last trade, or a listed fee-asset market's fixed
        price), never at a price of the account's: what it charges is what a client can check.
    discount
        Fraction taken off a commission paid in ``asset`` (Binance: 25 % with BNB).
    """

    asset: str | None = None
    discount: Decimal = BNB_DISCOUNT


@dataclass
class Account:
    """A trading account identified by its API key."""

    api_key: str
    api_secret: str = field(repr=False)
    uid: int = 0
    balances: dict[str, Balance] = field(default_factory=dict)
    update_time_ms: int = 0
    fee_payment: FeePayment = field(default_factory=FeePayment)

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def free(self, asset: str) -> Decimal:
        return self.balance(asset).free

    def lock(self, asset: str, amount: Decimal) -> bool:
        """Move ``amount`` from free to locked; return False (changing nothing) if free is short."""
        balance = self.balance(asset)
        if amount > balance.free:
            return False
        balance.free -= amount
        balance.locked += amount
        return True

    def unlock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from locked back to free."""
        balance = self.balance(asset)
        amount = min(amount, balance.locked)
        balance.locked -= amount
        balance.free += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        """Remove ``amount`` from locked funds (it was paid away by a fill)."""
        balance = self.balance(asset)
        balance.locked = max(ZERO, balance.locked - amount)

    def credit(self, asset: str, amount: Decimal) -> None:
        """Add ``amount`` (may be negative for a withdrawal) to free funds."""
        self.balance(asset).free += amount

    def to_json(self, *, omit_zero: bool = False) -> list[dict[str, str]]:
        """Return ``balances[]`` as the REST account endpoint shows it."""
        return [
            {"asset": asset, "free": fmt8(b.free), "locked": fmt8(b.locked)}
            for asset, b in sorted(self.balances.items())
            if not (omit_zero and b.total == 0)
        ]

    def position_json(self, assets: Iterable[str]) -> list[dict[str, str]]:
        """Return the ``B`` list of an ``outboundAccountPosition`` event for ``assets``."""
        return [{"a": a, "f": fmt8(self.balance(a).free), "l": fmt8(self.balance(a).locked)} for a in sorted(set(assets))]


class AccountRegistry:
    """All accounts of a venue, looked up by API key."""

    def __init__(self) -> None:
        self._by_key: dict[str, Account] = {}
        self._next_uid = 1_000_001

    def add(self, api_key: str, api_secret: str, balances: dict[str, Any], fee_payment: FeePayment | None = None) -> Account:
        """Create (or replace) the account for ``api_key`` with starting ``balances``."""
        account = Account(api_key=api_key, api_secret=api_secret, uid=self._next_uid,
                          fee_payment=fee_payment or FeePayment())
        self._next_uid += 1
        for asset, amount in balances.items():
            account.balance(asset).free = to_decimal(amount)
        self._by_key[api_key] = account
        return account

    def by_api_key(self, api_key: str) -> Account | None:
        return self._by_key.get(api_key)

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)
