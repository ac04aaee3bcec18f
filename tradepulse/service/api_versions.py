"""The API's strategy-version routes: list and show versions, approve or reject one, roll back.

=============================================  ===========================================  ===============
``GET  /versions``                             every stored version with its stage           read
``GET  /versions/{version_id}``                one version: evidence and promotion record    read
``POST /versions/{version_id}/approve``        paper -> live, signed off by the token's name  approve
``POST /versions/{version_id}/reject``         paper -> research, with the reviewer's reasons approve
``POST /actions/rollback``                     the previous approved version goes live again  operate
=============================================  ===========================================  ===============

The approver is the *name* of the approve token (``TRADEPULSE_API_APPROVE_TOKEN`` holds
``name:token`` entries), so the record says who signed off because a token proved it, not because
a caller said so. The store's rules still hold (docs/governance.md): someone other than the
author, a comment, a version at paper; a broken rule answers 409 with the reason. After a decision
the service brings its engines in line at once (a ``promoted:`` entry loads the new version; a
pinned version that may no longer trade is halted) and says what it did.
"""


# No ``from __future__ import annotations`` here: the scope dependencies arrive as arguments, and FastAPI
# must see them as objects, not as names it would look up in this module.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from tradepulse.service import models as m
from tradepulse.service.contract import ServiceBackend

__all__ = ["add_version_routes"]

VersionId = Annotated[str, Path(pattern=m.VERSION_ID_PATTERN, max_length=80, description="A version id, `<name>-<12 hex>`.")]


def add_version_routes(api: APIRouter, backend: ServiceBackend, *, responses: Callable[..., Any], operator: Any,
                       approver: Any, actor: Callable[[Any], str], audit: Callable[..., None]) -> None:
    """Add the routes to ``api`` (the ``/api/v1`` router); the dependencies come from :mod:`tradepulse.service.api`."""

    @api.get("/versions", tags=["versions"], response_model=list[m.VersionSummary], responses=responses(401, 422),
             summary="Stored strategy versions with their stage, oldest first")
    async def versions(
        name: Annotated[str | None, Query(min_length=1, max_length=64, description="Only versions of this strategy name.")] = None,
        stage: Annotated[m.VersionStage | None, Query(description="Only versions at this stage.")] = None,
    ) -> Any:
        return backend.versions(name=name, stage=stage)

    @api.get("/versions/{version_id}", tags=["versions"], response_model=m.VersionDetail, responses=responses(401, 404, 422),
             summary="One version: its checks, backtest, data fingerprint and promotion record")
    async def version(version_id: VersionId) -> Any:
        return backend.version(version_id)

    @api.post("/versions/{version_id}/approve", tags=["versions"], response_model=m.GovernanceResult,
              responses=responses(401, 403, 404, 409, 422),
              summary="Approve a version at paper for live (approve scope; the token's name signs off)")
    async def approve(version_id: VersionId, body: Annotated[m.ReviewRequest, Body()], grant: approver) -> Any:
        audit("approve", grant.name, body.comment, version=version_id)
        return await backend.approve(version_id, approver=grant.name, comment=body.comment)

    @api.post("/versions/{version_id}/reject", tags=["versions"], response_model=m.GovernanceResult,
              responses=responses(401, 403, 404, 409, 422),
              summary="Send a version at paper back to research, with the reasons (approve scope)")
    async def reject(version_id: VersionId, body: Annotated[m.ReviewRequest, Body()], grant: approver) -> Any:
        audit("reject", grant.name, body.comment, version=version_id)
        return await backend.reject(version_id, approver=grant.name, comment=body.comment)

    @api.post("/actions/rollback", tags=["actions"], response_model=m.GovernanceResult, responses=responses(401, 403, 409, 422),
              summary="Make the previous approved version of a strategy live again (operate scope)")
    async def rollback(body: Annotated[m.RollbackRequest, Body()], grant: operator) -> Any:
        who = actor(grant)
        audit("rollback", who, body.reason, strategy=body.strategy)
        return await backend.rollback(body.strategy, actor=who, reason=body.reason)
