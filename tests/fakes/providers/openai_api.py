"""OpenAI and the OpenAI-compatible providers (Groq, Together, Mistral, vLLM…).

litellm 1.109.1 calls, with ``api_base=<origin>/v1`` (the OpenAI SDK underneath
for ``openai/``, its own httpx client for ``groq/``, ``mistral/``, ``together_ai/``):
POST /v1/chat/completions, POST /v1/completions (``atext_completion``),
POST /v1/embeddings; and, for ``openai/`` through ``litellm.aresponses``, OpenAI's
own Responses API, POST /v1/responses (``responses_wire``). Chat follows the fakes'
tool rule (``responses_wire.planned_tool``) too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.providers.base import Endpoint, FamilyRouter, Prompt, StreamPlan, Turn
from tests.fakes.providers.listing import entries_for, script_for, scripted_answer
from tests.fakes.providers.responses_wire import (
    planned_tool,
    response_object,
    response_stream,
    responses_prompt,
    responses_usage,
)
from tests.fakes.providers.scripting import Family, ModelBehaviour
from tests.fakes.providers.wire import (
    base64_vector,
    count_tokens,
    dicts,
    dimensions_of,
    json_response,
    last_user_text,
    mask,
    sse,
    text_of,
    vector,
)

DONE = b"data: [DONE]\n\n"


class OpenAIRouter(FamilyRouter):
    family: Family = "openai"
    models: Sequence[str] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
    id_prefix = "chatcmpl-"

    def routes(self) -> list[Route]:
        return [Route("/v1/models", self.list_models), *self.inference_routes("/v1")]

    def inference_routes(self, prefix: str) -> list[Route]:
        return [
            self.post(f"{prefix}/chat/completions", self.chat_endpoint()),
            self.post(f"{prefix}/completions", self.completions_endpoint()),
            self.post(f"{prefix}/embeddings", self.embeddings_endpoint()),
            self.post(f"{prefix}/responses", self.responses_endpoint()),
        ]

    async def list_models(self, request: Request) -> Response:
        if (refusal := await self.gate.admit(request, self)) is not None:
            return refusal
        script = script_for(self, request)
        if (scripted := await scripted_answer(self, script)) is not None:
            return scripted
        defaults = [
            {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}
            for model in self.models
        ]
        data = entries_for(script, defaults)
        # Together AI answers a bare array; the others an OpenAI list object. None pages.
        return JSONResponse(data if script.bare_array else {"object": "list", "data": data})

    def validate(self, request: Request, body: Mapping[str, Any]) -> Response | None:
        if not isinstance(body.get("model"), str):
            return self.error(400, "you must provide a model parameter", None)
        return None

    # -- chat ------------------------------------------------------------------------

    def chat_endpoint(self) -> Endpoint:
        return Endpoint(prompt=chat_prompt, respond=self.chat_json, stream=self.chat_stream)

    def chat_json(self, turn: Turn) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": turn.reply, "refusal": None}
        message["annotations"] = []
        finish = "stop"
        if (call := chat_tool_call(turn)) is not None:
            message["content"], message["tool_calls"], finish = None, [call], "tool_calls"
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        body = self.envelope(turn, "chat.completion", [choice])
        if turn.with_usage:
            body["usage"] = self.usage(turn)
        return body

    def chat_stream(self, turn: Turn) -> StreamPlan:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return self.stream_event(turn, self.envelope(turn, "chat.completion.chunk", [choice]))

        head = [chunk({"role": "assistant", "content": "", "refusal": None})]
        deltas = [chunk({"content": piece}) for piece in turn.pieces()]
        finish = "stop"
        if (call := chat_tool_call(turn)) is not None:
            deltas, finish = [chunk({"tool_calls": [{"index": 0, **call}]})], "tool_calls"
        tail = [chunk({}, finish), *self.usage_events(turn, "chat.completion.chunk"), DONE]
        return StreamPlan(self.stream_preamble() + head, deltas, tail)

    # -- legacy text completions -------------------------------------------------------

    def completions_endpoint(self) -> Endpoint:
        return Endpoint(
            prompt=completion_prompt, respond=self.completion_json, stream=self.completion_stream
        )

    def completion_json(self, turn: Turn) -> dict[str, Any]:
        choice = {"text": turn.reply, "index": 0, "logprobs": None, "finish_reason": "stop"}
        body = self.envelope(turn, "text_completion", [choice], prefix="cmpl-")
        if turn.with_usage:
            body["usage"] = self.usage(turn)
        return body

    def completion_stream(self, turn: Turn) -> StreamPlan:
        def chunk(text: str, finish: str | None = None) -> bytes:
            choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
            body = self.envelope(turn, "text_completion", [choice], prefix="cmpl-")
            return self.stream_event(turn, body)

        deltas = [chunk(piece) for piece in turn.pieces()]
        usage = self.usage_events(turn, "text_completion", "cmpl-")
        tail = [chunk("", "stop"), *usage, DONE]
        return StreamPlan(self.stream_preamble(), deltas, tail)

    # -- the Responses API -----------------------------------------------------------------

    def responses_endpoint(self) -> Endpoint:
        return Endpoint(
            prompt=responses_prompt,
            respond=lambda turn: response_object(turn, self.responses_usage),
            stream=lambda turn: response_stream(turn, self.responses_usage),
        )

    def responses_usage(self, turn: Turn) -> dict[str, Any]:
        return responses_usage(turn)

    # -- embeddings ----------------------------------------------------------------------

    def embeddings_endpoint(self) -> Endpoint:
        return Endpoint(prompt=embedding_prompt, respond=self.embeddings_json)

    def embeddings_json(self, turn: Turn) -> dict[str, Any]:
        dimensions = dimensions_of(turn.body)
        as_base64 = turn.body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(turn.prompt.inputs):
            values = vector(text, dimensions)
            embedding = base64_vector(values) if as_base64 else values
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        body: dict[str, Any] = {"object": "list", "data": data, "model": turn.model}
        if turn.with_usage:
            tokens = turn.prompt_tokens
            body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return body

    # -- shapes subclasses adjust --------------------------------------------------------

    def envelope(
        self, turn: Turn, kind: str, choices: list[dict[str, Any]], prefix: str | None = None
    ) -> dict[str, Any]:
        body = {
            "id": (prefix or self.id_prefix) + turn.id,
            "object": kind,
            "created": turn.created,
            "model": turn.model,
            "choices": choices,
            "system_fingerprint": "fp_fake",
        }
        if kind.startswith("chat."):
            # Real chat answers carry it, and litellm's groq/ path reads it unguarded.
            body["service_tier"] = "default"
        return body

    def usage(self, turn: Turn) -> dict[str, Any]:
        prompt, completion = turn.prompt_tokens, turn.completion_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def wants_stream_usage(self, turn: Turn) -> bool:
        options = turn.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    def usage_events(self, turn: Turn, kind: str, prefix: str | None = None) -> list[bytes]:
        """OpenAI's usage chunk: ``choices: []``, only when ``include_usage`` was asked for."""
        if not (turn.with_usage and self.wants_stream_usage(turn)):
            return []
        body = self.envelope(turn, kind, [], prefix)
        body["usage"] = self.usage(turn)
        return [sse(body)]

    def stream_event(self, turn: Turn, body: dict[str, Any]) -> bytes:
        # With include_usage, OpenAI puts "usage": null on every chunk before the last.
        if turn.with_usage and self.wants_stream_usage(turn):
            body["usage"] = None
        return sse(body)

    def stream_preamble(self) -> list[bytes]:
        return []

    # -- errors ----------------------------------------------------------------------------

    def rejected(self, key: str) -> Response:
        return self.error(
            401,
            f"Incorrect API key provided: {mask(key)}. You can find your API key at "
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

    def scripted_error(self, behaviour: ModelBehaviour) -> Response:
        status = behaviour.status or 500
        message, retry_after = behaviour.message, behaviour.retry_after
        return self.error(
            status, message, retry_after, code=behaviour.error_code, param=behaviour.error_param
        )

    def error(
        self,
        status: int,
        message: str | None,
        retry_after: str | None,
        code: str | None = None,
        param: str | None = None,
    ) -> Response:
        default_message, kind, default_code = _OPENAI_ERRORS.get(
            status, ("The request failed.", "invalid_request_error", None)
        )
        body = {
            "error": {
                "message": message or default_message,
                "type": kind,
                "param": param,
                "code": code or default_code,
            }
        }
        return json_response(status, body, retry_after)


def chat_prompt(body: Mapping[str, Any]) -> Prompt:
    """The last user message; after a tool result, "tool said: <result>"."""
    messages = dicts(body.get("messages"))
    tokens = sum(count_tokens(text_of(message.get("content"))) for message in messages)
    if messages and messages[-1].get("role") == "tool":  # the tool rule's second turn
        return Prompt(f"tool said: {text_of(messages[-1].get('content'))}", tokens)
    return Prompt(last_user_text(messages, ("user",)), tokens)


def chat_tool_call(turn: Turn) -> dict[str, Any] | None:
    """The tool call of the fakes' tool rule (``responses_wire``), None for a reply."""
    messages = dicts(turn.body.get("messages"))
    if not messages or messages[-1].get("role") != "user":
        return None
    planned = planned_tool(turn.body.get("tools"), text_of(messages[-1].get("content")))
    if planned is None:
        return None
    name, arguments = planned
    call_id = "call_" + turn.id[:24]
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def completion_prompt(body: Mapping[str, Any]) -> Prompt:
    prompt = body.get("prompt")
    texts = [prompt] if isinstance(prompt, str) else [p for p in prompt or [] if isinstance(p, str)]
    text = texts[-1] if texts else ""
    return Prompt(text, sum(count_tokens(t) for t in texts))


def embedding_prompt(body: Mapping[str, Any]) -> Prompt:
    raw = body.get("input")
    items = raw if isinstance(raw, list) else [raw]
    # Token-id inputs (lists of ints) embed by their repr: deterministic is all that matters.
    inputs = tuple(item if isinstance(item, str) else repr(item) for item in items)
    return Prompt("", sum(count_tokens(text) for text in inputs), inputs)


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
