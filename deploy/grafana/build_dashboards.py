"""Builds tollway's Grafana dashboards with the official grafana-foundation-sdk.

    .venv/bin/python deploy/grafana/build_dashboards.py   # rewrites dashboards/*.json

The JSON under ``dashboards/`` is generated: edit this file, run it, commit both.
tests/observability/test_deploy.py fails when the committed JSON differs from what
this file builds, and checks every query against the metrics tollway exposes.

Every dashboard has the same variables (replica, team, tollway key, model, provider)
so a link keeps them; each panel filters by those its metrics carry. Replicas with
Redis report the same shared quota counters: quota panels take the max over
replicas, never the sum.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, prometheus, statetimeline, text, timeseries
from grafana_foundation_sdk.builders import dashboard as board
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BarGaugeDisplayMode
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.text import TextMode

FOLDER = Path(__file__).with_name("dashboards")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")

# Label filters of the template variables, by the labels a metric carries.
INSTANCE = 'instance=~"$instance"'
TEAM_KEY = 'team_id=~"$team", key_id=~"$key"'
MODEL = 'model=~"$model"'
GEN_AI = 'gen_ai_request_model=~"$model", gen_ai_provider_name=~"$provider"'
PROVIDER = 'gen_ai_provider_name=~"$provider"'
RATE = "[$__rate_interval]"
PERCENTILES = (0.5, 0.95, 0.99)
SPENT = ((None, "green"), (0.8, "orange"), (1.0, "red"))  # the budget alerts' levels
HEADROOM = ((None, "red"), (0.2, "orange"), (0.5, "green"))


@dataclass(frozen=True)
class Panel:
    """One panel: its kind (timeseries, bargauge, state-timeline, text), unit and
    queries as (PromQL, legend). ``text`` is a text panel's Markdown."""

    title: str
    description: str
    queries: tuple[tuple[str, str], ...] = ()  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    text: str = ""
    # Colour steps (from, colour), the first from minus infinity; None: Grafana's default.
    thresholds: tuple[tuple[float | None, str], ...] | None = None


@dataclass(frozen=True)
class Dashboard:
    uid: str
    file: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[Panel, ...]], ...] = field(default=())


Query = tuple[str, str]  # (PromQL, legend)


def _legend(labels: str) -> str:
    return " ".join(f"{{{{{label.strip()}}}}}" for label in labels.split(","))


def rate_by(
    metric: str, labels: str, where: str = INSTANCE, *, scale: str = "", over: str = "rate"
) -> tuple[Query, ...]:
    """``sum by (labels)`` of a counter's per-second rate (``over="increase"``: its
    increase), times ``scale``."""
    window = "[$__range]" if over == "increase" else RATE
    expr = f"{scale}sum by ({labels}) ({over}({metric}{{{where}}}{window}))"
    return ((expr, _legend(labels)),)


def gauge_by(aggregate: str, metric: str, labels: str, where: str = INSTANCE) -> tuple[Query, ...]:
    return ((f"{aggregate} by ({labels}) ({metric}{{{where}}})", _legend(labels)),)


def percentiles(histogram: str, by: str, where: str) -> tuple[Query, ...]:
    return tuple(
        (
            f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({histogram}_bucket{{{where}}}{RATE})))",
            f"p{int(q * 100)} {_legend(by)}",
        )
        for q in PERCENTILES
    )


def ratio(numerator: str, denominator: str, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({numerator}{RATE})) / sum{grouping} (rate({denominator}{RATE}))"


def quota_levels(metrics: str, what: str) -> tuple[Query, ...]:
    """Each limit's count and the limit itself (max over replicas: with Redis they all
    report the same shared counter)."""
    where = f'{INSTANCE}, metric=~"{metrics}", scope=~"$scope"'
    return tuple(
        (
            f"max by (scope, scope_id, metric, window) ({name}{{{where}}})",
            f"{{{{scope}}}} {{{{scope_id}}}} {{{{metric}}}}/{{{{window}}}} {label}",
        )
        for name, label in (("tollway_quota_used", what), ("tollway_quota_limit", "limit"))
    )


SPEND = f"{INSTANCE}, {TEAM_KEY}, {MODEL}"
UPSTREAM = f"{INSTANCE}, {PROVIDER}"
ATTEMPTS = "tollway_upstream_attempts_total"

