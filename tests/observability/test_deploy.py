"""deploy/: the Prometheus config and rules pass promtool, the alerts fire on the
series they are meant for, the Grafana dashboards are what their grafana-foundation-sdk
script builds, and every query (rules and dashboards) names only metrics tollway
exposes."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.conftest import REPO, run_promtool
from tollway.observability.metrics import Metrics

PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
RULES_TEST = Path(__file__).with_name("rules_test.yml")
BUILTIN = {"up"}  # made by Prometheus itself for every target
# Grafana's variables, replaced by something PromQL parses.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# Where PromQL names labels, not metrics: matchers, grouping and label_values' second
# argument (gen_ai_* label names must not pass for metric names).
_LABEL_CONTEXTS = re.compile(
    r"\{[^}]*\}|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|,\s*\w+\)$"
)
_SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def exposed_names() -> set[str]:
    """The sample names /metrics serves (it renders ``Metrics``), by family type."""
    names = set()
    for line in Metrics().render().decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name + suffix for suffix in _SUFFIXES[kind]}
    return names


def metric_names(expr: str) -> set[str]:
    """Names in a PromQL expression that look like tollway's metrics (tollway_* and
    the GenAI conventions' gen_ai_*) or recording rules; quoted strings and label
    contexts are dropped first."""
    bare = _LABEL_CONTEXTS.sub("", _STRING.sub('""', expr))
    return {name for name in _NAME.findall(bare) if "tollway" in name or "gen_ai_" in name}


def build_script() -> Any:
    """deploy/grafana/build_dashboards.py, imported from its path."""
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def boards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in DASHBOARDS]


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def dashboard_exprs() -> Iterator[str]:
    for board in boards():
        for panel in panels(board):
            for target in panel.get("targets", []):
                yield target["expr"]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                query = variable["query"]
                yield query if isinstance(query, str) else query["query"]


def test_the_readme_table_lists_every_metric() -> None:
    listed = set(re.findall(r"^\| `([a-z_:]+)` \|", (REPO / "README.md").read_text(), re.M))
    families = {
        line.split()[2] for line in Metrics().render().decode().splitlines() if "# TYPE" in line
    }
    assert listed == families


def test_the_prometheus_config_is_valid(promtool: str) -> None:
    output = run_promtool(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert "1 rule files found" in output


def test_the_rules_are_valid(promtool: str) -> None:
    run_promtool(promtool, "check", "rules", str(PROMETHEUS / "rules.yml"))


def test_each_alert_fires_on_its_series(promtool: str) -> None:
    run_promtool(promtool, "test", "rules", str(RULES_TEST))


def test_every_alert_has_a_unit_test() -> None:
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text()))
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - tested == {"TollwayDown"}  # `up` comes from Prometheus, not tollway


def test_rules_use_only_exposed_metrics() -> None:
    known = exposed_names() | recorded()
    for rule in rules():
        assert metric_names(rule["expr"]) <= known, rule


def test_the_dashboards_use_only_exposed_metrics() -> None:
    known = exposed_names() | recorded() | BUILTIN
    for expr in dashboard_exprs():
        names = metric_names(expr)
        assert names, expr
        assert names <= known, expr


def test_the_committed_dashboards_are_what_the_script_builds() -> None:
    script = build_script()
    built = {spec.file: script.render(spec) for spec in script.DASHBOARDS}
    assert sorted(built) == [path.name for path in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text() == built[path.name], (
            f"{path.name} is stale: run .venv/bin/python deploy/grafana/build_dashboards.py"
        )


def test_each_dashboard_has_the_variables_stable_titles_and_ref_ids() -> None:
    uids = set()
    for board in boards():
        uids.add(board["uid"])
        variables = {variable["name"] for variable in board["templating"]["list"]}
        assert {"team", "key", "model", "provider"} <= variables, board["title"]
        titles = [panel["title"] for panel in panels(board) if panel["type"] != "row"]
        assert all(titles), board["title"]
        assert len(titles) == len(set(titles)), board["title"]
        for panel in panels(board):
            ref_ids = [target["refId"] for target in panel.get("targets", [])]
            assert all(ref_ids), panel["title"]
            assert len(ref_ids) == len(set(ref_ids)), panel["title"]
    assert uids == {
        "tollway-overview",
        "tollway-cost",
        "tollway-budgets",
        "tollway-providers",
        "tollway-ledger",
    }


def test_the_dashboard_queries_parse(tmp_path: Path, promtool: str) -> None:
    """promtool parses PromQL only in rule files: put each query in one."""
    queries: list[dict[str, str]] = []
    for expr in dashboard_exprs():
        if expr.startswith("label_values("):  # Grafana's own, not PromQL
            continue
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        queries.append({"record": f"dashboard:query_{len(queries)}", "expr": expr})
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": queries}]}))
    run_promtool(promtool, "check", "rules", str(rule_file))


@pytest.mark.parametrize(
    "topic",
    [
        "tollway_requests_total",
        "tollway_request_errors_total",
        "gen_ai_server_request_duration_seconds_bucket",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "gen_ai_client_token_usage_sum",
        "tollway_tokens_total",
        "tollway_cost_usd_total",
        "tollway_provider_cost_usd_total",
        "tollway_unpriced_requests_total",
        "tollway_quota_used",
        "tollway_quota_limit",
        "tollway:quota_used:ratio",
        "tollway_quota_rejections_total",
        "tollway_quota_reservations_outstanding",
        "tollway_fallbacks_total",
        "tollway_engine_circuit_state",
        "tollway_upstream_attempts_total",
        "tollway_upstream_duration_seconds_bucket",
        "tollway_usage_journal_backlog",
        "tollway_usage_writer_lag_seconds",
        "tollway_usage_writer_records_total",
        "tollway_usage_records_total",
    ],
)
def test_the_dashboards_show(topic: str) -> None:
    assert any(topic in metric_names(expr) for expr in dashboard_exprs())
