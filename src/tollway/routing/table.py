"""The routing table: an immutable snapshot of everything the data plane needs.

Built from the store off the hot path and swapped atomically, so a request reads
one consistent version and never touches SQL or the secret store.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tollway.engine.base import Endpoint, Target
from tollway.quotas.model import Limit
from tollway.routing.credentials import Credential
from tollway.secrets.base import SecretRef, SecretValue
from tollway.store.enums import LimitScope, ProviderType, RoutingStrategy

# The limits of one scope: (scope kind, its id) -> every limit configured on it.
LimitsByScope = Mapping[tuple[LimitScope, uuid.UUID], tuple[Limit, ...]]


@dataclass(frozen=True, slots=True)
class Deployment:
    """One way to serve a public model: a provider's model with one provider key."""

    id: str
    public_name: str
    model_row_id: uuid.UUID
    model_id: str
    provider_id: uuid.UUID
    provider_name: str
    provider_type: ProviderType
    provider_key_id: uuid.UUID | None
    key_team_id: uuid.UUID | None
    targets: Mapping[Endpoint, Target]
    input_price: Decimal | None
    output_price: Decimal | None
    priority: int
    weight: int
    supports_streaming: bool
    cached_input_price: Decimal | None = None
    credential: Credential | None = None  # None: the provider needs no key (mock)
    max_output_tokens: int | None = None  # the model's, when the operator or catalog set it
    verified: bool = False  # the model row's status is ``verified``

    @property
    def price_per_token(self) -> Decimal | None:
        if self.input_price is None and self.output_price is None:
            return None
        return (self.input_price or Decimal(0)) + (self.output_price or Decimal(0))


@dataclass(frozen=True, slots=True)
class Unusable:
    """A way to serve a public model that this build could not use, and why."""

    key_team_id: uuid.UUID | None
    reason: str
    outage: bool = False  # the secret store was down: a retry later may succeed


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """All deployments of one public name, pre-sorted for its strategy.

    ``shared`` use keys without an owner; ``by_team`` holds each team's own
    (BYOK) deployments. For ``weighted`` the order is drawn per request.
    ``unusable`` lists what could not be deployed (disabled or invalid keys,
    unreadable secrets), so the model answers why rather than "not found".
    """

    name: str
    strategy: RoutingStrategy
    shared: tuple[Deployment, ...]
    by_team: Mapping[uuid.UUID, tuple[Deployment, ...]]
    openrouter_model_id: str | None
    unusable: tuple[Unusable, ...] = ()
    prefer_verified: bool = False  # ``routing.verified = prefer``: verified ones first

    def candidates(
        self,
        team_id: uuid.UUID | None,
        *,
        byok_only: bool,
        limit: int,
        rng: random.Random | None = None,
        usable: Callable[[Deployment], bool] | None = None,
    ) -> list[Deployment]:
        """The team's own deployments first, then shared ones (never for BYOK-only
        teams), leaving out those ``usable`` refuses."""
        own = self.by_team.get(team_id, ()) if team_id is not None else ()
        shared = () if byok_only else self.shared
        if usable is not None:
            own, shared = tuple(filter(usable, own)), tuple(filter(usable, shared))
        if self.strategy is RoutingStrategy.WEIGHTED:
            chooser = rng or random.Random()  # noqa: S311  (load spreading, not security)
            draw = self._draw
            return (draw(own, chooser) + draw(shared, chooser))[:limit]
        return [*own, *shared][:limit]

    def _draw(self, deployments: Sequence[Deployment], rng: random.Random) -> list[Deployment]:
        if not self.prefer_verified:
            return weighted_order(deployments, rng)
        verified = [d for d in deployments if d.verified]
        others = [d for d in deployments if not d.verified]
        return weighted_order(verified, rng) + weighted_order(others, rng)

    def servable_to(self, team_id: uuid.UUID | None, *, byok_only: bool) -> bool:
        own = team_id is not None and bool(self.by_team.get(team_id))
        return own or (not byok_only and bool(self.shared))

    def visible_to(self, team_id: uuid.UUID | None) -> bool:
        """False when every way to serve the model is another team's own key: that
        model is theirs, and this caller is told it does not exist."""
        if self.shared or (team_id is not None and team_id in self.by_team):
            return True
        return any(u.key_team_id is None or u.key_team_id == team_id for u in self.unusable)

    def unusable_for(self, team_id: uuid.UUID | None, *, byok_only: bool) -> list[Unusable]:
        return [
            u
            for u in self.unusable
            if (u.key_team_id is not None and u.key_team_id == team_id)
            or (u.key_team_id is None and not byok_only)
        ]


