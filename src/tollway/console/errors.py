"""Console errors rendered as pages, never JSON and never a bare 500.

A domain error a page did not catch shows its message with its status; a request
without a session goes to the sign-in page (back here afterwards for a GET); a
CSRF or cross-site refusal is a 403 page; anything unexpected is a 500 page whose text says
nothing of the cause (the log has its type)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tollway.console.context import CrossSiteRefused, CsrfRefused, SignInRequired
from tollway.console.rendering import path_for, render_template
from tollway.console.security import SAFE_METHODS
from tollway.console.state import console_state
from tollway.errors import TollwayError
from tollway.store.db import is_unavailable

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many requests",
    503: "Unavailable",
}


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    title = _TITLES.get(status, "Error")
    return render_template(
        console_state(request.app).templates,
        request,
        "error.html",
        {"status": status, "message": message},
        title=title,
        status=status,
        headers=headers,
    )


async def _sign_in_required(request: Request, _exc: Exception) -> Response:
    target = path_for(request, "sign_in")
    if request.method in SAFE_METHODS:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": here})
    return RedirectResponse(target, status_code=303)


async def _csrf_refused(request: Request, _exc: Exception) -> Response:
    message = "The form was out of date or not sent from this console. Reload the page and retry."
    return error_page(request, 403, message)


async def _cross_site_refused(request: Request, _exc: Exception) -> Response:
    message = (
        "This form was sent from another site, so it was not accepted. "
        "Open the console at its own address and send it from there."
    )
    return error_page(request, 403, message)


async def _tollway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TollwayError)
    if exc.status_code >= 500:
        log.error("console request failed: %s: %s", exc.code, exc.message)
    return error_page(request, exc.status_code, exc.message, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Locations and messages only: pydantic's "input" could be a pasted key.
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('body', 'query'))}: {e['msg']}"
        for e in exc.errors()
    ]
    return error_page(request, 422, "; ".join(parts) or "invalid request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_page(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def _database_error(request: Request, exc: Exception) -> Response:
    if not is_unavailable(exc):
        return await _unexpected_error(request, exc)
    return error_page(
        request, 503, "The database is unavailable; retry later.", {"Retry-After": "5"}
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected console error: %s", type(exc).__name__, exc_info=False)
    return error_page(request, 500, "Something went wrong; the server log has the details.")


def install_console_errors(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(CrossSiteRefused, _cross_site_refused)
    app.add_exception_handler(TollwayError, _tollway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
