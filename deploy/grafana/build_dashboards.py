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
    queries: tuple[tuple[str, str], ...] = ()
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


def percentiles(histogram: str, by: str, labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (
            f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({histogram}_bucket{{{labels}}}{RATE})))",
            f"p{int(q * 100)} {{{{{by}}}}}",
        )
        for q in PERCENTILES
    )


def hourly_spend(by: str) -> tuple[tuple[str, str], ...]:
    selector = f"{INSTANCE}, {TEAM_KEY}, {MODEL}"
    expr = f"3600 * sum by ({by}) (rate(tollway_cost_usd_total{{{selector}}}{RATE}))"
    return ((expr, f"{{{{{by}}}}}"),)


def _quota_max(metric: str, usd: str) -> str:
    return (
        f'max by (scope, scope_id, window) ({metric}{{{INSTANCE}, metric{usd}, scope=~"$scope"}})'
    )


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
                    (
                        (
                            "sum by (endpoint, status_class) "
                            f"(rate(tollway_requests_total{{{INSTANCE}}}{RATE}))",
                            "{{endpoint}} {{status_class}}",
                        ),
                    ),
                    "reqps",
                ),
                Panel(
                    "Requests by route",
                    "Who served: litellm, openrouter (fallback), none (refused).",
                    (
                        (
                            f"sum by (route) (rate(tollway_requests_total{{{INSTANCE}}}{RATE}))",
                            "{{route}}",
                        ),
                    ),
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
                            "sum(rate(tollway_requests_total"
                            f'{{{INSTANCE}, status_class="5xx"}}{RATE})) / '
                            f"sum(rate(tollway_requests_total{{{INSTANCE}}}{RATE}))",
                            "5xx ratio",
                        ),
                    ),
                    "percentunit",
                    width=8,
                ),
                Panel(
                    "Errors by type",
                    "Error answers per second by endpoint and OpenAI error type.",
                    (
                        (
                            "sum by (endpoint, type) "
                            f"(rate(tollway_request_errors_total{{{INSTANCE}}}{RATE}))",
                            "{{endpoint}} {{type}}",
                        ),
                    ),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Requests in flight",
                    "Admitted requests not finished yet, streams included, per replica.",
                    (
                        (
                            f"sum by (instance) (tollway_requests_in_flight{{{INSTANCE}}})",
                            "{{instance}}",
                        ),
                    ),
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
                    (
                        (
                            f"sum by (reason) (rate(tollway_fallbacks_total{{{INSTANCE}}}{RATE}))",
                            "{{reason}}",
                        ),
                    ),
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
                    (
                        (
                            f"max by (instance) (tollway_routing_table_version{{{INSTANCE}}})",
                            "{{instance}}",
                        ),
                    ),
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
                Panel(
                    "Spend per hour by model", "USD per hour.", hourly_spend("model"), "currencyUSD"
                ),
                Panel(
                    "Spend per hour by team",
                    "USD per hour.",
                    hourly_spend("team_id"),
                    "currencyUSD",
                ),
                Panel(
                    "Spend per hour by tollway key",
                    "USD per hour.",
                    hourly_spend("key_id"),
                    "currencyUSD",
                ),
                Panel(
                    "Spend per hour by provider",
                    "USD per hour by the provider that served (openrouter for fallbacks).",
                    (
                        (
                            "3600 * sum by (gen_ai_provider_name) (rate("
                            f"tollway_provider_cost_usd_total{{{INSTANCE}, {PROVIDER}}}{RATE}))",
                            "{{gen_ai_provider_name}}",
                        ),
                    ),
                    "currencyUSD",
                ),
                Panel(
                    "Spend in range by team",
                    "USD spent over the dashboard's time range, per team.",
                    (
                        (
                            "sum by (team_id) (increase(tollway_cost_usd_total"
                            f"{{{INSTANCE}, {TEAM_KEY}, {MODEL}}}[$__range]))",
                            "{{team_id}}",
                        ),
                    ),
                    "currencyUSD",
                    kind="bargauge",
                ),
                Panel(
                    "Unpriced requests by model",
                    "Requests with no known price: their cost is unknown, never $0.",
                    (
                        (
                            "sum by (model) (increase(tollway_unpriced_requests_total"
                            f"{{{INSTANCE}, {MODEL}}}{RATE}))",
                            "{{model}}",
                        ),
                    ),
                ),
            ),
        ),
        (
            "Tokens",
            (
                Panel(
                    "Tokens per second by kind",
                    "prompt and completion; cached is part of prompt, reasoning of completion.",
                    (
                        (
                            "sum by (kind) (rate(tollway_tokens_total"
                            f"{{{INSTANCE}, {TEAM_KEY}, {MODEL}}}{RATE}))",
                            "{{kind}}",
                        ),
                    ),
                ),
                Panel(
                    "Tokens per request by type",
                    "gen_ai.client.token.usage: mean input and output tokens per request.",
                    (
                        (
                            "sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum"
                            f"{{{INSTANCE}, {GEN_AI}}}{RATE})) / sum by (gen_ai_token_type) (rate("
                            f"gen_ai_client_token_usage_count{{{INSTANCE}, {GEN_AI}}}{RATE}))",
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
                    (
                        (
                            _quota_max("tollway_quota_used", '="usd"'),
                            "{{scope}} {{scope_id}} {{window}} spent",
                        ),
                        (
                            _quota_max("tollway_quota_limit", '="usd"'),
                            "{{scope}} {{scope_id}} {{window}} limit",
                        ),
                    ),
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
                    (
                        (
                            _quota_max("tollway_quota_used", '=~"requests|tokens"'),
                            "{{scope}} {{scope_id}} {{window}} used",
                        ),
                        (
                            _quota_max("tollway_quota_limit", '=~"requests|tokens"'),
                            "{{scope}} {{scope_id}} {{window}} limit",
                        ),
                    ),
                    width=16,
                ),
                Panel(
                    "Quota reservations outstanding",
                    "Admitted requests holding a reservation not yet settled, per replica.",
                    (
                        (
                            "sum by (instance) "
                            f"(tollway_quota_reservations_outstanding{{{INSTANCE}}})",
                            "{{instance}}",
                        ),
                    ),
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
                    (
                        (
                            "sum by (scope, type, metric, window) "
                            f"(rate(tollway_quota_rejections_total{{{INSTANCE}}}{RATE}))",
                            "{{scope}} {{type}} {{metric}}/{{window}}",
                        ),
                    ),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Requests billed above their reservation",
                    "Reported usage above what admission reserved, by the scope it overran.",
                    (
                        (
                            "sum by (scope) "
                            f"(rate(tollway_over_reservation_total{{{INSTANCE}}}{RATE}))",
                            "{{scope}}",
                        ),
                    ),
                    "reqps",
                    width=8,
                ),
                Panel(
                    "Quota store unavailable",
                    "Requests refused (503) or admitted uncounted while the counters were down.",
                    (
                        (
                            "sum by (outcome) "
                            f"(rate(tollway_quota_store_unavailable_total{{{INSTANCE}}}{RATE}))",
                            "{{outcome}}",
                        ),
                    ),
                    "reqps",
                    width=8,
                ),
            ),
        ),
    ),
)

