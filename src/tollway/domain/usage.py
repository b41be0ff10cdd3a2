"""Usage reports: who used what, what it cost, and what it would cost elsewhere.

Everything here reads the hourly aggregates through ``tollway.metering.reports``;
this layer checks the question (the period, the grouping), resolves ids to the names
people know them by, and prices a public model's traffic on each of its deployments.
Usage outlives what it names: a deleted key, team, provider or provider key keeps its
id in a report, with a null name.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tollway.domain.common import Money, Output
from tollway.engine.base import TokenUsage
from tollway.errors import NotFoundError, ValidationError
from tollway.metering.pricing import Prices, compute_cost
from tollway.metering.reports import (
    ID_DIMENSIONS,
    Dimension,
    ReportQuery,
    ReportRow,
    UsageSums,
    parse_group_by,
    total,
    usage_report,
)
from tollway.routing.litellm_config import bundled_price
from tollway.routing.prices import (
    PriceLookup,
    PriceOrigin,
    PriceRows,
    ResolvedPrices,
    resolve_prices,
)
from tollway.store.db import Database, Session
from tollway.store.enums import ModelStatus, ProviderType
from tollway.store.repositories import models, pricing, providers, teams, tollway_keys
from tollway.store.repositories.names import Named, names_by_id
from tollway.store.tables import Model, Provider

DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=400)
# What the attribution of provider key spend groups by (the provider names the key).
ATTRIBUTION = (Dimension.PROVIDER, Dimension.PROVIDER_KEY, Dimension.TEAM, Dimension.KEY)

# Per id dimension: its (id, name) fields in a report row, and what it names.
_ID_FIELDS = {
    Dimension.KEY: ("key_id", "key_name"),
    Dimension.TEAM: ("team_id", "team_name"),
    Dimension.PROVIDER: ("provider_id", "provider_name"),
    Dimension.PROVIDER_KEY: ("provider_key_id", "provider_key_label"),
}
_NAMED: dict[Dimension, Named] = {
    Dimension.KEY: "tollway_key",
    Dimension.TEAM: "team",
    Dimension.PROVIDER: "provider",
    Dimension.PROVIDER_KEY: "provider_key",
}


class UsageTotals(Output):
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost_usd: Money
    unpriced_requests: int

    @classmethod
    def of(cls, sums: UsageSums) -> UsageTotals:
        return cls(**_sum_fields(sums))


class _RowDimensions(Output):
    """Set for the dimensions the report is grouped by, null otherwise (and for an
    absent id, or the name of something deleted since)."""

    key_id: uuid.UUID | None = None
    key_name: str | None = None
    team_id: uuid.UUID | None = None
    team_name: str | None = None
    provider_id: uuid.UUID | None = None
    provider_name: str | None = None
    provider_key_id: uuid.UUID | None = None
    provider_key_label: str | None = None
    model: str | None = None
    route: str | None = None
    day: datetime | None = None
    hour: datetime | None = None


class UsageRow(UsageTotals, _RowDimensions):
    pass


class UsageReport(Output):
    start: datetime
    end: datetime
    group_by: list[Dimension]
    rows: list[UsageRow]
    totals: UsageTotals


class Choice(Output):
    id: uuid.UUID
    name: str


class UsageChoices(Output):
    """What a report can be filtered by: teams, keys and providers by name, and the
    public model names."""

    teams: list[Choice]
    keys: list[Choice]
    providers: list[Choice]
    models: list[str]


class DeploymentCost(Output):
    """One deployment of the public model, its prices, and the period's traffic
    priced at them (null when a price it needs is unknown)."""

    model_row_id: uuid.UUID
    model_id: str
    provider_id: uuid.UUID
    provider_name: str | None
    provider_type: ProviderType | None
    enabled: bool
    status: ModelStatus
    input_price_per_token: Money | None
    output_price_per_token: Money | None
    cached_input_price_per_token: Money | None
    price_origin: PriceOrigin | None
    cost_usd: Money | None


class CostComparison(Output):
    model: str
    start: datetime
    end: datetime
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    actual_cost_usd: Money
    unpriced_requests: int
    deployments: list[DeploymentCost]


@dataclass(frozen=True, slots=True)
class UsageFilters:
    """Empty means any. The nil UUID selects usage without that id (no team, say)."""

    keys: Sequence[uuid.UUID] = ()
    teams: Sequence[uuid.UUID] = ()
    providers: Sequence[uuid.UUID] = ()
    provider_keys: Sequence[uuid.UUID] = ()
    models: Sequence[str] = ()
    routes: Sequence[str] = ()


def resolve_period(
    start: datetime | None, end: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC. Defaults: up to the end of the current hour, and 30
    days before ``end``. A datetime without an offset is read as UTC."""
    try:
        end = _utc(end) if end is not None else _next_hour(now or datetime.now(UTC))
        start = _utc(start) if start is not None else end - DEFAULT_RANGE
    except OverflowError:
        raise ValidationError("'from' and 'to' must lie between the years 1 and 9999") from None
    if start >= end:
        raise ValidationError(
            f"'from' ({start.isoformat()}) must be before 'to' ({end.isoformat()})"
        )
    if end - start > MAX_RANGE:
        raise ValidationError(
            f"a report covers at most {MAX_RANGE.days} days, not {(end - start).days}; "
            "pass a later 'from' or an earlier 'to'"
        )
    return start, end


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _next_hour(now: datetime) -> datetime:
    return _utc(now).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


