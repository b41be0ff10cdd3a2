"""Every PromQL query the deploy ships, ready for Prometheus's HTTP API: each target
of each panel, each query variable and each annotation of every Grafana dashboard
under deploy/grafana/ (found, not listed: any JSON file with panels), and each
recording and alert rule of every rule file under deploy/prometheus/.

Grafana's variables become what the dashboard shows with every variable at "All"
over a range longer than the test's whole run: built-in intervals and ranges a few
minutes, template variables their ``allValue`` (or ``.*``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
PROMETHEUS = REPO / "deploy" / "prometheus"

# Longer than a test's whole run, so every rate()/increase() window holds every
# sample Prometheus has, as a dashboard's default range would after a while.
RANGE = "5m"
RANGE_SECONDS = 300
BUILTINS = {
    "__rate_interval": RANGE,
    "__interval": RANGE,
    "__range": RANGE,
    "__auto": RANGE,
    "__range_s": str(RANGE_SECONDS),
    "__range_ms": str(RANGE_SECONDS * 1000),
    "__interval_ms": str(RANGE_SECONDS * 1000),
    "__rate_interval_ms": str(RANGE_SECONDS * 1000),
}
# $name, ${name}, ${name:format}, [[name]] (Grafana's three syntaxes).
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?(\w+)\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Query:
    source: str  # where it is: file, panel title or rule name
    kind: str  # panel, variable, annotation, record, alert
    expr: str  # PromQL with Grafana's variables replaced


# -- Grafana ---------------------------------------------------------------------------


def dashboards() -> dict[Path, dict[str, Any]]:
    """Every dashboard JSON under deploy/grafana/, by path (API exports, which wrap
    the dashboard in ``{"dashboard": …}``, included)."""
    found = {}
    for path in sorted(GRAFANA.rglob("*.json")):
        loaded = json.loads(path.read_text())
        if isinstance(loaded, dict) and isinstance(loaded.get("dashboard"), dict):
            loaded = loaded["dashboard"]
        if isinstance(loaded, dict) and isinstance(loaded.get("panels"), list):
            found[path] = loaded
    return found


def dashboard_queries() -> Iterator[Query]:
    for path, board in dashboards().items():
        name = path.relative_to(GRAFANA).as_posix()
        values = variable_values(board)
        for title, target in _targets(board["panels"]):
            ref = target.get("refId", "?")
            yield Query(f"{name} / {title} [{ref}]", "panel", substitute(target["expr"], values))
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                expr = variable_expr(variable)
                yield Query(f"{name} / ${variable['name']}", "variable", substitute(expr, values))
        for annotation in board.get("annotations", {}).get("list", []):
            if annotation.get("expr"):
                expr = substitute(annotation["expr"], values)
                yield Query(f"{name} / annotation {annotation.get('name')}", "annotation", expr)


def _targets(panels: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(panel title, target) of every Prometheus target, in collapsed rows too."""
    for panel in panels:
        title = panel.get("title") or f"panel {panel.get('id')}"
        for target in panel.get("targets") or []:
            datasource = target.get("datasource")
            kind = datasource.get("type") if isinstance(datasource, dict) else None
            if target.get("expr") and kind in (None, "prometheus"):
                yield title, target
        yield from _targets(panel.get("panels") or [])  # a collapsed row holds its panels


def variable_values(board: Mapping[str, Any]) -> dict[str, str]:
    """What each variable stands for when the dashboard shows everything."""
    values = dict(BUILTINS)
    for variable in board.get("templating", {}).get("list", []):
        kind, name = variable.get("type"), variable.get("name")
        if kind in ("datasource", "adhoc") or not name:
            continue
        if kind == "interval":
            values[name] = RANGE
        elif kind == "constant":
            values[name] = str(variable.get("query", ""))
        else:  # query, custom, textbox: "All" (or an empty filter)
            values[name] = variable.get("allValue") or ".*"
    return values


def substitute(expr: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))  # unknown: left for Prometheus to refuse

    return _VARIABLE.sub(replace, expr)


def variable_expr(variable: Mapping[str, Any]) -> str:
    """A query variable's Grafana function as the PromQL that lists the same values."""
    query = variable.get("query")
    text = query.get("query", "") if isinstance(query, dict) else str(query or "")
    text = text or str(variable.get("definition", ""))
    if match := _LABEL_VALUES.match(text):
        label = match.group(2)
        selector = match.group(1) or f'{{{label}!=""}}'  # label_values(label): any series
        return f"group by ({label}) ({selector})"
    if match := _QUERY_RESULT.match(text):
        return match.group(1)
    return text  # PromQL already, or a function Prometheus will refuse (reported)


# -- Prometheus rules ------------------------------------------------------------------


def rule_files() -> list[Path]:
    """YAML files under deploy/prometheus/ that hold rule groups (not the config,
    not promtool's rule tests)."""
    found = []
    for path in sorted([*PROMETHEUS.rglob("*.yml"), *PROMETHEUS.rglob("*.yaml")]):
        loaded = yaml.safe_load(path.read_text())
        if isinstance(loaded, dict) and isinstance(loaded.get("groups"), list):
            found.append(path)
    return found


def rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    """(file, rule) of every rule of every rule file."""
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group.get("rules") or []:
                yield path, rule


def rule_queries() -> Iterator[Query]:
    for path, rule in rules():
        kind = "alert" if "alert" in rule else "record"
        source = f"{path.relative_to(PROMETHEUS).as_posix()} / {kind} {rule[kind]}"
        yield Query(source, kind, str(rule["expr"]).strip())


def recorded_names() -> set[str]:
    return {rule["record"] for _, rule in rules() if "record" in rule}


# -- reading PromQL --------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# A name not preceded by a digit, dot or name character (durations, numbers) and
# not followed by "(" (functions and aggregations).
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {
    *("by", "without", "on", "ignoring", "group_left", "group_right", "bool"),
    *("and", "or", "unless", "offset", "inf", "nan"),
}


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names a query selects."""
    text = _STRINGS.sub('""', expr)
    for pattern in (_MATCHERS, _RANGES, _GROUPING):
        text = pattern.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def with_bool(expr: str) -> str:
    """``expr`` with every filtering comparison made a ``bool`` one: the same
    computation, but a series for every input series whatever the threshold. An
    alert that does not fire, or a "state == 1" panel, still shows whether its query
    finds the series it is about."""
    out: list[str] = []
    depth = 0  # inside {…} or […]: label matchers and durations, no comparisons
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            end = _string_end(expr, i)
            out.append(expr[i:end])
            i = end
            continue
        depth += (char in "{[") - (char in "}]")
        op = next((op for op in _COMPARISONS if expr.startswith(op, i)), None)
        if depth or op is None:
            out.append(char)
            i += 1
            continue
        out.append(op)
        i += len(op)
        if not re.match(r"\s*bool\b", expr[i:]):
            out.append(" bool")
    return "".join(out)


def _string_end(expr: str, start: int) -> int:
    quote, i = expr[start], start + 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    return i + 1