UPSTREAM = f"{INSTANCE}, {PROVIDER}"
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
                    "Attempts through LiteLLM per second: ok, or the failure's kind.",
                    (
                        (
                            "sum by (gen_ai_provider_name, outcome) "
                            f"(rate(tollway_upstream_attempts_total{{{UPSTREAM}}}{RATE}))",
                            "{{gen_ai_provider_name}} {{outcome}}",
                        ),
                    ),
                    "reqps",
                ),
                Panel(
                    "Upstream error ratio by provider key",
                    "Share of each provider key's attempts that failed (keys by id).",
                    (
                        (
                            "sum by (gen_ai_provider_name, provider_key_id) (rate("
                            f'tollway_upstream_attempts_total{{{UPSTREAM}, outcome!="ok"}}{RATE}))'
                            " / sum by (gen_ai_provider_name, provider_key_id) (rate("
                            f"tollway_upstream_attempts_total{{{UPSTREAM}}}{RATE}))",
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
                    (
                        (
                            "histogram_quantile(0.99, sum by (le, provider_key_id) "
                            f"(rate(tollway_upstream_duration_seconds_bucket{{{UPSTREAM}}}{RATE})))",
                            "{{provider_key_id}}",
                        ),
                    ),
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
                            "{{scope}} {{scope_id}} {{metric}}/{{window}}",
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
                    (
                        (
                            f"sum by (instance) (tollway_usage_journal_backlog{{{INSTANCE}}})",
                            "{{instance}}",
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "Usage writer lag",
                    "How long the oldest unstored finished request has waited, at most.",
                    (
                        (
                            f"max by (instance) (tollway_usage_writer_lag_seconds{{{INSTANCE}}})",
                            "{{instance}}",
                        ),
                    ),
                    "s",
                    width=8,
                ),
                Panel(
                    "Usage writer throughput",
                    "Records the writer handled per second: stored, duplicate, rejected.",
                    (
                        (
                            "sum by (result) "
                            f"(rate(tollway_usage_writer_records_total{{{INSTANCE}}}{RATE}))",
                            "{{result}}",
                        ),
                    ),
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
                    (
                        (
                            "sum by (status) "
                            f"(rate(tollway_usage_records_total{{{INSTANCE}, {MODEL}}}{RATE}))",
                            "{{status}}",
                        ),
                    ),
                    "reqps",
                ),
                Panel(
                    "Usage records by route",
                    "Records journaled per second by who served them.",
                    (
                        (
                            "sum by (route) "
                            f"(rate(tollway_usage_records_total{{{INSTANCE}, {MODEL}}}{RATE}))",
                            "{{route}}",
                        ),
                    ),
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
