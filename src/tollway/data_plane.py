"""Assembling the data plane: routing table, engines, breaker, quota counters, usage
journal and writer, inference service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from tollway.api.inference.routes import InferenceApi
from tollway.domain.accounting import Accounting, AccountingPolicy
from tollway.domain.inference import InferencePolicy, InferenceService
from tollway.domain.inference_events import InferenceEvents
from tollway.domain.key_quarantine import KeyQuarantine
from tollway.domain.over_reservation import OverReservationEvents
from tollway.domain.services import Services
from tollway.engine.base import Engine
from tollway.metering.counting import count_usage
from tollway.metering.durability import JournalSync
from tollway.metering.journal import UsageJournal
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import UsageWriter
from tollway.net.guard import OutboundPolicy
from tollway.observability.metrics import Metrics
from tollway.quotas.counters import QuotaStore
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Limit
from tollway.quotas.rebuild import counter_loader
from tollway.quotas.redis_store import RedisQuotaStore
from tollway.routing.breaker import CircuitBreaker
from tollway.routing.builder import BuildOptions, build_table
from tollway.routing.credentials import renew as renew_credentials
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.litellm_config import bundled_price, render_for_table, write_config
from tollway.routing.table import RoutingTable
from tollway.secrets.base import SecretValue
from tollway.settings import EngineMode, QuotaBackend, Settings
from tollway.store.db import Database

log = logging.getLogger(__name__)

KEY_USE_FLUSH_SECONDS = 10.0
# With --workers, how often each worker publishes its journal backlog for the others.
METRICS_PUBLISH_SECONDS = 1.0
# After the grace period, how long cancelled requests get to record themselves.
SHUTDOWN_RECORDING_SECONDS = 5.0


EngineFactory = Callable[[Settings], tuple[Engine, Engine]]


def build_engines(settings: Settings) -> tuple[Engine, Engine]:
    """The LiteLLM engine the settings ask for, and the OpenRouter fallback engine."""
    from tollway.engine.openrouter import OpenRouterEngine

    outbound = OutboundPolicy(allow_private=settings.security.allow_private_base_urls)
    if settings.engine.mode is EngineMode.REMOTE:
        from tollway.engine.remote import RemoteEngine

        # Both are required for remote mode by the settings validator.
        assert settings.engine.remote_url is not None
        assert settings.engine.remote_master_key is not None
        master = SecretValue(settings.engine.remote_master_key.get_secret_value())
        fallback = OpenRouterEngine(outbound=outbound)
        return RemoteEngine(settings.engine.remote_url, master), fallback
    from tollway.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(outbound=outbound), OpenRouterEngine(outbound=outbound)


def open_quota_store(settings: Settings) -> QuotaStore:
    quotas = settings.quotas
    if quotas.backend is QuotaBackend.REDIS:
        assert quotas.redis_url is not None  # required for redis by the settings validator
        return RedisQuotaStore.from_url(
            quotas.redis_url,
            fail_open_rate_limits=quotas.fail_open_rate_limits,
            reservation_ttl=quotas.reservation_ttl_seconds,
            rebuild_delay=rebuild_delay(settings),
        )
    return MemoryQuotaStore(reservation_ttl=quotas.reservation_ttl_seconds)


def rebuild_delay(settings: Settings) -> float:
    """How long a Redis rebuild waits before reading the ledger: long enough for every
    replica's usage writer to store what was settled just before the counters were
    lost (a few writer passes)."""
    return max(1.0, 4 * settings.metering.writer_interval_seconds)


def table_limits(holder: RoutingTableHolder) -> Callable[[], list[Limit]]:
    """Every limit of the routing table current when called."""
    return lambda: [limit for limits in holder.table.limits.values() for limit in limits]


@dataclass
class Metering:
    """The metering parts one process owns: counters, journal, its writer."""

    quotas: QuotaStore
    journal: UsageJournal
    writer: UsageWriter
    accounting: Accounting

    @classmethod
    def open(
        cls,
        settings: Settings,
        database: Database,
        metrics: Metrics,
        events: OverReservationEvents | None = None,
    ) -> Metering:
        metering = settings.metering
        journal = UsageJournal(settings.journal_dir, flush_interval=metering.flush_interval_seconds)
        writer = UsageWriter(
            database,
            journal,
            interval_seconds=metering.writer_interval_seconds,
            retention_days=metering.retention_days or None,
            on_interrupted=partial(_count_all, metrics),
        )
        quotas = open_quota_store(settings)
        sync = JournalSync(journal, asyncio.get_running_loop())
        policy = AccountingPolicy(default_max_tokens=settings.quotas.default_max_tokens)
        metrics.watch_journal_backlog(writer.backlog)
        accounting = Accounting(quotas, journal, sync, metrics, policy, events=events)
        return cls(quotas, journal, writer, accounting)

    async def start(self, limits: Callable[[], Iterable[Limit]]) -> None:
        """Settle what dead processes left in the journal, rebuild the quota counters
        from the ledger that now holds it (before any request is admitted), then
        store this process's usage."""
        try:
            await asyncio.to_thread(self.writer.recover)
        except Exception:  # the database: the writer's thread retries it
            log.exception("usage recovery failed at start; retrying in the background")
        await self.quotas.rebuild(counter_loader(self.writer.database, limits))
        self.writer.start()

    async def drained(self) -> None:
        """Once the server stopped taking requests: let the cancelled ones record
        themselves (they still need the engines, the counters and the journal)."""
        try:
            async with asyncio.timeout(SHUTDOWN_RECORDING_SECONDS):
                await self.accounting.drained()
        except TimeoutError:
            log.warning("%d requests unfinished at shutdown", self.accounting.in_flight)

    async def stop(self) -> None:
        """Store everything journaled, then close."""
        await asyncio.to_thread(self.journal.close)
        await asyncio.to_thread(self.writer.drain)
        await self.quotas.close()


