"""Trading accounts: API credentials and exact balances, free and locked.

Every balance is a :class:`~decimal.Decimal`. An open order locks what it could spend (quote for a
buy at its limit price, base for a sell); fills move locked funds out and the received asset in;
a cancel unlocks the rest. The invariant ``free >= 0 and locked >= 0`` holds after every operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradepulse.emulator.decimals import ZERO, fmt8, to_decimal

__all__ = ["Account", "AccountRegistry", "Balance"]


@dataclass
class Balance:
    """One asset's free and locked amounts."""

    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass
class Account:
    """A trading account identified by its API key."""

    api_key: str
    api_secret: str = field(repr=False)
    uid: int = 0
    balances: dict[str, Balance] = field(default_factory=dict)
    update_time_ms: int = 0

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

    def add(self, api_key: str, api_secret: str, balances: dict[str, Any]) -> Account:
        """Create (or replace) the account for ``api_key`` with starting ``balances``."""
        account = Account(api_key=api_key, api_secret=api_secret, uid=self._next_uid)
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
