"""OpenAI's own endpoints: Chat Completions, legacy Completions and Embeddings.

Keys come as a bearer token; errors are ``{"error": {...}}``; streams are ``data:``
events of chunks ending in ``data: [DONE]`` (``streaming.client_events``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from tollway.api.inference.dialect import Exchange, bearer_token
from tollway.api.inference.errors import error_response
from tollway.api.inference.parsing import ParsedBody, parse_body
from tollway.api.inference.streaming import client_events, shutdown_event
from tollway.engine.base import Endpoint
from tollway.errors import InferenceError

if TYPE_CHECKING:
    from tollway.api.inference.routes import InferenceApi


class OpenAIDialect:
    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    def credential(self, request: Request) -> str | None:
        return bearer_token(request.headers.get("authorization"))

    def upstream_headers(self, request: Request) -> dict[str, str]:
        return {}

    def parse(self, raw: bytes) -> ParsedBody:
        return parse_body(raw, self._endpoint)

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
        parsed = exchange.parsed
        return client_events(stream, model=parsed.model, wants_usage=parsed.wants_usage)

    def error_response(self, error: InferenceError, headers: Mapping[str, str]) -> Response:
        return error_response(error, headers)

    def shutdown_event(self, events_sent: int) -> bytes:
        return shutdown_event(events_sent)
