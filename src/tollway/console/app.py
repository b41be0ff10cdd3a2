"""The console as its own ASGI app, mounted at /console by ``tollway.app``.

Its own app, so everything under /console (pages, static files, 404s, errors) gets
the console's security headers and HTML error pages, never the admin API's JSON. The
runtime is attached to it by the parent's lifespan (``attach_runtime``)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.staticfiles import StaticFiles

from tollway.console import auth
from tollway.console.context import refuse_cross_site
from tollway.console.errors import install_console_errors
from tollway.console.pages import page_routers
from tollway.console.rendering import STATIC, build_templates
from tollway.console.security import SecurityHeaders
from tollway.console.state import ConsoleState, attach_console_state
from tollway.settings import ConsoleSettings

MOUNT_PATH = "/console"
MOUNT_NAME = "console"  # route names are "console:<name>" from the parent app


def console_app(settings: ConsoleSettings) -> FastAPI:
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Every route, the sign-in form's too: no unsafe request from another site.
        dependencies=[Depends(refuse_cross_site)],
    )
    attach_console_state(app, ConsoleState(settings=settings, templates=build_templates()))
    install_console_errors(app)
    app.include_router(auth.router)
    for router in page_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    return app
