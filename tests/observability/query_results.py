"""Each deploy query evaluated on a live Prometheus, and the table of them: source,
series count, value, and why a query without series may have none."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tests.observability.deploy_queries import Query, metric_names, with_bool
from tests.observability.prometheus_server import Prometheus, QueryError, Sample

# Series Prometheus makes itself, for every target and alert.
PROMETHEUS_OWN = {
    *("up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"),
    *("scrape_samples_post_metric_relabeling", "ALERTS", "ALERTS_FOR_STATE"),
}
_SUFFIXES = {
    "counter": ("", "_total"),  # the TYPE line names it with or without _total
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Result:
    query: Query
    series: int  # of the query as written (0 when refused)
    value: str
    error: str | None = None  # Prometheus refused it
    idle: frozenset[str] = frozenset()  # names it selects that have no series
    unknown: frozenset[str] = frozenset()  # names nothing exposes or records
    # Series of the query with its comparisons made `bool`; None when not checked
    # (refused, or it selects an idle or unknown name).
    inputs_found: int | None = None

    @property
    def note(self) -> str:
        if self.error:
            return f"REFUSED: {self.error}"
        if self.unknown:
            return f"UNKNOWN METRIC: {', '.join(sorted(self.unknown))}"
        if self.idle:
            return f"idle in this load: {', '.join(sorted(self.idle))}"
        if self.inputs_found == 0:
            return "NO SERIES although its metrics have some"
        if self.series == 0:
            return f"0 series as written; {self.inputs_found} with its comparison as bool"
        return ""


def exposed_names(metrics_text: str) -> set[str]:
    """The sample names a /metrics page can serve, from its # TYPE lines (a family
    with no samples yet is listed too)."""
    return {
        name + suffix
        for name, kind in _TYPE_LINE.findall(metrics_text)
        for suffix in _SUFFIXES.get(kind, ("",))
    }


def evaluate(
    prometheus: Prometheus, queries: Iterable[Query], at: float, known: set[str]
) -> list[Result]:
    live = prometheus.names()
    return [_evaluate(prometheus, query, at, known, live) for query in queries]


def _evaluate(
    prometheus: Prometheus, query: Query, at: float, known: set[str], live: set[str]
) -> Result:
    try:
        samples = prometheus.query(query.expr, at)
    except QueryError as error:
        return Result(query, 0, "-", error=str(error))
    names = metric_names(query.expr)
    idle, unknown = frozenset(names - live), frozenset(names - known)
    found = None
    if not idle and not unknown:
        try:
            found = len(prometheus.query(with_bool(query.expr), at))
        except QueryError as error:
            return Result(query, len(samples), shown(samples), error=f"as bool: {error}")
    return Result(query, len(samples), shown(samples), None, idle, unknown, found)


def shown(samples: Sequence[Sample]) -> str:
    """One sample's value, or the sum of several (NaN ones left out and counted)."""
    if not samples:
        return "-"
    values = [sample.value for sample in samples]
    finite = [value for value in values if not math.isnan(value)]
    text = f"{sum(finite):.6g}" if finite else "NaN"
    if len(values) > 1:
        text = f"Σ {text}"
    if finite and len(finite) < len(values):
        text += f" ({len(values) - len(finite)} NaN)"
    return text


def table(results: Sequence[Result], totals: Sequence[tuple[str, str, str]]) -> str:
    """Results, then (expression, Prometheus, usage report) rows."""
    rows = [("query", "kind", "series", "value", "note")]
    rows += [(r.query.source, r.query.kind, str(r.series), r.value, r.note) for r in results]
    lines = _aligned(rows)
    lines += ["", *_aligned([("total", "Prometheus", "usage report"), *totals])]
    return "\n".join(lines) + "\n"


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        " | ".join(
            [*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]
        )
        for row in rows
    ]
