"""Verification runs: test one model's deployment in layers, record every result,
move the model between its states, and account for what it cost.

A run tests the deployment the routing table holds for the model row (its shared key
first, else a team's own), through the same engine agents use
(``tollway.domain.verification_calls``); the ``reachable`` test is free (the key
check of the connectivity path, and the catalog listing the model). The results of
one run share a ``run_id`` and a time; the model's status follows
``tollway.domain.verification_state``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tollway.domain.common import SYSTEM_ACTOR, Actor, Page, audit, target
from tollway.domain.connectivity import ConnectivityService
from tollway.domain.models import get_model
from tollway.domain.verification_calls import CallOutcome, VerificationCaller
from tollway.domain.verification_schemas import VerificationRead, VerificationRun
from tollway.domain.verification_state import next_status
from tollway.domain.verification_tests import (
    ModelTraits,
    Suite,
    TestType,
    judge,
    plan,
    probe,
)
from tollway.errors import ConflictError
from tollway.observability.metrics import Metrics
from tollway.providers.base import KeyCheckOutcome
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.table import Deployment, RoutingTable
from tollway.store.db import Database, Session
from tollway.store.enums import ModelStatus
from tollway.store.repositories import verifications
from tollway.store.tables import Team, VerificationResult, utcnow

SYSTEM_TEAM = "verification"


@dataclass(frozen=True, slots=True)
class _Subject:
    """What a run needs to know of the model, read once before it starts."""

    model_id: uuid.UUID
    name: str
    provider_id: uuid.UUID
    status: ModelStatus
    missing_from_catalog: bool
    traits: ModelTraits
    team_id: uuid.UUID


class VerificationService:
    def __init__(
        self,
        database: Database,
        connectivity: ConnectivityService,
        caller: VerificationCaller,
        routing: RoutingTableHolder,
        metrics: Metrics,
        *,
        failures_to_unverify: int,
    ) -> None:
        self._db = database
        self._connectivity = connectivity
        self._caller = caller
        self._routing = routing
        self._metrics = metrics
        self._failures_to_unverify = failures_to_unverify

    async def verify(
        self,
        model_id: uuid.UUID,
        suite: Suite,
        actor: Actor,
        *,
        run_id: uuid.UUID | None = None,
        on_result: Callable[[VerificationRead], None] | None = None,
    ) -> VerificationRun:
        """``run_id``: the run's id when the caller needs it before the run ends (the
        console's page of a live run); ``on_result``: told each test's result as it
        completes, before the run is recorded (results are stored together at the end)."""
        subject = await asyncio.to_thread(self._subject, model_id)
        deployment = _deployment_of(self._routing.table, subject)
        if deployment is None and await self._routing.refresh():
            # Published (or re-keyed) a moment ago: not in this replica's table yet.
            deployment = _deployment_of(self._routing.table, subject)
        run_id = run_id or uuid.uuid4()
        results: list[VerificationResult] = []
        for test in plan(subject.traits, suite):
            result = await self._run_test(test, subject, deployment, run_id)
            results.append(result)
            if on_result is not None:
                on_result(VerificationRead.model_validate(result))
            if test is TestType.REACHABLE and not result.passed:
                break  # an unreachable model would fail (and bill) every other test
        return await asyncio.to_thread(self._record, subject, suite, run_id, results, actor)

    def run_results(self, model_id: uuid.UUID, run_id: uuid.UUID) -> list[VerificationRead]:
        """One recorded run's results (empty while it runs, or for an unknown run)."""
        with self._db.session() as session:
            get_model(session, model_id)
            return [
                VerificationRead.model_validate(row)
                for row in verifications.of_run(session, model_id, run_id)
            ]

    def history(self, model_id: uuid.UUID, limit: int, offset: int) -> Page[VerificationRead]:
        with self._db.session() as session:
            get_model(session, model_id)
            rows, total = verifications.page(session, model_id, limit=limit, offset=offset)
            items = [VerificationRead.model_validate(row) for row in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    # -- before the run -----------------------------------------------------------------

    def _subject(self, model_id: uuid.UUID) -> _Subject:
        with self._db.session() as session:
            model = get_model(session, model_id)
            if model.status is ModelStatus.RETIRED:
                raise ConflictError(
                    f"model '{model.name}' is retired: its results are kept, it is not "
                    "verified again"
                )
            if model.status is ModelStatus.INVALID:
                reason = model.status_reason or "provider missing"
                raise ConflictError(
                    f"model '{model.name}' is invalid ({reason}): there is nothing to verify"
                )
            capabilities = verifications.declared_capabilities(
                session, model.provider_id, model.model_id
            )
            team = self._system_team(session)
            return _Subject(
                model.id,
                model.name,
                model.provider_id,
                model.status,
                model.missing_from_catalog,
                ModelTraits(
                    frozenset(capabilities), model.supports_streaming, model.supports_reasoning
                ),
                team.id,
            )

    @staticmethod
    def _system_team(session: Session) -> Team:
        """The team verification calls are billed to, created (and audited) on first use."""
        team = verifications.team_named(session, SYSTEM_TEAM)
        if team is None:
            team = Team(name=SYSTEM_TEAM)
            session.add(team)
            audit(
                session,
                SYSTEM_ACTOR,
                "team.create",
                target("team", team.id),
                {"name": SYSTEM_TEAM, "system": True},
            )
            session.flush()
        return team

    # -- the tests ----------------------------------------------------------------------

    async def _run_test(
        self,
        test: TestType,
        subject: _Subject,
        deployment: Deployment | None,
        run_id: uuid.UUID,
    ) -> VerificationResult:
        row = VerificationResult(
            model_id=subject.model_id,
            provider_id=subject.provider_id,
            provider_key_id=deployment.provider_key_id if deployment else None,
            run_id=run_id,
            test_type=test.value,
            passed=False,
        )
        if deployment is None:
            row.error = "no usable deployment: the model is disabled or has no usable key"
        elif test is TestType.REACHABLE:
            await self._reachable(row, subject, deployment)
        else:
            await self._probe(row, test, subject, deployment)
        if not row.passed:
            self._metrics.child(self._metrics.verification_failures, test.value).inc()
        return row

    async def _reachable(
        self, row: VerificationResult, subject: _Subject, deployment: Deployment
    ) -> None:
        started = time.perf_counter()
        outcome, message = KeyCheckOutcome.VALID, ""
        if deployment.provider_key_id is not None:
            check = await asyncio.to_thread(
                self._connectivity.check_key, deployment.provider_key_id
            )
            if check is None:
                outcome, message = KeyCheckOutcome.REJECTED, "the provider key is gone"
            else:
                outcome, message = check.outcome, check.message
        row.latency_ms = int((time.perf_counter() - started) * 1000)
        row.evidence = {"key_check": outcome.value, "in_catalog": not subject.missing_from_catalog}
        if outcome is not KeyCheckOutcome.VALID:
            row.error = f"the key check failed ({outcome.value}): {message}"[:400]
        elif subject.missing_from_catalog:
            row.error = "the provider's catalog no longer lists the model"
        else:
            row.passed, row.score = True, 1.0

    async def _probe(
        self, row: VerificationResult, test: TestType, subject: _Subject, deployment: Deployment
    ) -> None:
        request = probe(test, subject.traits)
        got: CallOutcome = await self._caller.call(deployment, subject.team_id, request)
        row.latency_ms, row.cost_usd = got.latency_ms, got.cost_usd
        row.prompt_tokens, row.completion_tokens = got.prompt_tokens, got.completion_tokens
        shape = _request_shape(request.body, request.endpoint.value, request.stream)
        if got.answer is None:
            row.error = (got.error or "the call failed")[:400]
            row.evidence = {"request": shape}
            return
        verdict = judge(test, got.answer)
        if test is TestType.STREAMING and got.chunks == 0:
            verdict = type(verdict)(False, verdict.excerpt, "the stream carried no chunks")
        row.passed, row.score, row.error = verdict.passed, verdict.score, verdict.error
        row.evidence = {"request": shape, "excerpt": verdict.excerpt, **verdict.facts}
        if test is TestType.STREAMING:
            row.evidence["chunks"] = got.chunks

    # -- after the run ------------------------------------------------------------------

    def _record(
        self,
        subject: _Subject,
        suite: Suite,
        run_id: uuid.UUID,
        results: list[VerificationResult],
        actor: Actor,
    ) -> VerificationRun:
        now = utcnow()
        for result in results:
            result.created_at = now  # one run, one time: the latest run is found by it
        passed = all(result.passed for result in results)
        with self._db.session() as session:
            verifications.add_run(session, results)
            session.flush()
            model = get_model(session, subject.model_id)
            previous = model.status
            runs = verifications.recent_runs(session, model.id, self._failures_to_unverify)
            outcomes = [all(r.passed for r in run) for run in runs]
            model.status = next_status(previous, outcomes, self._failures_to_unverify)
            if model.status is not previous:
                model.updated_at = now
                session.add(model)
            audit(
                session,
                actor,
                "model.verify",
                target("model", model.id),
                {
                    "run_id": str(run_id),
                    "suite": suite.value,
                    "passed": passed,
                    "status": model.status.value,
                    "previous_status": previous.value,
                },
            )
            session.flush()
            reads = [VerificationRead.model_validate(result) for result in results]
            status = model.status
        self._metrics.model_verified.labels(subject.name).set(
            1 if status is ModelStatus.VERIFIED else 0
        )
        return VerificationRun(
            model_id=subject.model_id,
            run_id=run_id,
            suite=suite,
            passed=passed,
            status=status,
            previous_status=previous,
            results=reads,
        )


def _deployment_of(table: RoutingTable, subject: _Subject) -> Deployment | None:
    """The model row's deployment: with a shared key when it has one, else a team's."""
    group = table.groups.get(subject.name)
    routed: list[Deployment] = []
    if group is not None:
        owned = [d for team in group.by_team.values() for d in team]
        routed = [*group.shared, *owned]
    held = sorted(table.held.get(subject.model_id, ()), key=lambda d: d.key_team_id is not None)
    for deployment in (*routed, *held):
        if deployment.model_row_id == subject.model_id:
            return deployment
    return None


def _request_shape(body: dict[str, object], endpoint: str, stream: bool) -> dict[str, object]:
    """What was asked, without the prompt's bytes (an image would be kilobytes)."""
    shape: dict[str, object] = {"endpoint": endpoint, "stream": stream}
    for field in ("max_tokens", "tool_choice"):
        if field in body:
            shape[field] = body[field]
    if isinstance(body.get("messages"), list):
        shape["messages"] = len(body["messages"])  # type: ignore[arg-type]
    if isinstance(body.get("tools"), list):
        shape["tools"] = len(body["tools"])  # type: ignore[arg-type]
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        shape["response_format"] = response_format.get("type")
    return shape
