"""Anthropic's Messages API: ``POST /v1/messages`` and ``/v1/messages/count_tokens``.

Keys come as ``x-api-key`` (the anthropic SDK's way) or a bearer token;
``anthropic-version`` is accepted, not required (the engine sends its own to
Anthropic); ``anthropic-beta`` is passed on (``upstream_headers``) and reaches
Anthropic-family upstreams, where beta features live. Errors are ``{"type": "error", "error":
{"type", "message"}}`` with Anthropic's error type for the status, every /v1
header kept, and ``request-id`` (the SDK's request id) equal to
``x-tollway-request-id``. Streams are ``event: <type>`` / ``data: <json>``
pairs; a failure after the first event is an ``error`` event, then the end.

``count_tokens`` answers a realistic local count (``engine.token_count``: the
prompt's text through LiteLLM's bundled tokenizer), not a provider's: it is free,
needs no upstream call, no quota and no deployment choice, and is the same
whatever provider would serve the model. Agents compact a conversation on it, so
it is not tollway's admission bound (UTF-8 bytes, ~4x too many). LiteLLM's
``acount_tokens`` would call Anthropic's API with a provider key (a call tollway
would have to route, meter and fall back).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from tollway.api.inference.dialect import Exchange, bearer_token
from tollway.api.inference.messages_validation import parse_messages_body
from tollway.api.inference.parsing import ParsedBody, read_body
from tollway.api.inference.response_headers import response_headers
from tollway.api.inference.streaming import SHUTDOWN_MESSAGE, typed_sse
from tollway.domain.v1_errors import internal_error, model_not_found
from tollway.engine.base import Endpoint, StreamInterrupted
from tollway.engine.token_count import count_messages_tokens
from tollway.errors import InferenceError

if TYPE_CHECKING:
    from tollway.api.inference.routes import InferenceApi

log = logging.getLogger(__name__)


# Anthropic's error type for each status; tollway's own statuses keep their number.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": anthropic_error_type(status), "message": message}}


def messages_error_response(
    error: InferenceError, headers: Mapping[str, str] | None = None
) -> Response:
    """The error in Anthropic's shape, with its own headers and the response's."""
    merged = {**error.headers, **(headers or {})}
    return Response(
        orjson.dumps(anthropic_error_body(error.status_code, error.message)),
        status_code=error.status_code,
        media_type="application/json",
        headers=merged,
    )


def is_messages_path(path: str) -> bool:
    """Whether a /v1 path belongs to the Messages API (its errors in Anthropic's shape)."""
    return path.rstrip("/") == "/v1/messages" or path.startswith("/v1/messages/")


async def message_events(
    stream: AsyncIterable[dict[str, Any]], *, model: str
) -> AsyncIterator[bytes]:
    """The upstream's events as the client sees them: the public model name in
    ``message_start``; an interruption as Anthropic's ``error`` event."""
    try:
        async for event in stream:
            message = event.get("message")
            if event.get("type") == "message_start" and isinstance(message, dict):
                message["model"] = model
            yield typed_sse(event)
    except StreamInterrupted as exc:
        yield typed_sse(anthropic_error_body(500, exc.message))


def messages_credential(request: Request) -> str | None:
    """``x-api-key`` (the anthropic SDK's header) when sent, else a bearer token."""
    key = request.headers.get("x-api-key")
    if key is None:
        return bearer_token(request.headers.get("authorization"))
    return key.strip() or None


def anthropic_beta(request: Request) -> dict[str, str]:
    """``anthropic-beta`` as the upstream should get it: every value the client sent,
    comma-joined (the header is a comma-separated list), or nothing."""
    values = [v.strip() for v in request.headers.getlist("anthropic-beta")]
    joined = ",".join(v for v in values if v)
    return {"anthropic-beta": joined} if joined.isprintable() and joined else {}


class MessagesDialect:
    @property
    def endpoint(self) -> Endpoint:
        return Endpoint.MESSAGES

    def credential(self, request: Request) -> str | None:
        return messages_credential(request)

    def upstream_headers(self, request: Request) -> dict[str, str]:
        return anthropic_beta(request)

    def parse(self, raw: bytes) -> ParsedBody:
        return parse_messages_body(raw)

    async def prepare(self, api: InferenceApi, exchange: Exchange) -> ParsedBody:
        return exchange.parsed

    async def answer(
        self, api: InferenceApi, exchange: Exchange, body: dict[str, Any]
    ) -> dict[str, Any]:
        body["model"] = exchange.parsed.model
        return body

    def events(
        self, api: InferenceApi, exchange: Exchange, stream: AsyncIterable[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        return message_events(stream, model=exchange.parsed.model)

    def error_response(self, error: InferenceError, headers: Mapping[str, str]) -> Response:
        return messages_error_response(error, headers)

    def shutdown_event(self, events_sent: int) -> bytes:
        # 503's type (overloaded_error): the SDK reads it as "try again", which it is.
        return typed_sse(anthropic_error_body(503, SHUTDOWN_MESSAGE))


async def count_tokens(request: Request, api: InferenceApi) -> Response:
    """``{"input_tokens": N}``: a local count of the prompt (see the module docstring)."""
    request_id = uuid.uuid4().hex
    headers = response_headers(request_id)
    try:
        caller = api.service.authenticate(messages_credential(request))
        parsed = parse_messages_body(
            await read_body(request, api.max_body_bytes), needs_max_tokens=False
        )
        if parsed.model not in api.service.visible_models(caller):
            raise model_not_found(parsed.model)
        # CPU work (a tokenizer over the whole prompt): off the event loop.
        tokens = await anyio.to_thread.run_sync(count_messages_tokens, parsed.body)
    except InferenceError as error:
        return messages_error_response(error, headers)
    except Exception as exc:  # never a stack trace or library text to the client
        log.error("unexpected error on count_tokens: %s", type(exc).__name__, exc_info=exc)
        return messages_error_response(internal_error(), headers)
    return Response(
        orjson.dumps({"input_tokens": tokens}), media_type="application/json", headers=headers
    )
