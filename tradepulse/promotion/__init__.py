"""Strategy versions and their governed path research -> paper -> live (``tradepulse strategies``).

It sits above the checks, whose evidence every promotion records (docs/governance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradepulse.promotion.capture import CapturedSource, capture_source, load_captured
from tradepulse.promotion.store import (
    STAGES,
    PromotionRefused,
    StrategyStore,
    StrategyVersion,
    data_fingerprint,
    default_store_path,
)
from tradepulse.strategy.base import Strategy

__all__ = ["STAGES", "CapturedSource", "PromotionRefused", "StrategyStore", "StrategyVersion", "capture_source",
           "data_fingerprint", "default_store_path", "load_captured", "promote"]


def promote(strategy: type[Strategy] | Strategy, data: Any, *, params: Mapping[str, Any] | None = None,
            author: str | None = None, store: str | Path | None = None, comment: str = "") -> StrategyVersion:
    """From a notebook: capture ``strategy`` (a class or an instance), store the version and promote it to paper.

    Returns the :class:`StrategyVersion`. ``author`` defaults to the login name; ``store`` to
    :func:`default_store_path`. A failed check raises :class:`PromotionRefused` (the version stays at research).
    """
    import getpass

    who = author or getpass.getuser()
    with StrategyStore(store) as opened:
        version = opened.create_version(strategy, data, params=params, author=who)
        if opened.stage(version.id) == "research":
            opened.promote(version.id, data, actor=who, comment=comment)
        return version
