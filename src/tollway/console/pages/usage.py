"""Usage: cost, tokens and requests over time from the hourly aggregates, stacked by a
dimension; top spenders; BYOK attribution per provider key; a public model's cost on
each of its providers; and the CSV of each table, exactly as shown.

Everything reads ``services.usage`` (the same reports as /admin/v1/usage); a page runs
one report for the chart and the spenders (bucket and dimension, summed over the buckets
for the table), plus the attribution's when stacking by provider key and the
comparison's when a model is chosen.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.charts import BarChart, Series, stacked_bars, top_series
from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import FormErrors
from tollway.console.pages.usage_view import (
    BUCKETS,
    GROUPS,
    METRICS,
    RANGE_CHOICES,
    UsageView,
    bucket_label,
    count,
    parse_view,
    per_million,
    usd,
)
from tollway.domain.usage import CostComparison, UsageReport, UsageRow
from tollway.domain.usage_csv import SUM_COLUMNS, report_csv
from tollway.errors import NotFoundError, ValidationError
from tollway.store.tables import NIL_UUID

router = APIRouter()

TOP_SERIES = 6
MAX_TABLE_ROWS = 1000  # past this, a table says so and the CSV holds every row
_ID_FIELDS = {
    "key": ("key_id", "key_name", "No key", "deleted key"),
    "team": ("team_id", "team_name", "No team", "deleted team"),
    "provider": ("provider_id", "provider_name", "No provider", "deleted provider"),
    "provider_key": (
        "provider_key_id",
        "provider_key_label",
        "No provider key",
        "deleted provider key",
    ),
}
_CSV_TABLES = ("spend", "chart", "attribution")


@dataclass(frozen=True, slots=True)
class SpendRow:
    label: str
    href: str | None
    row: UsageRow


@router.get("/usage", name="usage")
def usage_page(console: SignedIn) -> Response:
    parsed = parse_view(console.request.query_params, now=datetime.now(UTC))
    context: dict[str, Any] = {
        "values": parsed.values,
        "errors": FormErrors(
            fields=parsed.errors,
            summary=[f"{name}: {message}" for name, message in parsed.errors.items()],
        ),
        "choices": _choices(console),
        "view": parsed.view,
        "result": None,
    }
    if parsed.view is None:
        return console.render("usage.html", context, title="Usage", status=422)
    context["result"] = _result(console, parsed.view)
    return console.render("usage.html", context, title="Usage")


@router.get("/usage.csv", name="usage_csv")
def usage_csv(console: SignedIn, table: str = "spend") -> Response:
    """The CSV of one table of the page, for the same query: the same report rows."""
    if table not in _CSV_TABLES:
        raise ValidationError(f"table must be one of {', '.join(_CSV_TABLES)}")
    parsed = parse_view(console.request.query_params, now=datetime.now(UTC))
    if parsed.view is None:
        problems = "; ".join(f"{name}: {message}" for name, message in parsed.errors.items())
        raise ValidationError(f"this view cannot be downloaded: {problems}")
    view = parsed.view
    report = _report(console, view, table)
    group_by = [dim.value for dim in report.group_by]
    span = f"{report.start:%Y%m%dT%H%MZ}-{report.end:%Y%m%dT%H%MZ}"
    return Response(
        report_csv(group_by, (row.model_dump() for row in report.rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tollway-{table}-{span}.csv"'},
    )


def _report(console: ConsoleContext, view: UsageView, table: str) -> UsageReport:
    usage = console.services.usage
    when: dict[str, Any] = {"start": view.start, "end": view.end, "filters": view.filters()}
    if table == "attribution":
        return usage.provider_keys(**when)
    chart = usage.report([view.bucket, view.group], **when)
    return chart if table == "chart" else spend_of(chart, view.group)


def spend_of(chart: UsageReport, group: str) -> UsageReport:
    """The chart's report summed over its buckets: one row per series, most expensive
    first (then by label). One report read serves the chart, the table and both CSVs."""
    fields = ("model",) if group == "model" else _ID_FIELDS[group][:2]
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in chart.rows:
        key = tuple(getattr(row, name) for name in fields)
        found = merged.get(key)
        if found is None:
            merged[key] = {name: getattr(row, name) for name in (*fields, *SUM_COLUMNS)}
        else:
            for name in SUM_COLUMNS:
                found[name] += getattr(row, name)
    rows = [UsageRow(**values) for values in merged.values()]
    rows.sort(key=lambda row: (-row.cost_usd, series_of(row, group)[1]))
    return UsageReport(
        start=chart.start,
        end=chart.end,
        group_by=[dim for dim in chart.group_by if dim.value == group],
        rows=rows,
        totals=chart.totals,
    )


def _result(console: ConsoleContext, view: UsageView) -> dict[str, Any]:
    chart_report = _report(console, view, "chart")
    spend = spend_of(chart_report, view.group)
    # BYOK attribution is one more report: shown when stacking by provider key.
    attribution = _report(console, view, "attribution") if view.group == "provider_key" else None
    comparison, compare_error = _comparison(console, view)
    chart, series = _chart(view, spend, chart_report)
    base = console.url("usage")
    csv = console.url("usage_csv")
    return {
        "totals": spend.totals,
        "spend": _spend_rows(view, spend, base),
        "spend_count": len(spend.rows),
        "chart": chart,
        "chart_table": _chart_table(view, series),
        "attribution": attribution.rows[:MAX_TABLE_ROWS] if attribution else None,
        "attribution_count": len(attribution.rows) if attribution else 0,
        "attribution_href": f"{base}?{view.query(group='provider_key')}",
        "comparison": comparison,
        "compare_error": compare_error,
        "csv": {name: f"{csv}?{view.query()}&table={name}" for name in _CSV_TABLES},
        "group_label": GROUPS[view.group],
        "metric_label": METRICS[view.metric],
        "bucket_label": BUCKETS[view.bucket],
        "period": f"{view.start:%Y-%m-%d %H:%M} to {view.end:%Y-%m-%d %H:%M} UTC",
        "max_rows": MAX_TABLE_ROWS,
    }


def _comparison(
    console: ConsoleContext, view: UsageView
) -> tuple[CostComparison | None, str | None]:
    if not view.compare:
        return None, None
    try:
        return console.services.usage.compare(view.compare, start=view.start, end=view.end), None
    except NotFoundError as exc:
        return None, exc.message


def series_of(row: UsageRow, group: str) -> tuple[Hashable, str]:
    """The series a row belongs to (its id, or the model name) and its label."""
    if group == "model":
        return row.model, row.model or "No model"
    id_field, name_field, absent, deleted = _ID_FIELDS[group]
    ident = getattr(row, id_field)
    name = getattr(row, name_field)
    if name:
        return ident, str(name)
    if ident is None or ident == NIL_UUID:
        return ident, absent
    return ident, f"{deleted} {str(ident)[:8]}"


def _metric(row: UsageRow, metric: str) -> Decimal:
    return Decimal(getattr(row, metric))


def _chart(
    view: UsageView, spend: UsageReport, report: UsageReport
) -> tuple[BarChart, list[Series]]:
    buckets = view.buckets
    index = {moment: position for position, moment in enumerate(buckets)}
    values: dict[Hashable, list[Decimal]] = {}
    for row in report.rows:
        moment = row.day if view.bucket == "day" else row.hour
        if moment is None or moment not in index:
            continue
        key, _ = series_of(row, view.group)
        column = values.setdefault(key, [Decimal(0)] * len(buckets))
        column[index[moment]] += _metric(row, view.metric)
    ranked = sorted(
        (series_of(row, view.group) for row in spend.rows),
        key=lambda pair: -_total(values.get(pair[0], ())),
    )
    series = top_series(ranked, values, len(buckets), TOP_SERIES)
    formatter = usd if view.metric == "cost_usd" else count
    labels = [bucket_label(moment, view.bucket) for moment in buckets]
    return stacked_bars(labels, series, formatter), series


def _total(values: Any) -> Decimal:
    return sum(values, Decimal(0))


def _chart_table(view: UsageView, series: list[Series]) -> dict[str, Any]:
    """The chart as a table (its text alternative): a row per bucket, a column per
    series, and the bucket's total."""
    formatter = usd if view.metric == "cost_usd" else count
    rows = []
    for position, label in enumerate(view.bucket_labels):
        cells = [item.values[position] for item in series]
        rows.append((label, [formatter(cell) for cell in cells], formatter(_total(cells))))
    return {"columns": [item.label for item in series], "rows": rows}


def _spend_rows(view: UsageView, report: UsageReport, base: str) -> list[SpendRow]:
    rows = []
    for row in report.rows[:MAX_TABLE_ROWS]:
        key, label = series_of(row, view.group)
        rows.append(SpendRow(label, _drill_down(view, key, base), row))
    return rows


def _drill_down(view: UsageView, key: Hashable, base: str) -> str | None:
    """The same view filtered to this series (not for provider keys: no such filter)."""
    if key is None or view.group == "provider_key":
        return None
    return f"{base}?{view.query(**{view.group: key})}"


def _choices(console: ConsoleContext) -> Mapping[str, Any]:
    found = console.services.usage.choices()
    teams = [("", "Any team"), (str(NIL_UUID), "No team")]
    return {
        "range": RANGE_CHOICES,
        "bucket": list(BUCKETS.items()),
        "group": list(GROUPS.items()),
        "metric": list(METRICS.items()),
        "team": teams + [(str(t.id), t.name) for t in found.teams],
        "key": [("", "Any key")] + [(str(k.id), k.name) for k in found.keys],
        "provider": [("", "Any provider")] + [(str(p.id), p.name) for p in found.providers],
        "models": found.models,
        "usd": usd,
        "count": count,
        "per_million": per_million,
    }
