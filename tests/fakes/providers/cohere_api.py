"""Cohere: the v2 Chat API (JSON and typed SSE events) and embed v1/v2.

litellm 1.109.1 posts to ``api_base`` exactly as given, appending nothing: for
``cohere_chat/<model>`` and ``cohere/<model>`` chat it defaults to
https://api.cohere.com/v2/chat (v2 body: OpenAI-like ``messages``), so pass
``api_base=<origin>/v2/chat``; ``cohere_chat/v1/<model>`` would use the legacy
v1 chat, which this fake does not serve. ``aembedding`` defaults to
https://api.cohere.ai/v2/embed, so pass ``api_base=<origin>/v2/embed``; it sends
``texts``, ``input_type: search_document`` and ``embedding_types`` only when
``encoding_format`` was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.providers.base import Endpoint, FamilyRouter, Prompt, StreamPlan, Turn
from tests.fakes.providers.listing import (
    entries_for,
    offset_token,
    page_of,
    script_for,
    scripted_answer,
)
from tests.fakes.providers.scripting import Family
from tests.fakes.providers.wire import (
    count_tokens,
    dicts,
    dimensions_of,
    json_response,
    last_user_text,
    reason,
    sse,
    text_of,
    vector,
)


class CohereRouter(FamilyRouter):
    family: Family = "cohere"
    models: Sequence[str] = ("command-r-plus", "embed-english-v3.0")

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.list_models),
            Route("/v2/chat", self.chat, methods=["POST"]),
            self.post("/v2/embed", Endpoint(prompt=embed_prompt, respond=self.embed_v2_json)),
            self.post("/v1/embed", Endpoint(prompt=embed_prompt, respond=self.embed_v1_json)),
        ]

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        script = script_for(self, request)
        if (scripted := await scripted_answer(self, script)) is not None:
            return scripted
        defaults = [
            {
                "name": model,
                "endpoints": ["embed"] if model.startswith("embed") else ["chat", "generate"],
                "finetuned": False,
                "context_length": 128_000,
                "features": None if model.startswith("embed") else ["tools", "json_schema"],
            }
            for model in self.models
        ]
        entries = entries_for(script, defaults)
        # page_size (default 20) and page_token; next_page_token is null on the last page.
        start = offset_token(request.query_params.get("page_token"))
        query = request.query_params.get("page_size")
        data, following = page_of(entries, start, query, 20, script)
        token = f"page-{following}" if following is not None else None
        return JSONResponse({"models": data, "next_page_token": token})

    def validate(self, request: Request, body: Mapping[str, Any]) -> Response | None:
        if not isinstance(body.get("model"), str):
            return self.error(400, "invalid request: model must be a string", None)
        return None

    # -- chat ------------------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        """Streams are SSE for ``Accept: text/event-stream``, else one JSON object per line.

        Cohere's SDKs ask for SSE; a plain ``Accept: application/json`` (what litellm
        sends) gets newline-delimited JSON, as captured from the real API with curl.
        """
        sse_wanted = "text/event-stream" in request.headers.get("accept", "")
        stream = self.chat_sse if sse_wanted else self.chat_ndjson
        endpoint = Endpoint(prompt=chat_prompt, respond=self.chat_json, stream=stream)
        return await self.serve(request, endpoint)

    def chat_json(self, turn: Turn) -> dict[str, Any]:
        message = {"role": "assistant", "content": [{"type": "text", "text": turn.reply}]}
        body: dict[str, Any] = {"id": turn.id, "message": message, "finish_reason": "COMPLETE"}
        if turn.with_usage:
            body["usage"] = _usage(turn)
        return body

    def chat_ndjson(self, turn: Turn) -> StreamPlan:
        plan = self.chat_sse(turn)
        head, deltas, tail = (
            [_sse_to_line(event) for event in part] for part in (plan.head, plan.deltas, plan.tail)
        )
        return StreamPlan(head, deltas, tail, media_type="application/stream+json")

    def chat_sse(self, turn: Turn) -> StreamPlan:
        opening = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}
        head = [
            _event("message-start", {"id": turn.id, "delta": {"message": opening}}),
            _event(
                "content-start",
                {"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
            ),
        ]
        deltas = [
            _event("content-delta", {"index": 0, "delta": {"message": {"content": {"text": p}}}})
            for p in turn.pieces()
        ]
        finish: dict[str, Any] = {"finish_reason": "COMPLETE"}
        if turn.with_usage:
            finish["usage"] = _usage(turn)
        tail = [
            _event("content-end", {"index": 0}),
            _event("message-end", {"delta": finish}),
        ]
        return StreamPlan(head, deltas, tail)

    # -- embeddings ----------------------------------------------------------------------

    def embed_v2_json(self, turn: Turn) -> dict[str, Any]:
        types = turn.body.get("embedding_types") or ["float"]
        dimensions = dimensions_of(turn.body, "output_dimension")
        floats = [vector(text, dimensions) for text in turn.prompt.inputs]
        embeddings = {kind: _as_type(kind, floats) for kind in types if isinstance(kind, str)}
        return self._embed(turn, embeddings, "embeddings_by_type", version="2")

    def embed_v1_json(self, turn: Turn) -> dict[str, Any]:
        floats = [vector(text) for text in turn.prompt.inputs]
        return self._embed(turn, floats, "embeddings_floats", version="1")

    def _embed(self, turn: Turn, embeddings: Any, kind: str, version: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"api_version": {"version": version}}
        if turn.with_usage:
            meta["billed_units"] = {"input_tokens": turn.prompt_tokens}
        return {
            "id": turn.id,
            "embeddings": embeddings,
            "texts": list(turn.prompt.inputs),
            "meta": meta,
            "response_type": kind,
        }

    # -- errors ----------------------------------------------------------------------------

    def rejected(self, key: str) -> Response:
        return self.error(401, "invalid api token", None)

    def missing_key(self) -> Response:
        return self.error(401, "no api key supplied", None)

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        return json_response(status, {"message": message or reason(status)}, retry_after)


def chat_prompt(body: Mapping[str, Any]) -> Prompt:
    messages = dicts(body.get("messages"))
    tokens = sum(count_tokens(text_of(message.get("content"))) for message in messages)
    return Prompt(last_user_text(messages, ("user",)), tokens)


def embed_prompt(body: Mapping[str, Any]) -> Prompt:
    texts = body.get("texts")
    inputs = tuple(t for t in texts if isinstance(t, str)) if isinstance(texts, list) else ()
    return Prompt("", sum(count_tokens(text) for text in inputs), inputs)


def _usage(turn: Turn) -> dict[str, Any]:
    tokens = {"input_tokens": turn.prompt_tokens, "output_tokens": turn.completion_tokens}
    return {"billed_units": dict(tokens), "tokens": tokens}


def _as_type(kind: str, floats: list[list[float]]) -> list[list[float]] | list[list[int]]:
    # Quantized types only need the right JSON shape (ints), not Cohere's exact values.
    if kind == "float":
        return floats
    return [[round(value * 127) for value in row] for row in floats]


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return sse({"type": kind, **payload}, event=kind)


def _sse_to_line(event: bytes) -> bytes:
    """``event: x\ndata: {...}\n\n`` to ``{...}\n``."""
    data = next(line for line in event.split(b"\n") if line.startswith(b"data: "))
    return data.removeprefix(b"data: ") + b"\n"