OVERVIEW = Dashboard(
    uid="tollway-overview",
    file="overview.json",
    title="tollway / Overview",
    description="Traffic, errors, latency, fallbacks and the engine circuit of tollway.",
    rows=(
        (
            "Traffic",
            (
                Panel(
                    "Requests by endpoint and outcome",
                    "Requests on /v1 per second by endpoint and status class.",
                    rate_by("tollway_requests_total", "endpoint, status_class"),
                    "reqps",
                ),
                Panel(
                    "Requests by route",
                    "Who served: litellm, openrouter (fallback), none (refused).",
                    rate_by("tollway_requests_total", "route"),
                    "reqps",
                ),
            ),
        ),
        (
            "Errors",
            (
                Panel(
                    "5xx error ratio",
                    "Share of /v1 requests answered with a 5xx (tollway's or upstreams' fault).",
                    (
                        (
                            ratio(
                                f'tollway_requests_total{{{INSTANCE}, status_class="5xx"}}',
                                f"tollway_requests_total{{{INSTANCE}}}",
                            ),
                            "5xx ratio",
                        ),
                    ),
                    "percentunit",
                    width=8,
                ),
                Panel(
                    "Errors by type",
                    "Error answers per second by endpoint and OpenAI error type.",
                    rate_by("tollway_request_errors_total", "endpoint, type"),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Requests in flight",
                    "Admitted requests not finished yet, streams included, per replica.",
                    gauge_by("sum", "tollway_requests_in_flight", "instance"),
                    width=8,
                ),
            ),
        ),
        (
            "Latency",
            (
                Panel(
                    "Request duration percentiles by route",
                    "gen_ai.server.request.duration: full response, or first byte of a stream.",
                    percentiles(
                        "gen_ai_server_request_duration_seconds", "route", f"{INSTANCE}, {GEN_AI}"
                    ),
                    "s",
                ),
                Panel(
                    "Time to first token percentiles by route",
                    "gen_ai.server.time_to_first_token of streamed requests.",
                    percentiles(
                        "gen_ai_server_time_to_first_token_seconds",
                        "route",
                        f"{INSTANCE}, {GEN_AI}",
                    ),
                    "s",
                ),
            ),
        ),
        (
            "Routing health",
            (
                Panel(
                    "Fallbacks to OpenRouter by reason",
                    "Requests OpenRouter served instead of LiteLLM, per second, by reason.",
                    rate_by("tollway_fallbacks_total", "reason"),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Engine circuit state",
                    "The LiteLLM engine's circuit breaker per replica: closed, open, half_open.",
                    (
                        (
                            "max by (instance, state) "
                            f"(tollway_engine_circuit_state{{{INSTANCE}}}) == 1",
                            "{{instance}} {{state}}",
                        ),
                    ),
                    kind="state-timeline",
                    width=8,
                ),
                Panel(
                    "Routing table version",
                    "The routing table version each replica serves (they converge in seconds).",
                    gauge_by("max", "tollway_routing_table_version", "instance"),
                    width=8,
                ),
            ),
        ),
    ),
)

COST = Dashboard(
    uid="tollway-cost",
    file="cost-and-usage.json",
    title="tollway / Cost and usage",
    description="Spend per hour by model, team, key and provider; tokens; unpriced requests.",
    rows=(
        (
            "Spend",
            (
                *(
                    Panel(
                        f"Spend per hour by {name}",
                        "USD per hour.",
                        rate_by("tollway_cost_usd_total", label, SPEND, scale="3600 * "),
                        "currencyUSD",
                    )
                    for name, label in (
                        ("model", "model"),
                        ("team", "team_id"),
                        ("tollway key", "key_id"),
                    )
                ),
                Panel(
                    "Spend per hour by provider",
                    "USD per hour by the provider that served (openrouter for fallbacks).",
                    rate_by(
                        "tollway_provider_cost_usd_total",
                        "gen_ai_provider_name",
                        UPSTREAM,
                        scale="3600 * ",
                    ),
                    "currencyUSD",
                ),
                Panel(
                    "Spend in range by team",
                    "USD spent over the dashboard's time range, per team.",
                    rate_by("tollway_cost_usd_total", "team_id", SPEND, over="increase"),
                    "currencyUSD",
                    kind="bargauge",
                ),
                Panel(
                    "Unpriced requests by model",
                    "Requests with no known price per second: their cost is unknown, never $0.",
                    rate_by("tollway_unpriced_requests_total", "model", f"{INSTANCE}, {MODEL}"),
                    "reqps",
                ),
            ),
        ),
        (
            "Tokens",
            (
                Panel(
                    "Tokens per second by kind",
                    "prompt and completion; cached is part of prompt, reasoning of completion.",
                    rate_by("tollway_tokens_total", "kind", SPEND),
                ),
                Panel(
                    "Tokens per request by type",
                    "gen_ai.client.token.usage: mean input and output tokens per request.",
                    (
                        (
                            ratio(
                                f"gen_ai_client_token_usage_sum{{{INSTANCE}, {GEN_AI}}}",
                                f"gen_ai_client_token_usage_count{{{INSTANCE}, {GEN_AI}}}",
                                "gen_ai_token_type",
                            ),
                            "{{gen_ai_token_type}}",
                        ),
                    ),
                ),
            ),
        ),
    ),
)

