"""What every family shares: the key gate, the inference pipeline, scripted streaming.

A family router declares its inference routes as ``Endpoint``s: how to read the
prompt from the body, the complete JSON answer, and the stream as a
``StreamPlan``. ``FamilyRouter.serve`` applies key and model scripting around
them, so each family only writes its wire shapes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.providers.features import features_of
from tests.fakes.providers.scripting import BEHAVIOUR_HEADER, Family, ModelBehaviour
from tests.fakes.providers.wire import (
    bearer,
    count_tokens,
    echoed_credentials,
    new_id,
    split_pieces,
    sse,
)

if TYPE_CHECKING:
    from tests.fakes.providers.server import FakeProviderServer

Handler = Callable[[Request], Awaitable[Response]]


class Gate:
    """Applies the key and model scripts; shared by every route of a server."""

    def __init__(self, server: FakeProviderServer) -> None:
        self.server = server

    async def admit(self, request: Request, router: FamilyRouter) -> Response | None:
        """None to let the route answer normally, else the scripted response."""
        key = router.key_of(request.headers, request.query_params)
        behaviour = self.server.behaviour_for(key)
        if behaviour is None:
            return router.missing_key() if key is None else router.rejected(key)
        if behaviour.kind in ("slow", "hang"):
            await self.server.pause(behaviour.delay)
            if behaviour.kind == "hang":
                return router.error(503, "the fake server stopped", None)
            return None
        if behaviour.kind == "rejected":
            return router.rejected(key or "")
        if behaviour.kind == "status":
            return router.error(behaviour.status, behaviour.message, behaviour.retry_after)
        if behaviour.kind == "echo":
            return router.error(behaviour.status, echoed_credentials(request.headers), None)
        if behaviour.kind == "redirect":
            return _redirect(behaviour.location or "/", behaviour.status)
        return None

    def model_behaviour(self, request: Request, model: str | None) -> ModelBehaviour:
        """The header override if present (ValueError when malformed), else the model script."""
        override = request.headers.get(BEHAVIOUR_HEADER)
        if override is not None:
            return ModelBehaviour.from_header(override)
        return self.server.model_behaviour(model)


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the caller sent, as far as the answer depends on it."""

    text: str  # what the default reply echoes: the last user message
    tokens: int  # prompt tokens, counted by ``count_tokens``
    inputs: tuple[str, ...] = ()  # embedding inputs


@dataclass(frozen=True, slots=True)
class Turn:
    """One admitted inference call, as the family's answer builders see it."""

    model: str
    body: Mapping[str, Any]
    prompt: Prompt
    behaviour: ModelBehaviour
    id: str = field(default_factory=new_id)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def reply(self) -> str:
        return self.behaviour.reply if self.behaviour.reply is not None else self.prompt.text

    @property
    def prompt_tokens(self) -> int:
        return self.prompt.tokens

    @property
    def completion_tokens(self) -> int:
        return self.behaviour.completion_tokens(self.body, count_tokens(self.reply))

    @property
    def with_usage(self) -> bool:
        return self.behaviour.usage

    def pieces(self) -> list[str]:
        return split_pieces(self.reply)


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """A stream as three parts, so scripting can slow or cut it between text deltas."""

    head: Sequence[bytes]  # framing before the first delta (message_start, role chunk…)
    deltas: Sequence[bytes]  # one event per reply piece: what ``reset_after`` counts
    tail: Sequence[bytes]  # finish reason, usage, terminator
    media_type: str = "text/event-stream"


