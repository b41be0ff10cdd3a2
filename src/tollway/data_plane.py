"""The data plane's parts, each built from the settings: the engines, the routing table
holder and what follows its tables, the quota counters, and metering (usage journal,
its writer, accounting). ``tollway.runtime`` puts them together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

from tollway.domain.accounting import Accounting, AccountingPolicy
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
from tollway.observability.scrubbing import KnownSecrets
from tollway.quotas.counters import QuotaStore
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import MICROS_PER_USD, Limit, Metric
from tollway.quotas.rebuild import counter_loader
from tollway.quotas.redis_store import RedisQuotaStore
from tollway.routing.builder import BuildOptions, build_table
from tollway.routing.credentials import renew as renew_credentials
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.litellm_config import bundled_price, render_for_table, write_config
from tollway.routing.table import RoutingTable
from tollway.secrets.base import SecretValue
from tollway.settings import EngineMode, QuotaBackend, Settings
from tollway.store.db import Database

log = logging.getLogger(__name__)

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


def provider_types(table: RoutingTable) -> dict[str, str]:
    """Provider id -> provider type of every deployment in ``table`` (for the
    ``gen_ai_provider_name`` label)."""
    types: dict[str, str] = {}
    for group in table.groups.values():
        for deployments in (group.shared, *group.by_team.values()):
            for deployment in deployments:
                types[str(deployment.provider_id)] = deployment.provider_type.value
    return types


async def publish_quota_levels(
    quotas: QuotaStore, limits: Iterable[Limit], metrics: Metrics
) -> None:
    """Each configured limit and its current window's count, for the burn-down
    gauges (one store read per limit; ``QuotaStoreUnavailableError`` when it is down)."""
    levels: dict[tuple[str, ...], tuple[float, float]] = {}
    for limit in limits:
        labels = (limit.scope.value, limit.scope_id, limit.metric.value, limit.window.value)
        used = await quotas.usage(limit)
        levels[labels] = (_shown(limit.metric, used), _shown(limit.metric, limit.limit))
    metrics.show_quota_levels((labels, *values) for labels, values in levels.items())


def _shown(metric: Metric, amount: int) -> float:
    """Dollars for USD (the counters hold micro-dollars), the count otherwise."""
    return amount / MICROS_PER_USD if metric is Metric.USD else float(amount)


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
            on_records=metrics.count_writer_records,
        )
        quotas = open_quota_store(settings)
        sync = JournalSync(journal, asyncio.get_running_loop())
        policy = AccountingPolicy(default_max_tokens=settings.quotas.default_max_tokens)
        metrics.watch_journal_backlog(writer.backlog)
        metrics.watch(metrics.writer_lag, writer.lag)
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
        load = counter_loader(self.writer.database, limits, catch_up=self.writer.catch_up)
        await self.quotas.rebuild(load)
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


def verified_models(table: RoutingTable) -> dict[str, bool]:
    """Per public name: whether a deployment of it is verified (held ones included)."""
    verified: dict[str, bool] = {}
    for name, group in table.groups.items():
        routed = [*group.shared, *(d for own in group.by_team.values() for d in own)]
        verified[name] = any(d.verified for d in routed)
    for held in table.held.values():
        for deployment in held:
            verified.setdefault(deployment.public_name, False)
    return verified


def build_options(settings: Settings) -> BuildOptions:
    return BuildOptions(
        settings.routing.upstream_timeout_seconds, bundled_price, settings.routing.verified
    )


def routing_table_for_cli(settings: Settings, services: Services) -> RoutingTable:
    """A one-off build, for commands that render or serve the LiteLLM config."""
    return build_table(services.database, services.secrets, build_options(settings))


def routing_holder(settings: Settings, services: Services) -> RoutingTableHolder:
    """The holder of this process's routing table. It only builds tables; what follows
    them (``remember_routing_secrets``, ``write_litellm_config``, ...) subscribes."""
    options = build_options(settings)

    def build(previous: RoutingTable | None) -> RoutingTable:
        return build_table(services.database, services.secrets, options, previous)

    def renew(table: RoutingTable) -> None:
        renew_credentials(services.secrets, table.credentials.values())

    return RoutingTableHolder(
        services.database,
        build,
        interval_seconds=settings.routing.refresh_interval_seconds,
        renew=renew,
    )


def remember_routing_secrets(known_secrets: KnownSecrets, table: RoutingTable) -> None:
    """Scrub the table's credentials from every exit from now on."""
    known_secrets.set("routing", table_secrets(table))


def write_litellm_config(settings: Settings, table: RoutingTable) -> None:
    """The LiteLLM config for the table (written only when its content changed)."""
    write_config(settings.litellm_config_path, render_for_table(table, settings))
