"""Building the routing table from the store and the secret store.

Runs in a worker thread when the routing version changes. Provider keys are
resolved here, once per build, so the hot path holds them in memory and never
asks the secret store (their stale windows travel with them: routing.credentials).
A key that cannot be used (disabled, invalid, unreadable) becomes an ``Unusable``
entry of its models instead of failing the whole table, so the model can say why.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlmodel import Session, col, select

from tollway.engine.base import Endpoint, Target
from tollway.providers.families import family
from tollway.quotas.model import limits_from_row
from tollway.routing.credentials import Credential, Unresolved
from tollway.routing.credentials import resolve as resolve_credentials
from tollway.routing.prices import PriceLookup, resolve_prices
from tollway.routing.table import (
    CallerKey,
    Deployment,
    LimitsByScope,
    ModelGroup,
    OpenRouterRoute,
    RoutingTable,
    Unusable,
    static_order,
)
from tollway.secrets.base import SecretRef, SecretStore
from tollway.store.control import routing_version
from tollway.store.db import Database
from tollway.store.enums import ModelStatus, ProviderKeyStatus, ProviderType, RoutingStrategy
from tollway.store.tables import (
    LimitsInfo,
    Model,
    PricingInfo,
    Provider,
    ProviderKey,
    Team,
    TollwayKey,
)

log = logging.getLogger(__name__)


_USABLE_KEY_STATUSES = (ProviderKeyStatus.VALID, ProviderKeyStatus.UNVALIDATED)


@dataclass(frozen=True, slots=True)
class _Rows:
    version: int
    providers: Mapping[uuid.UUID, Provider]
    keys: Sequence[ProviderKey]
    models: Sequence[Model]
    prices: Mapping[tuple[uuid.UUID, uuid.UUID | None], PricingInfo]
    teams: Mapping[uuid.UUID, Team]
    tollway_keys: Sequence[TollwayKey]
    limits: Sequence[LimitsInfo]

    @classmethod
    def load(cls, session: Session) -> _Rows:
        version = routing_version(session)
        keys = session.exec(select(ProviderKey).order_by(col(ProviderKey.created_at))).all()
        unroutable = [ModelStatus.INVALID.value, ModelStatus.RETIRED.value]
        models = session.exec(
            select(Model).where(Model.enabled == True, col(Model.status).not_in(unroutable))  # noqa: E712
        ).all()
        prices = {(p.provider_id, p.model_id): p for p in session.exec(select(PricingInfo))}
        live_keys = session.exec(
            select(TollwayKey).where(col(TollwayKey.revoked_at).is_(None))
        ).all()
        return cls(
            version=version,
            providers={p.id: p for p in session.exec(select(Provider))},
            keys=list(keys),
            models=list(models),
            prices=prices,
            teams={t.id: t for t in session.exec(select(Team))},
            tollway_keys=list(live_keys),
            limits=list(session.exec(select(LimitsInfo))),
        )


@dataclass(frozen=True, slots=True)
class BuildOptions:
    timeout_seconds: float
    price_lookup: PriceLookup | None = None
    # any: verification does not matter; prefer: verified deployments are tried first;
    # only: unverified deployments are not routed to (``RoutingTable.held``).
    verified: str = "any"


@dataclass(frozen=True, slots=True)
class _Keys:
    """The build's view of provider keys: usable credentials, and why the rest are not."""

    credentials: Mapping[uuid.UUID, Credential]
    unusable: Mapping[uuid.UUID, Unresolved]


