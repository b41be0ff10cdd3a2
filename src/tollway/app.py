"""Composition root: ``create_app(settings)`` and the runtime it owns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from tollway import __version__
from tollway.api.admin import admin_router
from tollway.api.errors import install_error_handlers
from tollway.api.health import router as health_router
from tollway.domain.services import Services, build_services
from tollway.secrets.factory import open_secret_store
from tollway.settings import Settings, load_settings
from tollway.store import migrate
from tollway.store.db import Database

# Runs once the runtime is open, before the first request (imports, banners).
StartHook = Callable[["Runtime"], None]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything one process holds open; built at start, closed at stop."""

    settings: Settings
    services: Services
    initial_admin_token: str | None

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        database = Database(settings.resolved_database_url)
        try:
            migrate.upgrade(database)
            secrets = open_secret_store(settings, database)
        except BaseException:
            database.dispose()
            raise
        services = build_services(settings, database, secrets)
        token = services.admin_tokens.ensure_initial_token()
        return cls(settings=settings, services=services, initial_admin_token=token)

    def close(self) -> None:
        self.services.secrets.close()
        self.services.database.dispose()


def create_app(settings: Settings | None = None, *, on_start: Sequence[StartHook] = ()) -> FastAPI:
    resolved = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.open(resolved)
        app.state.services = runtime.services
        try:
            for hook in on_start:
                hook(runtime)
            yield
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
    return app
