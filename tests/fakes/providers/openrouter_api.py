"""OpenRouter: OpenAI shapes under /api/v1, plus ``usage.cost`` and its own error envelope.

litellm 1.109.1 with ``api_base=<origin>/api/v1`` calls POST /api/v1/chat/completions
(also for ``atext_completion``: OpenRouter text completions go through chat) and
POST /api/v1/embeddings, always with ``"usage": {"include": true}`` in the body and
``HTTP-Referer: https://litellm.ai`` / ``X-Title: liteLLM`` headers.
POST /api/v1/responses is OpenRouter's native Responses API: ``openrouter/`` in
``litellm.aresponses`` and tollway's fallback call it.

OpenRouter also serves Anthropic's Messages API at POST /api/v1/messages (tollway's
fallback engine calls it for /v1/messages): answered in Anthropic's wire format, JSON
and typed events, with OpenRouter's error envelope.

Every route is also served under /v1, because the key-check adapter's base URL
(``FakeProviderServer.base_url``) is ``<origin>/v1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.providers.anthropic_api import message_json, message_stream, messages_prompt
from tests.fakes.providers.base import Endpoint, Turn
from tests.fakes.providers.listing import entries_for, script_for, scripted_answer
from tests.fakes.providers.openai_api import OpenAIRouter
from tests.fakes.providers.scripting import Family
from tests.fakes.providers.wire import json_response, reason

PREFIXES = ("/v1", "/api/v1")
_MESSAGES = Endpoint(prompt=messages_prompt, respond=message_json, stream=message_stream)

# The fake's prices, in USD per token, so tests can predict ``usage.cost``.
PROMPT_PRICE = 0.000001
COMPLETION_PRICE = 0.000002


def openrouter_cost(prompt_tokens: int, completion_tokens: int) -> float:
    return round(prompt_tokens * PROMPT_PRICE + completion_tokens * COMPLETION_PRICE, 12)


class OpenRouterRouter(OpenAIRouter):
    """``/key`` needs a key, ``/models`` is public."""

    family: Family = "openrouter"
    models: Sequence[str] = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")
    id_prefix = "gen-"

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for prefix in PREFIXES:
            routes += [
                Route(f"{prefix}/key", self.key_info),
                Route(f"{prefix}/models", self.public_models),
                *self.inference_routes(prefix),
                self.post(f"{prefix}/messages", _MESSAGES),
            ]
        return routes

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
        """Public: a key is optional and not checked. Without ``output_modalities=all``
        only models with text output are listed, as OpenRouter does."""
        script = script_for(self, request)
        if (scripted := await scripted_answer(self, script)) is not None:
            return scripted
        defaults = [
            {
                "id": model,
                "name": model,
                "context_length": 128_000,
                "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
                "top_provider": {"context_length": 128_000, "max_completion_tokens": 16_384},
                "supported_parameters": ["max_tokens", "tools", "temperature"],
            }
            for model in self.models
        ]
        data = entries_for(script, defaults)
        if request.query_params.get("output_modalities") != "all":
            data = [entry for entry in data if "text" in _outputs(entry)]
        return JSONResponse({"data": data})

    def envelope(
        self, turn: Turn, kind: str, choices: list[dict[str, Any]], prefix: str | None = None
    ) -> dict[str, Any]:
        body = super().envelope(turn, kind, choices, prefix)
        body["provider"] = "OpenAI"
        return body

    def usage(self, turn: Turn) -> dict[str, Any]:
        # Real OpenRouter adds cost only for "usage": {"include": true}; litellm always
        # asks for it, so the fake always sends it.
        cost = openrouter_cost(turn.prompt_tokens, turn.completion_tokens)
        return {
            **super().usage(turn),
            "cost": cost,
            "is_byok": False,
            "cost_details": {"upstream_inference_cost": None},
        }

    def responses_usage(self, turn: Turn) -> dict[str, Any]:
        cost = openrouter_cost(turn.prompt_tokens, turn.completion_tokens)
        return {**super().responses_usage(turn), "cost": cost}

    def wants_stream_usage(self, turn: Turn) -> bool:
        usage = turn.body.get("usage")
        asked = isinstance(usage, dict) and usage.get("include") is True
        return asked or super().wants_stream_usage(turn)

    def stream_preamble(self) -> list[bytes]:
        # OpenRouter keeps streams alive with SSE comments; clients must skip them.
        return [b": OPENROUTER PROCESSING\n\n"]

    def rejected(self, key: str) -> Response:
        return self.error(401, "User not found.", None)

    def missing_key(self) -> Response:
        return self.error(401, "No auth credentials found", None)

    def error(
        self,
        status: int,
        message: str | None,
        retry_after: str | None,
        code: str | None = None,
        param: str | None = None,
    ) -> Response:
        # OpenRouter's error code is the HTTP status, and it names no param.
        body = {"error": {"message": message or reason(status), "code": status}}
        return json_response(status, body, retry_after)


def _outputs(entry: Mapping[str, Any]) -> list[str]:
    architecture = entry.get("architecture")
    outputs = architecture.get("output_modalities") if isinstance(architecture, dict) else None
    return outputs if isinstance(outputs, list) else ["text"]
