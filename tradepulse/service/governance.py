"""Which strategy versions the service may trade, and taking a newly promoted one without a restart.

The ``[governance]`` table (docs/governance.md)::

    [governance]
    store = ".tradepulse/store"   # the strategy store; $TRADEPULSE_STORE, else this path (relative to the file)
    require_versions = true       # only stored versions trade (default: true on an exchange, false on paper)
    poll_seconds = 5              # how often the service looks for a new promotion, approval or rollback
    on_retire = "cancel"          # a retiring version's open orders: cancel | flatten | keep

A ``[[strategies]]`` entry names a version in one of two ways:

* ``strategy = "version:sma_cross-c1e76b3a452d"`` pins one version. The service refuses it at
  start unless it is at a stage the venue allows (a paper venue: paper or live; an exchange: live),
  and **halts** it (journaled, alerted) if its stage later leaves that set: a rejected or
  retired version stops trading.
* ``strategy = "promoted:sma_cross"`` follows the store: on an exchange the version approved for
  live, on a paper venue the newest version at paper (else the live one). When an approval, a new
  promotion or a rollback changes that version, the service loads it between two events: the
  retiring version's open orders are handled as ``on_retire`` says and the new one decides from
  the next bar on the journaled history (``strategy.replaced`` in the engine's journal).

:class:`Governor` is the running side: it answers the API's version routes, records approvals and
rejections with the identity the token proves, rolls back, and polls the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradepulse.errors import ConfigError, StrategyError
from tradepulse.live.lifecycle import RETIRE_POLICIES
from tradepulse.model.kinds import ServiceKind
from tradepulse.promotion import PromotionRefused, StrategyStore
from tradepulse.service.contract import UnknownVersion
from tradepulse.strategy.base import Strategy

if TYPE_CHECKING:
    from tradepulse.service.host import ServiceHost
    from tradepulse.service.slots import EngineSlot

__all__ = [
    "FOLLOW_PREFIX",
    "STAGES_ALLOWED",
    "VERSION_PREFIX",
    "GovernanceConfig",
    "Governor",
    "parse_governance",
    "resolve_stored",
]

logger = logging.getLogger("tradepulse.service")

#: ``strategy = "version:<id>"`` runs one stored version.
VERSION_PREFIX = "version:"
#: ``strategy = "promoted:<name>"`` runs whichever version of ``name`` the store has for this venue.
FOLLOW_PREFIX = "promoted:"
#: What each venue kind trades: a paper venue a version at paper (or live), an exchange one approved for live.
STAGES_ALLOWED = {"paper": ("paper", "live"), "ccxt": ("live",)}
_GOVERNOR_ACTOR = "system:governance"


@dataclass(frozen=True)
class GovernanceConfig:
    """``[governance]`` (see the module docstring)."""

    store: Path
    require_versions: bool
    poll_seconds: float = 5.0
    on_retire: str = "cancel"


def parse_governance(table: Mapping[str, Any], where: str, base: Path, env: Mapping[str, str], venue_kind: str,
                     ) -> GovernanceConfig:
    """Validate ``[governance]``; ``where`` names the file and table in messages."""
    known = {"store", "require_versions", "poll_seconds", "on_retire"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where} unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    store_text = table.get("store")
    if store_text is not None and (not isinstance(store_text, str) or not store_text.strip()):
        raise ConfigError(f"{where} store must be a path, got {store_text!r}")
    if store_text:
        path = Path(store_text).expanduser()
        store = path if path.is_absolute() else base / path
    else:
        store = Path(env.get("TRADEPULSE_STORE") or base / ".tradepulse" / "store")
    require = table.get("require_versions", venue_kind != "paper")
    if not isinstance(require, bool):
        raise ConfigError(f"{where} require_versions must be true or false, got {require!r}")
    poll = table.get("poll_seconds", 5.0)
    if isinstance(poll, bool) or not isinstance(poll, int | float) or not 0.2 <= poll <= 3600:
        raise ConfigError(f"{where} poll_seconds must be a number of seconds within [0.2, 3600], got {poll!r}")
    on_retire = table.get("on_retire", "cancel")
    if on_retire not in RETIRE_POLICIES:
        raise ConfigError(f"{where} on_retire must be one of {', '.join(RETIRE_POLICIES)}, got {on_retire!r}")
    return GovernanceConfig(store=store, require_versions=require, poll_seconds=float(poll), on_retire=on_retire)


def resolve_stored(spec: str, params: Mapping[str, Any], venue_kind: str, store_root: Path,
                   ) -> tuple[Strategy | None, str | None, str | None]:
    """``(strategy, version id, problem)`` for a ``version:`` or ``promoted:`` spec."""
    if params:
        return None, None, "a version's parameters are part of it; leave params out (or store a new version)"
    if not (store_root / "promotions.sqlite").is_file():
        return None, None, (f"no strategy store at {store_root} (set [governance] store or TRADEPULSE_STORE, or promote "
                            "a version from this folder)")
    allowed = STAGES_ALLOWED.get(venue_kind, ("live",))
    with StrategyStore(store_root) as store:
        try:
            if spec.startswith(FOLLOW_PREFIX):
                name = spec[len(FOLLOW_PREFIX):]
                version = store.current_version(name, venue_kind)
                if version is None:
                    need = "approved for live" if allowed == ("live",) else "promoted to paper (or approved for live)"
                    return None, None, f"no version of {name} is {need} in {store_root}"
            else:
                version = store.version(spec[len(VERSION_PREFIX):])
                stage = store.stage(version.id)
                if stage not in allowed:
                    need = "approved for live" if allowed == ("live",) else "promoted to paper"
                    return None, None, f"version {version.id} is at {stage}; a {venue_kind} venue trades only versions {need}"
            return version.load(), version.id, None
        except (ConfigError, StrategyError) as error:
            return None, None, str(error)


class Governor:
    """The service's side of the promotion path: version routes, reviews, rollback and hot loading."""

    def __init__(self, host: ServiceHost, config: GovernanceConfig) -> None:
        self.host = host
        self.config = config
        self._seen_seq = -1
        self._sync_lock = asyncio.Lock()

    # -- reading ---------------------------------------------------------------------------------

    def _open(self) -> StrategyStore | None:
        if not (self.config.store / "promotions.sqlite").is_file():
            return None
        return StrategyStore(self.config.store)

    def versions(self, *, name: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        store = self._open()
        if store is None:
            return []
        with store:
            stages = store.stages()
            rows = []
            for version in store.versions():
                row = _summary(version, stages.get(version.id, "research"), self._running(version.id))
                if (name is None or version.name == name) and (stage is None or row["stage"] == stage):
                    rows.append(row)
            return rows

    def version(self, version_id: str) -> dict[str, Any]:
        store = self._open()
        if store is None:
            raise UnknownVersion(version_id)
        with store:
            try:
                version = store.version(version_id)
            except ConfigError:
                raise UnknownVersion(version_id) from None
            detail = _summary(version, store.stage(version_id), self._running(version_id))
            detail.update(checks=version.checks, backtest=version.backtest, walkforward=version.walkforward,
                          data_fingerprint=version.data_fingerprint,
                          source_sha256=version.source_sha256, origin=version.origin, history=store.history(version_id))
            return detail

    def _running(self, version_id: str) -> list[str]:
        return [slot.strategy_id for slot in self.host.slots.values() if slot.version == version_id]

    # -- decisions -------------------------------------------------------------------------------

    def _store(self) -> StrategyStore:
        store = self._open()
        if store is None:
            raise PromotionRefused(f"no strategy store at {self.config.store}; promote a version first")
        return store

    async def approve(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        with self._store() as store:
            self._known(store, version_id)
            decision = store.approve(version_id, approver=approver, comment=comment)
        self.host.journal_service_event(ServiceKind.PROMOTION, {"decision": "approved", **_brief(decision)})
        return {"decision": decision, "service": await self.sync(actor=f"approval by {approver}")}

    async def reject(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        with self._store() as store:
            self._known(store, version_id)
            decision = store.reject(version_id, approver=approver, comment=comment)
        self.host.journal_service_event(ServiceKind.PROMOTION, {"decision": "rejected", **_brief(decision)})
        return {"decision": decision, "service": await self.sync(actor=f"rejection by {approver}")}

    async def rollback(self, name: str, *, actor: str, reason: str) -> dict[str, Any]:
        with self._store() as store:
            decision = store.rollback(name, actor=actor, comment=reason)
        self.host.journal_service_event(ServiceKind.PROMOTION, {"decision": "rolled_back", **_brief(decision)})
        return {"decision": decision, "service": await self.sync(actor=actor)}

    @staticmethod
    def _known(store: StrategyStore, version_id: str) -> None:
        try:
            store.version(version_id)
        except ConfigError:
            raise UnknownVersion(version_id) from None

    # -- following the store ---------------------------------------------------------------------

    async def watch(self) -> None:
        """Poll the store; a change of record is acted on (a failure is logged, never fatal)."""
        while True:
            await asyncio.sleep(self.config.poll_seconds)
            try:
                await self.sync(actor=_GOVERNOR_ACTOR, only_if_changed=True)
            except Exception:  # noqa: BLE001 - a store hiccup must not stop the watcher
                logger.exception("strategy store check failed", extra={"store": str(self.config.store)})

    async def sync(self, *, actor: str, only_if_changed: bool = False) -> list[dict[str, Any]]:
        """Bring every slot in line with the store; return what changed (``[{"strategy_id", "action", ...}]``)."""
        async with self._sync_lock:
            store = self._open()
            if store is None:
                return []
            with store:
                seq = store.journal.last_seq()
                if only_if_changed and seq == self._seen_seq:
                    return []
                self._seen_seq = seq
                stages = store.stages()
                wanted = {}
                for slot in self.host.slots.values():
                    if slot.follows is not None:
                        current = store.current_version(slot.follows, self.host.config.venue.kind)
                        wanted[slot.strategy_id] = (current.id, current.load()) if current is not None else None
            changes = []
            for slot in list(self.host.slots.values()):
                if not slot.running or slot.version is None:
                    continue
                if slot.follows is None:
                    change = await self._check_pinned(slot, stages.get(slot.version, "research"))
                else:
                    change = await self._follow(slot, wanted.get(slot.strategy_id), actor)
                if change:
                    changes.append(change)
            return changes

    async def _check_pinned(self, slot: EngineSlot, stage: str) -> dict[str, Any] | None:
        allowed = STAGES_ALLOWED.get(self.host.config.venue.kind, ("live",))
        if stage in allowed or slot.trading_state() == "HALTED":
            return None
        reason = f"version {slot.version} is now at {stage}; a {self.host.config.venue.kind} venue trades only {' or '.join(allowed)}"
        await slot.engine.halt(reason, _GOVERNOR_ACTOR)
        self.host.alert("strategy_version", "critical", f"{slot.strategy_id} HALTED: {reason}", {"version": slot.version})
        return {"strategy_id": slot.strategy_id, "action": "halted", "version": slot.version, "reason": reason}

    async def _follow(self, slot: EngineSlot, wanted: tuple[str, Strategy] | None, actor: str) -> dict[str, Any] | None:
        if wanted is None:
            # Nothing of the name may trade here any more (e.g. the only version was rejected).
            return await self._check_pinned(slot, "research")
        version_id, strategy = wanted
        if version_id == slot.version:
            return None
        previous = slot.version
        payload = await slot.engine.replace_strategy(
            strategy, actor=actor, reason=f"{slot.follows}: {version_id} replaces {previous}",
            open_orders=self.config.on_retire, version=version_id, previous_version=previous)
        slot.version = version_id
        self.host.alert("strategy_version", "info", f"{slot.strategy_id} now runs {version_id} (was {previous})",
                        {"open_orders": self.config.on_retire})
        logger.info("strategy version loaded", extra={"strategy_id": slot.strategy_id, "version": version_id,
                                                      "previous_version": previous})
        return {"strategy_id": slot.strategy_id, "action": "loaded", "version": version_id, "previous_version": previous,
                "open_orders": payload["orders"]}


def _summary(version: Any, stage: str, running: list[str]) -> dict[str, Any]:
    return {"id": version.id, "name": version.name, "stage": stage, "author": version.author,
            "created_at": version.created_at, "params": version.params, "checks_passed": bool(version.checks.get("passed")),
            "running_in": running}


def _brief(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The decision without its evidence (the store keeps that; the service journal says what happened)."""
    return {key: value for key, value in decision.items() if key != "evidence"}
