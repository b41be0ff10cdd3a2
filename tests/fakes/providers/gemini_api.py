"""Gemini (Google AI Studio): generateContent, its SSE stream, and embeddings.

litellm 1.109.1 uses ``api_base`` as the version root: with ``api_base=<origin>/v1beta``
it calls POST /v1beta/models/{model}:generateContent,
POST /v1beta/models/{model}:streamGenerateContent?alt=sse, and for ``aembedding``
POST /v1beta/models/{model}:batchEmbedContents (even for a single input; it never
calls :embedContent, served here anyway). The key travels in ``x-goog-api-key``;
the ``key`` query parameter is accepted too, as Google does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.providers.base import Endpoint, FamilyRouter, Gate, Prompt, StreamPlan, Turn
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
    reason,
    sse,
    text_of,
    vector,
)


class GeminiRouter(FamilyRouter):
    family: Family = "gemini"
    models: Sequence[str] = ("gemini-2.0-flash", "text-embedding-004")

    def __init__(self, gate: Gate, models: Sequence[str] | None = None) -> None:
        super().__init__(gate, models)
        self._methods = self._endpoints()

    def routes(self) -> list[Route]:
        return [
            Route("/v1beta/models", self.list_models),
            Route("/v1beta/models/{target}", self.model_method, methods=["POST"]),
        ]

    def key_of(self, headers: Headers, query: QueryParams) -> str | None:
        return headers.get("x-goog-api-key") or query.get("key")

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        script = script_for(self, request)
        if (scripted := await scripted_answer(self, script)) is not None:
            return scripted
        defaults = [
            {
                "name": f"models/{model}",
                "version": "001",
                "displayName": model,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": (
                    ["embedContent", "countTextTokens"]
                    if "embedding" in model
                    else ["generateContent", "countTokens"]
                ),
            }
            for model in self.models
        ]
        entries = entries_for(script, defaults)
        # pageSize (default 50) and pageToken; no nextPageToken on the last page.
        start = offset_token(request.query_params.get("pageToken"))
        data, following = page_of(entries, start, request.query_params.get("pageSize"), 50, script)
        body: dict[str, Any] = {"models": data} if data else {}
        if following is not None:
            body["nextPageToken"] = f"page-{following}"
        return JSONResponse(body)

    async def model_method(self, request: Request) -> Response:
        """``/models/{model}:{method}``: Google's custom-method URL, one route for all."""
        model, _, method = str(request.path_params["target"]).rpartition(":")
        endpoint = self._methods.get(method)
        if endpoint is None or not model:
            return self.error(404, f"Method {method!r} is not found for models/{model}.", None)
        return await self.serve(request, endpoint)

    def _endpoints(self) -> Mapping[str, Endpoint]:
        generate = Endpoint(prompt=contents_prompt, respond=self.generate_json, model=path_model)
        stream = Endpoint(
            prompt=contents_prompt,
            respond=self.stream_json_array,
            stream=self.stream,
            wants_stream=lambda request, _: request.query_params.get("alt") == "sse",
            model=path_model,
        )
        embed = Endpoint(prompt=embed_prompt, respond=self.embed_json, model=path_model)
        batch = Endpoint(prompt=batch_prompt, respond=self.batch_json, model=path_model)
        return {
            "generateContent": generate,
            "streamGenerateContent": stream,
            "embedContent": embed,
            "batchEmbedContents": batch,
        }

    # -- generation ----------------------------------------------------------------------

    def generate_json(self, turn: Turn) -> dict[str, Any]:
        return self._chunk(turn, turn.reply, finished=True, candidates=turn.completion_tokens)

    def stream(self, turn: Turn) -> StreamPlan:
        deltas: list[bytes] = []
        produced = 0
        for piece in turn.pieces():
            produced += count_tokens(piece)
            deltas.append(_sse(self._chunk(turn, piece, finished=False, candidates=produced)))
        tail = [_sse(self._chunk(turn, "", finished=True, candidates=produced))]
        return StreamPlan([], deltas, tail)

    def stream_json_array(self, turn: Turn) -> list[dict[str, Any]]:
        """Without ``alt=sse``, streamGenerateContent answers one JSON array of chunks."""
        return [self.generate_json(turn)]

    def _chunk(self, turn: Turn, text: str, *, finished: bool, candidates: int) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
        if finished:
            candidate["finishReason"] = "STOP"
        candidate["index"] = 0
        body: dict[str, Any] = {"candidates": [candidate]}
        if turn.with_usage:
            # Like Gemini, every chunk carries usage so far; the last one is the total.
            body["usageMetadata"] = _usage(turn.prompt_tokens, candidates)
        body["modelVersion"] = turn.model
        body["responseId"] = turn.id[:22]
        return body

    # -- embeddings ----------------------------------------------------------------------

    def embed_json(self, turn: Turn) -> dict[str, Any]:
        dimensions = dimensions_of(turn.body, "outputDimensionality")
        return {"embedding": {"values": vector(turn.prompt.inputs[0], dimensions)}}

    def batch_json(self, turn: Turn) -> dict[str, Any]:
        requests = dicts(turn.body.get("requests"))
        embeddings = [
            {"values": vector(text, dimensions_of(request, "outputDimensionality"))}
            for text, request in zip(turn.prompt.inputs, requests, strict=True)
        ]
        return {"embeddings": embeddings}

    # -- errors ----------------------------------------------------------------------------

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
        return json_response(400, body, None)

    def missing_key(self) -> Response:
        return self.error(
            403,
            "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call "
            "this API.",
            None,
        )

    def error(self, status: int, message: str | None, retry_after: str | None) -> Response:
        error: dict[str, Any] = {
            "code": status,
            "message": message or reason(status),
            "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
        }
        if retry_after is not None:
            # Google states the delay in the body; the header is for generic clients.
            retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
            error["details"] = [{**retry, "retryDelay": f"{retry_after}s"}]
        return json_response(status, {"error": error}, retry_after)


