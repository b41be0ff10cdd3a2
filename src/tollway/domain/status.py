"""One screen of how the server is doing, for ``GET /admin/v1/status`` and its readers
(``tollway status``, the console's home page).

What this process knows is read from it: the readiness checks, the engine's mode and
circuit, the LiteLLM service in remote mode, the journal backlog, the routing table.
Everything about traffic and money comes from the SQL ledger, so it is the same on
every replica: spend today and this month against the largest USD budgets, requests
and errors in the last hour, and the latest fallbacks from the audit trail.

Nothing here holds a secret: names, ids, counts and codes only. A fallback's
``detail`` (upstream text, scrubbed) is left in the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from tollway.domain.common import Money, Output
from tollway.domain.health import CHECK_TIMEOUT_SECONDS, OK, HealthChecks, healthy
from tollway.engine.base import Engine
from tollway.metering.reports import Dimension, ReportQuery, total, usage_report
from tollway.routing.breaker import CircuitBreaker, CircuitState
from tollway.routing.holder import RoutingTableHolder
from tollway.settings import EngineMode
from tollway.store.db import Database, Session
from tollway.store.enums import LimitScope, ModelStatus
from tollway.store.repositories import audit, limits
from tollway.store.repositories import status as ledger
from tollway.store.repositories.names import Named, names_by_id
from tollway.store.tables import LimitsInfo

log = logging.getLogger(__name__)

FALLBACK_ACTION = "engine.fallback"  # written by InferenceEvents.fallback
RECENT_FALLBACKS = 5
BUDGETS_PER_WINDOW = 3
TRAFFIC_WINDOW = timedelta(hours=1)
# The ledger's first hour of any "total" budget: before tollway existed.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_DIMENSIONS: dict[LimitScope, Dimension] = {
    LimitScope.TOLLWAY_KEY: Dimension.KEY,
    LimitScope.TEAM: Dimension.TEAM,
    LimitScope.PROVIDER: Dimension.PROVIDER,
    LimitScope.PROVIDER_KEY: Dimension.PROVIDER_KEY,
}
_NAMED: dict[LimitScope, Named] = {
    LimitScope.TOLLWAY_KEY: "tollway_key",
    LimitScope.TEAM: "team",
    LimitScope.PROVIDER: "provider",
    LimitScope.PROVIDER_KEY: "provider_key",
}


class Overall(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # serving, but the engine is failing over to the fallback
    UNAVAILABLE = "unavailable"  # not ready: a dependency is down, or draining


class BudgetWindow(StrEnum):
    DAY = "day"
    MONTH = "month"
    TOTAL = "total"


class EngineStatus(Output):
    mode: EngineMode
    circuit: CircuitState
    litellm_service: str | None  # remote mode: ok or litellm_unavailable


class RoutingStatus(Output):
    version: int
    loaded_at: datetime | None
    age_seconds: int | None


class Budget(Output):
    scope: LimitScope
    scope_id: uuid.UUID
    name: str | None
    window: BudgetWindow
    limit_usd: Money
    used_usd: Money


class Spend(Output):
    today_usd: Money
    month_usd: Money
    budgets: list[Budget]


class Traffic(Output):
    since: datetime
    requests: int
    errors: int
    fallbacks: int


class Fallback(Output):
    time: datetime
    model: str | None
    reason: str | None
    request_id: str | None


class Ledger(Output):
    models: dict[ModelStatus, int]
    spend: Spend
    traffic: Traffic
    recent_fallbacks: list[Fallback]


class ServerStatus(Output):
    status: Overall
    problems: list[str]
    version: str
    checked_at: datetime
    engine: EngineStatus
    dependencies: dict[str, str]
    journal_backlog: int
    routing: RoutingStatus
    ledger: Ledger | None  # null when the database could not be read


@dataclass(frozen=True, slots=True)
class _Limit:
    scope: LimitScope
    scope_id: uuid.UUID
    window: BudgetWindow
    usd: Decimal


class StatusService:
    def __init__(
        self,
        *,
        version: str,
        mode: EngineMode,
        health: HealthChecks,
        breaker: CircuitBreaker,
        engine: Engine,
        journal_backlog: Callable[[], int],
        routing: RoutingTableHolder,
        database: Database,
    ) -> None:
        self._version = version
        self._mode = mode
        self._health = health
        self._breaker = breaker
        self._engine = engine
        self._backlog = journal_backlog
        self._routing = routing
        self._db = database

    async def status(self, now: datetime | None = None) -> ServerStatus:
        now = now or datetime.now(UTC)
        checks, litellm = await asyncio.gather(self._health.readiness(), self._litellm())
        engine = EngineStatus(mode=self._mode, circuit=self._breaker.state, litellm_service=litellm)
        try:
            read: Ledger | None = await asyncio.to_thread(self._ledger, now)
        except Exception as exc:  # reported in the answer; the checks name what is down
            log.warning("status: the ledger could not be read (%s)", type(exc).__name__)
            read = None
        overall, problems = _verdict(checks, engine, read)
        return ServerStatus(
            status=overall,
            problems=problems,
            version=self._version,
            checked_at=now,
            engine=engine,
            dependencies=checks,
            journal_backlog=self._backlog(),
            routing=self._routing_status(now),
            ledger=read,
        )

    async def _litellm(self) -> str | None:
        if self._mode is not EngineMode.REMOTE:
            return None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                answered = await self._engine.ready()
        except Exception:  # a status page reports, it never raises
            answered = False
        return OK if answered else "litellm_unavailable"

    def _routing_status(self, now: datetime) -> RoutingStatus:
        loaded = self._routing.loaded_at
        age = None if loaded is None else max(0, int((now - loaded).total_seconds()))
        return RoutingStatus(version=self._routing.table.version, loaded_at=loaded, age_seconds=age)

    def _ledger(self, now: datetime) -> Ledger:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        with self._db.session() as session:
            models = ledger.models_by_status(session)
            traffic = ledger.traffic_since(session, now - TRAFFIC_WINDOW)
            fallbacks = _fallbacks(session)
            largest = _largest_budgets(limits.listed(session))
            names = _names(session, largest)
        starts = {BudgetWindow.DAY: day, BudgetWindow.MONTH: month, BudgetWindow.TOTAL: _EPOCH}
        budgets = [
            Budget(
                scope=limit.scope,
                scope_id=limit.scope_id,
                name=names.get(limit.scope_id),
                window=limit.window,
                limit_usd=limit.usd,
                used_usd=used,
            )
            for limit, used in self._spent(largest, starts, end)
        ]
        return Ledger(
            models={status: models.get(status, 0) for status in ModelStatus},
            spend=Spend(
                today_usd=self._cost(ReportQuery(start=day, end=end)),
                month_usd=self._cost(ReportQuery(start=month, end=end)),
                budgets=budgets,
            ),
            traffic=Traffic(
                since=now - TRAFFIC_WINDOW,
                requests=traffic.requests,
                errors=traffic.errors,
                fallbacks=traffic.fallbacks,
            ),
            recent_fallbacks=fallbacks,
        )

    def _cost(self, query: ReportQuery) -> Decimal:
        return total(usage_report(self._db, query)).cost_usd

    def _spent(
        self, wanted: list[_Limit], starts: dict[BudgetWindow, datetime], end: datetime
    ) -> Iterable[tuple[_Limit, Decimal]]:
        """Each budget's spend in its current window: one grouped report per (scope
        kind, window) among the budgets shown, filtered to their ids."""
        spent: dict[tuple[LimitScope, BudgetWindow], dict[object, Decimal]] = {}
        for limit in wanted:
            kind = (limit.scope, limit.window)
            if kind not in spent:
                ids = frozenset(w.scope_id for w in wanted if (w.scope, w.window) == kind)
                spent[kind] = self._by_scope(limit.scope, ids, starts[limit.window], end)
            yield limit, spent[kind].get(limit.scope_id, Decimal(0))

    def _by_scope(
        self, scope: LimitScope, ids: frozenset[uuid.UUID], start: datetime, end: datetime
    ) -> dict[object, Decimal]:
        dimension = _DIMENSIONS[scope]
        none: frozenset[uuid.UUID] = frozenset()
        query = ReportQuery(
            start=start,
            end=end,
            group_by=(dimension,),
            keys=ids if scope is LimitScope.TOLLWAY_KEY else none,
            teams=ids if scope is LimitScope.TEAM else none,
            providers=ids if scope is LimitScope.PROVIDER else none,
            provider_keys=ids if scope is LimitScope.PROVIDER_KEY else none,
        )
        rows = usage_report(self._db, query)
        return {row.dimensions[dimension]: row.sums.cost_usd for row in rows}


def _largest_budgets(rows: Iterable[LimitsInfo]) -> list[_Limit]:
    """The largest USD budgets of each window, largest first."""
    by_window: dict[BudgetWindow, list[_Limit]] = {window: [] for window in BudgetWindow}
    for row in rows:
        for window, usd in (
            (BudgetWindow.DAY, row.usd_per_day),
            (BudgetWindow.MONTH, row.usd_per_month),
            (BudgetWindow.TOTAL, row.usd_total),
        ):
            if usd is not None:
                by_window[window].append(_Limit(row.scope, row.scope_id, window, Decimal(usd)))
    return [
        limit
        for window in BudgetWindow
        for limit in sorted(by_window[window], key=lambda item: -item.usd)[:BUDGETS_PER_WINDOW]
    ]


def _names(session: Session, wanted: list[_Limit]) -> dict[uuid.UUID, str]:
    names: dict[uuid.UUID, str] = {}
    for scope in {limit.scope for limit in wanted}:
        ids = {limit.scope_id for limit in wanted if limit.scope is scope}
        names.update(names_by_id(session, _NAMED[scope], ids))
    return names


def _fallbacks(session: Session) -> list[Fallback]:
    events, _ = audit.page(session, limit=RECENT_FALLBACKS, offset=0, action=FALLBACK_ACTION)
    return [
        Fallback(
            time=event.time,
            model=_text(event.details.get("model")),
            reason=_text(event.details.get("reason")),
            request_id=_text(event.details.get("request_id")),
        )
        for event in events
    ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _verdict(
    checks: dict[str, str], engine: EngineStatus, read: Ledger | None
) -> tuple[Overall, list[str]]:
    problems = [f"{name}: {result}" for name, result in checks.items() if result != OK]
    if read is None and checks.get("database") == OK:
        problems.append("ledger: could not be read")
    ready = healthy(checks) and read is not None
    if engine.litellm_service not in (None, OK):
        problems.append(f"litellm_service: {engine.litellm_service}")
    if engine.circuit is not CircuitState.CLOSED:
        problems.append(f"engine circuit {engine.circuit.value}: requests go to the fallback")
    if not ready:
        return Overall.UNAVAILABLE, problems
    return (Overall.DEGRADED if problems else Overall.OK), problems
