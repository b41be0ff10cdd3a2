"""The dashboards and alerts, proven against a real Prometheus (issue 13 §5).

Two tollway replicas share one PostgreSQL database (so one usage report
covers both) and serve a scripted load (live_load.py) on fake upstreams.
Prometheus, from Debian's package (`make test` unpacks it into .tools/bin), scrapes
both every second and evaluates deploy/prometheus's rules. Then every query the
deploy ships (deploy_queries.py: whatever dashboards and rule files exist) runs
through Prometheus's HTTP API: each must parse, and each whose metrics this load
produced must find series. And Prometheus's request, token and cost totals must
equal the usage report for the same window.

The table of queries → series → value is printed by test_the_table and kept as
``query_table.txt`` in the module's pytest tmp directory. Select with
``-m prometheus``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.providers import FakeProviderServer
from tests.inference.conftest import Tollway
from tests.observability.conftest import live, samples, total
from tests.observability.deploy_queries import dashboard_queries, recorded_names, rule_files
from tests.observability.deploy_queries import rule_queries as deploy_rule_queries
from tests.observability.deploy_queries import rules as deploy_rules
from tests.observability.live_load import Step, setup, steps, wait_served
from tests.observability.prometheus_server import Prometheus, prometheus_binary, running_prometheus
from tests.observability.query_results import PROMETHEUS_OWN, Result, evaluate, exposed_names, table
from tests.processes import MASTER_KEY

pytestmark = [pytest.mark.prometheus, pytest.mark.postgres]

TOKEN_KINDS = ("prompt", "completion", "cached", "reasoning")
# What this load must show on the dashboards: each has series after it.
EXERCISED = (
    "tollway_requests_total",
    "tollway_tokens_total",
    "tollway_cost_usd_total",
    "tollway_usage_records_total",
    "tollway_unpriced_requests_total",
    "tollway_fallbacks_total",
    "tollway_quota_rejections_total",
    "tollway_upstream_failures_total",
    "tollway_upstream_attempts_total",
    "tollway_quota_used",
    "tollway_quota_limit",
    "gen_ai_client_token_usage_bucket",
    "gen_ai_server_request_duration_seconds_bucket",
    "gen_ai_server_time_to_first_token_seconds_bucket",
)


@dataclass(frozen=True)
class Observed:
    prometheus: Prometheus
    at: float  # when to query: after a scrape and a rule evaluation that saw the load
    report: dict[str, Any]  # /admin/v1/usage for the load's window, by model and route
    admitted: int
    refused: int
    results: list[Result]
    table_path: Path


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory,
    shared_database_url: str,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
) -> Iterator[Observed]:
    prometheus_binary()  # skip (or fail under CI) before starting anything
    root = tmp_path_factory.mktemp("prometheus_live")
    with ExitStack() as stack:
        since = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        a = stack.enter_context(replica(root / "a", shared_database_url))
        models, keys = setup(a, upstream, openrouter)
        # The second replica joins a deployment that exists, as a scaled-out one
        # does: its first routing table, and whatever it publishes from it at start
        # (e.g. gauges of every limit), already has all of the setup.
        b = stack.enter_context(replica(root / "b", shared_database_url))
        replicas = (a, b)
        for each in replicas:
            wait_served(each, models, keys)
        targets = [httpx.URL(r.url).netloc.decode() for r in replicas]
        prometheus = stack.enter_context(
            running_prometheus(root / "prometheus", targets, rule_files())
        )
        plan = steps(replicas, models, keys)
        run(plan)
        # Again, once Prometheus has seen every series: a series' first sample
        # already holds its first increment, which rate() and increase() cannot see
        # (they start from the first sample), so after one pass most rate panels
        # would show 0. Real traffic repeats; so does this load.
        prometheus.wait_for_fresh_data(time.time())
        run(plan)
        admitted = 2 * sum(step.admitted for step in plan)
        report = settle(replicas, admitted, since)
        at = prometheus.wait_for_fresh_data(time.time())
        known = exposed_names(replicas[0].metrics()) | recorded_names() | PROMETHEUS_OWN
        queries = [*dashboard_queries(), *deploy_rule_queries()]
        results = evaluate(prometheus, queries, at, known)
        path = root / "query_table.txt"
        found = Observed(prometheus, at, report, admitted, 2 * len(plan) - admitted, results, path)
        path.write_text(table(results, totals_rows(found)))
        yield found


def run(plan: list[Step]) -> None:
    for step in plan:
        try:
            step.run()
        except Exception as error:
            raise AssertionError(f"{step.name} on {step.replica.url}: {error!r}") from error


def replica(directory: Path, database_url: str) -> AbstractContextManager[Tollway]:
    """A replica served in this process on a port of its own (an app per replica,
    each with its own registry: /metrics as a `tollway serve` serves it). One
    process and one litellm import for both: starting `tollway serve` twice took
    a minute on the loaded 2-core machine. Every replica must unwrap the provider
    keys another stored: one master key for all."""
    secrets = {"local": {"master_key": MASTER_KEY}}
    return live(directory / "data", database_url=database_url, secrets=secrets)


def settle(replicas: tuple[Tollway, ...], admitted: int, since: datetime) -> dict[str, Any]:
    """Until the usage report and both replicas' /metrics count every admitted
    request; returns the report."""
    report: dict[str, Any] = {}

    def counted() -> bool:
        nonlocal report
        report = usage_report(replicas[0], since)
        in_metrics = sum(
            total(samples(r.metrics()), "tollway_usage_records_total") for r in replicas
        )
        return report["totals"]["requests"] == admitted == in_metrics

    replicas[0].wait_until(counted, timeout=30)
    return report


def usage_report(replica: Tollway, since: datetime) -> dict[str, Any]:
    """From the load's first hour to the end of the current one (the report's unit
    is the hour). The database is new, so this window holds exactly the load, and
    the replicas' counters started with it."""
    params = {"from": since.isoformat(), "group_by": "model,route"}
    response = replica.admin.get("/admin/v1/usage", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def totals_rows(found: Observed) -> list[tuple[str, str, str]]:
    """The contract totals beside the usage report's, for the table."""
    totals, value = found.report["totals"], _value_of(found)
    requests = totals["requests"]
    expected: list[tuple[str, object]] = [
        ("sum(tollway_requests_total)", f"{requests} + {found.refused} refused (no record)"),
        ("sum(tollway_usage_records_total)", requests),
        ('sum(tollway_usage_records_total{status=~"error|interrupted"})', totals["errors"]),
        ("sum(tollway_cost_usd_total)", totals["cost_usd"]),
        ("sum(tollway_unpriced_requests_total)", totals["unpriced_requests"]),
        *(
            (f'sum(tollway_tokens_total{{kind="{kind}"}})', totals[f"{kind}_tokens"])
            for kind in TOKEN_KINDS
        ),
    ]
    return [(expr, f"{value(expr):.10g}", str(theirs)) for expr, theirs in expected]


def _value_of(found: Observed) -> Callable[[str], float]:
    return lambda expr: found.prometheus.value(expr, found.at)


# -- every query ------------------------------------------------------------------------


def test_the_table(observed: Observed) -> None:
    text = observed.table_path.read_text()
    print(f"\n{text}(kept at {observed.table_path})")
    assert any(r.query.kind == "panel" for r in observed.results), "no dashboard found"
    assert any(r.query.kind == "alert" for r in observed.results), "no alert rule found"


def test_every_query_parses(observed: Observed) -> None:
    refused = [(r.query.source, r.query.expr, r.error) for r in observed.results if r.error]
    assert refused == []


def test_prometheus_evaluates_every_rule_without_error(observed: Observed) -> None:
    """Prometheus itself ran the rule files on the live series (recording rules'
    outputs feed dashboards and alerts): no rule failed, e.g. on a join that
    matched many series to many."""
    groups = observed.prometheus.api("rules")["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    failing = [
        (rule["name"], rule.get("lastError"))
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    assert failing == []
    assert loaded == {rule.get("alert") or rule["record"] for _, rule in deploy_rules()}


def test_every_query_names_exposed_metrics(observed: Observed) -> None:
    unknown = [(r.query.source, sorted(r.unknown)) for r in observed.results if r.unknown]
    assert unknown == []


def test_every_query_on_live_metrics_finds_series(observed: Observed) -> None:
    """A query whose metrics all have series must find some: else its labels,
    matchers or joins are wrong. (Alerts that do not fire are checked with their
    comparisons made `bool`, see deploy_queries.with_bool.)"""
    empty = [(r.query.source, r.query.expr) for r in observed.results if r.inputs_found == 0]
    assert empty == []


def test_the_load_reaches_the_dashboards(observed: Observed) -> None:
    live = observed.prometheus.names()
    missing = [name for name in EXERCISED if name not in live]
    assert missing == []


# -- the totals against the usage report ------------------------------------------------


def test_records_tokens_and_cost_equal_the_usage_report(observed: Observed) -> None:
    """The usage records, the tokens by kind and the cost: one Prometheus increment
    per ledger record (metering/counting.py), so exact, but for the cost, which
    Prometheus sums as floats and the ledger as decimals."""
    totals, value = observed.report["totals"], _value_of(observed)
    assert totals["requests"] == observed.admitted
    assert value("sum(tollway_usage_records_total)") == totals["requests"]
    errors = 'sum(tollway_usage_records_total{status=~"error|interrupted"})'
    assert value(errors) == totals["errors"] == 2  # the upstream 500, twice
    tokens = {
        sample.labels["kind"]: sample.value
        for sample in observed.prometheus.query("sum by (kind) (tollway_tokens_total)", observed.at)
    }
    for kind in TOKEN_KINDS:  # a kind no request had has no series: 0
        assert tokens.get(kind, 0) == totals[f"{kind}_tokens"], kind
    assert totals["prompt_tokens"] > 0
    assert totals["completion_tokens"] > 0
    assert value("sum(tollway_unpriced_requests_total)") == totals["unpriced_requests"]
    cost = value("sum(tollway_cost_usd_total)")
    assert totals["cost_usd"] > 0
    assert math.isclose(cost, totals["cost_usd"], rel_tol=1e-9, abs_tol=1e-12)


def test_requests_equal_the_usage_report_plus_refusals(observed: Observed) -> None:
    """tollway_requests_total counts every /v1 answer; the ledger only admitted
    requests. A refusal by a limit is an answer (429) with no record, and counted
    in tollway_quota_rejections_total, so the two differ by exactly those. This
    load refuses nothing else (no bad keys, no unknown models)."""
    totals, value = observed.report["totals"], _value_of(observed)
    rejections = value("sum(tollway_quota_rejections_total)")
    assert rejections == observed.refused == 4
    assert value("sum(tollway_requests_total)") == totals["requests"] + rejections
    # Answered 2xx: every record but the errors. A stream whose client left had its
    # 200 and is recorded client_disconnected, not as an error; the errors (the
    # upstream 500s) were answered 502. No stream here fails after its 200.
    answered = value('sum(tollway_requests_total{status_class="2xx"})')
    assert answered == totals["requests"] - totals["errors"]


def test_each_model_and_route_equals_the_usage_report(observed: Observed) -> None:
    """The same, per row of the report grouped by model and route (litellm, and
    openrouter for the fallbacks)."""
    query = observed.prometheus.query

    def by_model_route(expr: str) -> dict[tuple[str, str], float]:
        found = query(f"sum by (model, route) ({expr})", observed.at)
        return {(s.labels["model"], s.labels["route"]): s.value for s in found}

    records = by_model_route("tollway_usage_records_total")
    tokens = by_model_route('tollway_tokens_total{kind=~"prompt|completion"}')
    cost = by_model_route("tollway_cost_usd_total")
    rows = {(row["model"], row["route"]): row for row in observed.report["rows"]}
    assert set(records) == set(rows)
    assert {row[1] for row in rows} == {"litellm", "openrouter"}
    for group, row in rows.items():
        assert records[group] == row["requests"], group
        assert tokens.get(group, 0) == row["prompt_tokens"] + row["completion_tokens"], group
        assert math.isclose(cost.get(group, 0), row["cost_usd"], rel_tol=1e-9, abs_tol=1e-12)
