"""Headers every console response carries, the session cookie, local `next` paths, and
whether an unsafe request was sent from another site (`is_cross_site`)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "tollway_console"
# The sign-in form's CSRF token, before there is a session: a double-submit cookie.
SIGN_IN_COOKIE = "tollway_console_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# scheme, host, port: what "same origin" compares.
Origin = tuple[str, str, int]


class SecurityHeaders:
    """Adds the security headers to every response of the console app, and
    ``Cache-Control: no-store`` to everything but its static files."""

    def __init__(self, app: ASGIApp, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = _route_path(scope).startswith(self.static_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path.removeprefix(root) if root and path.startswith(root) else path


def console_path(request: Request) -> str:
    """The console's own path, under the root path: ``<root_path>/console``."""
    return request.url_for("console:home").path.rstrip("/")


def is_https(request: Request) -> bool:
    """The request's scheme. Behind a proxy, uvicorn sets it from X-Forwarded-Proto
    only for the addresses in its --forwarded-allow-ips (default 127.0.0.1)."""
    return request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=console_path(request),
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def delete_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=console_path(request), secure=is_https(request), httponly=True, samesite="strict"
    )


def local_next(request: Request, candidate: str | None) -> str | None:
    """``candidate`` when it is a path inside this console (a place to return to
    after sign-in), else None: never another host, scheme or path."""
    if not candidate or len(candidate) > 2000:
        return None
    if "\\" in candidate or any(ord(char) < 0x20 or ord(char) == 0x7F for char in candidate):
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or candidate.startswith("//"):
        return None
    base = console_path(request)
    if parts.path != base and not parts.path.startswith(base + "/"):
        return None
    # Dot segments, also percent-encoded ones, which browsers resolve like plain dots.
    segments = parts.path.lower().replace("%2e", ".").split("/")
    if "." in segments or ".." in segments:
        return None
    return candidate


def is_cross_site(request: Request) -> bool:
    """Whether the page that sent ``request`` (its ``Origin``, or lacking one its
    ``Referer``) is on another origin than the console. A request naming neither is
    not: current browsers send ``Origin`` with every POST, and the CSRF token still
    guards the rest. ``Origin: null`` (a sandboxed or privacy-hidden page)
    and anything unreadable count as another site."""
    sender = request.headers.get("origin") or request.headers.get("referer")
    if sender is None:
        return False
    return _origin(sender) not in _own_origins(request)


def _own_origins(request: Request) -> set[Origin]:
    """The origin the request was addressed to: its scheme and Host, and behind a
    proxy that rewrites them, its ``X-Forwarded-Proto`` and ``-Host``. Honouring the
    forwarded headers here lets no other site in: a page cannot set them on a
    browser's request (they are not CORS-safelisted, and the console grants no
    preflight), so they come from a proxy or from a client that is not a browser,
    which no origin check stops anyway."""
    scheme = request.url.scheme
    candidates = [f"{scheme}://{request.url.netloc}"]
    forwarded_proto = _first(request.headers.get("x-forwarded-proto"))
    forwarded_host = _first(request.headers.get("x-forwarded-host"))
    if forwarded_proto or forwarded_host:
        candidates.append(f"{forwarded_proto or scheme}://{forwarded_host or request.url.netloc}")
    return {origin for origin in map(_origin, candidates) if origin is not None}


def _first(value: str | None) -> str | None:
    """The first of a comma-separated header's values (the one the first proxy set)."""
    if not value:
        return None
    return value.split(",", 1)[0].strip() or None


def _origin(url: str) -> Origin | None:
    """``url``'s scheme, host and port (the scheme's default when none is written),
    or None when it has no readable origin."""
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]
