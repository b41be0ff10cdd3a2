"""The data plane's rules: who may call, which deployments to try, in what order,
and what to do when they fail.

tollway decides, the engine executes: candidates come from the routing table in
the model's strategy order (the caller team's own keys first); retryable
failures before the first byte move on to the next candidate; a request error
goes back to the client; when the engine is down or misconfigured, or every
candidate failed, the request goes to OpenRouter, recorded as a fallback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tollway.domain.accounting import Accounting, RequestAccount
from tollway.domain.attempt import deployment_attempt
from tollway.domain.availability import Availability
from tollway.domain.failures import Failures, final_error
from tollway.domain.fallback import fallback_attempt, fallback_served, fallback_target
from tollway.domain.inference_events import InferenceEvents
from tollway.domain.key_quarantine import KeyQuarantine
from tollway.domain.metered_stream import MeteredStream
from tollway.domain.served import Outcome, served_by
from tollway.domain.tollway_keys import key_digest
from tollway.domain.v1_errors import (
    ErrorCode,
    bad_gateway,
    client_error,
    invalid_api_key,
    model_not_found,
    quota_denied,
    secret_store_unavailable,
)
from tollway.engine.base import (
    Endpoint,
    Engine,
    EngineCall,
    EngineError,
    EngineMisconfigured,
    EngineResult,
    EngineStream,
    EngineUnavailable,
    UpstreamError,
)
from tollway.errors import InferenceError
from tollway.metering.pricing import prices_for
from tollway.observability.metrics import Metrics
from tollway.observability.scrubbing import KnownSecrets
from tollway.routing.breaker import CircuitBreaker
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.table import CallerKey, Deployment, ModelGroup, RoutingTable, Unusable
from tollway.store.tables import UsageStatus, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
Runner = Callable[[Engine, EngineCall], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class InferenceRequest:
    request_id: str
    endpoint: Endpoint
    model: str
    body: dict[str, Any]
    stream: bool = False


@dataclass(frozen=True, slots=True)
class InferencePolicy:
    max_attempts: int
    timeout_seconds: float
    fallback_enabled: bool


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
    ) -> None:
        """Without a ``quarantine`` a key its provider rejects is marked invalid at once."""
        self._routing = routing
        self._quarantine = quarantine
        self._availability = Availability(quarantine)
        self._accounting = accounting
        self._engine = engine
        self._openrouter = openrouter
        self._breaker = breaker
        self._events = events
        self._metrics = metrics
        self._policy = policy
        self._secrets = known_secrets or KnownSecrets()

    # -- who and what -------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> CallerKey:
        token = _bearer(authorization)
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
            outcome = await self._execute(caller, request, _call, account)
            await account.durable()  # else refused: not served unbilled
            await account.settle_response(outcome.value)
        except BaseException as exc:
            await _failed(account, exc)
            raise
        return outcome

    async def stream(self, caller: CallerKey, request: InferenceRequest) -> Outcome[MeteredStream]:
        """The stream, metered: whoever iterates it must ``close`` it, however it ends."""
        account = self._open_account(caller, request)
        try:
            outcome = await self._execute(caller, request, _open_stream, account)
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
        return Outcome(stream, outcome.served)

    def _open_account(self, caller: CallerKey, request: InferenceRequest) -> RequestAccount:
        return self._accounting.open(
            caller, request.request_id, request.endpoint, request.model, request.body
        )

    async def _execute(
        self, caller: CallerKey, request: InferenceRequest, run: Runner[T], account: RequestAccount
    ) -> Outcome[T]:
        table = self._routing.table
        group = table.groups.get(request.model)
        if (
            group is None
            or not caller.may_use(request.model)
            or not group.visible_to(caller.team_id)
        ):
            raise model_not_found(request.model)
        candidates = group.candidates(
            caller.team_id,
            byok_only=caller.byok_only,
            limit=self._policy.max_attempts,
            usable=self._availability.usable,
        )
        failures = Failures()
        if not candidates:
            unusable = self._availability.none_usable(group, caller)
            if unusable.code == ErrorCode.SECRET_STORE_UNAVAILABLE:
                raise unusable  # fail closed: never another key instead of the caller's
            failures.failed("no_deployment", unusable)
        call = _Call(table, request, self._scrubbing(run), account, failures)
        outcome = await self._try_engine(candidates, call)
        if outcome is not None:
            return outcome
        quota_error = failures.quota_error()
        if quota_error is not None:
            raise quota_error
        return await self._fall_back(group, call)

    def _scrubbing(self, run: Runner[T]) -> Runner[T]:
        """``run``, with every known secret out of the errors it raises: an engine
        scrubs the key of its call; any other credential the upstream echoed (the
        master key, another deployment's key) goes here, before the message reaches
        a client, a log line, an event or a key's ``last_error``."""

        async def scrubbed(engine: Engine, call: EngineCall) -> T:
            try:
                return await run(engine, call)
            except EngineError as exc:
                exc.message = self._secrets.scrub(exc.message)
                exc.args = (exc.message,)
                raise

        return scrubbed

    async def _try_engine(self, candidates: list[Deployment], call: _Call[T]) -> Outcome[T] | None:
        failures = call.failures
        if not candidates:  # why is recorded in ``failures`` already
            return None
        ticket = self._breaker.acquire()
        if ticket is None:
            failures.failed("engine_circuit_open", EngineUnavailable("the engine circuit is open"))
            return None
        try:
            return await self._try_candidates(candidates, call)
        finally:
            self._breaker.finish(ticket)
            self._metrics.set_circuit_state(self._breaker.state.value)

    async def _try_candidates(
        self, candidates: list[Deployment], call: _Call[T]
    ) -> Outcome[T] | None:
        request, account, failures = call.request, call.account, call.failures
        for deployment in candidates:
            prices = prices_for(deployment)
            denied = await account.admit(call.table, deployment_attempt(deployment, prices), prices)
            if denied is not None:
                failures.denied(denied)
                continue
            failures.tried += 1
            engine_call = EngineCall(
                request.endpoint,
                account.upstream_body,
                deployment.targets[request.endpoint],
                request.stream,
            )
            try:
                value = await call.run(self._engine, engine_call)
            except EngineUnavailable as exc:
                await account.release()
                self._breaker.record_failure()
                failures.failed("engine_unavailable", exc)
                return None
            except EngineMisconfigured as exc:
                await account.release()
                self._breaker.record_success()
                failures.failed("engine_misconfigured", exc)
                self._metrics.upstream_failures.labels("misconfigured").inc()
            except UpstreamError as exc:
                await account.release()
                self._breaker.record_success()
                self._upstream_failed(deployment, exc, failures)
            else:
                self._breaker.record_success()
                return Outcome(value, served_by(deployment, failures.tried))
        return None

    def _upstream_failed(
        self, deployment: Deployment, exc: UpstreamError, failures: Failures
    ) -> None:
        if exc.key_rejected:
            self._key_rejected(deployment, exc)
            self._metrics.upstream_failures.labels("key_rejected").inc()
        elif exc.retryable:
            self._metrics.upstream_failures.labels("retryable").inc()
        else:
            raise client_error(exc)
        failures.failed("all_deployments_failed", exc)
        log.info("deployment %s failed (%s), trying the next one", deployment.id, exc.status)

    def _key_rejected(self, deployment: Deployment, exc: UpstreamError) -> None:
        key_id = deployment.provider_key_id
        if key_id is not None and self._quarantine is not None:
            self._quarantine.hold(key_id)
        elif key_id is not None:
            self._events.key_rejected(key_id, exc.message)

    async def _fall_back(self, group: ModelGroup, call: _Call[T]) -> Outcome[T]:
        request, failures = call.request, call.failures
        reason = failures.reason or "all_deployments_failed"
        route, model_id = call.table.openrouter, group.openrouter_model_id
        if not self._policy.fallback_enabled or route is None or model_id is None:
            raise final_error(request.model, failures, route is None, self._policy.fallback_enabled)
        if route.credential is not None and not route.credential.usable():
            stale = Unusable(None, "the OpenRouter key is past its stale window", outage=True)
            raise secret_store_unavailable(request.model, [stale])
        attempt = fallback_attempt(route, group, reason)
        denied = await call.account.admit(call.table, attempt, attempt.prices)
        if denied is not None:
            raise quota_denied(denied)
        self._record_fallback(request, reason, failures)
        target = fallback_target(route, model_id, self._policy.timeout_seconds)
        body = call.account.upstream_body
        engine_call = EngineCall(request.endpoint, body, target, request.stream)
        try:
            value = await call.run(self._openrouter, engine_call)
        except UpstreamError as exc:
            if not (exc.retryable or exc.key_rejected):
                raise client_error(exc) from None
            raise bad_gateway(
                f"the fallback to OpenRouter failed too: {exc.message}", exc
            ) from None
        except (EngineUnavailable, EngineMisconfigured) as exc:
            raise bad_gateway(f"the fallback to OpenRouter failed: {exc.message}") from None
        return Outcome(value, fallback_served(route, reason, failures.tried + 1))

    def _record_fallback(self, request: InferenceRequest, reason: str, failures: Failures) -> None:
        detail = str(failures.last) if failures.last else reason
        log.warning(
            "fallback to OpenRouter: request_id=%s model=%s reason=%s detail=%s",
            request.request_id,
            request.model,
            reason,
            detail,
        )
        self._metrics.fallbacks.labels(reason).inc()
        self._events.fallback(request.request_id, request.model, reason, detail)


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One request's trip through routing: what every step needs."""

    table: RoutingTable
    request: InferenceRequest
    run: Runner[T]
    account: RequestAccount
    failures: Failures


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


async def _call(engine: Engine, call: EngineCall) -> EngineResult:
    return await engine.call(call)


async def _open_stream(engine: Engine, call: EngineCall) -> EngineStream:
    return await engine.open_stream(call)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if not hmac.compare_digest(scheme.lower(), "bearer"):
        return None
    return token.strip() or None
