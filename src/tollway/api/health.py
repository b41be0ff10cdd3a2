"""Liveness and readiness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tollway.api.admin.deps import ServicesDep
from tollway.errors import TollwayError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/health")
async def health() -> Health:
    return Health(status="ok")


@router.get("/health/ready", responses={503: {"model": Readiness}})
def ready(services: ServicesDep) -> JSONResponse:
    checks = {"database": _probe(services.database.ping), "secrets": _probe(services.secrets.check)}
    healthy = all(result == "ok" for result in checks.values())
    body = Readiness(status="ready" if healthy else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


def _probe(check: object) -> str:
    try:
        check()  # type: ignore[operator]
    except TollwayError as exc:
        return exc.code
    except Exception as exc:  # a readiness probe reports, it never raises
        return f"error: {type(exc).__name__}"
    return "ok"
