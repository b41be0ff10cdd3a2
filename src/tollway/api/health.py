"""The probes, without authentication.

* ``/health/live``: the process runs and its event loop answers; checks nothing else,
  so a dependency's outage never gets a healthy process restarted.
* ``/health/ready``: this process can serve and bill a request now (database, secret
  store, quota counters, usage journal, routing table), and is not draining after a
  SIGTERM. 503 names each failed check.
* ``/health/startup``: start-up finished (migrations, usage recovery, counter rebuild,
  the first routing table).
* ``/health``: kept as it always was, the same as ``/health/live``.

The checks are ``tollway.domain.health``'s, bounded in time and cached for a second, so
many probes polling every few seconds cost one round per second at most.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tollway.api.app_state import app_runtime
from tollway.domain.health import healthy

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/health")
async def health() -> Health:
    return Health(status="ok")


@router.get("/health/live")
async def live() -> Health:
    return Health(status="ok")


@router.get("/health/ready", responses={503: {"model": Readiness}})
async def ready(request: Request) -> JSONResponse:
    checks = await app_runtime(request.app).health.readiness()
    ok = healthy(checks)
    body = Readiness(status="ready" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/health/startup", responses={503: {"model": Health}})
async def startup(request: Request) -> JSONResponse:
    started = app_runtime(request.app).health.lifecycle.started
    body = Health(status="started" if started else "starting")
    return JSONResponse(body.model_dump(), status_code=200 if started else 503)
