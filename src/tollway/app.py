"""Composition root: ``create_app(settings)`` and the runtime it owns."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from tollway import __version__
from tollway.api.admin import admin_router
from tollway.api.errors import install_error_handlers
from tollway.api.health import ServingDependencies
from tollway.api.health import router as health_router
from tollway.api.inference.openapi import document_inference
from tollway.api.inference.routes import inference_mount
from tollway.data_plane import DataPlaneRuntime, EngineFactory, build_engines
from tollway.domain.services import Services, build_services
from tollway.observability.logging import scrubbed_log_records
from tollway.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tollway.observability.metrics import Metrics
from tollway.observability.scrubbing import KnownSecrets
from tollway.secrets.base import ignore_errors
from tollway.secrets.factory import open_secret_store
from tollway.settings import Settings, load_settings
from tollway.store import migrate
from tollway.store.db import Database

# Runs with the open runtime during start-up (see create_app).
StartHook = Callable[["Runtime"], None]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything one process holds open; built at start, closed at stop."""

    settings: Settings
    services: Services
    initial_admin_token: str | None
    # Undoes what ``open`` installed process-wide (log record scrubbing).
    installed: ExitStack = field(default_factory=ExitStack)

    @classmethod
    def open(cls, settings: Settings, metrics: Metrics | None = None) -> Runtime:
        """``metrics``, when given, counts the secret store's errors."""
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        database = Database(settings.resolved_database_url)
        on_error = metrics.count_secret_store_error if metrics else ignore_errors
        try:
            migrate.upgrade(database)
            known_secrets = KnownSecrets()
            secrets = open_secret_store(settings, database, known_secrets, on_error=on_error)
        except BaseException:
            database.dispose()
            raise
        services = build_services(settings, database, secrets, known_secrets)
        token = services.admin_tokens.ensure_initial_token()
        runtime = cls(settings=settings, services=services, initial_admin_token=token)
        runtime.installed.enter_context(scrubbed_log_records(services.known_secrets))
        return runtime

    def close(self) -> None:
        self.installed.close()
        self.services.secrets.close()
        self.services.database.dispose()


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


def create_app(
    settings: Settings | None = None,
    *,
    on_start: Sequence[StartHook] = (),
    on_ready: Sequence[StartHook] = (),
    engines: EngineFactory = build_engines,
) -> FastAPI:
    """The whole server. ``on_start`` hooks run once the store is open (imports,
    demo data); ``on_ready`` ones once everything is started, just before the
    first request (banners). ``engines`` is a seam for benchmarks and tests."""
    resolved = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = Metrics()
        runtime = Runtime.open(resolved, metrics)
        app.state.services = runtime.services
        try:
            for hook in on_start:
                hook(runtime)
            data_plane = DataPlaneRuntime.create(resolved, runtime.services, engines, metrics)
            await data_plane.start()
            _settle_heap()
            app.state.data_plane = data_plane.plane
            app.state.data_plane_runtime = data_plane
            app.state.serving = ServingDependencies(
                data_plane.usage.quotas, data_plane.usage.journal, data_plane.holder
            )
            for hook in on_ready:
                hook(runtime)
            try:
                yield
            finally:
                try:
                    await data_plane.stop()
                finally:
                    data_plane.metrics.retire()  # with --workers: leave the live sums
        finally:
            runtime.close()

    app = FastAPI(
        title="tollway",
        version=__version__,
        description="Control plane for LLM traffic: providers, keys, models, teams and limits.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(admin_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.router.routes.append(inference_mount())
    document_inference(app)
    return app


async def metrics_endpoint(request: Request) -> Response:
    runtime: DataPlaneRuntime = request.app.state.data_plane_runtime
    return Response(runtime.metrics.render(), media_type=METRICS_CONTENT_TYPE)


def app_from_environment() -> FastAPI:
    """The app for each worker of ``tollway serve --workers N`` (uvicorn's factory):
    settings from the environment; start-up work already done by the parent."""
    return create_app(load_settings())
