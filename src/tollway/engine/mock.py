"""The built-in mock provider: echoes the last user message, with believable usage.

The embedded engine answers mock targets through LiteLLM's own ``mock_response``
and only borrows the reply text and the usage accounting from here. The remote
engine answers them entirely here: LiteLLM 1.109.1's proxy strips a client's
``mock_response`` unless a virtual key's metadata allows it (which needs its
database), and a mock must never reach a network anyway.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from tollway.engine.base import Endpoint, EngineCall, EngineResult, TokenUsage
from tollway.engine.wire import bare_model, usage_from

CHUNK_WORDS = 1


def estimate_tokens(text: str) -> int:
    """About four characters per token: close enough to tiktoken for English, and free."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def mock_reply(call: EngineCall) -> str:
    """What the mock provider says: the last user message (or the prompt) echoed back."""
    body = call.body
    if call.endpoint is Endpoint.CHAT:
        for message in reversed(body.get("messages") or []):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""
    prompt = body.get("prompt", "")
    return " ".join(map(str, prompt)) if isinstance(prompt, list) else str(prompt)


def mock_usage(call: EngineCall, reply: str) -> TokenUsage:
    body = call.body
    if call.endpoint is Endpoint.CHAT:
        messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
        # OpenAI's accounting: ~3 tokens of framing per message, 3 to prime the reply.
        prompt = sum(3 + estimate_tokens(_content_text(m.get("content"))) for m in messages) + 3
    elif call.endpoint is Endpoint.EMBEDDINGS:
        prompt = sum(estimate_tokens(text) for text in embedding_inputs(body))
    else:
        prompt = estimate_tokens(mock_reply(call))
    completion = 0 if call.endpoint is Endpoint.EMBEDDINGS else estimate_tokens(reply)
    return TokenUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def usage_dict(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def embedding_inputs(body: Mapping[str, Any]) -> list[str]:
    raw = body.get("input", "")
    items = raw if isinstance(raw, list) else [raw]
    return [str(item) for item in items]


def mock_embeddings(call: EngineCall, model: str) -> dict[str, Any]:
    """A deterministic 8-dimension vector per input (LiteLLM's embedding mock answers one
    vector whatever the number of inputs, so this one is built here)."""
    inputs = embedding_inputs(call.body)
    data = [
        {"object": "embedding", "index": i, "embedding": _pseudo_vector(text)}
        for i, text in enumerate(inputs)
    ]
    usage = mock_usage(call, "")
    return {"object": "list", "data": data, "model": model, "usage": usage_dict(usage)}


def mock_result(call: EngineCall) -> EngineResult:
    """A complete mock answer for any endpoint, built in-process."""
    model = bare_model(call.target.upstream_model)
    if call.endpoint is Endpoint.EMBEDDINGS:
        body = mock_embeddings(call, model)
        return EngineResult(body=body, usage=usage_from(body["usage"]))
    reply = mock_reply(call)
    usage = mock_usage(call, reply)
    body = _envelope(call, model, "")
    if call.endpoint is Endpoint.CHAT:
        body["choices"] = [
            {
                "index": 0,
                # refusal and logprobs are required by OpenAI's schema, null when none
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ]
    else:
        body["choices"] = [{"index": 0, "text": reply, "finish_reason": "stop", "logprobs": None}]
    body["usage"] = usage_dict(usage)
    return EngineResult(body=body, usage=usage)


def mock_chunks(call: EngineCall) -> list[dict[str, Any]]:
    """The streamed form of ``mock_result``: one chunk per word, a stop chunk, a usage chunk."""
    model = bare_model(call.target.upstream_model)
    reply = mock_reply(call)
    words = reply.split(" ") if reply else [""]
    chat = call.endpoint is Endpoint.CHAT
    envelope = _envelope(call, model, ".chunk" if chat else "")
    chunks = []
    for index, word in enumerate(words):
        piece = word if index == 0 else " " + word
        if chat:
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        else:
            choice = {"index": 0, "text": piece, "finish_reason": None}
        chunks.append(envelope | {"choices": [choice]})
    stop: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
    if chat:
        stop["delta"] = {}
    else:
        stop["text"] = ""
    chunks.append(envelope | {"choices": [stop]})
    usage = usage_dict(mock_usage(call, reply))
    chunks.append(envelope | {"choices": [], "usage": usage})
    return chunks


class ListStream:
    """An ``EngineStream`` over chunks that are already here."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self._chunks = chunks
        self._given = 0
        self._closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    def ready(self) -> bool:
        return not self._closed and self._given < len(self._chunks)

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for chunk in self._chunks:
            if self._closed:
                return
            self._given += 1
            yield chunk

    async def aclose(self) -> None:
        self._closed = True


def _envelope(call: EngineCall, model: str, suffix: str) -> dict[str, Any]:
    chat = call.endpoint is Endpoint.CHAT
    prefix = "chatcmpl" if chat else "cmpl"
    kind = "chat.completion" + suffix if chat else "text_completion"
    return {
        "id": f"{prefix}-mock-{uuid.uuid4().hex[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }


def _pseudo_vector(text: str) -> list[float]:
    seed = sum((i + 1) * ord(ch) for i, ch in enumerate(text)) or 1
    return [round(((seed * (k + 7919)) % 1000) / 1000.0, 3) for k in range(8)]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, Mapping)
        ).strip()
    return "" if content is None else str(content)
