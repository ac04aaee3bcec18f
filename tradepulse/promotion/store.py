"""The strategy store: immutable versions, and the record of their promotion research -> paper -> live.

A **version** is a strategy's captured source (:mod:`tradepulse.promotion.capture`) with its
parameters, named by the hash of both: the same code with the same parameters is the same version.
It is written once, read-only, under ``<store>/versions/<id>/`` (``strategy.py`` and
``manifest.json``: who made it and when, the data it was checked on, the checks and the backtest).

The **record** is a journal (``<store>/promotions.sqlite``, append-only like every journal) of what
happened to versions. The stage of a version is what its record says:

============  ==============================================================================
research      created; nothing decided yet (or rejected, back to research)
paper         promoted by its author: every check passed on the data given, evidence recorded
live          approved by someone other than its author, with a comment; the name's live version
retired       another version of the same strategy went live, or a rollback left it
============  ==============================================================================

A failed check blocks a promotion (journaled too). Approving needs a version at paper; a rollback
makes the previous approved version of the strategy live again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.checks import check
from tradepulse.errors import ConfigError, StrategyError, TradePulseError
from tradepulse.model.kinds import PROMOTION_KIND_PREFIX, PromotionKind
from tradepulse.promotion.capture import CapturedSource, capture_source, load_captured, verify_elsewhere
from tradepulse.store import Journal
from tradepulse.strategy.base import Strategy

__all__ = ["STAGES", "PromotionRefused", "StrategyStore", "StrategyVersion", "data_fingerprint", "default_store_path"]

STAGES = ("research", "paper", "live", "retired")
STORE_VARIABLE = "TRADEPULSE_STORE"


class PromotionRefused(TradePulseError):
    """A promotion, approval or rollback the rules do not allow (the reason says which)."""


def default_store_path() -> Path:
    """``$TRADEPULSE_STORE``, else ``.tradepulse/store`` under the current directory (the project's)."""
    return Path(os.environ.get(STORE_VARIABLE) or Path.cwd() / ".tradepulse" / "store")


def data_fingerprint(data: Any) -> str:
    """SHA-256 of the bars' timestamps and values (a universe's wide frame, or one symbol's)."""
    bars = data.bars if hasattr(data, "bars") and hasattr(data, "symbols") else data
    if not isinstance(bars, pd.DataFrame):
        raise ConfigError(f"data must be bars or a universe, got {type(bars).__name__}")
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(bars.index.asi8).tobytes())
    digest.update(json.dumps([str(column) for column in bars.columns]).encode())
    digest.update(np.ascontiguousarray(bars.to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class StrategyVersion:
    """One immutable version, as its manifest describes it."""

    id: str
    name: str
    class_name: str
    params: dict[str, Any]
    source_sha256: str
    origin: str
    author: str
    created_at: str
    data_fingerprint: str
    checks: dict[str, Any]
    backtest: dict[str, Any]
    path: Path
    walkforward: dict[str, Any] | None = None  # out-of-sample folds at the version's own parameters

    @property
    def source_path(self) -> Path:
        return self.path / "strategy.py"

    def load(self) -> Strategy:
        """The strategy this version is, built from its own captured source (what the service runs)."""
        return load_captured(self.source_path.read_text(encoding="utf-8"), self.class_name)(**self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "class": self.class_name, "params": self.params,
                "source_sha256": self.source_sha256, "origin": self.origin, "author": self.author,
                "created_at": self.created_at, "data_fingerprint": self.data_fingerprint, "checks": self.checks,
                "backtest": self.backtest}


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str, separators=(",", ":"))


def _figures(stats: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (int(value) if isinstance(value, (int, np.integer)) else float(value)
                  if isinstance(value, (float, np.floating)) else str(value))
            for key, value in stats.items() if key in ("total_return", "sharpe", "max_drawdown", "trades", "bars", "start", "end")}


def _walkforward(strategy: Strategy, data: Any) -> dict[str, Any]:
    """The version's out-of-sample record: rolling folds at its own (fixed) parameters.

    Each fold tests on bars it was not shown before (train twice the test's length; with one
    parameter set there is nothing to fit, so the folds measure how stable the result is over time).
    """
    from tradepulse.backtest.walkforward import run_walkforward

    bars = data.bars if hasattr(data, "bars") and hasattr(data, "symbols") else data
    test = max(len(bars.index) // 6, 24)
    train = 2 * test
    if len(bars.index) < train + test:
        return {"skipped": f"{len(bars.index)} bars are too few for a walk-forward (it needs {train + test})"}
    result = run_walkforward(data, type(strategy), {name: [value] for name, value in strategy.params.items()},
                             train_bars=train, test_bars=test)
    returns = [round(float(value), 6) for value in result.folds["total_return"]]
    return {"train_bars": train, "test_bars": test, "folds": len(returns), "fold_returns": returns,
            "positive_folds": sum(value > 0 for value in returns), "out_of_sample": _figures(result.stats)}


def _evidence(strategy: Strategy, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checks' report and the backtest's headline figures on ``data`` (with its walk-forward under ``walkforward``)."""
    report = check(strategy, data)
    if hasattr(data, "bars") and hasattr(data, "symbols"):
        from tradepulse.backtest.portfolio import run_portfolio_backtest

        stats = run_portfolio_backtest(data, strategy).stats
    else:
        from tradepulse.backtest import run_backtest

        stats = run_backtest(data, strategy).stats
    figures = _figures(stats)
    if report.passed:  # a failed check stops the promotion: its walk-forward would only say less
        figures["walkforward"] = _walkforward(strategy, data)
    return report.to_dict(), figures


class StrategyStore:
    """Versions and their promotion record in one folder (see the module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_path()
        (self.root / "versions").mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.root / "promotions.sqlite")

    def close(self) -> None:
        self.journal.close()

    def __enter__(self) -> StrategyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- versions ----------------------------------------------------------------------------

    def create_version(self, strategy: type[Strategy] | Strategy, data: Any, *, params: Mapping[str, Any] | None = None,
                       author: str) -> StrategyVersion:
        """Capture ``strategy`` (a class, or an instance whose parameters are taken), check it and store the version.

        The same source with the same parameters is the same version: it is returned as stored.
        """
        cls = strategy if isinstance(strategy, type) else type(strategy)
        values = dict(params or {}) if isinstance(strategy, type) else {**strategy.params, **(params or {})}
        captured = capture_source(cls)
        verify_elsewhere(captured.text, captured.class_name, values)
        instance = load_captured(captured.text, captured.class_name)(**values)
        version_id = f"{instance.name}-{hashlib.sha256((captured.sha256 + _canonical(instance.params)).encode()).hexdigest()[:12]}"
        existing = self._read(version_id)
        if existing is not None:
            return existing
        checks, backtest = _evidence(instance, data)
        manifest = {
            "id": version_id, "name": instance.name, "class": captured.class_name, "params": instance.params,
            "source_sha256": captured.sha256, "origin": captured.origin, "author": author,
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"), "data_fingerprint": data_fingerprint(data),
            "checks": checks, "backtest": backtest,
        }
        self._write(version_id, captured, manifest)
        self.journal.append(PromotionKind.VERSION_CREATED, {
            "version": version_id, "name": instance.name, "author": author, "source_sha256": captured.sha256,
            "params": instance.params, "checks_passed": checks["passed"],
        }, correlation_id=version_id)
        version = self._read(version_id)
        assert version is not None
        return version

    def _write(self, version_id: str, captured: CapturedSource, manifest: dict[str, Any]) -> None:
        target = self.root / "versions" / version_id
        staging = Path(tempfile.mkdtemp(prefix=f".{version_id}-", dir=self.root / "versions"))
        (staging / "strategy.py").write_text(captured.text, encoding="utf-8")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        for path in staging.iterdir():
            path.chmod(0o444)  # a version never changes; a new one is made instead
        try:
            staging.rename(target)
        except OSError:
            if not target.exists():
                raise
            # Written meanwhile by another process: the same content, by its name.

    def _read(self, version_id: str) -> StrategyVersion | None:
        path = self.root / "versions" / version_id
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            return None
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        text = (path / "strategy.py").read_text(encoding="utf-8")
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != manifest["source_sha256"]:
            raise StrategyError(f"version {version_id}: its source does not match its recorded hash; the store was altered")
        return StrategyVersion(
            id=manifest["id"], name=manifest["name"], class_name=manifest["class"], params=manifest["params"],
            source_sha256=manifest["source_sha256"], origin=manifest["origin"], author=manifest["author"],
            created_at=manifest["created_at"], data_fingerprint=manifest["data_fingerprint"], checks=manifest["checks"],
            backtest=manifest["backtest"], path=path, walkforward=manifest["backtest"].get("walkforward"),
        )

    def version(self, version_id: str) -> StrategyVersion:
        found = self._read(version_id)
        if found is None:
            raise ConfigError(f"no strategy version {version_id!r} in {self.root}")
        return found

    def versions(self) -> list[StrategyVersion]:
        """Every stored version, oldest first."""
        found = [self._read(path.name) for path in (self.root / "versions").iterdir() if not path.name.startswith(".")]
        return sorted((version for version in found if version is not None), key=lambda version: (version.created_at, version.id))

    # -- the record ------------------------------------------------------------------------------

    def history(self, version_id: str | None = None) -> list[dict[str, Any]]:
        """The record (of one version, or all), oldest first: kind, time and payload of each decision."""
        events = self.journal.events(correlation_id=version_id) if version_id else self.journal.events()
        return [{"seq": event.seq, "kind": event.kind, "at": event.ts.isoformat(), **event.payload} for event in events]

    def stage(self, version_id: str) -> str:
        """research, paper, live or retired, from the record."""
        self.version(version_id)
        return self.stages().get(version_id, "research")

    def stages(self) -> dict[str, str]:
        """Every recorded version's stage, in one pass over the record (versions never decided on are at research)."""
        stages: dict[str, str] = {}
        live: dict[str, str] = {}  # strategy name -> its live version
        for event in self.journal.iter_events(kind_prefix=PROMOTION_KIND_PREFIX):
            payload = event.payload
            version_id = payload.get("version")
            if event.kind == PromotionKind.PROMOTED:
                stages[version_id] = "paper"
            elif event.kind == PromotionKind.REJECTED:
                stages[version_id] = "research"
            elif event.kind in (PromotionKind.APPROVED, PromotionKind.ROLLED_BACK):
                replaced = live.get(payload["name"])
                if replaced is not None and replaced != version_id:
                    stages[replaced] = "retired"
                stages[version_id] = "live"
                live[payload["name"]] = version_id
            elif version_id is not None:
                stages.setdefault(version_id, "research")
        return stages

    def current_version(self, name: str, venue_kind: str) -> StrategyVersion | None:
        """The version of ``name`` a service should run: on an exchange the live one; on a paper venue
        the newest version at paper (what is being tried before sign-off), else the live one."""
        if venue_kind == "paper":
            stages = self.stages()
            newest = None
            for event in self.journal.iter_events(kinds=[PromotionKind.PROMOTED]):
                if event.payload.get("name") == name and stages.get(event.payload["version"]) == "paper":
                    newest = event.payload["version"]
            if newest is not None:
                return self.version(newest)
        return self.live_version(name)

    def live_version(self, name: str) -> StrategyVersion | None:
        """The version of strategy ``name`` approved for live now, if any."""
        current = None
        for event in self.journal.events(kinds=[PromotionKind.APPROVED, PromotionKind.ROLLED_BACK]):
            if event.payload.get("name") == name:
                current = event.payload["version"]
        return self.version(current) if current else None

    def promote(self, version_id: str, data: Any, *, actor: str, comment: str = "") -> dict[str, Any]:
        """Research -> paper, by the version's author: the checks run again on ``data`` and must all pass."""
        version = self.version(version_id)
        if actor != version.author:
            raise PromotionRefused(f"{version_id} is {version.author}'s; only its author promotes it to paper")
        stage = self.stage(version_id)
        if stage != "research":
            raise PromotionRefused(f"{version_id} is at {stage}; only a version at research is promoted to paper")
        checks, backtest = _evidence(version.load(), data)
        evidence = {"checks": checks, "backtest": backtest, "data_fingerprint": data_fingerprint(data)}
        if not checks["passed"]:
            failed = [item["name"] for item in checks["checks"] if not item["passed"]]
            self.journal.append(PromotionKind.BLOCKED, {"version": version_id, "name": version.name, "actor": actor,
                                                        "failed": failed, "evidence": evidence}, correlation_id=version_id)
            raise PromotionRefused(f"{version_id} failed {', '.join(failed)}: a failed check blocks promotion "
                                   "(`tradepulse check` says what it found)")
        payload = {"version": version_id, "name": version.name, "stage": "paper", "actor": actor, "comment": comment,
                   "evidence": evidence}
        self.journal.append(PromotionKind.PROMOTED, payload, correlation_id=version_id)
        return payload

    def _reviewed(self, version_id: str, approver: str, comment: str, decision: str) -> StrategyVersion:
        """The version under review, once the review's rules hold: someone else, a comment, a version at paper."""
        version = self.version(version_id)
        if approver == version.author:
            raise PromotionRefused(f"{approver} wrote {version_id}; someone else must {decision} it")
        if not comment.strip():
            raise PromotionRefused(f"to {decision} a version needs a comment saying what was reviewed and why")
        stage = self.stage(version_id)
        if stage != "paper":
            raise PromotionRefused(f"{version_id} is at {stage}; only a version at paper is reviewed")
        return version

    def approve(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        """Paper -> live: a sign-off by someone other than the author, with a comment and the paper stage's evidence."""
        version = self._reviewed(version_id, approver, comment, "approve")
        promoted = [event.payload for event in self.journal.events(kinds=[PromotionKind.PROMOTED], correlation_id=version_id)]
        previous = self.live_version(version.name)
        payload = {"version": version_id, "name": version.name, "stage": "live", "approver": approver, "comment": comment,
                   "evidence": promoted[-1]["evidence"], "replaces": previous.id if previous else None}
        self.journal.append(PromotionKind.APPROVED, payload, correlation_id=version_id)
        return payload

    def reject(self, version_id: str, *, approver: str, comment: str) -> dict[str, Any]:
        """Paper -> research, with the reviewer's reasons."""
        version = self._reviewed(version_id, approver, comment, "reject")
        payload = {"version": version_id, "name": version.name, "stage": "research", "approver": approver, "comment": comment}
        self.journal.append(PromotionKind.REJECTED, payload, correlation_id=version_id)
        return payload

    def rollback(self, name: str, *, actor: str, comment: str) -> dict[str, Any]:
        """Make the previous approved version of ``name`` live again."""
        approvals = [event.payload["version"] for event in self.journal.events(kinds=[PromotionKind.APPROVED])
                     if event.payload.get("name") == name]
        current = self.live_version(name)
        if current is None:
            raise PromotionRefused(f"no version of {name} is live")
        earlier = [version for version in approvals if version != current.id]
        if current.id in approvals:
            earlier = approvals[: approvals.index(current.id)]
        if not earlier:
            raise PromotionRefused(f"{current.id} is the first approved version of {name}; there is nothing to roll back to")
        payload = {"version": earlier[-1], "name": name, "stage": "live", "actor": actor, "comment": comment, "from": current.id}
        self.journal.append(PromotionKind.ROLLED_BACK, payload, correlation_id=earlier[-1])
        return payload
