"""Assembling the data plane: routing table, engines, breaker, inference service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from tollway.api.inference.routes import DataPlane
from tollway.domain.data_plane_events import DataPlaneEvents
from tollway.domain.inference import InferencePolicy, InferenceService
from tollway.domain.services import Services
from tollway.engine.base import Engine
from tollway.observability.metrics import Metrics
from tollway.routing.breaker import CircuitBreaker
from tollway.routing.builder import BuildOptions, build_table
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.litellm_config import bundled_price, render_for_table, write_config
from tollway.routing.table import RoutingTable
from tollway.secrets.base import SecretValue
from tollway.settings import EngineMode, Settings

log = logging.getLogger(__name__)

KEY_USE_FLUSH_SECONDS = 10.0


EngineFactory = Callable[[Settings], tuple[Engine, Engine]]


def build_engines(settings: Settings) -> tuple[Engine, Engine]:
    """The LiteLLM engine the settings ask for, and the OpenRouter fallback engine."""
    from tollway.engine.openrouter import OpenRouterEngine

    if settings.engine.mode is EngineMode.REMOTE:
        from tollway.engine.remote import RemoteEngine

        # Both are required for remote mode by the settings validator.
        assert settings.engine.remote_url is not None
        assert settings.engine.remote_master_key is not None
        master = SecretValue(settings.engine.remote_master_key.get_secret_value())
        return RemoteEngine(settings.engine.remote_url, master), OpenRouterEngine()
    from tollway.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(), OpenRouterEngine()


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
    events: DataPlaneEvents
    metrics: Metrics
    plane: DataPlane
    _flusher: asyncio.Task[None] | None = None

    @classmethod
    def create(
        cls, settings: Settings, services: Services, engines: EngineFactory = build_engines
    ) -> DataPlaneRuntime:
        metrics = Metrics()
        options = build_options(settings)

        def build() -> RoutingTable:
            table = build_table(services.database, services.secrets, options)
            write_config(settings.litellm_config_path, render_for_table(table, settings))
            metrics.routing_version.set(table.version)
            return table

        holder = RoutingTableHolder(
            services.database, build, interval_seconds=settings.routing.refresh_interval_seconds
        )
        engine, openrouter = engines(settings)
        events = DataPlaneEvents(services.database, services.tollway_keys)
        breaker = CircuitBreaker(
            threshold=settings.engine.breaker_threshold,
            cooldown_seconds=settings.engine.breaker_cooldown_seconds,
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
        )
        plane = DataPlane(service, metrics, settings.server.max_body_bytes)
        return cls(settings, holder, engine, openrouter, events, metrics, plane)

    async def start(self) -> None:
        await asyncio.to_thread(self.holder.load)
        self.holder.start()
        self._flusher = asyncio.get_running_loop().create_task(self._flush_key_use())

    async def stop(self) -> None:
        await self.holder.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with suppress(asyncio.CancelledError):
                await self._flusher
        await self.events.drain()
        await self.engine.aclose()
        await self.openrouter.aclose()

    async def _flush_key_use(self) -> None:
        while True:
            await asyncio.sleep(KEY_USE_FLUSH_SECONDS)
            try:
                await self.events.flush_key_use()
            except Exception:  # last-use times are best effort
                log.exception("could not record tollway key use")