def build_table(
    database: Database,
    secrets: SecretStore,
    options: BuildOptions,
    previous: RoutingTable | None = None,
) -> RoutingTable:
    """``previous``: the table being replaced, whose credentials are kept within their
    stale window when the secret store cannot answer now."""
    with database.session() as session:
        rows = _Rows.load(session)
    keys = _resolve_keys(secrets, rows.keys, previous)
    deployments: list[Deployment] = []
    unusable: dict[str, list[Unusable]] = defaultdict(list)
    held: dict[uuid.UUID, list[Deployment]] = defaultdict(list)
    for model in rows.models:
        for built in _deployments(model, rows, keys, options):
            if isinstance(built, Unusable):
                unusable[model.name].append(built)
            elif options.verified == "only" and not built.verified:
                held[model.id].append(built)
                reason = f"model '{model.name}' of provider '{built.provider_name}' is not verified"
                unusable[model.name].append(Unusable(built.key_team_id, reason))
            else:
                deployments.append(built)
    return RoutingTable(
        version=rows.version,
        groups=_groups(deployments, unusable, rows, prefer_verified=options.verified == "prefer"),
        held={model_id: tuple(found) for model_id, found in held.items()},
        keys=_callers(rows),
        openrouter=_openrouter_route(rows, keys.credentials),
        limits=_limits(rows),
        credentials=keys.credentials,
    )


def _limits(rows: _Rows) -> LimitsByScope:
    # Rows without any limit set are left out: admission then costs nothing for them.
    by_scope = {(row.scope, row.scope_id): tuple(limits_from_row(row)) for row in rows.limits}
    return {scope: limits for scope, limits in by_scope.items() if limits}


def _resolve_keys(
    secrets: SecretStore, keys: Sequence[ProviderKey], previous: RoutingTable | None
) -> _Keys:
    refs = [
        (key.id, SecretRef(key.secret_backend, key.secret_path, key.secret_version))
        for key in keys
        if key.status in _USABLE_KEY_STATUSES
    ]
    kept = previous.credentials_by_ref() if previous is not None else {}
    credentials, unresolved = resolve_credentials(secrets, refs, kept)
    for key in keys:
        if key.status is ProviderKeyStatus.DISABLED:
            unresolved[key.id] = Unresolved("it is disabled", outage=False)
        elif key.status is ProviderKeyStatus.INVALID:
            unresolved[key.id] = Unresolved("the provider rejected it (invalid)", outage=False)
    return _Keys(credentials, unresolved)


def _deployments(
    model: Model, rows: _Rows, keys: _Keys, options: BuildOptions
) -> list[Deployment | Unusable]:
    provider = rows.providers.get(model.provider_id)
    if provider is None:
        return []
    if family(provider.type).answers_locally:  # the mock: one deployment, no key
        return [_deployment(model, provider, None, None, rows=rows, options=options)]
    built: list[Deployment | Unusable] = []
    for key in rows.keys:
        if key.provider_id != provider.id:
            continue
        credential = keys.credentials.get(key.id)
        if credential is not None:
            built.append(_deployment(model, provider, key, credential, rows=rows, options=options))
        elif (why := keys.unusable.get(key.id)) is not None:
            reason = f"provider '{provider.name}' key '{key.label}': {why.reason}"
            built.append(Unusable(key.team_id, reason, why.outage))
    return built or [Unusable(None, f"provider '{provider.name}' has no keys")]


def _deployment(
    model: Model,
    provider: Provider,
    key: ProviderKey | None,
    credential: Credential | None,
    *,
    rows: _Rows,
    options: BuildOptions,
) -> Deployment:
    deployment_id = f"{model.id}:{key.id if key else 'mock'}"
    provider_family = family(provider.type)
    base_url = provider_family.base_url(provider.base_url)
    targets = {
        endpoint: Target(
            deployment_id=deployment_id,
            upstream_model=f"{provider_family.litellm_prefix(endpoint)}/{model.model_id}",
            api_key=credential.value if credential else None,
            api_base=base_url,
            timeout_seconds=options.timeout_seconds,
            mock=provider_family.answers_locally,
        )
        for endpoint in Endpoint
    }
    prices = resolve_prices(model, provider, rows.prices, options.price_lookup)
    return Deployment(
        id=deployment_id,
        public_name=model.name,
        model_row_id=model.id,
        model_id=model.model_id,
        provider_id=provider.id,
        provider_name=provider.name,
        provider_type=provider.type,
        provider_key_id=key.id if key else None,
        key_team_id=key.team_id if key else None,
        targets=targets,
        input_price=prices.input,
        output_price=prices.output,
        cached_input_price=prices.cached_input,
        priority=model.priority,
        weight=model.weight,
        supports_streaming=model.supports_streaming,
        credential=credential,
        max_output_tokens=model.max_output_tokens,
        verified=model.status is ModelStatus.VERIFIED,
    )


