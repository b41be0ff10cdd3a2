"""How test_prometheus_live reads the deploy's queries: Grafana's variables, the
names a query selects, comparisons made `bool`. Pure functions, no Prometheus."""

from __future__ import annotations

import pytest

from tests.observability.deploy_queries import (
    BUILTINS,
    metric_names,
    substitute,
    variable_expr,
    variable_values,
    with_bool,
)


def test_every_variable_syntax_is_substituted() -> None:
    board = {
        "templating": {
            "list": [
                {"type": "datasource", "name": "datasource"},
                {"type": "query", "name": "team", "allValue": ".+"},
                {"type": "custom", "name": "model"},
                {"type": "interval", "name": "step"},
                {"type": "constant", "name": "job", "query": "tollway"},
            ]
        }
    }
    values = variable_values(board)
    expr = 'rate(x{team_id=~"$team", model=~"${model:regex}", job="[[job]]"}[$step]) * $__range_s'
    assert substitute(expr, values) == (
        f'rate(x{{team_id=~".+", model=~".*", job="tollway"}}[5m]) * {BUILTINS["__range_s"]}'
    )
    assert substitute("$unknown", values) == "$unknown"  # left for Prometheus to refuse


@pytest.mark.parametrize(
    ("query", "expr"),
    [
        (
            "label_values(tollway_cost_usd_total, team_id)",
            "group by (team_id) (tollway_cost_usd_total)",
        ),
        ("label_values(instance)", 'group by (instance) ({instance!=""})'),
        ("query_result(topk(3, up))", "topk(3, up)"),
        ({"query": "label_values(up, job)", "refId": "A"}, "group by (job) (up)"),
    ],
)
def test_query_variables_become_promql(query: object, expr: str) -> None:
    assert variable_expr({"type": "query", "query": query}) == expr


def test_metric_names_leave_out_functions_labels_and_durations() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(a_bucket{x="b_c"}[5m] offset 1m)))'
        " / on (endpoint) group_left (model) tollway:ratio:rate5m > bool 1e3"
    )
    assert metric_names(expr) == {"a_bucket", "tollway:ratio:rate5m"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up == 0", "up == bool 0"),
        ("a > 0.05 and on () b >= 1", "a > bool 0.05 and on () b >= bool 1"),
        ('x{state!="open", y=~"<>"} != 1', 'x{state!="open", y=~"<>"} != bool 1'),
        ("a < bool 1", "a < bool 1"),
        ("rate(a[5m])", "rate(a[5m])"),
    ],
)
def test_comparisons_become_bool(expr: str, expected: str) -> None:
    assert with_bool(expr) == expected
