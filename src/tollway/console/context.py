"""The signed-in request: the one dependency every console page takes.

``SignedIn`` resolves to a ``ConsoleContext``, or sends the browser to the sign-in
page (``SignInRequired``); on an unsafe method it also checks the form's CSRF token
(``CsrfRefused``: a 403 page). Pages reach the domain through ``console.services``
and audit as ``console.actor``, like /admin/v1's handlers.

``refuse_cross_site`` runs before every console route, the sign-in form's included:
an unsafe request sent from a page on another origin is a 403 page
(``CrossSiteRefused``), whatever its tokens. It is defence in depth behind the CSRF
token and the SameSite cookies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse

from tollway.api.app_state import AppRuntime, app_runtime
from tollway.console.rendering import path_for, render_template
from tollway.console.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    is_cross_site,
)
from tollway.console.state import console_state
from tollway.domain.common import Actor
from tollway.domain.console_sessions import ConsoleSessionView, Flash, FlashLevel
from tollway.domain.services import Services

CONSOLE_ACTOR = Actor("console")


class SignInRequired(Exception):  # noqa: N818  (a redirect, not a failure)
    """No live session: the answer is a redirect to the sign-in page."""


class CsrfRefused(Exception):  # noqa: N818
    """An unsafe request without its session's CSRF token: a 403 page."""


class CrossSiteRefused(Exception):  # noqa: N818
    """An unsafe request sent from a page on another site: a 403 page."""


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    """A signed-in console request and what a page needs to answer it."""

    request: Request
    runtime: AppRuntime
    session: ConsoleSessionView
    _session_id: str
    actor: Actor = CONSOLE_ACTOR

    @property
    def services(self) -> Services:
        return self.runtime.services

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def url(self, name: str, **params: Any) -> str:
        """The path of the console route ``name`` (e.g. ``"providers"``)."""
        return path_for(self.request, name, **params)

    def render(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        title: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """``template`` in the layout, with this session's CSRF token and flashes."""
        flashes = self.take_flashes() if self.session.has_flashes else []
        return render_template(
            console_state(self.request.app).templates,
            self.request,
            template,
            context or {},
            title=title,
            status=status,
            csrf_token=self.csrf_token,
            flashes=flashes,
            headers=headers,
        )

    def flash(self, text: str, level: FlashLevel = "info") -> None:
        """Show ``text`` on this session's next page (never put a secret in it)."""
        self.services.console_sessions.flash(self._session_id, Flash(level, text))

    def take_flashes(self) -> list[Flash]:
        return self.services.console_sessions.take_flashes(self._session_id)

    def redirect(
        self, name: str, *, flash: str | None = None, level: FlashLevel = "info", **params: Any
    ) -> RedirectResponse:
        """Post/Redirect/Get: a 303 to the console route ``name``, with a flash."""
        if flash:
            self.flash(flash, level)
        return RedirectResponse(self.url(name, **params), status_code=303)


async def refuse_cross_site(request: Request) -> None:
    """The console app's own dependency, before every route's."""
    if request.method not in SAFE_METHODS and is_cross_site(request):
        raise CrossSiteRefused


async def signed_in(request: Request) -> ConsoleContext:
    runtime = app_runtime(request.app)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise SignInRequired
    session = await run_in_threadpool(runtime.services.console_sessions.find, session_id)
    if session is None:
        raise SignInRequired
    if request.method not in SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER) or await _form_token(request)
        if not session.csrf_matches(presented):
            raise CsrfRefused
    return ConsoleContext(request=request, runtime=runtime, session=session, _session_id=session_id)


async def _form_token(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await request.form()  # cached on the request: the handler's Form() reads it again
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


SignedIn = Annotated[ConsoleContext, Depends(signed_in)]
