"""What a /v1 request asks for, and the rules the inference service serves it by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tollway.engine.base import Endpoint


@dataclass(frozen=True, slots=True)
class InferenceRequest:
    request_id: str
    endpoint: Endpoint
    model: str
    body: dict[str, Any]
    stream: bool = False
    # Client headers its dialect passes on (``Dialect.upstream_headers``).
    upstream_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InferencePolicy:
    max_attempts: int
    timeout_seconds: float
    fallback_enabled: bool
