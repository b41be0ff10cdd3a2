"""What answered a /v1 request: the route, provider and deployment that served it,
and after how many attempts. The API reports it in the response headers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tollway.engine.base import Route
from tollway.routing.table import Deployment

T = TypeVar("T")


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
    """``rate_limits``: the caller's ``x-ratelimit-*`` headers, once the request's
    account knows them (``RequestAccount.rate_limit_headers``)."""

    value: T
    served: Served
    rate_limits: Mapping[str, str] = field(default_factory=dict)


def served_by(deployment: Deployment, attempts: int) -> Served:
    return Served(
        Route.LITELLM,
        deployment.provider_name,
        deployment.provider_id,
        deployment.id,
        None,
        attempts,
    )
