"""Home: how tollway is doing, on one screen.

The same ``StatusService`` as ``GET /admin/v1/status`` and ``tollway status``: the
readiness checks (database, secret store, quota store, usage journal, routing table),
the engine's mode and circuit, the journal backlog, and from the ledger's hourly
aggregates spend today and this month (with the largest budgets), requests and errors
in the last hour, models by verification state, and the latest fallbacks."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tollway.console.context import SignedIn
from tollway.domain.status import ServerStatus, Traffic

router = APIRouter()

# What each readiness check is, for people.
CHECK_LABELS = {
    "database": "Database",
    "secrets": "Secret store",
    "quota_store": "Quota store",
    "usage_journal": "Usage journal",
    "routing_table": "Routing table",
    "lifecycle": "Serving",
}


@router.get("/", name="home")
async def home_page(console: SignedIn) -> Response:
    status = await console.runtime.status.status()
    context = {
        "status": status,
        "checks": _checks(status),
        "error_rate": _error_rate(status.ledger.traffic) if status.ledger else None,
    }
    return await run_in_threadpool(console.render, "home.html", context, title="Home")


def _checks(status: ServerStatus) -> list[tuple[str, str, bool]]:
    """(label, result, ok) per readiness check, in a fixed order."""
    return [
        (CHECK_LABELS.get(name, name), result, result == "ok")
        for name, result in sorted(status.dependencies.items(), key=lambda item: _order(item[0]))
    ]


def _order(name: str) -> int:
    names = list(CHECK_LABELS)
    return names.index(name) if name in names else len(names)


def _error_rate(traffic: Traffic) -> str:
    if traffic.requests == 0:
        return "no requests"
    rate = Decimal(traffic.errors * 100) / Decimal(traffic.requests)
    return f"{rate.quantize(Decimal('0.1'))} %"
