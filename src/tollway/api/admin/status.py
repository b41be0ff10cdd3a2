"""/admin/v1/status: one screen of how the server is doing (``tollway status``, the
console's home page). Always 200 when answered: the body says what is unhealthy."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tollway.api.admin.deps import AdminActor
from tollway.api.app_state import app_runtime
from tollway.domain.status import ServerStatus

router = APIRouter(prefix="/status", tags=["status"])


@router.get("")
async def server_status(request: Request, _actor: AdminActor) -> ServerStatus:
    """Version, engine and circuit, each dependency's health, the routing table,
    models by verification state, spend against the largest budgets, the last hour's
    requests and errors, and the latest fallbacks."""
    return await app_runtime(request.app).status.status()
