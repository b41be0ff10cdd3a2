"""Sign-in with the admin token, exchanged for a server-side session; sign-out.

The sign-in form has no session yet, so its CSRF token is a double-submit cookie:
a random value both in an HttpOnly, SameSite=Strict cookie and in the form. Signing
in, failing to and signing out are audit events (``ConsoleSignIns``); past the limit
of failures per client address, counted in the audit trail so every replica shares
it, the answer is a 429 page with Retry-After, whatever the token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from tollway.api.app_state import app_runtime
from tollway.console.context import CONSOLE_ACTOR, SignedIn
from tollway.console.errors import error_page
from tollway.console.rendering import path_for, render_template
from tollway.console.security import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    delete_cookie,
    local_next,
    set_cookie,
)
from tollway.console.state import console_state

router = APIRouter()

WRONG_TOKEN = "That is not a valid admin token. Check it and try again."  # noqa: S105
SIGN_IN_FORM_SECONDS = 3600


@router.get("/login", name="sign_in")
async def sign_in_form(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    target = local_next(request, next_path)
    services = app_runtime(request.app).services
    session_id = request.cookies.get(SESSION_COOKIE)
    live = None
    if session_id:
        live = await run_in_threadpool(services.console_sessions.find, session_id)
    if live is not None:
        return RedirectResponse(target or path_for(request, "home"), status_code=303)
    signed_out = request.query_params.get("signed_out") == "1"
    return _form(request, target, message="You are signed out." if signed_out else None)


@router.post("/login", name="sign_in_submit")
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=256)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    target = local_next(request, next_path)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return error_page(
            request, 403, "The sign-in form was out of date. Reload the page and retry."
        )
    services = app_runtime(request.app).services
    sign_ins = services.console_sign_ins
    address = client_address(request)
    wait = await run_in_threadpool(sign_ins.retry_after, address)
    if wait is not None:  # refused before the token is looked at, and not recorded
        message = f"Too many failed sign-ins from your address; retry in {wait} seconds."
        return error_page(request, 429, message, {"Retry-After": str(wait)})
    if not token or not await run_in_threadpool(services.admin_tokens.is_valid, token):
        await run_in_threadpool(sign_ins.failed, address, CONSOLE_ACTOR)
        return _form(request, target, error=WRONG_TOKEN, status=422)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # signing in again replaces the session, never keeps two
        await run_in_threadpool(services.console_sessions.close, previous)
    session_id, _ = await run_in_threadpool(services.console_sessions.open)
    await run_in_threadpool(sign_ins.signed_in, address, CONSOLE_ACTOR)
    response = RedirectResponse(target or path_for(request, "home"), status_code=303)
    ttl = int(console_state(request.app).settings.session_ttl_seconds)
    set_cookie(response, request, SESSION_COOKIE, session_id, ttl)
    delete_cookie(response, request, SIGN_IN_COOKIE)
    return response


@router.post("/logout", name="sign_out")
async def sign_out(console: SignedIn) -> Response:
    request = console.request
    session_id = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(console.services.console_sessions.close, session_id)
    sign_ins = console.services.console_sign_ins
    await run_in_threadpool(sign_ins.signed_out, client_address(request), console.actor)
    response = RedirectResponse(path_for(request, "sign_in") + "?signed_out=1", status_code=303)
    delete_cookie(response, request, SESSION_COOKIE)
    return response


def client_address(request: Request) -> str:
    """The address sign-ins are counted by: uvicorn's client, which behind a proxy is
    the X-Forwarded-For address when the proxy is in --forwarded-allow-ips."""
    return request.client.host if request.client else "unknown"


def _form(
    request: Request,
    target: str | None,
    *,
    error: str | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    form_token = secrets.token_urlsafe(32)
    response = render_template(
        console_state(request.app).templates,
        request,
        "login.html",
        {"form_token": form_token, "next": target or "", "error": error, "message": message},
        title="Sign in",
        status=status,
    )
    set_cookie(response, request, SIGN_IN_COOKIE, form_token, SIGN_IN_FORM_SECONDS)
    return response
