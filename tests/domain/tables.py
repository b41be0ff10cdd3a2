"""Hand-built routing tables for the data plane's in-process tests.

Every id is derived from a readable name (``provider_id("p1")``, ``team_id("red")``),
so a test names what it means and asserts on the same ids the service sees. A
deployment's target asks for ``"<provider>/<behaviour>"``: the scripted engine
(tests/fakes/engine.py) does what the behaviour says.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from tollway.domain.tollway_keys import key_digest
from tollway.engine.base import Endpoint, Target
from tollway.quotas.model import Limit, Metric, Window, usd_to_micros
from tollway.routing.credentials import Credential
from tollway.routing.table import (
    CallerKey,
    Deployment,
    ModelGroup,
    OpenRouterRoute,
    RoutingTable,
    static_order,
)
from tollway.secrets.base import SecretLease, SecretRef, SecretValue
from tollway.store.enums import LimitScope, ProviderType, RoutingStrategy

_NAMES = uuid.UUID("7a3f1c52-0d4e-4b8a-9a61-2f5c8e0b9d17")

INPUT_PRICE = Decimal("0.000001")  # USD per token
OUTPUT_PRICE = Decimal("0.00001")
MODEL = "chat"
OPENROUTER_MODEL = "vendor/ok"  # the fallback's model id: the OpenRouter engine's script
OPENROUTER = "openrouter"


def ident(kind: str, name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMES, f"{kind}:{name}")


def provider_id(name: str) -> uuid.UUID:
    return ident("provider", name)


def key_id(name: str) -> uuid.UUID:
    """The provider key of deployment ``name`` (each deployment has its own, unless
    ``deployment(key=...)`` shares one)."""
    return ident("provider-key", name)


def team_id(name: str) -> uuid.UUID:
    return ident("team", name)


def caller_id(name: str) -> uuid.UUID:
    return ident("tollway-key", name)


def deployment(
    name: str,
    behaviour: str = "ok",
    *,
    provider: str = "p1",
    team: str | None = None,
    key: str | None = None,
    priority: int = 0,
    weight: int = 1,
    prices: tuple[Decimal | None, Decimal | None] = (INPUT_PRICE, OUTPUT_PRICE),
    max_output_tokens: int | None = None,
    credential: Credential | None = None,
    public: str = MODEL,
) -> Deployment:
    """Deployment ``name`` of provider ``provider``, answering as ``behaviour``;
    ``team``: the team's own (BYOK) key."""
    target = Target(
        deployment_id=name,
        upstream_model=f"{provider}/{behaviour}",
        api_key=SecretValue(f"sk-{name}-0123456789"),
        api_base=None,
        timeout_seconds=5,
    )
    return Deployment(
        id=name,
        public_name=public,
        model_row_id=ident("model-row", name),
        model_id=behaviour,
        provider_id=provider_id(provider),
        provider_name=provider,
        provider_type=ProviderType.OPENAI_COMPATIBLE,
        provider_key_id=key_id(key or name),
        key_team_id=team_id(team) if team is not None else None,
        targets=dict.fromkeys(Endpoint, target),
        input_price=prices[0],
        output_price=prices[1],
        priority=priority,
        weight=weight,
        supports_streaming=True,
        credential=credential,
        max_output_tokens=max_output_tokens,
    )


def group(
    *deployments: Deployment,
    name: str = MODEL,
    strategy: RoutingStrategy = RoutingStrategy.PRIORITY,
    openrouter_model_id: str | None = OPENROUTER_MODEL,
) -> ModelGroup:
    """The deployments, ordered as the routing builder orders them: shared ones and
    each team's own, each sorted for ``strategy``."""
    shared = [d for d in deployments if d.key_team_id is None]
    teams: dict[uuid.UUID, list[Deployment]] = {}
    for d in deployments:
        if d.key_team_id is not None:
            teams.setdefault(d.key_team_id, []).append(d)
    by_team = {team: static_order(own, strategy) for team, own in teams.items()}
    return ModelGroup(name, strategy, static_order(shared, strategy), by_team, openrouter_model_id)


def stale_credential(name: str = "stale") -> Credential:
    """A key past its stale window: the secret store has been down too long."""
    lease = SecretLease(SecretValue(f"sk-{name}-0123456789"), usable_until=-math.inf)
    return Credential(SecretRef("test", f"keys/{name.upper()}", 1), lease)


def openrouter_route(credential: Credential | None = None) -> OpenRouterRoute:
    return OpenRouterRoute(
        provider_id=provider_id(OPENROUTER),
        provider_name=OPENROUTER,
        provider_key_id=key_id(OPENROUTER),
        api_key=SecretValue("sk-or-fallback-0123456789"),
        base_url="https://openrouter.invalid/api/v1",
        credential=credential,
    )


def caller(
    name: str = "agent",
    *,
    team: str | None = None,
    byok_only: bool = False,
    allowed: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> CallerKey:
    return CallerKey(
        id=caller_id(name),
        name=name,
        team_id=team_id(team) if team is not None else None,
        byok_only=byok_only,
        allowed_models=frozenset(allowed) if allowed is not None else None,
        expires_at=expires_at,
    )


def limit(
    scope: LimitScope,
    scope_id: uuid.UUID,
    metric: Metric,
    amount: int,
    window: Window = Window.TOTAL,
) -> Limit:
    """A limit of ``amount`` (requests, tokens, or micro-USD) on one scope."""
    return Limit(scope, str(scope_id), metric, window, amount)


def usd_limit(scope: LimitScope, scope_id: uuid.UUID, usd: str) -> Limit:
    return limit(scope, scope_id, Metric.USD, usd_to_micros(Decimal(usd), round_up=False))


def table(
    *groups: ModelGroup,
    openrouter: OpenRouterRoute | None = None,
    fallback: bool = True,
    limits: Iterable[Limit] = (),
    keys: Mapping[str, CallerKey] | None = None,
) -> RoutingTable:
    """A table of ``groups``; with the OpenRouter route unless ``fallback`` is False.
    ``keys``: tollway keys by their plaintext token, for ``authenticate``."""
    by_scope: dict[tuple[LimitScope, uuid.UUID], tuple[Limit, ...]] = {}
    for each in limits:
        scope = (each.scope, uuid.UUID(each.scope_id))
        by_scope[scope] = (*by_scope.get(scope, ()), each)
    return RoutingTable(
        version=1,
        groups={g.name: g for g in groups},
        keys={key_digest(token): key for token, key in (keys or {}).items()},
        openrouter=(openrouter or openrouter_route()) if fallback else None,
        limits=by_scope,
    )
