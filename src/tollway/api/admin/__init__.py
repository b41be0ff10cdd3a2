"""The control plane's REST API: thin handlers over the domain services."""

from __future__ import annotations

from fastapi import APIRouter

from tollway.api.admin import (
    audit,
    catalog,
    limits,
    models,
    pricing,
    providers,
    ratelimits,
    settings_io,
    status,
    teams,
    tollway_keys,
    usage,
)
from tollway.api.errors import ERROR_RESPONSES


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin/v1", responses=ERROR_RESPONSES)
    for module in (
        providers,
        ratelimits,
        catalog,
        models,
        teams,
        tollway_keys,
        pricing,
        limits,
        audit,
        usage,
        settings_io,
        status,
    ):
        router.include_router(module.router)
    router.include_router(models.publish_router)
    return router
