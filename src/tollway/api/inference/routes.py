"""The /v1 endpoints: plain Starlette routes over the inference service."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from tollway.api.app_state import app_runtime
from tollway.api.inference.dialect import Dialect, Exchange, bearer_token
from tollway.api.inference.errors import error_response
from tollway.api.inference.messages_dialect import (
    MessagesDialect,
    count_tokens,
    is_messages_path,
    messages_error_response,
)
from tollway.api.inference.openai_dialect import OpenAIDialect
from tollway.api.inference.parsing import read_body
from tollway.api.inference.response_headers import RequestIds, new_request_id, response_headers
from tollway.api.inference.responses_dialect import ResponsesDialect
from tollway.api.inference.stored_responses import stored_response_routes
from tollway.api.inference.streaming import SSEResponse
from tollway.domain.inference import InferenceRequest, InferenceService
from tollway.domain.responses_memory import ResponsesMemory
from tollway.domain.served import Served
from tollway.domain.v1_errors import internal_error, model_not_found, routing_error
from tollway.engine.base import Endpoint
from tollway.errors import InferenceError
from tollway.observability import gen_ai
from tollway.observability.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response | ASGIApp]]
_Served = tuple[Response | ASGIApp, Served, str]


class InferenceApi:
    """What the /v1 routes need; the runtime builds it at start."""

    def __init__(
        self,
        service: InferenceService,
        metrics: Metrics,
        max_body_bytes: int,
        responses_memory: ResponsesMemory,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.responses_memory = responses_memory
        self.new_request_id = RequestIds()


def _inference_api(request: Request) -> InferenceApi:
    return app_runtime(request.app).inference_api


def _json(body: Any, headers: dict[str, str], status: int = 200) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def inference_endpoint(dialect: Dialect) -> Handler:
    """The POST handler of one dialect's endpoint."""
    endpoint = dialect.endpoint

    async def handle(request: Request) -> Response | ASGIApp:
        api = _inference_api(request)
        request_id = api.new_request_id()
        started = time.perf_counter()
        try:
            response = await _serve(api, request, dialect, request_id)
        except InferenceError as error:
            _count_error(api, endpoint, error)
            return dialect.error_response(error, response_headers(request_id))
        except Exception as exc:  # never a stack trace or library text to the client
            # The type only: driver and library messages may quote request data.
            log.error("unexpected error on /v1: %s", type(exc).__name__, exc_info=exc)
            internal = internal_error()
            _count_error(api, endpoint, internal)
            return dialect.error_response(internal, response_headers(request_id))
        _count_success(api, endpoint, response, time.perf_counter() - started)
        return response[0]

    return handle


def _count_success(
    api: InferenceApi, endpoint: Endpoint, response: _Served, seconds: float
) -> None:
    (_, served, model), metrics = response, api.metrics
    route = served.route.value
    labels = (
        gen_ai.operation_name(endpoint.value),
        metrics.provider_name(served.provider_id, route),
        model,
        endpoint.value,
        route,
    )
    metrics.child(metrics.latency, *labels).observe(seconds)
    metrics.child(metrics.requests, endpoint.value, route, "2xx").inc()


def _count_error(api: InferenceApi, endpoint: Endpoint, error: InferenceError) -> None:
    metrics = api.metrics
    metrics.child(metrics.requests, endpoint.value, "none", f"{error.status_code // 100}xx").inc()
    metrics.child(metrics.errors, endpoint.value, error.error_type).inc()


async def _serve(api: InferenceApi, request: Request, dialect: Dialect, request_id: str) -> _Served:
    """The response, who served it, and the public model it was for."""
    caller = api.service.authenticate(dialect.credential(request))
    parsed = dialect.parse(await read_body(request, api.max_body_bytes))
    exchange = Exchange(request_id, caller, parsed)
    parsed = await dialect.prepare(api, exchange)
    exchange = Exchange(request_id, caller, parsed, sent=exchange.parsed)
    call = InferenceRequest(
        request_id,
        dialect.endpoint,
        parsed.model,
        parsed.body,
        parsed.stream,
        upstream_headers=dialect.upstream_headers(request),
    )
    if not parsed.stream:
        outcome = await api.service.complete(caller, call)
        body = await dialect.answer(api, exchange, outcome.value.body)
        headers = response_headers(request_id, outcome.served, outcome.rate_limits)
        return _json(body, headers), outcome.served, call.model
    streamed = await api.service.stream(caller, call)
    stream = streamed.value
    try:
        events = dialect.events(api, exchange, stream)
        headers = response_headers(request_id, streamed.served, streamed.rate_limits)
    except BaseException:  # the SSE response owns closing it; until it exists, we do
        await asyncio.shield(stream.close(disconnected=True))
        raise

    async def close(disconnected: bool) -> None:
        await stream.close(disconnected=disconnected)

    response = SSEResponse(
        events,
        headers=headers,
        on_close=close,
        shutdown_event=dialect.shutdown_event,
        ready=stream.ready,
    )
    return response, streamed.served, call.model


