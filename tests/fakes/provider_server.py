"""Fake LLM provider servers: real HTTP on 127.0.0.1, each family's own wire shapes.

One ``FakeProviderServer`` speaks one family's dialect (``openai``, ``openrouter``,
``anthropic``, ``gemini``, ``cohere``): auth headers, model-list bodies and error
envelopes as the real provider sends them. Behaviour is scripted by key value::

    with FakeProviderServer("anthropic", keys={"good": Behaviour.ok(),
                                               "slow": Behaviour.slow(0.5),
                                               "busy": Behaviour.rate_limited("7")}) as server:
        adapter.check_key(client, server.base_url, SecretValue("good"))
        assert server.requests_with_key("good")

Unknown keys get the family's "bad key" answer. Every request is recorded with
all its headers, so tests can see which key arrived and count attempts.

Extending: each family is a small router class (``routes()`` plus its error
envelope). Chat, completions, embeddings and SSE routes belong there, and can
reuse ``Gate.admit`` for the key scripting.

The server is a Starlette app run by ``uvicorn.Server`` on its own event loop in
a background thread; ``stop()`` releases hanging requests first, so shutdown is
prompt even with clients that gave up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.ports import free_port
from tollway.store.enums import ProviderType

Family = Literal["openai", "openrouter", "anthropic", "gemini", "cohere"]
BehaviourKind = Literal["ok", "rejected", "status", "hang", "slow"]

HANG_SECONDS = 30.0


def family_for(provider_type: ProviderType) -> Family:
    """Which fake dialect stands in for ``provider_type``."""
    match provider_type:
        case ProviderType.ANTHROPIC:
            return "anthropic"
        case ProviderType.GEMINI:
            return "gemini"
        case ProviderType.COHERE:
            return "cohere"
        case ProviderType.OPENROUTER:
            return "openrouter"
        case _:
            return "openai"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the server does for one key."""

    kind: BehaviourKind
    status: int = 200
    delay: float = 0.0
    retry_after: str | None = None
    message: str | None = None  # overrides the family's error message, e.g. to echo a key

    @classmethod
    def ok(cls) -> Behaviour:
        return cls("ok")

    @classmethod
    def rejected(cls) -> Behaviour:
        """The family's own "unknown key" answer (401, or Gemini's 400 API_KEY_INVALID)."""
        return cls("rejected")

    @classmethod
    def error(cls, status: int, *, message: str | None = None) -> Behaviour:
        return cls("status", status=status, message=message)

    @classmethod
    def forbidden(cls) -> Behaviour:
        return cls.error(403)

    @classmethod
    def rate_limited(cls, retry_after: str | None = None) -> Behaviour:
        return cls("status", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Behaviour:
        return cls.error(status)

    @classmethod
    def hang(cls, seconds: float = HANG_SECONDS) -> Behaviour:
        """Send nothing until the server stops (or ``seconds`` pass)."""
        return cls("hang", delay=seconds)

    @classmethod
    def slow(cls, delay: float) -> Behaviour:
        return cls("slow", delay=delay)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-cased names, every header as received
    key: str | None  # the credential as the family's router reads it

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Gate:
    """Applies the key script; shared by every route of a server."""

    def __init__(self, server: FakeProviderServer) -> None:
        self._server = server

    async def admit(self, request: Request, router: FamilyRouter) -> Response | None:
        """None to let the route answer normally, else the scripted response."""
        key = router.key_of(request.headers, request.query_params)
        behaviour = self._server.behaviour_for(key)
        if behaviour is None:
            return router.missing_key() if key is None else router.rejected(key)
        if behaviour.kind in ("slow", "hang"):
            await self._server.pause(behaviour.delay)
            if behaviour.kind == "hang":
                return router.error(503, "the fake server stopped", None)
            return None
        if behaviour.kind == "rejected":
            return router.rejected(key or "")
        if behaviour.kind == "status":
            return router.error(behaviour.status, behaviour.message, behaviour.retry_after)
        return None


class FamilyRouter:
    """One family's dialect. Subclasses add routes and their error envelope."""

    family: Family
    models: Sequence[str] = ()

    def __init__(self, gate: Gate, models: Sequence[str] | None = None) -> None:
        self.gate = gate
        self.models = tuple(models) if models is not None else type(self).models

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def key_of(self, headers: Headers, query: QueryParams) -> str | None:
        return _bearer(headers)

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        raise NotImplementedError

    def rejected(self, key: str) -> Response:
        return self.error(401, None, None)

    def missing_key(self) -> Response:
        return self.error(401, None, None)


class OpenAIRouter(FamilyRouter):
    """OpenAI and the OpenAI-compatible providers (Groq, Together, Mistral, vLLM…)."""

    family: Family = "openai"
    models: Sequence[str] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")

    def routes(self) -> list[Route]:
        return [Route("/v1/models", self.list_models)]

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        data = [
            {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}
            for model in self.models
        ]
        return JSONResponse({"object": "list", "data": data})

    def rejected(self, key: str) -> Response:
        return self.error(
            401,
            f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            None,
            code="invalid_api_key",
        )

    def missing_key(self) -> Response:
        return self.error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            None,
        )

    def error(
        self, status: int, message: str | None, retry_after: str | None, code: str | None = None
    ) -> Response:
        default_message, kind, default_code = _OPENAI_ERRORS.get(
            status, ("The request failed.", "invalid_request_error", None)
        )
        body = {
            "error": {
                "message": message or default_message,
                "type": kind,
                "param": None,
                "code": code or default_code,
            }
        }
        return _json(status, body, retry_after)


