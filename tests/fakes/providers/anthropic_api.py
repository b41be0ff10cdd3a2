"""Anthropic: the Messages API, JSON and its typed SSE event sequence.

litellm 1.109.1 with ``api_base=<origin>`` calls POST /v1/messages (it appends
/v1/messages itself, so an api_base ending in /v1 becomes /v1/v1/messages) with
``x-api-key``, ``anthropic-version: 2023-06-01``, content always as a list of
blocks, ``system`` as a list of text blocks, and ``max_tokens`` filled in from
the model map when the caller gave none (128000 for unknown models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.providers.base import Endpoint, FamilyRouter, Prompt, StreamPlan, Turn
from tests.fakes.providers.listing import entries_for, page_of, script_for, scripted_answer
from tests.fakes.providers.scripting import Family
from tests.fakes.providers.wire import (
    count_tokens,
    dicts,
    json_response,
    last_user_text,
    reason,
    sse,
    text_of,
)


class AnthropicRouter(FamilyRouter):
    family: Family = "anthropic"
    models: Sequence[str] = ("claude-sonnet-4-20250514", "claude-3-5-haiku-20241022")

    def routes(self) -> list[Route]:
        messages = Endpoint(prompt=messages_prompt, respond=self.message_json, stream=self.stream)
        return [Route("/v1/models", self.list_models), self.post("/v1/messages", messages)]

    def key_of(self, headers: Headers, query: QueryParams) -> str | None:
        return headers.get("x-api-key")

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        if "anthropic-version" not in request.headers:
            return self.error(400, "anthropic-version: header is required", None)
        script = script_for(self, request)
        if (scripted := await scripted_answer(self, script)) is not None:
            return scripted
        defaults = [
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2025-01-01T00:00:00Z",
            }
            for model in self.models
        ]
        entries = entries_for(script, defaults)
        # limit (default 20) and after_id, as the real API pages.
        after = request.query_params.get("after_id")
        ids = [entry.get("id") for entry in entries]
        start = ids.index(after) + 1 if after in ids else 0
        query = request.query_params.get("limit")
        data, following = page_of(entries, start, query, 20, script)
        return JSONResponse(
            {
                "data": data,
                "has_more": following is not None,
                "first_id": data[0].get("id") if data else None,
                "last_id": data[-1].get("id") if data else None,
            }
        )

    def validate(self, request: Request, body: Mapping[str, Any]) -> Response | None:
        # The real API's refusals, in its wording, for what a translation could get wrong.
        if "anthropic-version" not in request.headers:
            return self.error(400, "anthropic-version: header is required", None)
        if not isinstance(body.get("model"), str):
            return self.error(400, "model: Field required", None)
        if not isinstance(body.get("max_tokens"), int):
            return self.error(400, "max_tokens: Field required", None)
        return None

    def message_json(self, turn: Turn) -> dict[str, Any]:
        return message_json(turn)

    def stream(self, turn: Turn) -> StreamPlan:
        return message_stream(turn)

    def rejected(self, key: str) -> Response:
        return self.error(401, "invalid x-api-key", None)

    def missing_key(self) -> Response:
        return self.error(401, "x-api-key header is required", None)

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": message or reason(status)}}
        return json_response(status, body, retry_after)


def message_json(turn: Turn) -> dict[str, Any]:
    """A complete ``message`` echoing the turn (also OpenRouter's /messages answer)."""
    body = _message(turn, [{"type": "text", "text": turn.reply}], "end_turn")
    if turn.with_usage:
        body["usage"] = _usage(turn.prompt_tokens, turn.completion_tokens)
    return body


def message_stream(turn: Turn) -> StreamPlan:
    """The same answer as Anthropic's typed event stream."""
    start = _message(turn, [], None)
    if turn.with_usage:
        start["usage"] = _usage(turn.prompt_tokens, 1)
    block = {"type": "text", "text": ""}
    head = [
        _event("message_start", {"message": start}),
        _event("content_block_start", {"index": 0, "content_block": block}),
        _event("ping", {}),
    ]
    deltas = [
        _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
        for p in turn.pieces()
    ]
    finish: dict[str, Any] = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}}
    if turn.with_usage:
        finish["usage"] = {"output_tokens": turn.completion_tokens}
    tail = [
        _event("content_block_stop", {"index": 0}),
        _event("message_delta", finish),
        _event("message_stop", {}),
    ]
    return StreamPlan(head, deltas, tail)


def _message(turn: Turn, content: list[dict[str, Any]], stop: str | None) -> dict[str, Any]:
    return {
        "id": f"msg_{turn.id[:24]}",
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
    }


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def messages_prompt(body: Mapping[str, Any]) -> Prompt:
    messages = dicts(body.get("messages"))
    texts = [text_of(body.get("system"))] + [text_of(m.get("content")) for m in messages]
    return Prompt(last_user_text(messages, ("user",)), sum(count_tokens(t) for t in texts))


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return sse({"type": kind, **payload}, event=kind)


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
