"""OpenAI's Responses API (``POST /v1/responses``).

Keys come as a bearer token and errors are OpenAI's ``{"error": {...}}``, as for chat.
Answers are ``response`` objects; streams are typed events (``event: <type>`` then
``data: <json>``), ending with the terminal event and no ``[DONE]``.

The id the client sees is tollway's (``resp_<request id>``), in the JSON body and in
the ``response`` object of every event: the upstream's id means nothing to a client
that may be served by another provider next turn, and ``ResponsesMemory`` keys on
ours. ``model`` is the public name the client asked for.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from tollway.api.inference.dialect import Exchange, bearer_token
from tollway.api.inference.errors import error_response
from tollway.api.inference.parsing import ParsedBody
from tollway.api.inference.responses_validation import parse_responses_body
from tollway.api.inference.streaming import SHUTDOWN_MESSAGE, typed_sse
from tollway.domain.v1_errors import ErrorCode
from tollway.engine.base import Endpoint, StreamInterrupted
from tollway.errors import InferenceError

if TYPE_CHECKING:
    from tollway.api.inference.routes import InferenceApi

log = logging.getLogger(__name__)

COMPLETED = "response.completed"


class ResponsesDialect:
    @property
    def endpoint(self) -> Endpoint:
        return Endpoint.RESPONSES

    def credential(self, request: Request) -> str | None:
        return bearer_token(request.headers.get("authorization"))

    def upstream_headers(self, request: Request) -> dict[str, str]:
        return {}

    def parse(self, raw: bytes) -> ParsedBody:
        return parse_responses_body(raw)

    async def prepare(self, api: InferenceApi, exchange: Exchange) -> ParsedBody:
        parsed = exchange.parsed
        body = await api.responses_memory.expand(exchange.caller, parsed.body)
        return ParsedBody(parsed.model, body, parsed.stream, parsed.wants_usage)

    async def answer(
        self, api: InferenceApi, exchange: Exchange, body: dict[str, Any]
    ) -> dict[str, Any]:
        own_response(body, exchange, api.responses_memory.stores(exchange.client_body))
        await _remember(api, exchange, body)
        return body

    def events(
        self, api: InferenceApi, exchange: Exchange, stream: AsyncIterable[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        return _client_events(api, exchange, stream)

    def error_response(self, error: InferenceError, headers: Mapping[str, str]) -> Response:
        return error_response(error, headers)

    def shutdown_event(self, events_sent: int) -> bytes:
        # Every event went out numbered from 0, so the next number is the count.
        return error_event(ErrorCode.SERVER_SHUTTING_DOWN, SHUTDOWN_MESSAGE, events_sent)


def response_id(exchange: Exchange) -> str:
    return f"resp_{exchange.request_id}"


def own_response(response: dict[str, Any], exchange: Exchange, stored: bool) -> None:
    """The ``response`` object as tollway's: our id, the client's model name, and what
    the client asked of the conversation (the upstream was sent neither: tollway
    stores, and expanded the previous response into the input)."""
    response["id"] = response_id(exchange)
    response["model"] = exchange.parsed.model
    response["previous_response_id"] = exchange.client_body.get("previous_response_id")
    response["store"] = stored


async def _client_events(
    api: InferenceApi, exchange: Exchange, stream: AsyncIterable[dict[str, Any]]
) -> AsyncIterator[bytes]:
    sequence = 0
    stored = api.responses_memory.stores(exchange.client_body)
    try:
        async for event in stream:
            response = event.get("response")
            if isinstance(response, dict):
                own_response(response, exchange, stored)
                if event.get("type") == COMPLETED:
                    # Stored before the client sees the end: its next turn may
                    # continue this one at once.
                    await _remember(api, exchange, response)
            # Ours to number: what the client gets is this sequence, whatever came upstream.
            event["sequence_number"] = sequence
            sequence += 1
            yield typed_sse(event)
    except StreamInterrupted as exc:
        # Too late for another deployment or a fallback: say so in-band, then end.
        yield error_event(ErrorCode.STREAM_INTERRUPTED, exc.message, sequence)
        return


def error_event(code: ErrorCode, message: str, sequence: int) -> bytes:
    """The Responses API's in-stream ``error`` event."""
    return typed_sse(
        {
            "type": "error",
            "code": code.value,
            "message": message,
            "param": None,
            "sequence_number": sequence,
        }
    )


async def _remember(api: InferenceApi, exchange: Exchange, response: Mapping[str, Any]) -> None:
    # The client's body, not the expanded one: its ``store`` and
    # ``previous_response_id`` are what the client asked for.
    request_body = {"model": exchange.parsed.model, **exchange.client_body}
    try:
        await api.responses_memory.remember(exchange.caller, request_body, response)
    except Exception as exc:  # the answer is served and billed; a lost memory must not undo it
        log.error("could not remember a response: %s", type(exc).__name__, exc_info=exc)
