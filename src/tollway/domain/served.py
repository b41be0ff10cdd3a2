"""What answered a /v1 request: the route, provider and deployment that served it,
and after how many attempts. The API reports it in the response headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
    value: T
    served: Served


def served_by(deployment: Deployment, attempts: int) -> Served:
    return Served(
        Route.LITELLM,
        deployment.provider_name,
        deployment.provider_id,
        deployment.id,
        None,
        attempts,
    )