def _groups(
    deployments: Sequence[Deployment],
    unusable: Mapping[str, list[Unusable]],
    rows: _Rows,
    *,
    prefer_verified: bool = False,
) -> dict[str, ModelGroup]:
    by_name: dict[str, list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        by_name[deployment.public_name].append(deployment)
    models_by_name: dict[str, list[Model]] = defaultdict(list)
    for model in rows.models:
        models_by_name[model.name].append(model)
    return {
        name: _group(
            name,
            by_name.get(name, []),
            unusable.get(name, []),
            models,
            rows,
            prefer_verified=prefer_verified,
        )
        for name, models in models_by_name.items()
        if name in by_name or name in unusable
    }


class _Ranked(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def priority(self) -> int: ...


RankedT = TypeVar("RankedT", bound=_Ranked)


def group_leader(models: Sequence[RankedT]) -> RankedT:
    """The row whose routing strategy a public name follows: rows sharing a name may
    disagree on it, and the top-priority row decides (ties: the lowest id)."""
    return min(models, key=lambda m: (-m.priority, str(m.id)))


def _group(
    name: str,
    members: list[Deployment],
    unusable: list[Unusable],
    models: list[Model],
    rows: _Rows,
    *,
    prefer_verified: bool = False,
) -> ModelGroup:
    leader = group_leader(models)
    strategy = RoutingStrategy(leader.routing_strategy)
    by_team: dict[uuid.UUID, list[Deployment]] = defaultdict(list)
    shared: list[Deployment] = []
    for deployment in members:
        if deployment.key_team_id is None:
            shared.append(deployment)
        else:
            by_team[deployment.key_team_id].append(deployment)

    def order(found: list[Deployment]) -> tuple[Deployment, ...]:
        ordered = static_order(found, strategy)
        # Stable: the strategy's order holds within the verified and the others.
        return tuple(sorted(ordered, key=lambda d: not d.verified)) if prefer_verified else ordered

    return ModelGroup(
        name=name,
        strategy=strategy,
        shared=order(shared),
        by_team={team: order(own) for team, own in by_team.items()},
        openrouter_model_id=_openrouter_id_for(models, rows),
        unusable=tuple(unusable),
        prefer_verified=prefer_verified,
    )


def _openrouter_id_for(models: list[Model], rows: _Rows) -> str | None:
    for model in sorted(models, key=lambda m: (-m.priority, str(m.id))):
        provider = rows.providers.get(model.provider_id)
        explicit = model.openrouter_model_id
        derived = family(provider.type).openrouter_model_id(model.model_id) if provider else None
        if explicit or derived:
            return explicit or derived
    return None


def _callers(rows: _Rows) -> dict[str, CallerKey]:
    return {
        key.key_hash: CallerKey(
            id=key.id,
            name=key.name,
            team_id=key.team_id,
            byok_only=bool(key.team_id and rows.teams[key.team_id].byok_only),
            allowed_models=frozenset(key.allowed_models)
            if key.allowed_models is not None
            else None,
            expires_at=key.expires_at,
        )
        for key in rows.tollway_keys
    }


def _openrouter_route(
    rows: _Rows, credentials: Mapping[uuid.UUID, Credential]
) -> OpenRouterRoute | None:
    candidates = sorted(
        (key for key in rows.keys if key.team_id is None and key.id in credentials),
        key=lambda k: (k.status is not ProviderKeyStatus.VALID, k.created_at, str(k.id)),
    )
    for key in candidates:
        provider = rows.providers.get(key.provider_id)
        if provider is not None and provider.type is ProviderType.OPENROUTER:
            base_url = family(provider.type).base_url(provider.base_url)
            assert base_url is not None  # OpenRouter always has a default base URL
            credential = credentials[key.id]
            return OpenRouterRoute(
                provider.id, provider.name, key.id, credential.value, base_url, credential
            )
    return None
