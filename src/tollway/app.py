"""The FastAPI app: ``create_app(settings)`` serves a ``Runtime`` it starts and stops."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import FrameType

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
from tollway.console.app import MOUNT_NAME, MOUNT_PATH, console_app
from tollway.control_plane import StartHook
from tollway.data_plane import EngineFactory, build_engines
from tollway.domain.catalog import ListerLookup, family_lister
from tollway.domain.health import Lifecycle
from tollway.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tollway.runtime import Runtime
from tollway.settings import Settings, load_settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    on_start: Sequence[StartHook] = (),
    on_ready: Sequence[StartHook] = (),
    engines: EngineFactory = build_engines,
    listers: ListerLookup = family_lister,
) -> FastAPI:
    """The whole server. ``on_start`` hooks run once the store is open (imports,
    demo data); ``on_ready`` ones once everything is started, just before the
    first request (banners). ``engines`` is a seam for benchmarks and tests, and
    ``listers`` (which model lister serves each provider type) one for tests."""
    resolved = settings or load_settings()
    console = console_app(resolved.console)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(resolved, engines=engines, on_open=on_start, listers=listers)
        drain = SigtermDrain(runtime.health.lifecycle, resolved.server.drain_seconds)
        try:
            await runtime.start()
            attach_runtime(app, runtime)
            attach_runtime(console, runtime)
            for hook in on_ready:
                hook(runtime.control)
            drain.install()
            yield
        finally:
            drain.uninstall()
            await runtime.stop()

    app = TollwayApp(
        title="tollway",
        version=__version__,
        description="Control plane for LLM traffic: providers, keys, models, teams and limits.",
        lifespan=lifespan,
    )
    app.serve_under(resolved.server.root_path)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(admin_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.mount(MOUNT_PATH, console, name=MOUNT_NAME)
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
    _root_path: str = ""

    def serve_directly(self, mount: Mount) -> None:
        self._direct = mount

    def serve_under(self, root_path: str) -> None:
        """The path prefix a reverse proxy serves the app under (``server.root_path``),
        for requests whose server set none (uvicorn's ``--root-path``): the URLs the
        app builds (the console's links and redirects) carry it."""
        self._root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._root_path and scope["type"] != "lifespan" and not scope.get("root_path"):
            under_root(scope, self._root_path)
        mount = self._direct
        if mount is not None and scope["type"] == "http" and not scope.get("root_path"):
            match, child_scope = mount.matches(scope)
            if match is Match.FULL:
                scope["app"] = self
                scope["router"] = self.router
                scope.update(child_scope)
                await mount.handle(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def under_root(scope: Scope, root_path: str) -> None:
    """``scope`` as ASGI has it under a root path: ``root_path`` set and included in
    ``path`` (a proxy that strips the prefix sends the path without it)."""
    scope["root_path"] = root_path
    path: str = scope["path"]
    if path != root_path and not path.startswith(root_path + "/"):
        scope["path"] = root_path + path
        raw: bytes | None = scope.get("raw_path")
        if raw is not None:
            scope["raw_path"] = root_path.encode() + raw


SignalHandler = Callable[[int, FrameType | None], object]


class SigtermDrain:
    """Readiness fails first, the server stops accepting ``seconds`` later.

    On the first SIGTERM the process starts draining (``/health/ready`` answers 503)
    but keeps serving; after ``seconds`` the server's own SIGTERM handler runs (uvicorn
    stops accepting, lets requests finish within the grace period, and stops). Load
    balancers polling readiness stop sending in that time, so no request meets a
    closed port. A second SIGTERM skips the rest of the wait; SIGINT is untouched.

    Installed over the server's handler from the lifespan, so it works the same in each
    ``--workers`` process (uvicorn runs plain servers there); only where signals arrive,
    the main thread (not under a test server in a thread)."""

    def __init__(self, lifecycle: Lifecycle, seconds: float) -> None:
        self._lifecycle = lifecycle
        self._seconds = seconds
        self._previous: SignalHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._draining = False
        self._handed_over = False

    def install(self) -> None:
        if self._seconds <= 0 or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):  # the default or ignored: no server to hand over to
            return
        self._previous = previous
        self._loop = asyncio.get_running_loop()
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        if self._previous is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)

    def _on_sigterm(self, _signal: int, _frame: FrameType | None) -> None:
        if self._draining:
            self._hand_over()
            return
        self._draining = True
        self._lifecycle.begin_draining()
        log.warning("SIGTERM: not ready; still serving for %s s, then stopping", self._seconds)
        assert self._loop is not None
        # A signal handler runs between two bytecodes of the loop's thread: schedule
        # through the thread-safe door, which also wakes the loop.
        self._loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        assert self._loop is not None
        if not self._handed_over:
            self._timer = self._loop.call_later(self._seconds, self._hand_over)

    def _hand_over(self) -> None:
        if self._handed_over or self._previous is None:
            return
        self._handed_over = True
        if self._timer is not None:
            self._timer.cancel()
        self._previous(signal.SIGTERM, None)


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
