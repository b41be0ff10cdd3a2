"""The OpenRouter fallback: the request loop's last step, and its terms: who it
bills, what it reserves, where it calls.

When the engine is down or misconfigured, or every candidate failed, the inference
service's loop decides ``FallBack`` and ``Fallback.serve`` sends the request to
OpenRouter, or raises why it cannot (fallback off, no route, a stale key, a limit).
No deployment of the model is being called, so the worst case is reserved at the
dearest price any of the model's deployments has, and at the largest completion cap
when all of them declare one; OpenRouter's own bill (``usage.cost``) replaces the
estimate when reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tollway.domain.attempt import Attempt
from tollway.domain.decisions import EngineFailure
from tollway.domain.failures import Failures, final_error
from tollway.domain.inference_events import InferenceEvents
from tollway.domain.inference_request import InferenceRequest
from tollway.domain.request_account import RequestAccount
from tollway.domain.send import Send, send_scrubbed
from tollway.domain.served import Outcome, Served
from tollway.domain.v1_errors import (
    bad_gateway,
    client_error,
    quota_denied,
    secret_store_unavailable,
    with_hint,
)
from tollway.engine.base import (
    Engine,
    EngineCall,
    EngineMisconfigured,
    EngineUnavailable,
    Route,
    Target,
    UpstreamError,
)
from tollway.errors import InferenceError
from tollway.metering.pricing import Prices
from tollway.observability.metrics import Metrics
from tollway.quotas.model import Denied
from tollway.routing.table import ModelGroup, OpenRouterRoute, RoutingTable, Unusable

log = logging.getLogger(__name__)

T = TypeVar("T")

_BYOK_ONLY = "; the team is BYOK-only, so the shared OpenRouter key is not used for it"


class Fallback:
    """The last step of a request no deployment served: OpenRouter, when it may."""

    def __init__(
        self,
        openrouter: Engine,
        *,
        enabled: bool,
        timeout_seconds: float,
        events: InferenceEvents,
        metrics: Metrics,
        scrub: Callable[[str], str],
    ) -> None:
        self._openrouter = openrouter
        self._enabled = enabled
        self._timeout_seconds = timeout_seconds
        self._events = events
        self._metrics = metrics
        self._scrub = scrub

    async def serve(
        self,
        group: ModelGroup,
        send: Send[T],
        *,
        table: RoutingTable,
        request: InferenceRequest,
        account: RequestAccount,
        failures: Failures,
        byok_only: bool,
    ) -> Outcome[T]:
        """Admit, record and send the request to OpenRouter. Raises the client's
        error when it may not (off, nowhere to go, or a BYOK-only caller: the
        OpenRouter key is a shared key), is refused or fails too."""
        if byok_only:
            raise with_hint(final_error(request.model, failures, False, False), _BYOK_ONLY)
        reason = failures.reason or "all_deployments_failed"
        route, model_id = table.openrouter, group.openrouter_model_id
        if not self._enabled or route is None or model_id is None:
            raise final_error(request.model, failures, route is None, self._enabled)
        if route.credential is not None and not route.credential.usable():
            stale = Unusable(None, "the OpenRouter key is past its stale window", outage=True)
            raise secret_store_unavailable(request.model, [stale])
        attempt = fallback_attempt(route, group, reason)
        admission = await account.admit(table, attempt, attempt.prices)
        if isinstance(admission, Denied):
            raise quota_denied(admission)
        self._record(request, reason, failures)
        target = fallback_target(route, model_id, self._timeout_seconds)
        call = EngineCall(
            request.endpoint,
            admission.upstream_body,
            target,
            request.stream,
            upstream_headers=request.upstream_headers,
        )
        try:
            value = await send_scrubbed(send, self._openrouter, call, self._scrub)
        except (UpstreamError, EngineUnavailable, EngineMisconfigured) as exc:
            raise fallback_failed(exc) from None
        return Outcome(value, fallback_served(route, reason, failures.tried + 1))

    def _record(self, request: InferenceRequest, reason: str, failures: Failures) -> None:
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


def fallback_failed(exc: EngineFailure) -> InferenceError:
    """The client's error when OpenRouter failed too: its own request error as it
    is, anything else a bad gateway (a 429 keeps its Retry-After)."""
    if not isinstance(exc, UpstreamError):
        return bad_gateway(f"the fallback to OpenRouter failed: {exc.message}")
    if not (exc.retryable or exc.key_rejected):
        return client_error(exc)
    return bad_gateway(f"the fallback to OpenRouter failed too: {exc.message}", exc)


def fallback_attempt(route: OpenRouterRoute, group: ModelGroup, reason: str) -> Attempt:
    return Attempt(
        Route.OPENROUTER,
        route.provider_id,
        route.provider_key_id,
        None,
        fallback_prices(group),
        reported_cost_wins=True,
        fallback_reason=reason,
        max_output_tokens=fallback_max_output(group),
    )


def fallback_target(route: OpenRouterRoute, model_id: str, timeout_seconds: float) -> Target:
    return Target(
        deployment_id=f"openrouter:{model_id}",
        upstream_model=model_id,
        api_key=route.api_key,
        api_base=route.base_url,
        timeout_seconds=timeout_seconds,
    )


def fallback_served(route: OpenRouterRoute, reason: str, attempts: int) -> Served:
    return Served(Route.OPENROUTER, route.provider_name, route.provider_id, None, reason, attempts)


def fallback_prices(group: ModelGroup) -> Prices:
    """The fallback's worst case: the dearest price any deployment of the model has
    (OpenRouter's own bill, ``usage.cost``, replaces it when reported)."""
    deployments = [*group.shared, *(d for own in group.by_team.values() for d in own)]
    inputs = [d.input_price for d in deployments if d.input_price is not None]
    outputs = [d.output_price for d in deployments if d.output_price is not None]
    return Prices(input=max(inputs, default=None), output=max(outputs, default=None))


def fallback_max_output(group: ModelGroup) -> int | None:
    """The fallback's completion cap when the client set none: the largest any
    deployment of the model declares, or None (the default) unless all declare one."""
    deployments = [*group.shared, *(d for own in group.by_team.values() for d in own)]
    limits = [d.max_output_tokens for d in deployments]
    if not limits or None in limits:
        return None
    return max(limit for limit in limits if limit is not None)