async def list_models(request: Request) -> Response:
    request_id = new_request_id()
    api = _inference_api(request)
    try:
        caller = api.service.authenticate(bearer_token(request.headers.get("authorization")))
    except InferenceError as error:
        return error_response(error, response_headers(request_id))
    data = [_model_object(name) for name in api.service.visible_models(caller)]
    return _json({"object": "list", "data": data}, response_headers(request_id))


async def get_model(request: Request) -> Response:
    request_id = new_request_id()
    api = _inference_api(request)
    name = request.path_params["model"]
    try:
        caller = api.service.authenticate(bearer_token(request.headers.get("authorization")))
        if name not in api.service.visible_models(caller):
            raise model_not_found(name)
    except InferenceError as error:
        return error_response(error, response_headers(request_id))
    return _json(_model_object(name), response_headers(request_id))


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "tollway"}


def inference_mount() -> Mount:
    """/v1 and everything under it, whatever the path holds.

    Starlette's path patterns end in ``.*``, which stops at a newline: a path with an
    encoded ``%0A`` would miss the mount and get the admin dialect's 404."""
    router = Router(
        routes=[
            _post("/chat/completions", OpenAIDialect(Endpoint.CHAT)),
            _post("/completions", OpenAIDialect(Endpoint.COMPLETIONS)),
            _post("/embeddings", OpenAIDialect(Endpoint.EMBEDDINGS)),
            _post("/responses", ResponsesDialect()),
            # After every POST route (``POST /responses`` among them): these paths
            # have an id after ``/responses/``, so the two never meet.
            *stored_response_routes(),
            _post("/messages", MessagesDialect()),
            Route("/messages/count_tokens", messages_count_tokens, methods=["POST"]),
            Route("/models", list_models, methods=["GET"]),
            _any_characters(Route("/models/{model:path}", get_model, methods=["GET"])),
        ]
    )
    return _any_characters(Mount("/v1", app=OpenAIShapedRouting(router)))


def _post(path: str, dialect: Dialect) -> Route:
    return Route(path, InferenceEndpoint(inference_endpoint(dialect)), methods=["POST"])


class InferenceEndpoint:
    """A /v1 handler as a plain ASGI app. Starlette's ``request_response`` would wrap
    its ``send`` (every streamed chunk's) for exception handlers that /v1 never
    reaches: each handler answers its errors itself."""

    def __init__(self, handle: Handler) -> None:
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._handle(Request(scope, receive, send))
        await response(scope, receive, send)


async def messages_count_tokens(request: Request) -> Response:
    return await count_tokens(request, _inference_api(request))


RouteT = TypeVar("RouteT", Route, Mount)


def _any_characters(route: RouteT) -> RouteT:
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
    return route


class OpenAIShapedRouting:
    """The /v1 router, with its 404 and 405 answers in OpenAI's error shape
    (Anthropic's under /v1/messages).

    Starlette raises them as ``HTTPException`` for the application's handler, which
    speaks the admin dialect; an OpenAI client expects ``{"error": {...}}`` here."""

    def __init__(self, router: Router) -> None:
        self._router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._router(scope, receive, send)
        except HTTPException as exc:
            if scope["type"] != "http":
                raise
            error = routing_error(
                exc.status_code, scope["method"], scope["path"], dict(exc.headers or {})
            )
            # Anthropic's clients get Anthropic's shape on the Messages API's paths.
            render = messages_error_response if is_messages_path(scope["path"]) else error_response
            await render(error, response_headers(new_request_id()))(scope, receive, send)
