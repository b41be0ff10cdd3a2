"""The rate limits providers publish per key, as their latest responses said.

The request loop records the rate-limit headers of each successful upstream response
under its provider key: one dict assignment, no lock (a dict's item assignment is
atomic under the GIL; readers copy the dict first), no parsing. Values are parsed when
read: by the scrape (``tollway_provider_key_ratelimit``), the admin API and
``tollway limits from-provider``. Memory stays bounded: one entry per provider key id
(operators register few), at most ``MAX_KEYS``. Per process: each replica shows what
its own traffic saw.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator, Mapping

from pydantic import BaseModel

from tollway.domain.common import Actor
from tollway.domain.limits import LimitsCreate, LimitsRead, LimitsService, LimitsUpdate
from tollway.domain.provider_keys import ProviderKeyService
from tollway.engine.base import EngineResult
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.ratelimit_headers import RATE_LIMIT_HEADERS
from tollway.errors import ConflictError, NotFoundError
from tollway.store.enums import LimitScope

MAX_KEYS = 10_000  # far above any real number of provider keys; a guard, not a policy
_FIELDS = {
    ("requests", "limit"): "requests_limit",
    ("requests", "remaining"): "requests_remaining",
    ("tokens", "limit"): "tokens_limit",
    ("tokens", "remaining"): "tokens_remaining",
}


class KeyRateLimits(BaseModel):
    """One provider key's published limits and headroom, as last seen."""

    provider_key_id: uuid.UUID
    requests_limit: int | None = None
    requests_remaining: int | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    observed_at: float  # Unix time of the response that said so


class ObservedRateLimits:
    def __init__(self) -> None:
        self._latest: dict[uuid.UUID, tuple[float, Mapping[str, str]]] = {}

    def record(self, key_id: uuid.UUID | None, headers: Mapping[str, str] | None) -> None:
        """The hot path's part: keep the latest headers of the key, if it sent any."""
        if not headers or key_id is None:
            return
        if len(self._latest) >= MAX_KEYS and key_id not in self._latest:
            return
        self._latest[key_id] = (time.time(), headers)

    def of(self, key_id: uuid.UUID) -> KeyRateLimits | None:
        seen = self._latest.get(key_id)
        return None if seen is None else _parsed(key_id, *seen)

    def all(self) -> list[KeyRateLimits]:
        return [_parsed(key_id, *seen) for key_id, seen in dict(self._latest).items()]

    def gauge_values(self) -> Iterator[tuple[tuple[str, str, str], float]]:
        """(provider_key_id, kind, bound) and value, for each value known."""
        for limits in self.all():
            for (kind, bound), name in _FIELDS.items():
                value = getattr(limits, name)
                if value is not None:
                    yield (str(limits.provider_key_id), kind, bound), float(value)


def upstream_headers(answer: object) -> Mapping[str, str] | None:
    """The rate-limit headers an engine kept of its upstream's response: on a whole
    answer, and on a stream of the pass-through, direct, LiteLLM top-level and remote
    paths (others: None)."""
    if isinstance(answer, EngineResult):
        return answer.headers
    if isinstance(answer, PrefetchingStream):
        return answer.headers
    return None


def _parsed(key_id: uuid.UUID, at: float, headers: Mapping[str, str]) -> KeyRateLimits:
    values: dict[str, int] = {}
    for header, raw in headers.items():
        meaning = RATE_LIMIT_HEADERS.get(header)
        number = _count(raw)
        if meaning is not None and number is not None:
            values[_FIELDS[meaning]] = number
    return KeyRateLimits(provider_key_id=key_id, observed_at=at, **values)


def _count(raw: str) -> int | None:
    """A header's count; anything else (a provider's odd value) is unknown."""
    try:
        number = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0 or number > 10**15:
        return None
    return int(number)


class KeyRateLimitsRead(BaseModel):
    """A key of the provider and its published limits (null until a response said)."""

    provider_key_id: uuid.UUID
    label: str
    observed: KeyRateLimits | None


class ProviderRateLimits:
    """The admin side: read what was observed, copy it into a key's LimitsInfo."""

    def __init__(
        self, observed: ObservedRateLimits, keys: ProviderKeyService, limits: LimitsService
    ) -> None:
        self._observed = observed
        self._keys = keys
        self._limits = limits

    def of_provider(self, provider_id: uuid.UUID) -> list[KeyRateLimitsRead]:
        return [
            KeyRateLimitsRead(
                provider_key_id=key.id, label=key.label, observed=self._observed.of(key.id)
            )
            for key in self._keys.list(provider_id)
        ]

    def copy_to_limits(self, provider_id: uuid.UUID, key_id: uuid.UUID, actor: Actor) -> LimitsRead:
        """The key's published request and token limits as its per-minute limits (what
        OpenAI, Together and Anthropic publish; Groq's request limit is per day: check
        it), created or updated through the limits service, audited there."""
        if key_id not in {key.id for key in self._keys.list(provider_id)}:
            raise NotFoundError(f"provider key '{key_id}' of provider '{provider_id}' not found")
        seen = self._observed.of(key_id)
        per_minute = {
            "requests_per_minute": seen.requests_limit if seen else None,
            "tokens_per_minute": seen.tokens_limit if seen else None,
        }
        published = {name: value for name, value in per_minute.items() if value}
        if not published:
            raise ConflictError(
                "the provider has not published this key's limits to this server yet: "
                "send a request through the key first"
            )
        existing = self._limits.list(LimitScope.PROVIDER_KEY, key_id)
        if existing:
            return self._limits.update(existing[0].id, LimitsUpdate(**published), actor)
        create = LimitsCreate(scope=LimitScope.PROVIDER_KEY, scope_id=key_id, **published)
        return self._limits.create(create, actor)
