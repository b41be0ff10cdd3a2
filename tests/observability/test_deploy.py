"""deploy/: the Prometheus config and rules pass promtool, the alerts fire on the
series they are meant for, and every query (rules and the Grafana dashboard)
names only metrics tollway exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.conftest import REPO, run_promtool
from tollway.observability.metrics import Metrics

PROMETHEUS = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "tollway.json"
RULES_TEST = Path(__file__).with_name("rules_test.yml")
BUILTIN = {"up"}  # made by Prometheus itself for every target
# Grafana's variables, replaced by something PromQL parses.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
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
    """Names in a PromQL expression that look like tollway's metrics or recording
    rules (functions, keywords and label names do not contain "tollway"; quoted
    label values are dropped first)."""
    return {name for name in _NAME.findall(_STRING.sub('""', expr)) if "tollway" in name}


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def dashboard_exprs() -> Iterator[str]:
    board = json.loads(DASHBOARD.read_text())
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["definition"]


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


def test_the_dashboard_uses_only_exposed_metrics() -> None:
    known = exposed_names() | recorded() | BUILTIN
    for expr in dashboard_exprs():
        names = metric_names(expr)
        assert names, expr
        assert names <= known, expr


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
        "tollway_request_duration_seconds_bucket",
        "tollway_time_to_first_token_seconds_bucket",
        "tollway_tokens_total",
        "tollway_cost_usd_total",
        "tollway_quota_rejections_total",
        "tollway_fallbacks_total",
        "tollway_engine_circuit_state",
        "tollway_usage_journal_backlog",
    ],
)
def test_the_dashboard_shows(topic: str) -> None:
    assert any(topic in metric_names(expr) for expr in dashboard_exprs())
