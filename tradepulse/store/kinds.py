"""The journal's kinds are declared in :mod:`tradepulse.model.kinds`; the store re-exports what its queries use."""

from tradepulse.model.kinds import ALL_KINDS, KIND_PATTERN, ORDER_KIND_PREFIX, RECONCILE_COMPLETED, RISK_KIND_PREFIX, OmsEventKind

__all__ = ["ALL_KINDS", "KIND_PATTERN", "ORDER_KIND_PREFIX", "RECONCILE_COMPLETED", "RISK_KIND_PREFIX", "OmsEventKind"]