def path_model(request: Request, body: Mapping[str, Any]) -> str | None:
    model, _, _ = str(request.path_params["target"]).rpartition(":")
    return model or None


def contents_prompt(body: Mapping[str, Any]) -> Prompt:
    """Echo the last text part of the last user turn.

    litellm folds the system message into the first user turn as an extra part for
    models it thinks lack system instructions, so whole turns would echo it too.
    """
    contents = dicts(body.get("contents"))
    system = body.get("systemInstruction") or body.get("system_instruction")
    parts = dicts(system.get("parts")) if isinstance(system, dict) else []
    last = ""
    for content in contents:
        # An image part (inline_data) has no text: the last part that has some counts.
        texts = [text for part in dicts(content.get("parts")) if (text := text_of([part]))]
        parts += dicts(content.get("parts"))
        if content.get("role", "user") == "user" and texts:
            last = texts[-1]
    return Prompt(last, sum(count_tokens(text_of([part])) for part in parts))


def embed_prompt(body: Mapping[str, Any]) -> Prompt:
    content = body.get("content")
    text = text_of(content.get("parts")) if isinstance(content, dict) else ""
    return Prompt("", count_tokens(text), (text,))


def batch_prompt(body: Mapping[str, Any]) -> Prompt:
    inputs = tuple(embed_prompt(request).inputs[0] for request in dicts(body.get("requests")))
    return Prompt("", sum(count_tokens(text) for text in inputs), inputs)


def _usage(prompt_tokens: int, candidate_tokens: int) -> dict[str, Any]:
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidate_tokens,
        "totalTokenCount": prompt_tokens + candidate_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }


def _sse(body: dict[str, Any]) -> bytes:
    # Google frames its SSE events with CRLF pairs.
    return sse(body, end="\r\n\r\n")


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
