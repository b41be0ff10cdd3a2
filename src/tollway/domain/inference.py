"""The data plane's rules: who may call, which deployments to try, in what order,
and what to do when they fail.

tollway decides, the engine executes: candidates come from the routing table in
the model's strategy order (the caller team's own keys first); retryable
failures before the first byte move on to the next candidate; a request error
goes back to the client; when the engine is down or misconfigured, or every
candidate failed, the request goes to OpenRouter, recorded as a fallback.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tollway.domain.data_plane_events import DataPlaneEvents
from tollway.domain.tollway_keys import key_digest
from tollway.engine.base import (
    Endpoint,
    Engine,
    EngineCall,
    EngineMisconfigured,
    EngineResult,
    EngineStream,
    EngineUnavailable,
    Route,
    Target,
    UpstreamError,
)
from tollway.errors import InferenceError, invalid_api_key, model_not_found
from tollway.observability.metrics import Metrics
from tollway.routing.breaker import CircuitBreaker, CircuitState
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.table import CallerKey, Deployment, ModelGroup, RoutingTable
from tollway.store.tables import utcnow

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
class Served:
    route: Route
    provider_name: str
    provider_id: uuid.UUID | None
    deployment_id: str | None
    fallback_reason: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    value: T
    served: Served


@dataclass(frozen=True, slots=True)
class InferencePolicy:
    max_attempts: int
    timeout_seconds: float
    fallback_enabled: bool


class _Attempts:
    """What went wrong so far, to explain a fallback or the final error."""

    def __init__(self) -> None:
        self.count = 0
        self.reason: str | None = None
        self.last: Exception | None = None

    def failed(self, reason: str, error: Exception) -> None:
        self.reason, self.last = reason, error


class InferenceService:
    def __init__(
        self,
        routing: RoutingTableHolder,
        engine: Engine,
        *,
        openrouter: Engine,
        breaker: CircuitBreaker,
        events: DataPlaneEvents,
        metrics: Metrics,
        policy: InferencePolicy,
    ) -> None:
        self._routing = routing
        self._engine = engine
        self._openrouter = openrouter
        self._breaker = breaker
        self._events = events
        self._metrics = metrics
        self._policy = policy

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
        return await self._execute(caller, request, _call)

    async def stream(self, caller: CallerKey, request: InferenceRequest) -> Outcome[EngineStream]:
        return await self._execute(caller, request, _open_stream)

    async def _execute(
        self, caller: CallerKey, request: InferenceRequest, run: Runner[T]
    ) -> Outcome[T]:
        table = self._routing.table
        group = table.groups.get(request.model)
        if group is None or not caller.may_use(request.model):
            raise model_not_found(request.model)
        candidates = group.candidates(
            caller.team_id, byok_only=caller.byok_only, limit=self._policy.max_attempts
        )
        attempts = _Attempts()
        outcome = await self._try_engine(candidates, request, run, attempts)
        if outcome is not None:
            return outcome
        return await self._fall_back(table, group, request, run, attempts)

    async def _try_engine(
        self,
        candidates: list[Deployment],
        request: InferenceRequest,
        run: Runner[T],
        attempts: _Attempts,
    ) -> Outcome[T] | None:
        if not candidates:
            attempts.failed("no_deployment", _no_deployment(request.model))
            return None
        ticket = self._breaker.acquire()
        if ticket is None:
            attempts.failed("engine_circuit_open", EngineUnavailable("the engine circuit is open"))
            return None
        try:
            return await self._try_candidates(candidates, request, run, attempts)
        finally:
            self._breaker.finish(ticket)
            self._metrics.circuit_open.set(self._breaker.state is not CircuitState.CLOSED)

    async def _try_candidates(
        self,
        candidates: list[Deployment],
        request: InferenceRequest,
        run: Runner[T],
        attempts: _Attempts,
    ) -> Outcome[T] | None:
        for deployment in candidates:
            attempts.count += 1
            call = EngineCall(
                request.endpoint, request.body, deployment.targets[request.endpoint], request.stream
            )
            try:
                value = await run(self._engine, call)
            except EngineUnavailable as exc:
                self._breaker.record_failure()
                attempts.failed("engine_unavailable", exc)
                return None
            except EngineMisconfigured as exc:
                self._breaker.record_success()
                attempts.failed("engine_misconfigured", exc)
                self._metrics.upstream_failures.labels("misconfigured").inc()
            except UpstreamError as exc:
                self._breaker.record_success()
                self._upstream_failed(deployment, exc, attempts)
            else:
                self._breaker.record_success()
                return Outcome(value, _served(deployment, attempts.count))
        return None

    def _upstream_failed(
        self, deployment: Deployment, exc: UpstreamError, attempts: _Attempts
    ) -> None:
        if exc.key_rejected:
            if deployment.provider_key_id is not None:
                self._events.key_rejected(deployment.provider_key_id, exc.message)
            self._metrics.upstream_failures.labels("key_rejected").inc()
        elif exc.retryable:
            self._metrics.upstream_failures.labels("retryable").inc()
        else:
            raise _client_error(exc)
        attempts.failed("all_deployments_failed", exc)
        log.info("deployment %s failed (%s), trying the next one", deployment.id, exc.status)

    async def _fall_back(
        self,
        table: RoutingTable,
        group: ModelGroup,
        request: InferenceRequest,
        run: Runner[T],
        attempts: _Attempts,
    ) -> Outcome[T]:
        reason = attempts.reason or "all_deployments_failed"
        route, model_id = table.openrouter, group.openrouter_model_id
        if not self._policy.fallback_enabled or route is None or model_id is None:
            raise _final_error(
                request.model, attempts, route is None, self._policy.fallback_enabled
            )
        self._record_fallback(request, reason, attempts)
        target = Target(
            deployment_id=f"openrouter:{model_id}",
            litellm_model=model_id,
            api_key=route.api_key,
            api_base=route.base_url,
            timeout_seconds=self._policy.timeout_seconds,
        )
        call = EngineCall(request.endpoint, request.body, target, request.stream)
        try:
            value = await run(self._openrouter, call)
        except UpstreamError as exc:
            if not (exc.retryable or exc.key_rejected):
                raise _client_error(exc) from None
            raise _bad_gateway(
                f"the fallback to OpenRouter failed too: {exc.message}", exc
            ) from None
        except (EngineUnavailable, EngineMisconfigured) as exc:
            raise _bad_gateway(f"the fallback to OpenRouter failed: {exc.message}") from None
        served = Served(
            Route.OPENROUTER,
            route.provider_name,
            route.provider_id,
            None,
            reason,
            attempts.count + 1,
        )
        return Outcome(value, served)

    def _record_fallback(self, request: InferenceRequest, reason: str, attempts: _Attempts) -> None:
        detail = str(attempts.last) if attempts.last else reason
        log.warning(
            "fallback to OpenRouter: request_id=%s model=%s reason=%s detail=%s",
            request.request_id,
            request.model,
            reason,
            detail,
        )
        self._metrics.fallbacks.labels(reason).inc()
        self._events.fallback(request.request_id, request.model, reason, detail)


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


def _served(deployment: Deployment, attempts: int) -> Served:
    return Served(
        Route.LITELLM,
        deployment.provider_name,
        deployment.provider_id,
        deployment.id,
        None,
        attempts,
    )


def _client_error(exc: UpstreamError) -> InferenceError:
    """A request the provider refused: the same request would fail anywhere."""
    return InferenceError(
        exc.message,
        status=exc.status if 400 <= exc.status < 500 else 400,
        error_type=exc.error_type or "invalid_request_error",
        code=exc.code,
        param=exc.param,
    )


def _no_deployment(model: str) -> InferenceError:
    return InferenceError(
        f"no usable deployment for model `{model}`: its providers have no valid, enabled keys",
        status=503,
        error_type="service_unavailable",
        code="no_deployment",
    )


def _bad_gateway(message: str, exc: UpstreamError | None = None) -> InferenceError:
    if exc is not None and exc.status == 429:
        headers = {"Retry-After": str(int(exc.retry_after or 1))}
        return InferenceError(
            message, status=429, error_type="rate_limit_exceeded", headers=headers
        )
    return InferenceError(message, status=502, error_type="upstream_error", code="bad_gateway")


def _final_error(
    model: str, attempts: _Attempts, no_openrouter: bool, fallback_enabled: bool
) -> InferenceError:
    """Why nothing could serve the request, including why there was no fallback."""
    hint = ""
    if fallback_enabled and no_openrouter:
        hint = "; no OpenRouter provider is configured for fallback (add one of type openrouter)"
    elif fallback_enabled:
        hint = f"; `{model}` has no OpenRouter model id to fall back to"
    last = attempts.last
    if isinstance(last, InferenceError):
        return InferenceError(
            last.message + hint,
            status=last.status_code,
            error_type=last.error_type,
            code=last.code,
            headers=last.headers,
        )
    if isinstance(last, UpstreamError):
        return _bad_gateway(
            f"every deployment of `{model}` failed; last: {last.message}{hint}", last
        )
    detail = last.message if isinstance(last, EngineUnavailable | EngineMisconfigured) else ""
    return InferenceError(
        f"the engine could not serve `{model}`: {detail}{hint}",
        status=503,
        error_type="service_unavailable",
        code="engine_unavailable",
    )
