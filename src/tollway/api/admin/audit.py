"""/admin/v1/audit: the change log, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.audit import AuditEventRead
from tollway.domain.common import Page

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit_events(
    services: ServicesDep,
    _actor: AdminActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[AuditEventRead]:
    return services.audit.list(limit=limit, offset=offset, action=action, target=target)