def static_order(
    deployments: Sequence[Deployment], strategy: RoutingStrategy
) -> tuple[Deployment, ...]:
    if strategy is RoutingStrategy.CHEAPEST:
        return tuple(sorted(deployments, key=_cheapest_key))
    return tuple(sorted(deployments, key=_priority_key))


def _priority_key(deployment: Deployment) -> tuple[int, str]:
    return (-deployment.priority, deployment.id)


def _cheapest_key(deployment: Deployment) -> tuple[bool, Decimal, int, str]:
    # Unpriced deployments go last: cheapest-first must not prefer the unknown.
    price = deployment.price_per_token
    return (price is None, price or Decimal(0), -deployment.priority, deployment.id)


def weighted_order(deployments: Sequence[Deployment], rng: random.Random) -> list[Deployment]:
    """A weighted draw without replacement; weight 0 means last resort."""
    pool = [d for d in deployments if d.weight > 0]
    order: list[Deployment] = []
    while pool:
        pick = rng.choices(pool, weights=[d.weight for d in pool])[0]
        order.append(pick)
        pool.remove(pick)
    return order + [d for d in deployments if d.weight <= 0]


@dataclass(frozen=True, slots=True)
class CallerKey:
    """A tollway key as the data plane sees it."""

    id: uuid.UUID
    name: str
    team_id: uuid.UUID | None
    byok_only: bool
    allowed_models: frozenset[str] | None
    expires_at: datetime | None

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


@dataclass(frozen=True, slots=True)
class OpenRouterRoute:
    """Where fallback traffic goes: the first usable OpenRouter provider."""

    provider_id: uuid.UUID
    provider_name: str
    provider_key_id: uuid.UUID
    api_key: SecretValue
    base_url: str
    credential: Credential | None = None


@dataclass(frozen=True, slots=True)
class RoutingTable:
    version: int
    groups: Mapping[str, ModelGroup] = field(default_factory=dict)
    keys: Mapping[str, CallerKey] = field(default_factory=dict)  # by SHA-256 digest
    openrouter: OpenRouterRoute | None = None
    limits: LimitsByScope = field(default_factory=dict)
    credentials: Mapping[uuid.UUID, Credential] = field(default_factory=dict)  # by key id
    # With ``routing.verified = only``: the unverified deployments, by model row id, kept
    # out of routing but within reach of verification (else none could become verified).
    held: Mapping[uuid.UUID, tuple[Deployment, ...]] = field(default_factory=dict)

    def limits_of(self, scope: LimitScope, scope_id: uuid.UUID | None) -> tuple[Limit, ...]:
        if scope_id is None:
            return ()
        return self.limits.get((scope, scope_id), ())

    def visible_models(self, caller: CallerKey) -> list[str]:
        """The models this caller can be served: allowed by its key, with a deployment
        its team may use (its own keys, or shared ones unless it is BYOK-only)."""
        return [
            name
            for name in sorted(self.groups)
            if caller.may_use(name)
            and self.groups[name].servable_to(caller.team_id, byok_only=caller.byok_only)
        ]

    def credentials_by_ref(self) -> dict[SecretRef, Credential]:
        return {credential.ref: credential for credential in self.credentials.values()}
