"""Every Prometheus metric tollway exposes, defined in one place.

One registry per app instance (no global default registry), so tests and
several apps in one process never share counters. Labels are low-cardinality:
routes, reasons, endpoints and status classes; never key material.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tollway_requests",
            "Requests on /v1 by endpoint, route and outcome.",
            ["endpoint", "route", "status_class"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "tollway_fallbacks",
            "Requests sent to OpenRouter instead of LiteLLM, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.upstream_failures = Counter(
            "tollway_upstream_failures",
            "Deployment attempts that failed before the first byte, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tollway_request_duration_seconds",
            "Time to the full response (non-streaming) or to the first byte (streaming).",
            ["endpoint", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.circuit_open = Gauge(
            "tollway_engine_circuit_open",
            "1 while the engine circuit breaker is open or half-open.",
            registry=self.registry,
        )
        self.routing_version = Gauge(
            "tollway_routing_table_version",
            "Version of the routing table this replica serves.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
