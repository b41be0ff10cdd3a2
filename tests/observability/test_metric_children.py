"""A metric's children are looked up once per label set and count like labels()'s."""

from __future__ import annotations

from tollway.observability.metrics import Metrics


def test_a_child_is_the_labelled_metric_looked_up_once() -> None:
    metrics = Metrics()
    child = metrics.child(metrics.requests, "chat", "litellm", "2xx")
    assert child is metrics.child(metrics.requests, "chat", "litellm", "2xx")
    child.inc()
    metrics.requests.labels("chat", "litellm", "2xx").inc()
    assert (
        metrics.registry.get_sample_value(
            "tollway_requests_total",
            {"endpoint": "chat", "route": "litellm", "status_class": "2xx"},
        )
        == 2
    )


def test_the_circuit_gauges_follow_every_change_of_state() -> None:
    metrics = Metrics()
    for state in ("open", "open", "half_open", "closed", "closed"):
        metrics.set_circuit_state(state)
        shown = {
            name: metrics.registry.get_sample_value("tollway_engine_circuit_state", {"state": name})
            for name in ("closed", "open", "half_open")
        }
        assert shown == {name: float(name == state) for name in shown}
        assert metrics.registry.get_sample_value("tollway_engine_circuit_open") == float(
            state != "closed"
        )