class UsageService:
    def __init__(self, database: Database, price_lookup: PriceLookup | None = bundled_price):
        self._db = database
        self._price_lookup = price_lookup

    def report(
        self,
        group_by: Sequence[str],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: UsageFilters | None = None,
        now: datetime | None = None,
    ) -> UsageReport:
        """Sums per group, most expensive first."""
        dimensions = parse_group_by(group_by)
        start, end = resolve_period(start, end, now)
        query = _query(start, end, dimensions, filters or UsageFilters())
        rows = usage_report(self._db, query)
        names = self._names(rows, dimensions)
        return UsageReport(
            start=start,
            end=end,
            group_by=list(dimensions),
            rows=[_usage_row(row, names) for row in rows],
            totals=UsageTotals.of(total(rows)),
        )

    def provider_keys(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: UsageFilters | None = None,
        now: datetime | None = None,
    ) -> UsageReport:
        """What each provider key spent, and for which team and tollway key (BYOK
        attribution). Usage without a provider key (mock providers) shows as null."""
        return self.report(ATTRIBUTION, start=start, end=end, filters=filters, now=now)

    def compare(
        self,
        model: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        now: datetime | None = None,
    ) -> CostComparison:
        """The period's traffic of public model ``model``, priced on each deployment
        that serves it, cheapest first (unpriced last), next to what it cost."""
        start, end = resolve_period(start, end, now)
        traffic = total(
            usage_report(self._db, _query(start, end, (), UsageFilters(models=(model,))))
        )
        deployments = self._deployment_costs(model, traffic)
        if not deployments and not traffic.requests:
            raise NotFoundError(
                f"no model is named '{model}' and it has no usage in this period; "
                "`tollway models list` shows the public names"
            )
        return CostComparison(
            model=model,
            start=start,
            end=end,
            requests=traffic.requests,
            prompt_tokens=traffic.prompt_tokens,
            completion_tokens=traffic.completion_tokens,
            cached_tokens=traffic.cached_tokens,
            actual_cost_usd=traffic.cost_usd,
            unpriced_requests=traffic.unpriced_requests,
            deployments=deployments,
        )

    def choices(self) -> UsageChoices:
        """The filters' choices, read in one session (no provider keys, no secrets)."""
        with self._db.session() as session:
            return UsageChoices(
                teams=[Choice(id=t.id, name=t.name) for t in teams.by_name(session)],
                keys=[
                    Choice(id=k.id, name=k.name) for k in tollway_keys.in_creation_order(session)
                ],
                providers=[
                    Choice(id=p.id, name=p.name) for p in providers.in_creation_order(session)
                ],
                models=models.public_names(session),
            )

    # -- helpers -----------------------------------------------------------------------

    def _names(
        self, rows: Sequence[ReportRow], dimensions: Sequence[Dimension]
    ) -> dict[Dimension, dict[uuid.UUID, str]]:
        names: dict[Dimension, dict[uuid.UUID, str]] = {}
        wanted = [dim for dim in dimensions if dim in ID_DIMENSIONS]
        if not wanted:
            return names
        with self._db.session() as session:
            for dim in wanted:
                ids = {value for row in rows if isinstance(value := row.dimensions[dim], uuid.UUID)}
                names[dim] = names_by_id(session, _NAMED[dim], ids)
        return names

    def _deployment_costs(self, model: str, traffic: UsageSums) -> list[DeploymentCost]:
        with self._db.session() as session:
            catalog = _Catalog.load(session, model)
        usage = TokenUsage(
            prompt_tokens=traffic.prompt_tokens,
            completion_tokens=traffic.completion_tokens,
            cached_tokens=traffic.cached_tokens,
        )
        costs = []
        for row in catalog.models:
            provider = catalog.providers.get(row.provider_id)
            prices = ResolvedPrices()  # an orphaned model: no provider, no price
            if provider is not None:
                prices = resolve_prices(row, provider, catalog.prices, self._price_lookup)
            costs.append(_deployment_cost(row, provider, prices, usage))
        return sorted(costs, key=_cheapest_first)


