"""The journal's kinds are declared in :mod:`tradepulse.model.kinds`; the store re-exports what its queries use."""

from tradepulse.model.kinds import (
    ALL_KINDS,
    BAR_FIELDS,
    KIND_PATTERN,
    MARK_FIELDS,
    ORDER_KIND_PREFIX,
    RECONCILE_COMPLETED,
    RISK_KIND_PREFIX,
    OmsEventKind,
)

__all__ = ["ALL_KINDS", "BAR_FIELDS", "KIND_PATTERN", "MARK_FIELDS", "ORDER_KIND_PREFIX", "RECONCILE_COMPLETED",
           "RISK_KIND_PREFIX", "OmsEventKind"]
