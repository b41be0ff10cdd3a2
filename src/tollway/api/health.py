"""Liveness and readiness, without authentication.

Ready means this process can serve and bill a request now: the database answers,
the secret store can serve, the quota counters answer (Redis when configured),
the usage journal can write, and a routing table is loaded. Each check is named
in the answer with ``ok`` or the code of what is wrong. The probe is cheap (no
writes, one round trip per backend, each bounded in time) and never raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tollway.api.admin.deps import ServicesDep
from tollway.api.app_state import ServingDependencies, app_runtime
from tollway.errors import TollwayError

router = APIRouter(tags=["health"])

OK = "ok"
# A backend that has not answered within this long is not ready, whatever it says later.
CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/health")
async def health() -> Health:
    return Health(status="ok")


@router.get("/health/ready", responses={503: {"model": Readiness}})
async def ready(request: Request, services: ServicesDep) -> JSONResponse:
    serving = app_runtime(request.app).serving
    database, secrets, quotas = await asyncio.gather(
        _in_thread(services.database.ping, "database_unavailable"),
        _in_thread(services.secrets.check, "secret_store_unavailable"),
        _quota_store(serving),
    )
    checks = {
        "database": database,
        "secrets": secrets,
        "quota_store": quotas,
        "usage_journal": _journal(serving),
        "routing_table": _routing_table(serving),
    }
    healthy = all(result == OK for result in checks.values())
    body = Readiness(status="ready" if healthy else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


async def _in_thread(check: Callable[[], None], failed: str) -> str:
    return await _bounded(asyncio.to_thread(check), failed)


async def _quota_store(serving: ServingDependencies) -> str:
    async def ping() -> None:
        if not await serving.quotas.ping():
            raise ConnectionError("no answer")

    return await _bounded(ping(), "quota_store_unavailable")


async def _bounded(check: Awaitable[None], failed: str) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check
    except TollwayError as exc:
        return exc.code
    except Exception:  # a readiness probe reports, it never raises
        return failed
    return OK


def _journal(serving: ServingDependencies) -> str:
    return OK if serving.journal.available else "usage_journal_unavailable"


def _routing_table(serving: ServingDependencies) -> str:
    return OK if serving.routing.table.version >= 0 else "routing_table_not_loaded"