@dataclass(frozen=True, slots=True)
class _Catalog:
    """The deployments of one public model, their providers and those providers'
    pricing entries."""

    models: Sequence[Model]
    providers: Mapping[uuid.UUID, Provider]
    prices: PriceRows

    @classmethod
    def load(cls, session: Session, name: str) -> _Catalog:
        deployments = models.named(session, name)
        ids = {row.provider_id for row in deployments}
        return cls(
            models=deployments,
            providers={provider.id: provider for provider in providers.with_ids(session, ids)},
            prices={(p.provider_id, p.model_id): p for p in pricing.of_providers(session, ids)},
        )


def _query(
    start: datetime, end: datetime, dimensions: Sequence[Dimension], filters: UsageFilters
) -> ReportQuery:
    return ReportQuery(
        start=start,
        end=end,
        group_by=tuple(dimensions),
        keys=frozenset(filters.keys),
        teams=frozenset(filters.teams),
        providers=frozenset(filters.providers),
        provider_keys=frozenset(filters.provider_keys),
        models=frozenset(filters.models),
        routes=frozenset(filters.routes),
    )


def _sum_fields(sums: UsageSums) -> dict[str, Any]:
    return {
        "requests": sums.requests,
        "errors": sums.errors,
        "prompt_tokens": sums.prompt_tokens,
        "completion_tokens": sums.completion_tokens,
        "cached_tokens": sums.cached_tokens,
        "reasoning_tokens": sums.reasoning_tokens,
        "total_tokens": sums.total_tokens,
        "cost_usd": sums.cost_usd,
        "unpriced_requests": sums.unpriced_requests,
    }


def _usage_row(row: ReportRow, names: Mapping[Dimension, Mapping[uuid.UUID, str]]) -> UsageRow:
    values: dict[str, Any] = {}
    for dim, value in row.dimensions.items():
        if dim in _ID_FIELDS:
            id_field, name_field = _ID_FIELDS[dim]
            values[id_field] = value
            values[name_field] = names[dim].get(value) if isinstance(value, uuid.UUID) else None
        else:
            values[dim.value] = value
    return UsageRow(**values, **_sum_fields(row.sums))


def _deployment_cost(
    model: Model, provider: Provider | None, prices: ResolvedPrices, usage: TokenUsage
) -> DeploymentCost:
    cost = compute_cost(usage, Prices(prices.input, prices.output, prices.cached_input))
    return DeploymentCost(
        model_row_id=model.id,
        model_id=model.model_id,
        provider_id=model.provider_id,
        provider_name=provider.name if provider else None,
        provider_type=provider.type if provider else None,
        enabled=model.enabled,
        status=model.status,
        input_price_per_token=prices.input,
        output_price_per_token=prices.output,
        cached_input_price_per_token=prices.cached_input,
        price_origin=prices.origin,
        cost_usd=cost.usd,
    )


def _cheapest_first(cost: DeploymentCost) -> tuple[Any, ...]:
    return (cost.cost_usd is None, cost.cost_usd or 0, cost.provider_name or "", cost.model_row_id)
