"""The OpenRouter fallback's terms: who it bills, what it reserves, where it calls.

When the engine is down or misconfigured, or every candidate failed, the inference
service sends the request to OpenRouter. No deployment of the model is being called,
so the worst case is reserved at the dearest price any of the model's deployments
has, and at the largest completion cap when all of them declare one; OpenRouter's
own bill (``usage.cost``) replaces the estimate when reported.
"""

from __future__ import annotations

from tollway.domain.attempt import Attempt
from tollway.domain.served import Served
from tollway.engine.base import Route, Target
from tollway.metering.pricing import Prices
from tollway.routing.table import ModelGroup, OpenRouterRoute


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