class OpenRouterRouter(OpenAIRouter):
    """OpenRouter: ``/v1/key`` needs a key, ``/v1/models`` is public."""

    family: Family = "openrouter"
    models: Sequence[str] = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")

    def routes(self) -> list[Route]:
        return [Route("/v1/key", self.key_info), Route("/v1/models", self.public_models)]

    async def key_info(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        data = {
            "label": "sk-or-v1-abc...xyz",
            "limit": None,
            "usage": 0,
            "is_free_tier": False,
            "rate_limit": {"requests": 20, "interval": "10s"},
        }
        return JSONResponse({"data": data})

    async def public_models(self, request: Request) -> Response:
        data = [
            {
                "id": model,
                "name": model,
                "context_length": 128_000,
                "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
            }
            for model in self.models
        ]
        return JSONResponse({"data": data})

    def rejected(self, key: str) -> Response:
        return self.error(401, "User not found.", None)

    def missing_key(self) -> Response:
        return self.error(401, "No auth credentials found", None)

    def error(
        self, status: int, message: str | None, retry_after: str | None, code: str | None = None
    ) -> Response:
        body = {"error": {"message": message or _reason(status), "code": status}}
        return _json(status, body, retry_after)


class AnthropicRouter(FamilyRouter):
    family: Family = "anthropic"
    models: Sequence[str] = ("claude-sonnet-4-20250514", "claude-3-5-haiku-20241022")

    def routes(self) -> list[Route]:
        return [Route("/v1/models", self.list_models)]

    def key_of(self, headers: Headers, query: QueryParams) -> str | None:
        return headers.get("x-api-key")

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        if "anthropic-version" not in request.headers:
            return self.error(400, "anthropic-version: header is required", None)
        data = [
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2025-01-01T00:00:00Z",
            }
            for model in self.models
        ]
        return JSONResponse(
            {
                "data": data,
                "has_more": False,
                "first_id": self.models[0] if self.models else None,
                "last_id": self.models[-1] if self.models else None,
            }
        )

    def rejected(self, key: str) -> Response:
        return self.error(401, "invalid x-api-key", None)

    def missing_key(self) -> Response:
        return self.error(401, "x-api-key header is required", None)

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": message or _reason(status)}}
        return _json(status, body, retry_after)