BUDGETS = Dashboard(
    uid="tollway-budgets",
    file="budgets-and-limits.json",
    title="tollway / Budgets and limits",
    description="Each budget's spend against its limit, rate limits, and what they refused.",
    rows=(
        (
            "Budgets",
            (
                Panel(
                    "Budget burn against its limit",
                    "USD spent in each budget's current window, and the budget itself.",
                    quota_levels("usd", "spent"),
                    "currencyUSD",
                    width=16,
                ),
                Panel(
                    "Budget used",
                    "Share of each budget spent in its current window (1 = refused).",
                    (
                        (
                            'tollway:quota_used:ratio{metric="usd", scope=~"$scope"}',
                            "{{scope}} {{scope_id}} {{window}}",
                        ),
                    ),
                    "percentunit",
                    kind="bargauge",
                    width=8,
                    thresholds=SPENT,
                ),
            ),
        ),
        (
            "Rate limits",
            (
                Panel(
                    "Rate limit usage",
                    "Requests and tokens counted in each limit's current window, and the limit.",
                    quota_levels("requests|tokens", "used"),
                    width=16,
                ),
                Panel(
                    "Quota reservations outstanding",
                    "Admitted requests holding a reservation not yet settled, per replica.",
                    gauge_by("sum", "tollway_quota_reservations_outstanding", "instance"),
                    width=8,
                ),
            ),
        ),
        (
            "Refusals",
            (
                Panel(
                    "Rejections by scope and reason",
                    "Admissions refused per second: budget_exceeded or rate_limit_exceeded.",
                    rate_by("tollway_quota_rejections_total", "scope, type, metric, window"),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Requests billed above their reservation",
                    "Reported usage above what admission reserved, by the scope it overran.",
                    rate_by("tollway_over_reservation_total", "scope"),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Quota store unavailable",
                    "Requests refused (503) or admitted uncounted while the counters were down.",
                    rate_by("tollway_quota_store_unavailable_total", "outcome"),
                    "reqps",
                    width=8,
                ),
            ),
        ),
    ),
)

PROVIDERS = Dashboard(
    uid="tollway-providers",
    file="providers.json",
    title="tollway / Providers",
    description="Upstream errors, latency and rate-limit headroom per provider and provider key.",
    rows=(
        (
            "Errors",
            (
                Panel(
                    "Upstream attempts by provider and outcome",
                    "Attempts through LiteLLM per second: ok, or why one failed.",
                    rate_by(ATTEMPTS, "gen_ai_provider_name, outcome", UPSTREAM),
                    "reqps",
                ),
                Panel(
                    "Upstream error ratio by provider key",
                    "Share of each provider key's attempts that failed (keys by id).",
                    (
                        (
                            ratio(
                                f'{ATTEMPTS}{{{UPSTREAM}, outcome!="ok"}}',
                                f"{ATTEMPTS}{{{UPSTREAM}}}",
                                "gen_ai_provider_name, provider_key_id",
                            ),
                            "{{gen_ai_provider_name}} {{provider_key_id}}",
                        ),
                    ),
                    "percentunit",
                ),
            ),
        ),
        (
            "Latency",
            (
                Panel(
                    "Upstream latency percentiles by provider",
                    "How long upstreams took to answer (a stream's first byte), failures included.",
                    percentiles(
                        "tollway_upstream_duration_seconds", "gen_ai_provider_name", UPSTREAM
                    ),
                    "s",
                ),
                Panel(
                    "Upstream p99 latency by provider key",
                    "The 99th percentile per provider key (by id).",
                    percentiles("tollway_upstream_duration_seconds", "provider_key_id", UPSTREAM)[
                        -1:
                    ],
                    "s",
                ),
            ),
        ),
        (
            "Rate-limit headroom",
            (
                Panel(
                    "Rate-limit headroom per provider and key",
                    "Share of each provider's and provider key's limits left in their window.",
                    (
                        (
                            '1 - tollway:quota_used:ratio{scope=~"provider|provider_key"}',
                            "{{scope}} {{scope_id}} {{metric}} {{window}}",
                        ),
                    ),
                    "percentunit",
                    kind="bargauge",
                    width=24,
                    thresholds=HEADROOM,
                ),
            ),
        ),
        (
            "Verification",
            (
                Panel(
                    "Verification state per model",
                    "Not available yet.",
                    kind="text",
                    width=24,
                    text=(
                        "tollway exports no model verification metric yet: verification "
                        "results are part of the catalog issue. This row gets a panel "
                        "(and an alert in rules.yml) once it does."
                    ),
                ),
            ),
        ),
    ),
)

