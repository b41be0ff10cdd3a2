"""/admin/v1/usage: usage and cost reports, provider key attribution, cost comparison."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import StringConstraints

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.usage import CostComparison, UsageFilters, UsageReport
from tollway.domain.usage_csv import report_csv
from tollway.engine.base import Route

router = APIRouter(prefix="/usage", tags=["usage"])

_MAX_VALUES = 100  # per filter: enough to name every key of a team, far below SQL limits
_Word = Annotated[str, StringConstraints(max_length=400)]


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report; with format=csv a CSV file with a header row.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=…csv (format=csv only)",
                "schema": {"type": "string"},
            }
        },
    }
}


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime | None
    end: datetime | None


def period(
    start: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="First hour included (ISO 8601; UTC unless an offset is given). "
            "Default: 30 days before `to`.",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        Query(
            alias="to",
            description="End of the range, excluded: an hour counts when it starts before "
            "it. Default: the end of the current hour.",
        ),
    ] = None,
) -> Period:
    return Period(start, end)


def filters(
    *,
    key: Annotated[
        list[uuid.UUID] | None, Query(max_length=_MAX_VALUES, description="Tollway key ids.")
    ] = None,
    team: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=_MAX_VALUES, description="Team ids; the nil UUID means no team."),
    ] = None,
    provider: Annotated[
        list[uuid.UUID] | None, Query(max_length=_MAX_VALUES, description="Provider ids.")
    ] = None,
    provider_key: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=_MAX_VALUES, description="Provider key ids; nil UUID: no key."),
    ] = None,
    model: Annotated[
        list[_Word] | None, Query(max_length=_MAX_VALUES, description="Public model names.")
    ] = None,
    route: Annotated[list[Route] | None, Query(max_length=2)] = None,
) -> UsageFilters:
    return UsageFilters(
        keys=key or (),
        teams=team or (),
        providers=provider or (),
        provider_keys=provider_key or (),
        models=model or (),
        routes=[r.value for r in route or ()],
    )


PeriodDep = Annotated[Period, Depends(period)]
FiltersDep = Annotated[UsageFilters, Depends(filters)]
FormatQuery = Annotated[
    ReportFormat, Query(alias="format", description="json (default) or csv (a file download).")
]


@router.get("", response_model=UsageReport, responses=_CSV_RESPONSE)
def usage_report(
    services: ServicesDep,
    _actor: AdminActor,
    when: PeriodDep,
    only: FiltersDep,
    group_by: Annotated[
        list[_Word] | None,
        Query(
            max_length=20,
            description="Dimensions, comma-separated or repeated, in column order: key, "
            "team, provider, provider_key, model, route, day, hour (UTC buckets).",
        ),
    ] = None,
    output: FormatQuery = ReportFormat.JSON,
) -> UsageReport | Response:
    """Usage and cost summed per group, most expensive first."""
    report = services.usage.report(group_by or [], start=when.start, end=when.end, filters=only)
    return _render(report, output, "usage")


@router.get("/provider-keys", response_model=UsageReport, responses=_CSV_RESPONSE)
def provider_key_attribution(
    services: ServicesDep,
    _actor: AdminActor,
    when: PeriodDep,
    only: FiltersDep,
    output: FormatQuery = ReportFormat.JSON,
) -> UsageReport | Response:
    """What each provider key spent, per team and tollway key (BYOK attribution)."""
    report = services.usage.provider_keys(start=when.start, end=when.end, filters=only)
    return _render(report, output, "provider-keys")


@router.get("/compare")
def compare_costs(
    services: ServicesDep,
    _actor: AdminActor,
    when: PeriodDep,
    model: Annotated[str, Query(min_length=1, max_length=400, description="A public model.")],
) -> CostComparison:
    """The period's traffic of a public model priced on each deployment serving it."""
    return services.usage.compare(model, start=when.start, end=when.end)


def _render(report: UsageReport, output: ReportFormat, kind: str) -> UsageReport | Response:
    if output is ReportFormat.JSON:
        return report
    rows = (row.model_dump() for row in report.rows)
    span = f"{report.start:%Y%m%dT%H%MZ}-{report.end:%Y%m%dT%H%MZ}"
    return Response(
        report_csv([dim.value for dim in report.group_by], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tollway-{kind}-{span}.csv"'},
    )