class GeminiRouter(FamilyRouter):
    family: Family = "gemini"
    models: Sequence[str] = ("gemini-2.0-flash", "text-embedding-004")

    def routes(self) -> list[Route]:
        return [Route("/v1beta/models", self.list_models)]

    def key_of(self, headers: Headers, query: QueryParams) -> str | None:
        return headers.get("x-goog-api-key") or query.get("key")

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        data = [
            {
                "name": f"models/{model}",
                "displayName": model,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for model in self.models
        ]
        return JSONResponse({"models": data})

    def rejected(self, key: str) -> Response:
        message = "API key not valid. Please pass a valid API key."
        body = {
            "error": {
                "code": 400,
                "message": message,
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": message,
                    },
                ],
            }
        }
        return _json(400, body, None)

    def missing_key(self) -> Response:
        return self.error(
            403,
            "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call "
            "this API.",
            None,
        )

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        body = {
            "error": {
                "code": status,
                "message": message or _reason(status),
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
        return _json(status, body, retry_after)


class CohereRouter(FamilyRouter):
    family: Family = "cohere"
    models: Sequence[str] = ("command-r-plus", "embed-english-v3.0")

    def routes(self) -> list[Route]:
        return [Route("/v1/models", self.list_models)]

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        data = [
            {
                "name": model,
                "endpoints": ["chat", "embed"],
                "finetuned": False,
                "context_length": 128_000,
            }
            for model in self.models
        ]
        return JSONResponse({"models": data, "next_page_token": None})

    def rejected(self, key: str) -> Response:
        return self.error(401, "invalid api token", None)

    def missing_key(self) -> Response:
        return self.error(401, "no api key supplied", None)

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        return _json(status, {"message": message or _reason(status)}, retry_after)


def router_class(family: Family) -> type[FamilyRouter]:
    match family:
        case "openai":
            return OpenAIRouter
        case "openrouter":
            return OpenRouterRouter
        case "anthropic":
            return AnthropicRouter
        case "gemini":
            return GeminiRouter
        case "cohere":
            return CohereRouter


@dataclass
class _Runtime:
    thread: threading.Thread
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop
    stopping: asyncio.Event
    port: int


@dataclass
class FakeProviderServer:
    """One fake provider. Use as a context manager, or ``start()``/``stop()``."""

    family: Family
    keys: Mapping[str, Behaviour] = field(default_factory=dict)
    models: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._keys = dict(self.keys)
        self._log: list[RecordedRequest] = []
        self._runtime: _Runtime | None = None
        self.router = router_class(self.family)(Gate(self), self.models)

    # -- scripting and inspection (any thread) -------------------------------------

    def set_key(self, key: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._keys[key] = behaviour

    def behaviour_for(self, key: str | None) -> Behaviour | None:
        with self._lock:
            return None if key is None else self._keys.get(key)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_with_key(self, key: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.key == key]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._running().port}"

    @property
    def base_url(self) -> str:
        """The base URL an adapter of this family is configured with."""
        prefix = "/v1" if self.family in ("openai", "openrouter") else ""
        return self.origin + prefix

    # -- lifecycle -------------------------------------------------------------------

    def start(self, *, attempts: int = 3) -> None:
        for _ in range(attempts):
            # free_port() can race with another process; a failed bind just retries.
            if self._try_start(free_port()):
                return
        raise RuntimeError(f"fake {self.family} server did not start")

    def stop(self) -> None:
        self.begin_stop()
        self.wait_stopped()

    def begin_stop(self) -> None:
        """Ask the server to stop without waiting; lets several servers stop in parallel."""
        runtime = self._runtime
        if runtime is None:
            return
        with suppress(RuntimeError):  # the loop may already be closed
            runtime.loop.call_soon_threadsafe(runtime.stopping.set)
        runtime.server.should_exit = True

    def wait_stopped(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.thread.join(timeout=10)

    def __enter__(self) -> FakeProviderServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, but wake as soon as the server is stopping."""
        runtime = self._running()
        with suppress(TimeoutError):
            await asyncio.wait_for(runtime.stopping.wait(), timeout=seconds)

    def record(self, scope: Scope) -> None:
        headers = Headers(scope=scope)
        query = scope.get("query_string", b"").decode("latin-1")
        request = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query=query,
            headers={name.lower(): value for name, value in headers.items()},
            key=self.router.key_of(headers, QueryParams(query)),
        )
        with self._lock:
            self._log.append(request)

    def _try_start(self, port: int) -> bool:
        app = _RecordingApp(Starlette(routes=self.router.routes()), self.record)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()
        stopping = asyncio.Event()
        thread = threading.Thread(
            target=_serve, args=(loop, server), name=f"fake-{self.family}", daemon=True
        )
        runtime = _Runtime(thread, server, loop, stopping, port)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not server.started:
            server.should_exit = True
            thread.join(timeout=5)
            return False
        self._runtime = runtime
        return True

    def _running(self) -> _Runtime:
        if self._runtime is None:
            raise RuntimeError("the fake provider server is not running")
        return self._runtime


@contextmanager
def running_server(
    family: Family,
    keys: Mapping[str, Behaviour] | None = None,
    models: Sequence[str] | None = None,
) -> Iterator[FakeProviderServer]:
    with FakeProviderServer(family, dict(keys or {}), models) as server:
        yield server


def stop_all(servers: Iterable[FakeProviderServer]) -> None:
    """Stop several servers in about the time one takes (uvicorn polls for exit)."""
    pending = list(servers)
    for server in pending:
        server.begin_stop()
    for server in pending:
        server.wait_stopped()


class _RecordingApp:
    """ASGI wrapper that logs every HTTP request before routing it."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope], None]) -> None:
        self._app = app
        self._record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._record(scope)
        await self._app(scope, receive, send)


def _serve(loop: asyncio.AbstractEventLoop, server: uvicorn.Server) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(server.serve())
    except (OSError, SystemExit):
        # Bind failures end up here (uvicorn exits on them); start() retries.
        pass
    finally:
        loop.close()


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _mask(key: str) -> str:
    # OpenAI's own masking: a few leading and the last four characters.
    return f"{key[:3]}{'*' * max(len(key) - 7, 4)}{key[-4:]}" if len(key) > 8 else "****"


def _json(status: int, body: Any, retry_after: str | None) -> JSONResponse:
    headers = {"retry-after": retry_after} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def _reason(status: int) -> str:
    return _REASONS.get(status, "error")


_REASONS: Mapping[int, str] = MappingProxyType(
    {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        429: "Rate limit exceeded",
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service unavailable",
        529: "Overloaded",
    }
)

_OPENAI_ERRORS: Mapping[int, tuple[str, str, str | None]] = MappingProxyType(
    {
        403: (
            "You are not allowed to sample from this model",
            "invalid_request_error",
            "model_not_allowed",
        ),
        404: ("Not found", "invalid_request_error", "unknown_url"),
        429: (
            "Rate limit reached for requests. Please try again later.",
            "requests",
            "rate_limit_exceeded",
        ),
        500: (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        503: ("The engine is currently overloaded, please try again later", "server_error", None),
    }
)

_ANTHROPIC_ERROR_TYPES: Mapping[int, str] = MappingProxyType(
    {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
    }
)

_GOOGLE_STATUS: Mapping[int, str] = MappingProxyType(
    {
        400: "INVALID_ARGUMENT",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
)
