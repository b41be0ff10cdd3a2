"""The composition root: ``Runtime`` is everything one server process holds.

``Runtime.build`` opens the control plane and builds the data plane over it; nothing
runs yet. ``start`` loads the routing table, rebuilds the quota counters and starts
the background work, registering how to undo each step; ``stop`` undoes them in the
reverse order, then closes what ``build`` opened. The app attaches it once, as
``app.state.runtime`` (see ``tollway.api.app_state``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Coroutine, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tollway import __version__
from tollway.api.app_state import ServingDependencies
from tollway.api.inference.routes import InferenceApi
from tollway.control_plane import ControlPlane, StartHook
from tollway.data_plane import (
    EngineFactory,
    Metering,
    build_engines,
    provider_types,
    publish_quota_levels,
    remember_routing_secrets,
    routing_holder,
    table_limits,
    verified_models,
    write_litellm_config,
)
from tollway.domain.catalog import ListerLookup, family_lister
from tollway.domain.health import HealthChecks, Lifecycle
from tollway.domain.inference import InferencePolicy, InferenceService
from tollway.domain.inference_events import InferenceEvents
from tollway.domain.key_quarantine import KeyQuarantine
from tollway.domain.responses_memory import ResponsesMemory, Retention
from tollway.domain.services import Services
from tollway.domain.status import StatusService
from tollway.domain.verification import VerificationService
from tollway.domain.verification_calls import VerificationCaller
from tollway.domain.verification_schedule import VerificationSchedule
from tollway.engine.base import Engine
from tollway.observability.metrics import Metrics
from tollway.quotas.counters import QuotaStoreUnavailableError
from tollway.routing.breaker import CircuitBreaker
from tollway.routing.holder import RoutingTableHolder
from tollway.settings import Settings

log = logging.getLogger(__name__)

KEY_USE_FLUSH_SECONDS = 10.0
# Expired stored responses are unreadable at once (every read checks); deleting the
# rows can wait this long.
RESPONSES_PURGE_SECONDS = 3600.0
# With --workers, how often each worker publishes its journal backlog for the others.
METRICS_PUBLISH_SECONDS = 1.0
# How often the quota gauges (each limit's count) are read from the counters: a Redis
# read per limit, so not per scrape (and at once when the routing table changes).
QUOTA_LEVELS_SECONDS = 15.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """The control plane (store, secret store, services) and the data plane over it."""

    control: ControlPlane
    metrics: Metrics
    holder: RoutingTableHolder
    engine: Engine
    openrouter: Engine
    events: InferenceEvents
    metering: Metering
    quarantine: KeyQuarantine
    inference: InferenceService
    inference_api: InferenceApi
    health: HealthChecks
    status: StatusService
    verification: VerificationService
    # What ``start`` set going, undone by ``stop`` last step first.
    _running: AsyncExitStack = field(default_factory=AsyncExitStack)

    @property
    def settings(self) -> Settings:
        return self.control.settings

    @property
    def services(self) -> Services:
        return self.control.services

    @property
    def initial_admin_token(self) -> str | None:
        return self.control.initial_admin_token

    @property
    def serving(self) -> ServingDependencies:
        return ServingDependencies(self.metering.quotas, self.metering.journal, self.holder)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        engines: EngineFactory = build_engines,
        on_open: Sequence[StartHook] = (),
        listers: ListerLookup = family_lister,
    ) -> Runtime:
        """Open the control plane, run ``on_open`` with it (imports, demo data: before
        the first routing table is built), then build the data plane. Call it in the
        event loop the runtime will run in."""
        metrics = Metrics()
        control = ControlPlane.open(settings, metrics, listers)
        try:
            for hook in on_open:
                hook(control)
            return cls._assemble(control, metrics, engines)
        except BaseException:
            control.close()
            raise

    @classmethod
    def _assemble(cls, control: ControlPlane, metrics: Metrics, engines: EngineFactory) -> Runtime:
        settings, services = control.settings, control.services
        holder = routing_holder(settings, services)
        _follow_routing(holder, control, metrics)
        engine, openrouter = engines(settings)
        events = InferenceEvents(services.database, services.tollway_keys, services.known_secrets)
        metering = Metering.open(settings, services.database, metrics, events)
        quarantine = KeyQuarantine(
            seconds=settings.routing.key_quarantine_seconds,
            retest=services.connectivity.check_key,
            confirm=events.confirm_key_rejected,
            routed=lambda key_id: key_id in holder.table.credentials,
        )
        breaker = _breaker(settings)
        service = InferenceService(
            holder,
            engine,
            openrouter=openrouter,
            breaker=breaker,
            events=events,
            metrics=metrics,
            policy=_inference_policy(settings),
            accounting=metering.accounting,
            quarantine=quarantine,
            known_secrets=services.known_secrets,
            rate_limits=services.rate_limits,
        )
        plane = InferenceApi(
            service, metrics, settings.server.max_body_bytes, _responses_memory(control)
        )
        health = HealthChecks(
            Lifecycle(),
            database=services.database,
            secrets=services.secrets,
            quotas=metering.quotas,
            journal=metering.journal,
            routing=holder,
        )
        status = StatusService(
            version=__version__,
            mode=settings.engine.mode,
            health=health,
            breaker=breaker,
            engine=engine,
            journal_backlog=metering.writer.backlog,
            routing=holder,
            database=services.database,
        )
        verification = VerificationService(
            services.database,
            services.connectivity,
            VerificationCaller(engine, metering.accounting, services.known_secrets),
            holder,
            metrics,
            failures_to_unverify=settings.verification.failures_to_unverify,
        )
        return cls(
            verification=verification,
            control=control,
            metrics=metrics,
            holder=holder,
            engine=engine,
            openrouter=openrouter,
            events=events,
            metering=metering,
            quarantine=quarantine,
            inference=service,
            inference_api=plane,
            health=health,
            status=status,
        )

    async def start(self) -> None:
        """Load the routing table, rebuild the quota counters from the ledger, then set
        the background work going. Each step registers its undoing for ``stop``."""
        running = self._running
        await asyncio.to_thread(self.holder.load)
        await self.metering.start(table_limits(self.holder))
        running.push_async_callback(self.metering.stop)
        running.push_async_callback(self.openrouter.aclose)
        running.push_async_callback(self.engine.aclose)
        running.push_async_callback(self.events.drain)
        self._in_background(self._flush_key_use(), "key-use-flush")
        self._in_background(self._purge_responses(), "responses-purge")
        if self.metrics.shared_directory is not None:
            self._in_background(self._publish_metrics(), "metrics-publish")
        self._in_background(self._publish_quota_levels(), "quota-levels")
        schedule = self._verification_schedule()
        if schedule is not None:
            self._in_background(schedule.loop(), "verification-schedule")
        running.push_async_callback(self.quarantine.stop)
        self.holder.start()
        running.push_async_callback(self.holder.stop)
        # Stopping begins here: the cancelled requests record themselves first.
        running.push_async_callback(self.metering.drained)
        _settle_heap()
        self.health.lifecycle.mark_started()

    async def stop(self) -> None:
        """Undo ``start`` in the reverse order (let the requests in flight record
        themselves, stop the routing refresh, the quarantine and the background tasks,
        drain the events, close the engines, store all usage), then close what
        ``build`` opened. Safe after a start that failed half way."""
        try:
            await self._running.aclose()
        finally:
            try:
                self.metrics.retire()  # with --workers: leave the live sums
            finally:
                self.control.close()

    def _verification_schedule(self) -> VerificationSchedule | None:
        settings = self.settings.verification
        if settings.interval_seconds is None:
            return None
        return VerificationSchedule(
            self.services.database,
            self.verification,
            interval_seconds=settings.interval_seconds,
            budget_usd_per_day=settings.budget_usd_per_day,
        )

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._running.push_async_callback(_cancel, task)

    async def _flush_key_use(self) -> None:
        while True:
            await asyncio.sleep(KEY_USE_FLUSH_SECONDS)
            try:
                await self.events.flush_key_use()
            except Exception:  # last-use times are best effort
                log.exception("could not record tollway key use")

    async def _purge_responses(self) -> None:
        while True:
            try:
                await self.inference_api.responses_memory.purge()
            except Exception as exc:  # expired rows are already unreadable; next time
                log.error("could not purge expired responses: %s", type(exc).__name__)
            await asyncio.sleep(RESPONSES_PURGE_SECONDS)

    async def _publish_metrics(self) -> None:
        while True:
            try:
                self.metrics.publish()
            except Exception:  # a gauge is best effort
                log.exception("could not publish metrics")
            await asyncio.sleep(METRICS_PUBLISH_SECONDS)

    async def _publish_quota_levels(self) -> None:
        """Every ``QUOTA_LEVELS_SECONDS``, and within a second of a routing table that
        may add or remove limits (a new limit shows before its first scrape)."""
        limits = table_limits(self.holder)
        version, published_at = None, -QUOTA_LEVELS_SECONDS
        while True:
            now = time.monotonic()
            current = self.holder.table.version
            if current != version or now - published_at >= QUOTA_LEVELS_SECONDS:
                try:
                    await publish_quota_levels(self.metering.quotas, limits(), self.metrics)
                except QuotaStoreUnavailableError:  # counted and alerted on elsewhere
                    pass
                except Exception:  # a gauge is best effort
                    log.exception("could not publish quota levels")
                else:  # a failed publish is tried again next second, not in 15
                    version, published_at = current, now
            await asyncio.sleep(1.0)


def _follow_routing(holder: RoutingTableHolder, control: ControlPlane, metrics: Metrics) -> None:
    """What follows each routing table, in this order: its credentials are scrubbed
    from every exit before anything else sees the table."""
    holder.subscribe(partial(remember_routing_secrets, control.services.known_secrets))
    holder.subscribe(partial(write_litellm_config, control.settings))
    holder.subscribe(lambda table: metrics.routing_version.set(table.version))
    holder.subscribe(lambda table: metrics.name_providers(provider_types(table)))
    holder.subscribe(lambda table: metrics.show_verified(verified_models(table)))


def _responses_memory(control: ControlPlane) -> ResponsesMemory:
    responses = control.settings.responses
    retention = Retention.of(responses.retention_days, responses.max_stored_bytes)
    return ResponsesMemory(control.services.database, retention)


def _breaker(settings: Settings) -> CircuitBreaker:
    return CircuitBreaker(
        threshold=settings.engine.breaker_threshold,
        cooldown_seconds=settings.engine.breaker_cooldown_seconds,
    )


def _inference_policy(settings: Settings) -> InferencePolicy:
    return InferencePolicy(
        max_attempts=settings.routing.max_attempts,
        timeout_seconds=settings.routing.upstream_timeout_seconds,
        fallback_enabled=settings.routing.fallback_enabled,
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def _settle_heap() -> None:
    """Move everything alive after start-up out of the garbage collector's way.

    The litellm SDK and its dependencies leave about a million long-lived objects; a
    full collection scans them all, and with metering's per-request objects one ran
    every couple of thousand requests and stalled every request in flight for ~300
    ms (bench/inference.py, tollway-null at 64 clients: p99 305 ms, 1,700 req/s;
    frozen: p99 70 ms, 2,160 req/s). Objects freed later by reference counting are
    freed as usual."""
    gc.collect()
    gc.freeze()