LEDGER = Dashboard(
    uid="tollway-ledger",
    file="ledger.json",
    title="tollway / Ledger",
    description="The usage journal and its writer: backlog, lag, throughput, records by status.",
    rows=(
        (
            "Journal and writer",
            (
                Panel(
                    "Usage journal backlog",
                    "Finished requests journaled but not yet stored in the SQL ledger.",
                    gauge_by("sum", "tollway_usage_journal_backlog", "instance"),
                    width=8,
                ),
                Panel(
                    "Usage writer lag",
                    "How long the oldest unstored finished request has waited, at most.",
                    gauge_by("max", "tollway_usage_writer_lag_seconds", "instance"),
                    "s",
                    width=8,
                ),
                Panel(
                    "Usage writer throughput",
                    "Records the writer handled per second: stored, duplicate, rejected.",
                    rate_by("tollway_usage_writer_records_total", "result"),
                    "reqps",
                    width=8,
                ),
            ),
        ),
        (
            "Records",
            (
                Panel(
                    "Usage records by status",
                    "Records journaled per second by status (ok, error, interrupted, ...).",
                    rate_by("tollway_usage_records_total", "status", f"{INSTANCE}, {MODEL}"),
                    "reqps",
                ),
                Panel(
                    "Usage records by route",
                    "Records journaled per second by who served them.",
                    rate_by("tollway_usage_records_total", "route", f"{INSTANCE}, {MODEL}"),
                    "reqps",
                ),
            ),
        ),
    ),
)

DASHBOARDS = (OVERVIEW, COST, BUDGETS, PROVIDERS, LEDGER)

# (name, label, query): Grafana's label_values() over a metric that carries the label.
VARIABLES = (
    ("instance", "Replica", "label_values(tollway_routing_table_version, instance)"),
    ("team", "Team", "label_values(tollway_cost_usd_total, team_id)"),
    ("key", "Tollway key", "label_values(tollway_cost_usd_total, key_id)"),
    ("model", "Model", "label_values(tollway_usage_records_total, model)"),
    (
        "provider",
        "Provider",
        "label_values(gen_ai_server_request_duration_seconds_count, gen_ai_provider_name)",
    ),
)
SCOPE = ("scope", "Limit scope", "label_values(tollway_quota_limit, scope)")


def _variables(spec: Dashboard) -> Iterator[board.QueryVariable]:
    for name, label, query in (*VARIABLES, *((SCOPE,) if spec is BUDGETS else ())):
        yield (
            board.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )


def _targets(panel: Panel) -> list[prometheus.Dataquery]:
    return [
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + n))
        for n, (expr, legend) in enumerate(panel.queries)
    ]


_KINDS: dict[str, Callable[[], Any]] = {
    "timeseries": timeseries.Panel,
    "bargauge": lambda: bargauge.Panel().display_mode(BarGaugeDisplayMode.GRADIENT),
    "state-timeline": statetimeline.Panel,
    "text": lambda: text.Panel().mode(TextMode.MARKDOWN),
}


def _panel(panel: Panel, panel_id: int) -> Any:
    built = (
        _KINDS[panel.kind]()
        .id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .height(8)
        .span(panel.width)
    )
    if panel.kind == "text":
        return built.content(panel.text)
    built = built.datasource(DATASOURCE).unit(panel.unit).targets(_targets(panel))
    if panel.unit == "percentunit" and panel.kind == "bargauge":
        built = built.min(0).max(1)  # a share: never scaled to the largest value shown
    if panel.thresholds is not None:
        steps = [Threshold(value=value, color=color) for value, color in panel.thresholds]
        built = built.thresholds(
            board.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)
        )
    return built


def build(spec: Dashboard) -> dict[str, Any]:
    """The dashboard's JSON model, as Grafana imports it."""
    built = (
        board.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["tollway"])
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("30s")
        .editable()
        .with_variable(
            board.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
        )
    )
    for variable in _variables(spec):
        built = built.with_variable(variable)
    panel_id = 0
    for title, panels in spec.rows:
        panel_id += 1
        built = built.with_row(board.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            built = built.with_panel(_panel(panel, panel_id))
    encoded = json.loads(json.dumps(built.build(), cls=JSONEncoder))
    return _without_nulls(encoded)  # type: ignore[no-any-return]


def _without_nulls(value: Any) -> Any:
    """The SDK writes unset options as null; Grafana wants them absent."""
    if isinstance(value, dict):
        # A threshold's base step keeps its null: Grafana reads it as minus infinity.
        return {
            key: _without_nulls(item)
            for key, item in value.items()
            if item is not None or key == "value"
        }
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def render(spec: Dashboard) -> str:
    return json.dumps(build(spec), indent=2) + "\n"


def main() -> int:
    FOLDER.mkdir(exist_ok=True)
    for spec in DASHBOARDS:
        (FOLDER / spec.file).write_text(render(spec))
        print(f"wrote {FOLDER / spec.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