def _count_all(metrics: Metrics, records: list[CompletedUsage]) -> None:
    for record in records:
        count_usage(metrics, record)


def table_secrets(table: RoutingTable) -> Iterator[str]:
    """Every credential the table hands the engines: provider keys and the OpenRouter key."""
    for group in table.groups.values():
        for deployments in (group.shared, *group.by_team.values()):
            for deployment in deployments:
                for target in deployment.targets.values():
                    if target.api_key is not None:
                        yield target.api_key.reveal()
    if table.openrouter is not None:
        yield table.openrouter.api_key.reveal()


def build_options(settings: Settings) -> BuildOptions:
    return BuildOptions(settings.routing.upstream_timeout_seconds, bundled_price)


def routing_table_for_cli(settings: Settings, services: Services) -> RoutingTable:
    """A one-off build, for commands that render or serve the LiteLLM config."""
    return build_table(services.database, services.secrets, build_options(settings))


@dataclass
class DataPlaneRuntime:
    settings: Settings
    holder: RoutingTableHolder
    engine: Engine
    openrouter: Engine
    events: InferenceEvents
    metrics: Metrics
    plane: InferenceApi
    usage: Metering
    quarantine: KeyQuarantine
    _flusher: asyncio.Task[None] | None = None
    _publisher: asyncio.Task[None] | None = None

    @classmethod
    def create(
        cls,
        settings: Settings,
        services: Services,
        engines: EngineFactory = build_engines,
        metrics: Metrics | None = None,
    ) -> DataPlaneRuntime:
        metrics = metrics or Metrics()
        options = build_options(settings)

        def build(previous: RoutingTable | None) -> RoutingTable:
            table = build_table(services.database, services.secrets, options, previous)
            services.known_secrets.set("routing", table_secrets(table))
            write_config(settings.litellm_config_path, render_for_table(table, settings))
            metrics.routing_version.set(table.version)
            return table

        def renew(table: RoutingTable) -> None:
            renew_credentials(services.secrets, table.credentials.values())

        holder = RoutingTableHolder(
            services.database,
            build,
            interval_seconds=settings.routing.refresh_interval_seconds,
            renew=renew,
        )
        engine, openrouter = engines(settings)
        events = InferenceEvents(services.database, services.tollway_keys, services.known_secrets)
        breaker = CircuitBreaker(
            threshold=settings.engine.breaker_threshold,
            cooldown_seconds=settings.engine.breaker_cooldown_seconds,
        )
        usage = Metering.open(settings, services.database, metrics, events)
        quarantine = KeyQuarantine(
            seconds=settings.routing.key_quarantine_seconds,
            retest=services.connectivity.check_key,
            confirm=events.confirm_key_rejected,
            routed=lambda key_id: key_id in holder.table.credentials,
        )
        policy = InferencePolicy(
            max_attempts=settings.routing.max_attempts,
            timeout_seconds=settings.routing.upstream_timeout_seconds,
            fallback_enabled=settings.routing.fallback_enabled,
        )
        service = InferenceService(
            holder,
            engine,
            openrouter=openrouter,
            breaker=breaker,
            events=events,
            metrics=metrics,
            policy=policy,
            accounting=usage.accounting,
            quarantine=quarantine,
            known_secrets=services.known_secrets,
        )
        plane = InferenceApi(service, metrics, settings.server.max_body_bytes)
        return cls(settings, holder, engine, openrouter, events, metrics, plane, usage, quarantine)

    async def start(self) -> None:
        await asyncio.to_thread(self.holder.load)
        self.holder.start()
        await self.usage.start(table_limits(self.holder))
        self._flusher = asyncio.get_running_loop().create_task(self._flush_key_use())
        if self.metrics.shared_directory is not None:
            self._publisher = asyncio.get_running_loop().create_task(self._publish_metrics())

    async def stop(self) -> None:
        await self.usage.drained()
        await self.holder.stop()
        await self.quarantine.stop()
        for task in (self._flusher, self._publisher):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        await self.events.drain()
        await self.engine.aclose()
        await self.openrouter.aclose()
        await self.usage.stop()

    async def _flush_key_use(self) -> None:
        while True:
            await asyncio.sleep(KEY_USE_FLUSH_SECONDS)
            try:
                await self.events.flush_key_use()
            except Exception:  # last-use times are best effort
                log.exception("could not record tollway key use")

    async def _publish_metrics(self) -> None:
        while True:
            try:
                self.metrics.publish()
            except Exception:  # a gauge is best effort
                log.exception("could not publish metrics")
            await asyncio.sleep(METRICS_PUBLISH_SECONDS)