def body_model(request: Request, body: Mapping[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


def body_streams(request: Request, body: Mapping[str, Any]) -> bool:
    return body.get("stream") is True


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One inference route of a family."""

    prompt: Callable[[Mapping[str, Any]], Prompt]
    respond: Callable[[Turn], Any]  # the JSON body of a complete answer
    stream: Callable[[Turn], StreamPlan] | None = None
    wants_stream: Callable[[Request, Mapping[str, Any]], bool] = body_streams
    model: Callable[[Request, Mapping[str, Any]], str | None] = body_model


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
        return bearer(headers)

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        raise NotImplementedError

    def scripted_error(self, behaviour: ModelBehaviour) -> Response:
        """A model script's error (a family whose errors name a code and a param
        shows the script's)."""
        return self.error(behaviour.status or 500, behaviour.message, behaviour.retry_after)

    def rejected(self, key: str) -> Response:
        return self.error(401, None, None)

    def missing_key(self) -> Response:
        return self.error(401, None, None)

    def validate(self, request: Request, body: Mapping[str, Any]) -> Response | None:
        """The family's own 400s for requests its real API refuses; None when fine."""
        return None

    def post(self, path: str, endpoint: Endpoint) -> Route:
        async def handle(request: Request) -> Response:
            return await self.serve(request, endpoint)

        return Route(path, handle, methods=["POST"])

    async def serve(self, request: Request, endpoint: Endpoint) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        body = await _json_object(request)
        if body is None:
            return self.error(400, "The request body is not a JSON object.", None)
        if (invalid := self.validate(request, body)) is not None:
            return invalid
        model = endpoint.model(request, body)
        try:
            behaviour = self.gate.model_behaviour(request, model)
        except ValueError as exc:
            return self.error(400, str(exc), None)
        streaming = endpoint.stream is not None and endpoint.wants_stream(request, body)
        if (scripted := await self._scripted(request, behaviour, streaming)) is not None:
            return scripted
        if refused := behaviour.refused_features & features_of(body, streaming=streaming):
            message = (
                behaviour.message or f"this model does not support {', '.join(sorted(refused))}"
            )
            return self.error(behaviour.refusal_status, message, None)
        if behaviour.counts_calls and behaviour.fails_call(self.gate.server.next_call_index(model)):
            return self.error(behaviour.fail_status, behaviour.message, behaviour.retry_after)
        if behaviour.is_canned:
            return self._canned(request.scope, behaviour, streaming)
        turn = Turn(model or "", body, endpoint.prompt(body), behaviour)
        if endpoint.stream is not None and streaming:
            return self._stream(request.scope, endpoint.stream(turn), behaviour)
        return JSONResponse(endpoint.respond(turn))

    async def _scripted(
        self, request: Request, behaviour: ModelBehaviour, streaming: bool
    ) -> Response | None:
        """What the model script answers before any byte of a normal reply; None: reply."""
        server = self.gate.server
        await server.pause(behaviour.first_byte_delay)
        if behaviour.hangs:
            await server.pause(None)
            return self.error(503, "the fake server stopped", None)
        status = behaviour.status or 500
        if behaviour.raw_body is not None:
            return Response(behaviour.raw_body, status_code=status, media_type="text/html")
        if behaviour.echo_credentials:
            return self.error(status, echoed_credentials(request.headers), None)
        if behaviour.status is not None:
            return self.scripted_error(behaviour)
        if behaviour.redirect_to is not None:
            return _redirect(behaviour.redirect_to, behaviour.redirect_status)
        if behaviour.reset_after_chunks is not None and not streaming:
            return _Reset(server)
        return None

    def _canned(self, scope: Scope, behaviour: ModelBehaviour, streaming: bool) -> Response:
        """The test's exact answer (``ModelBehaviour.canned``)."""
        if streaming and behaviour.canned_chunks is not None:
            events = [c if isinstance(c, bytes) else sse(c) for c in behaviour.canned_chunks]
            tail = [b"data: [DONE]\n\n"] if behaviour.canned_done else []
            return self._stream(scope, StreamPlan([], events, tail), behaviour)
        if behaviour.canned_body is None:
            return self.error(500, "the fake has canned chunks but no canned body", None)
        return JSONResponse(dict(behaviour.canned_body), status_code=behaviour.canned_status)

    def _stream(self, scope: Scope, plan: StreamPlan, behaviour: ModelBehaviour) -> Response:
        chunks = _scripted_chunks(self.gate.server, scope, plan, behaviour)
        return StreamingResponse(
            chunks, media_type=plan.media_type, headers={"cache-control": "no-cache"}
        )


def _redirect(location: str, status: int) -> Response:
    return Response(status_code=status, headers={"location": location})


async def _scripted_chunks(
    server: FakeProviderServer, scope: Scope, plan: StreamPlan, behaviour: ModelBehaviour
) -> AsyncIterator[bytes]:
    for chunk in plan.head:
        yield chunk
    cut = behaviour.reset_after_chunks
    for index, chunk in enumerate(plan.deltas):
        if index == cut:
            await server.reset_connection(scope)
            return
        await server.pause(behaviour.chunk_delay)
        yield chunk
    if cut is not None:  # cut at or past the last delta: the stream still never finishes
        await server.reset_connection(scope)
        return
    await server.pause(behaviour.chunk_delay)
    for chunk in plan.tail:
        yield chunk


class _Reset(Response):
    """Answers nothing: the connection is reset before a status line is sent."""

    def __init__(self, server: FakeProviderServer) -> None:
        super().__init__()
        self._server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._server.reset_connection(scope)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
