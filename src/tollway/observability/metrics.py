"""Every Prometheus metric tollway exposes, defined in one place.

One registry per app instance (no global default registry), so tests and
several apps in one process never share counters. The workers of ``tollway serve
--workers N`` are the exception: the parent gives them one fresh directory in
``PROMETHEUS_MULTIPROC_DIR`` (``worker_metrics_directory``) before they import
prometheus_client, every value is then kept in that directory (prometheus_client's
multiprocess mode), and each worker's /metrics serves the sum over all of them:
counters and histograms of every worker that ever ran, gauges of the live ones
(``multiprocess_mode`` says how each gauge combines).

Labels stay low-cardinality: endpoints, routes, reasons, status classes, public
model names (operator-defined: only admitted requests are labelled with their
model, and admission needs a model the routing table knows, so a caller's
made-up name never becomes a label value), and tollway keys, teams and provider keys
by id only, never key material. Histograms carry no tollway key or team label: every
label value multiplies their buckets (provider keys are few, registered by operators).
Where the OpenTelemetry GenAI semantic conventions name a metric, tollway uses their
name and labels (``observability.gen_ai``). tests/observability checks all of this on a live
/metrics, and runs ``promtool check metrics`` on it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from tollway.observability import gen_ai

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# prometheus_client reads it when imported: set, every value goes to files there.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

NO_ID = "none"  # the key/team label of usage without a key or team

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)
CIRCUIT_STATES = ("closed", "open", "half_open")

LabelledMetric = TypeVar("LabelledMetric", Counter, Gauge, Histogram)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Set in the workers of `serve --workers N` only (see the module docstring).
        shared = os.environ.get(MULTIPROCESS_DIR_ENV)
        self.shared_directory = Path(shared) if shared else None
        # (gauge, function) pairs read at scrape time; see ``watch``.
        self._watched: list[tuple[Gauge, Callable[[], float]]] = []
        # Provider id -> its gen_ai.provider.name, from the routing table (``name_providers``).
        self._providers: dict[str, str] = {}
        self._quota_series: set[tuple[str, ...]] = set()  # the limits the gauges show
        # Children by (metric, label values): ``labels()`` validates and stringifies
        # every value and takes a lock on each call, several times per request.
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        self._circuit_state: str | None = None  # the state the gauges show
        # Read at scrape time (``watch_provider_ratelimits``): never set per request.
        self._ratelimits: Callable[[], Iterable[tuple[tuple[str, str, str], float]]] | None = None
        self._traffic()
        self._usage()
        self._quota()
        self._health()
        self._catalog()
        self._verification()

    def _traffic(self) -> None:
        registry = self.registry
        self.requests = Counter(
            "tollway_requests",
            "Requests on /v1 by endpoint, route and outcome.",
            ["endpoint", "route", "status_class"],
            registry=registry,
        )
        self.errors = Counter(
            "tollway_request_errors",
            "Requests on /v1 answered with an error, by endpoint and OpenAI error type.",
            ["endpoint", "type"],
            registry=registry,
        )
        # The GenAI semantic conventions' names and labels, plus tollway's endpoint
        # (the operation name merges the chat dialects) and route (LiteLLM/OpenRouter).
        self.latency = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Time to the full response (non-streaming) or to the first byte (streaming).",
            [*gen_ai.LABELS, "endpoint", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from the request to the first streamed chunk from upstream.",
            [*gen_ai.LABELS, "endpoint", "route"],
            buckets=_TTFT_BUCKETS,
            registry=registry,
        )
        self.fallbacks = Counter(
            "tollway_fallbacks",
            "Requests sent to OpenRouter instead of LiteLLM, by reason.",
            ["reason"],
            registry=registry,
        )
        self.upstream_failures = Counter(
            "tollway_upstream_failures",
            "Deployment attempts that failed before the first byte, by kind.",
            ["kind"],
            registry=registry,
        )
        # Per provider key: by its id only (never its secret or fingerprint). Operators
        # register few keys, so the histogram stays small.
        self.upstream_attempts = Counter(
            "tollway_upstream_attempts",
            "Deployment attempts sent through LiteLLM, by provider, provider key and outcome "
            "(ok, or the failure's kind).",
            [gen_ai.PROVIDER, "provider_id", "provider_key_id", "outcome"],
            registry=registry,
        )
        self.upstream_latency = Histogram(
            "tollway_upstream_duration_seconds",
            "Time an attempt waited for its upstream's answer (a stream's first byte), "
            "by provider and provider key, failures included.",
            [gen_ai.PROVIDER, "provider_id", "provider_key_id"],
            buckets=_UPSTREAM_BUCKETS,
            registry=registry,
        )

    def _usage(self) -> None:
        registry = self.registry
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per recorded request: input (prompt) and output (completion).",
            [*gen_ai.LABELS, gen_ai.TOKEN_TYPE],
            buckets=gen_ai.TOKEN_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "tollway_tokens",
            "Tokens of recorded requests (cached is part of prompt, reasoning of completion).",
            ["key_id", "team_id", "model", "route", "kind"],
            registry=registry,
        )
        self.cost = Counter(
            "tollway_cost_usd",
            "USD cost of recorded requests (unpriced ones add nothing; see unpriced).",
            ["key_id", "team_id", "model", "route"],
            registry=registry,
        )
        # tollway_cost_usd has no provider label (its labels are a contract with the
        # dashboards and reports): the spend by provider is a counter of its own.
        self.provider_cost = Counter(
            "tollway_provider_cost_usd",
            "USD cost of recorded requests by the provider that served them.",
            [gen_ai.PROVIDER, "provider_id"],
            registry=registry,
        )
        self.usage_records = Counter(
            "tollway_usage_records",
            "Usage records written to the journal, by status.",
            ["model", "route", "status"],
            registry=registry,
        )
        self.unpriced = Counter(
            "tollway_unpriced_requests",
            "Recorded requests with no known price (cost unknown, never counted as $0).",
            ["model", "route"],
            registry=registry,
        )
        self.quota_rejections = Counter(
            "tollway_quota_rejections",
            "Admissions refused by a limit, by scope kind, metric and window.",
            ["scope", "metric", "window", "type"],
            registry=registry,
        )
        self.over_reservation = Counter(
            "tollway_over_reservation",
            "Requests whose reported usage exceeded their reservation (charged as reported), "
            "by the scope kind of each token or USD limit they overran.",
            ["scope"],
            registry=registry,
        )
        self.quota_unavailable = Counter(
            "tollway_quota_store_unavailable",
            "Requests refused (503) or admitted uncounted because the counters were down.",
            ["outcome"],
            registry=registry,
        )
        self.journal_backlog = Gauge(
            "tollway_usage_journal_backlog",
            "Finished requests journaled but not yet stored in the SQL ledger.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.writer_lag = Gauge(
            "tollway_usage_writer_lag_seconds",
            "How long the oldest finished request not yet in the SQL ledger has waited, "
            "at most (0 when none waits).",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.writer_records = Counter(
            "tollway_usage_writer_records",
            "Usage records the writer handled: stored, duplicate (already stored) or "
            "rejected (refused by the database).",
            ["result"],
            registry=registry,
        )
        self.requests_in_flight = Gauge(
            "tollway_requests_in_flight",
            "Admitted requests that have not finished yet (streams included).",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def _quota(self) -> None:
        registry = self.registry
        # One series per limit that exists (never per possible scope); with Redis every
        # replica reports the same shared counter: take the max over instances, not the sum.
        labels = ["scope", "scope_id", "metric", "window"]
        self.quota_used = Gauge(
            "tollway_quota_used",
            "What the current window of each limit has counted (USD in dollars).",
            labels,
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.quota_limit = Gauge(
            "tollway_quota_limit",
            "Each configured limit (USD in dollars): a budget when metric is usd.",
            labels,
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.reservations = Gauge(
            "tollway_quota_reservations_outstanding",
            "Quota reservations this process holds: admitted, not yet settled or released.",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def _health(self) -> None:
        registry = self.registry
        # Each worker has its own breaker: a state shows while any worker is in it.
        self.circuit_open = Gauge(
            "tollway_engine_circuit_open",
            "1 while the engine circuit breaker is open or half-open.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.circuit_state = Gauge(
            "tollway_engine_circuit_state",
            "The engine circuit breaker's state: 1 for the current one, 0 for the others.",
            ["state"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.set_circuit_state("closed")
        self.secret_store_errors = Counter(
            "tollway_secret_store_errors",
            "Secret store operations that failed (a stale value may still have been served).",
            ["backend", "operation"],
            registry=registry,
        )
        self.routing_version = Gauge(
            "tollway_routing_table_version",
            "Version of the routing table this replica serves.",
            registry=registry,
            multiprocess_mode="livemax",
        )

    def _catalog(self) -> None:
        registry = self.registry
        self.catalog_refreshes = Counter(
            "tollway_catalog_refresh",
            "Model catalog refreshes by provider type and outcome (ok, backoff: not tried "
            "while a failure is backed off, or the failure's kind).",
            ["provider_type", "outcome"],
            registry=registry,
        )
        self.catalog_missing = Gauge(
            "tollway_catalog_missing_models",
            "Published models whose provider's catalog no longer lists them.",
            ["provider_type"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        # Per provider by id (operators register few providers), like the upstream metrics.
        self.catalog_age = Gauge(
            "tollway_catalog_age_seconds",
            "Age of each provider's cached model catalog (its last successful refresh) "
            "as last seen by this process.",
            ["provider_type", "provider_id"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        # Per provider key by id, like the upstream metrics; 4 series per key at most.
        self.provider_key_ratelimit = Gauge(
            "tollway_provider_key_ratelimit",
            "A provider key's rate limit (bound=limit) and what is left of it "
            "(bound=remaining), kind=requests or tokens, as its provider's latest "
            "response to this process said (x-ratelimit-* headers).",
            ["provider_key_id", "kind", "bound"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )

    def watch_provider_ratelimits(
        self, read: Callable[[], Iterable[tuple[tuple[str, str, str], float]]]
    ) -> None:
        """Each provider key's published limits and headroom, read at scrape time from
        what its latest responses said, as ((provider_key_id, kind, bound), value)."""
        self._ratelimits = read

    def _show_provider_ratelimits(self) -> None:
        if self._ratelimits is not None:
            for labels, value in self._ratelimits():
                self.child(self.provider_key_ratelimit, *labels).set(value)

    def _verification(self) -> None:
        # By public model name: bounded by the models an operator published.
        self.model_verified = Gauge(
            "tollway_model_verified",
            "1 when the model's last verification left it verified, else 0.",
            ["model"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.verification_failures = Counter(
            "tollway_verification_failures",
            "Failed verification tests by test type.",
            ["test_type"],
            registry=self.registry,
        )

    def show_verified(self, verified: dict[str, bool]) -> None:
        """Every published model's verification, by public name (from each routing
        table: a model published or verified on another replica shows here too)."""
        self.model_verified.clear()  # a deleted model's series goes with it
        for model, ok in verified.items():
            self.model_verified.labels(model).set(1 if ok else 0)

    def count_catalog_refresh(self, provider_type: str, outcome: str) -> None:
        self.child(self.catalog_refreshes, provider_type, outcome).inc()

    def show_catalog_missing(self, counts: dict[str, int]) -> None:
        for provider_type, count in counts.items():
            self.catalog_missing.labels(provider_type).set(count)

    def show_catalog_age(self, provider_type: str, provider_id: str, fetched_at: float) -> None:
        """The age grows at scrape time in one process; the workers of ``--workers``
        store it when they refresh or read the catalog."""
        gauge = self.catalog_age.labels(provider_type, provider_id)
        if self.shared_directory is None:
            gauge.set_function(lambda: max(0.0, time.time() - fetched_at))
        else:
            gauge.set(max(0.0, time.time() - fetched_at))

    def child(self, metric: LabelledMetric, *values: str) -> LabelledMetric:
        """``metric.labels(*values)``, looked up once per label set. The labels are
        low-cardinality (see the module docstring), and prometheus_client keeps every
        child it made anyway."""
        key = (metric, values)
        found: LabelledMetric | None = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def set_circuit_state(self, state: str) -> None:
        """Called after every request: the gauges move only when the state does."""
        if state == self._circuit_state:
            return
        self._circuit_state = state
        for name in CIRCUIT_STATES:
            self.circuit_state.labels(name).set(1 if name == state else 0)
        self.circuit_open.set(state != "closed")

    def count_secret_store_error(self, backend: str, operation: str) -> None:
        self.secret_store_errors.labels(backend, operation).inc()

    def watch_journal_backlog(self, backlog: Callable[[], float]) -> None:
        self.watch(self.journal_backlog, backlog)

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Read ``gauge`` at scrape time instead of updating it per request. A
        worker's scrape cannot call the other workers' functions: there ``publish``
        stores the value, called on every scrape and periodically by the data plane."""
        if self.shared_directory is None:
            gauge.set_function(read)
        else:
            self._watched.append((gauge, read))

    def publish(self) -> None:
        """Workers only: store what this process computes on demand (the backlog,
        the writer's lag) where every worker's scrape reads it. Does nothing in a
        single process."""
        for gauge, read in self._watched:
            gauge.set(read())
        self._show_provider_ratelimits()

    def count_writer_records(self, result: str, count: int) -> None:
        if count:
            self.child(self.writer_records, result).inc(count)

    def name_providers(self, types: dict[str, str]) -> None:
        """The routing table's providers, id -> provider type, for the
        ``gen_ai_provider_name`` label (replaced whole on every table)."""
        self._providers = {id_: gen_ai.provider_name(kind) for id_, kind in types.items()}

    def provider_name(self, provider_id: object, route: str) -> str:
        """``gen_ai_provider_name`` of a request served by ``provider_id`` on ``route``."""
        if route == "openrouter":
            return "openrouter"
        return self._providers.get(str(provider_id), gen_ai.UNKNOWN_PROVIDER)

    def show_quota_levels(self, levels: Iterable[tuple[tuple[str, ...], float, float]]) -> None:
        """Each limit's (scope, scope_id, metric, window), used and limit; the series
        of limits no longer listed are removed, so deleted limits leave no series."""
        shown: set[tuple[str, ...]] = set()
        for labels, used, limit in levels:
            self.quota_used.labels(*labels).set(used)
            self.quota_limit.labels(*labels).set(limit)
            shown.add(labels)
        for labels in self._quota_series - shown:
            with suppress(KeyError):
                self.quota_used.remove(*labels)
                self.quota_limit.remove(*labels)
        self._quota_series = shown

    def retire(self) -> None:
        """This process is stopping: its gauges leave the workers' sums (its counters
        stay in them). Does nothing in a single process."""
        if self.shared_directory is not None:
            mark_process_dead(os.getpid(), str(self.shared_directory))  # type: ignore[no-untyped-call]

    def render(self) -> bytes:
        if self.shared_directory is None:
            self._show_provider_ratelimits()
            return generate_latest(self.registry)
        self.publish()
        _retire_dead_workers(self.shared_directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.shared_directory))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def _retire_dead_workers(directory: Path) -> None:
    """A worker killed without a shutdown (uvicorn replaces it) cannot retire itself:
    drop the gauges of processes that no longer exist."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            with suppress(FileNotFoundError):  # another worker's scrape got there first
                mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


@contextmanager
def worker_metrics_directory() -> Iterator[Path]:
    """For the parent of workers, around starting them: a fresh, empty directory in
    ``PROMETHEUS_MULTIPROC_DIR`` (the workers inherit it), removed at the end."""
    previous = os.environ.get(MULTIPROCESS_DIR_ENV)
    with tempfile.TemporaryDirectory(prefix="tollway-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR_ENV] = directory
        try:
            yield Path(directory)
        finally:
            if previous is None:
                os.environ.pop(MULTIPROCESS_DIR_ENV, None)
            else:
                os.environ[MULTIPROCESS_DIR_ENV] = previous
