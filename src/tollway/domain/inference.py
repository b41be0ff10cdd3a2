"""The data plane's rules: who may call, which deployments to try, in what order,
and what to do when they fail.

tollway decides, the engine executes: candidates come from the routing table in
the model's strategy order (the caller team's own keys first); retryable
failures before the first byte move on to the next candidate; a request error
goes back to the client; when the engine is down or misconfigured, or every
candidate failed, the request goes to OpenRouter, recorded as a fallback.

The loop reads top to bottom in ``InferenceService._route``: resolve the model,
list its candidates, and ``_attempt`` each in turn: admit it (``Admitted`` or a
limit's ``Denied``), send it through the engine, and judge what happened with the
pure functions of ``tollway.domain.decisions`` (``NextCandidate``, ``FallBack``,
``Stop``). The loop acts on the decision where it is read: the next candidate, the
OpenRouter step (``tollway.domain.fallback.Fallback``), or the client's error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TypeVar

from tollway.domain.accounting import Accounting, RequestAccount
from tollway.domain.attempt import deployment_attempt
from tollway.domain.availability import Availability
from tollway.domain.decisions import (
    EngineFailure,
    FallBack,
    NextCandidate,
    Stop,
    after_candidates,
    after_denial,
    after_engine_failure,
    failure_kind,
    failure_reason,
    when_none_usable,
)
from tollway.domain.failures import Failures
from tollway.domain.fallback import Fallback
from tollway.domain.inference_events import InferenceEvents
from tollway.domain.inference_request import InferencePolicy, InferenceRequest
from tollway.domain.key_quarantine import KeyQuarantine
from tollway.domain.metered_stream import MeteredStream
from tollway.domain.provider_limits import ObservedRateLimits, upstream_headers
from tollway.domain.send import Send, answer, open_stream, send_scrubbed
from tollway.domain.served import Outcome, served_by
from tollway.domain.tollway_keys import key_digest
from tollway.domain.v1_errors import invalid_api_key, model_not_found
from tollway.engine.base import (
    Engine,
    EngineCall,
    EngineMisconfigured,
    EngineResult,
    EngineUnavailable,
    UpstreamError,
)
from tollway.errors import InferenceError
from tollway.metering.pricing import prices_for
from tollway.observability import gen_ai
from tollway.observability.metrics import NO_ID, Metrics
from tollway.observability.scrubbing import KnownSecrets
from tollway.quotas.model import Denied
from tollway.routing.breaker import CircuitBreaker
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.table import CallerKey, Deployment, ModelGroup, RoutingTable
from tollway.store.tables import UsageStatus, utcnow

__all__ = ["InferencePolicy", "InferenceRequest", "InferenceService"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class InferenceService:
    def __init__(
        self,
        routing: RoutingTableHolder,
        engine: Engine,
        *,
        openrouter: Engine,
        breaker: CircuitBreaker,
        events: InferenceEvents,
        metrics: Metrics,
        policy: InferencePolicy,
        accounting: Accounting,
        quarantine: KeyQuarantine | None = None,
        known_secrets: KnownSecrets | None = None,
        rate_limits: ObservedRateLimits | None = None,
    ) -> None:
        """Without a ``quarantine`` a key its provider rejects is marked invalid at once."""
        self._routing = routing
        self._quarantine = quarantine
        self._availability = Availability(quarantine)
        self._accounting = accounting
        self._engine = engine
        self._breaker = breaker
        self._events = events
        self._metrics = metrics
        self._policy = policy
        self._secrets = known_secrets or KnownSecrets()
        self._rate_limits = rate_limits
        self._fallback = Fallback(
            openrouter,
            enabled=policy.fallback_enabled,
            timeout_seconds=policy.timeout_seconds,
            events=events,
            metrics=metrics,
            scrub=self._secrets.scrub,
        )

    # -- who and what -------------------------------------------------------------

    def authenticate(self, token: str | None) -> CallerKey:
        """The caller whose tollway key is ``token`` (however its dialect sent it)."""
        caller = self._routing.table.keys.get(key_digest(token)) if token else None
        if caller is None or (caller.expires_at is not None and caller.expires_at <= utcnow()):
            raise invalid_api_key()
        self._events.key_used(caller.id)
        return caller

    def visible_models(self, caller: CallerKey) -> list[str]:
        return self._routing.table.visible_models(caller)

    # -- calls --------------------------------------------------------------------

    async def complete(self, caller: CallerKey, request: InferenceRequest) -> Outcome[EngineResult]:
        account = self._open_account(caller, request)
        try:
            outcome = await self._route(caller, request, account, answer)
            await account.durable()  # else refused: not served unbilled
            await account.settle_response(outcome.value)
        except BaseException as exc:
            await _failed(account, exc)
            raise
        return replace(outcome, rate_limits=account.rate_limit_headers())

    async def stream(self, caller: CallerKey, request: InferenceRequest) -> Outcome[MeteredStream]:
        """The stream, metered: whoever iterates it must ``close`` it, however it ends."""
        account = self._open_account(caller, request)
        try:
            outcome = await self._route(caller, request, account, open_stream)
        except BaseException as exc:
            await _failed(account, exc)
            raise
        account.first_token()
        stream = MeteredStream(outcome.value, account, self._secrets.scrub)
        try:
            await account.durable()
        except InferenceError as exc:  # its begin cannot be made durable: not served
            await asyncio.shield(stream.refuse(exc.status_code))
            raise
        except BaseException:
            await asyncio.shield(stream.close(disconnected=True))
            raise
        return Outcome(stream, outcome.served, account.rate_limit_headers())

    def _open_account(self, caller: CallerKey, request: InferenceRequest) -> RequestAccount:
        return self._accounting.open(
            caller, request.request_id, request.endpoint, request.model, request.body
        )

    # -- the request loop -----------------------------------------------------------

    async def _route(
        self, caller: CallerKey, request: InferenceRequest, account: RequestAccount, send: Send[T]
    ) -> Outcome[T]:
        """Resolve the model, try its candidates in order, then act on how that went:
        served, stopped with the client's error, or sent to the fallback."""
        table = self._routing.table
        group = self._model_group(table, caller, request.model)
        candidates = group.candidates(
            caller.team_id,
            byok_only=caller.byok_only,
            limit=self._policy.max_attempts,
            usable=self._availability.usable,
        )
        failures = Failures()
        if candidates:
            decision = await self._try_candidates(
                candidates, send, table=table, request=request, account=account, failures=failures
            )
        else:
            unusable = self._availability.none_usable(group, caller)
            failures.failed("no_deployment", unusable)
            decision = when_none_usable(unusable)
        match decision:
            case Outcome():
                return decision
            case Stop(error):
                raise error
            case FallBack():
                return await self._fallback.serve(
                    group,
                    send,
                    table=table,
                    request=request,
                    account=account,
                    failures=failures,
                    byok_only=caller.byok_only,
                )

    def _model_group(self, table: RoutingTable, caller: CallerKey, model: str) -> ModelGroup:
        group = table.groups.get(model)
        if group is None or not caller.may_use(model) or not group.visible_to(caller.team_id):
            raise model_not_found(model)
        return group

    async def _try_candidates(
        self,
        candidates: list[Deployment],
        send: Send[T],
        *,
        table: RoutingTable,
        request: InferenceRequest,
        account: RequestAccount,
        failures: Failures,
    ) -> Outcome[T] | FallBack | Stop:
        """Each candidate in order, through the engine's circuit breaker, until one
        serves the request or a decision ends the loop."""
        ticket = self._breaker.acquire()
        if ticket is None:
            failures.failed("engine_circuit_open", EngineUnavailable("the engine circuit is open"))
            return FallBack()
        try:
            for deployment in candidates:
                decision = await self._attempt(
                    deployment,
                    send,
                    table=table,
                    request=request,
                    account=account,
                    failures=failures,
                )
                if not isinstance(decision, NextCandidate):
                    return decision
            return after_candidates(failures)
        finally:
            self._breaker.finish(ticket)
            self._metrics.set_circuit_state(self._breaker.state.value)

    async def _attempt(
        self,
        deployment: Deployment,
        send: Send[T],
        *,
        table: RoutingTable,
        request: InferenceRequest,
        account: RequestAccount,
        failures: Failures,
    ) -> Outcome[T] | NextCandidate | FallBack | Stop:
        """One candidate: admit it against the limits, send it, judge how that went."""
        prices = prices_for(deployment)
        admission = await account.admit(table, deployment_attempt(deployment, prices), prices)
        if isinstance(admission, Denied):
            failures.denied(admission)
            return after_denial(admission)
        failures.tried += 1
        target = deployment.targets[request.endpoint]
        call = EngineCall(
            request.endpoint,
            admission.upstream_body,
            target,
            request.stream,
            upstream_headers=request.upstream_headers,
        )
        sent = time.perf_counter()
        try:
            value = await send_scrubbed(send, self._engine, call, self._secrets.scrub)
        except (EngineUnavailable, EngineMisconfigured, UpstreamError) as exc:
            self._count_attempt(deployment, _attempt_outcome(exc), sent)
            await account.release()
            self._engine_failed(deployment, exc)
            failures.failed(failure_reason(exc), exc)
            decision = after_engine_failure(exc)
            if isinstance(decision, NextCandidate) and isinstance(exc, UpstreamError):
                log.info(
                    "deployment %s failed (%s), trying the next one", deployment.id, exc.status
                )
            return decision
        self._count_attempt(deployment, "ok", sent)
        if self._rate_limits is not None:
            self._rate_limits.record(deployment.provider_key_id, upstream_headers(value))
        self._breaker.record_success()
        return Outcome(value, served_by(deployment, failures.tried))

    def _count_attempt(self, deployment: Deployment, outcome: str, sent: float) -> None:
        """Per provider key, by id: its errors and how long its upstream took."""
        metrics = self._metrics
        key_id = str(deployment.provider_key_id) if deployment.provider_key_id else NO_ID
        provider = (
            gen_ai.provider_name(deployment.provider_type.value),
            str(deployment.provider_id),
            key_id,
        )
        metrics.child(metrics.upstream_attempts, *provider, outcome).inc()
        metrics.child(metrics.upstream_latency, *provider).observe(time.perf_counter() - sent)

    def _engine_failed(self, deployment: Deployment, exc: EngineFailure) -> None:
        """What a failed attempt leaves behind: the breaker's count (a down engine
        fails it; an upstream's failure does not), the failure metric, and a
        rejected key's quarantine."""
        if isinstance(exc, EngineUnavailable):
            self._breaker.record_failure()
        else:
            self._breaker.record_success()
        kind = failure_kind(exc)
        if kind is not None:
            self._metrics.upstream_failures.labels(kind).inc()
        if isinstance(exc, UpstreamError) and exc.key_rejected:
            self._key_rejected(deployment, exc)

    def _key_rejected(self, deployment: Deployment, exc: UpstreamError) -> None:
        key_id = deployment.provider_key_id
        if key_id is not None and self._quarantine is not None:
            self._quarantine.hold(key_id)
        elif key_id is not None:
            self._events.key_rejected(key_id, exc.message)


def _attempt_outcome(exc: EngineFailure) -> str:
    """``tollway_upstream_attempts_total``'s outcome of a failed attempt."""
    if isinstance(exc, EngineUnavailable):
        return "engine_unavailable"
    return failure_kind(exc) or "request_error"  # the upstream refused the request itself


async def _failed(account: RequestAccount, exc: BaseException) -> None:
    """Record how an admitted request failed; shielded, so a cancelled request (its
    client or the server went away) is still recorded."""
    if isinstance(exc, InferenceError):
        step = account.fail(exc.status_code)
    elif isinstance(exc, asyncio.CancelledError):
        step = account.fail(None, UsageStatus.INTERRUPTED)
    else:
        step = account.fail(500)
    await asyncio.shield(step)
