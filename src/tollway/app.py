"""The FastAPI app: ``create_app(settings)`` serves a ``Runtime`` it starts and stops."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.types import Receive, Scope, Send

from tollway import __version__
from tollway.api.admin import admin_router
from tollway.api.app_state import app_runtime, attach_runtime
from tollway.api.errors import install_error_handlers
from tollway.api.health import router as health_router
from tollway.api.inference.openapi import document_inference
from tollway.api.inference.routes import inference_mount
from tollway.control_plane import StartHook
from tollway.data_plane import EngineFactory, build_engines
from tollway.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tollway.runtime import Runtime
from tollway.settings import Settings, load_settings


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
        runtime = Runtime.build(resolved, engines=engines, on_open=on_start)
        try:
            await runtime.start()
            attach_runtime(app, runtime)
            for hook in on_ready:
                hook(runtime.control)
            yield
        finally:
            await runtime.stop()

    app = TollwayApp(
        title="tollway",
        version=__version__,
        description="Control plane for LLM traffic: providers, keys, models, teams and limits.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(admin_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    v1 = inference_mount()
    app.router.routes.append(v1)
    app.serve_directly(v1)
    document_inference(app)
    return app


class TollwayApp(FastAPI):
    """FastAPI, with /v1 requests handed straight to their mount.

    The /v1 handlers answer every error themselves, in their dialect's shape, so the
    application's middleware (server and HTTP exception handlers, body limit,
    telemetry, the dependency exit stack) does nothing for them but cost: it wrapped
    every request and every streamed chunk's ``send`` in five layers, and the router
    matched every admin route before reaching the mount. Everything else (admin,
    health, metrics, docs, lifespan) goes through FastAPI as before."""

    _direct: Mount | None = None

    def serve_directly(self, mount: Mount) -> None:
        self._direct = mount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mount = self._direct
        if mount is not None and scope["type"] == "http" and not self.root_path:
            match, child_scope = mount.matches(scope)
            if match is Match.FULL:
                scope["app"] = self
                scope["router"] = self.router
                scope.update(child_scope)
                await mount.handle(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def runtime_of(app: Starlette) -> Runtime:
    """The runtime a started app serves, all of it (tests and tools reach in here)."""
    runtime = app_runtime(app)
    assert isinstance(runtime, Runtime), runtime
    return runtime


async def metrics_endpoint(request: Request) -> Response:
    metrics = app_runtime(request.app).metrics
    return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)


def app_from_environment() -> FastAPI:
    """The app for each worker of ``tollway serve --workers N`` (uvicorn's factory):
    settings from the environment; start-up work already done by the parent."""
    return create_app(load_settings())
