"""Anthropic's Messages API (``/v1/messages``) on every engine.

The embedded engine calls ``litellm.anthropic.messages.acreate``: Anthropic targets
are passed through natively, every other family is bridged to its chat API by
LiteLLM. For ``openai/…`` the bridge would call the upstream's ``/v1/responses``
(404 on chat-only servers, most OpenAI-compatible ones), so the engine sets
``litellm.use_chat_completions_url_for_anthropic_messages``, as the LiteLLM proxy
config does (``routing.litellm_config``): every family goes through its chat API.

What LiteLLM hands back: a ``message`` dict for JSON, and for a stream an async
iterator of SSE *bytes* (``event: …\\ndata: …\\n\\n``). The bridge yields one event
per item; the native pass-through yields the upstream's network reads, which may
hold several events or part of one. ``SseBytes`` reassembles them into event dicts,
which is what the engine contract streams.

The remote engine posts to the proxy's ``/v1/messages`` and the OpenRouter engine to
OpenRouter's own ``{base}/messages``; both bodies are built here (``messages_body``):
no ``stream_options`` (an OpenAI field), the target's model, the deployment's key.
The mock provider answers in Anthropic's shape (``mock_message``, ``mock_events``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from tollway.engine.base import EngineCall, EngineError, EngineResult, EngineStream, TokenUsage
from tollway.engine.http_common import call_timeout
from tollway.engine.litellm_clients import LiteLLMOutbound
from tollway.engine.litellm_errors import clean_message, map_litellm_error
from tollway.engine.mock import ListStream, estimate_tokens
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.request_body import litellm_request, request_body
from tollway.engine.wire import bare_model, upstream_error
from tollway.providers.families import upstream_family

if TYPE_CHECKING:  # the bridge reads this module's helpers; the engine wires it in
    from tollway.engine.messages_bridge import MessagesBridge

# Clients call the Messages API with these; the engine owns them.
_ENGINE_OWNED = frozenset({"model", "stream"})


def is_error_event(event: Mapping[str, Any]) -> bool:
    """Anthropic reports a failure inside a stream as ``{"type": "error", "error": {…}}``."""
    return event.get("type") == "error"


def error_text(event: Mapping[str, Any]) -> str:
    error = event.get("error")
    message = error.get("message") if isinstance(error, Mapping) else None
    return message if isinstance(message, str) and message else "error event"


# -- bodies --------------------------------------------------------------------------------


def messages_body(call: EngineCall, model: str, *, stream: bool) -> dict[str, Any]:
    """The client's Messages body for ``model`` (no OpenAI ``stream_options``)."""
    body = request_body(call, model, stream=False, dropped=_ENGINE_OWNED.__contains__)
    if stream:
        body["stream"] = True
    return body


def litellm_messages_body(
    call: EngineCall, *, stream: bool, reserved: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], str | None]:
    """The body LiteLLM gets (``request_body.litellm_request``'s rules), without the
    ``stream_options`` it would add for an OpenAI stream."""
    body, secret = litellm_request(call, stream=False, reserved=reserved)
    body.pop("allowed_openai_params", None)
    if stream:
        body["stream"] = True
    body.update(client_extras(call))
    return body, secret


def client_user_id(body: Mapping[str, Any]) -> str | None:
    """Anthropic's ``metadata.user_id``, when the client sent one."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    return user_id if isinstance(user_id, str) and user_id else None


def client_extras(call: EngineCall) -> dict[str, Any]:
    """What LiteLLM gets of the client's ``metadata`` and beta header, as its own arguments.

    Of ``metadata`` only a string ``user_id``, rebuilt: LiteLLM reads a ``metadata``
    argument as its own (logging, tags, routing hints), so the client's object never
    reaches it as sent (``request_body.LITELLM_RESERVED_KEYS``). An Anthropic target
    gets it natively with ``upstream_headers`` (``anthropic-beta``) as extra headers.
    LiteLLM's bridge maps ``user_id`` to OpenAI's ``user`` (let through where the
    family keeps ``user``) and has no place for a beta header: it would send it to a
    provider that does not know it, so it is not given one.
    """
    extras: dict[str, Any] = {}
    user_id = client_user_id(call.body)
    if user_id is not None:
        extras["metadata"] = {"user_id": user_id}
    family = upstream_family(call.target.upstream_model)
    if family is not None and family.speaks_anthropic_wire:
        if call.upstream_headers:
            extras["extra_headers"] = dict(call.upstream_headers)
    elif user_id is not None and family is not None and family.keeps_user:
        extras["allowed_openai_params"] = ["user"]
    return extras


# -- the embedded engine -------------------------------------------------------------------


class EmbeddedMessages:
    """The embedded engine's Messages calls, through LiteLLM's Anthropic interface, or
    ``bridge`` (LiteLLM's adapter around the engine's chat path) where it translates."""

    def __init__(
        self,
        litellm: ModuleType,
        outbound: LiteLLMOutbound,
        reserved: frozenset[str],
        bridge: MessagesBridge | None = None,
    ) -> None:
        self._bridge = bridge
        module: Any = litellm
        # Chat completions for openai/… too (see the module docstring).
        module.use_chat_completions_url_for_anthropic_messages = True
        self._litellm = litellm
        self._outbound = outbound
        self._reserved = reserved

    async def call(self, call: EngineCall) -> EngineResult:
        if call.target.mock:
            return mock_message_result(call)
        bridged = self._bridge.translate(call, stream=False) if self._bridge else None
        if self._bridge is not None and bridged is not None:
            return await self._bridge.call(call, bridged)
        kwargs, secret = self._kwargs(call, stream=False)
        try:
            with self._outbound.active():
                response = await self._litellm.anthropic.messages.acreate(**kwargs)
        except Exception as exc:
            raise map_litellm_error(exc, self._litellm, secret) from None
        body = message_dict(response)
        return EngineResult(body=body)

    async def open_stream(self, call: EngineCall) -> EngineStream:
        if call.target.mock:
            return ListStream(mock_events(call))
        bridged = self._bridge.translate(call, stream=True) if self._bridge else None
        if self._bridge is not None and bridged is not None:
            return await self._bridge.open_stream(call, bridged)
        kwargs, secret = self._kwargs(call, stream=True)
        try:
            with self._outbound.active():
                upstream = await self._litellm.anthropic.messages.acreate(**kwargs)
        except Exception as exc:
            raise map_litellm_error(exc, self._litellm, secret) from None
        stream = LiteLLMEventStream(upstream, self._litellm, secret, self._outbound)
        await stream.receive_first()
        return stream

    def _kwargs(self, call: EngineCall, *, stream: bool) -> tuple[dict[str, Any], str | None]:
        body, secret = litellm_messages_body(call, stream=stream, reserved=self._reserved)
        body.update(timeout=call_timeout(call.target.timeout_seconds), num_retries=0, max_retries=0)
        return body, secret


def message_dict(response: Any) -> dict[str, Any]:
    """LiteLLM's ``message`` (a dict, or a model) as a plain dict, minus its extras."""
    raw = response.model_dump() if hasattr(response, "model_dump") else dict(response)
    raw.pop("provider_specific_fields", None)
    if raw.get("stop_details", 0) is None:  # LiteLLM's bridge adds it; Anthropic has none
        del raw["stop_details"]
    return raw


class SseBytes:
    """Anthropic SSE bytes, in pieces of any size, as event dicts."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, piece: bytes | str) -> list[dict[str, Any]]:
        data = piece.encode() if isinstance(piece, str) else piece
        # Joined first: a CRLF may be cut between two pieces.
        self._buffer = (self._buffer + data).replace(b"\r\n", b"\n")
        events: list[dict[str, Any]] = []
        while b"\n\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            if (event := _event_of(block)) is not None:
                events.append(event)
        return events

    def finish(self) -> list[dict[str, Any]]:
        block, self._buffer = self._buffer, b""
        event = _event_of(block)
        return [event] if event is not None else []


def _event_of(block: bytes) -> dict[str, Any] | None:
    lines = [
        line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")
    ]
    if not lines:
        return None
    payload = b"\n".join(lines)
    if payload.strip() == b"[DONE]":
        return None
    event = orjson.loads(payload)
    return event if isinstance(event, dict) else None


class LiteLLMEventStream(PrefetchingStream[dict[str, Any]]):
    """LiteLLM's Messages stream (SSE bytes) as event dicts."""

    ended_before_first = "the provider ended the stream before any event"

    def __init__(
        self, upstream: Any, litellm: ModuleType, secret: str | None, outbound: LiteLLMOutbound
    ) -> None:
        super().__init__()
        self._upstream = upstream
        self._reads = upstream.__aiter__()
        self._litellm = litellm
        self._secret = secret
        self._outbound = outbound
        self._parser = SseBytes()
        self._ready: list[dict[str, Any]] = []
        self._ended = False

    async def _pull(self) -> dict[str, Any]:
        while not self._ready:
            if self._ended:
                raise StopAsyncIteration
            try:
                with self._outbound.active():
                    piece = await self._reads.__anext__()
            except StopAsyncIteration:
                self._ended = True
                self._ready.extend(self._parser.finish())
                continue
            if isinstance(piece, Mapping):  # some routes hand out dicts already
                self._ready.append(dict(piece))
            else:
                self._ready.extend(self._parser.feed(piece))
        return self._ready.pop(0)

    def _convert(self, raw: dict[str, Any]) -> dict[str, Any]:
        return raw

    def _error_before_first(self, exc: Exception) -> EngineError:
        return map_litellm_error(exc, self._litellm, self._secret)

    def _interruption(self, exc: Exception) -> str:
        return clean_message(exc, self._secret)

    def _failed_first(self, item: dict[str, Any]) -> EngineError | None:
        return upstream_error(502, error_text(item)) if is_error_event(item) else None

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return error_text(item) if is_error_event(item) else None

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):
            await self._upstream.aclose()


# -- the mock provider ---------------------------------------------------------------------


def _last_user_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text") for b in content if isinstance(b, Mapping)]
        return " ".join(p for p in parts if isinstance(p, str)).strip()
    return ""


def mock_message_usage(call: EngineCall, reply: str) -> TokenUsage:
    body = call.body
    messages = body.get("messages")
    texts = [_text_of(body.get("system"))]
    texts += [_text_of(m.get("content")) for m in messages or [] if isinstance(m, Mapping)]
    prompt = sum(3 + estimate_tokens(text) for text in texts)
    completion = estimate_tokens(reply)
    return TokenUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def mock_message(call: EngineCall) -> dict[str, Any]:
    """The mock provider's answer: the last user message echoed, as a ``message``."""
    reply = _last_user_text(call.body)
    usage = mock_message_usage(call, reply)
    return {
        "id": f"msg_mock_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": bare_model(call.target.upstream_model),
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens},
    }


def mock_message_result(call: EngineCall) -> EngineResult:
    return EngineResult(body=mock_message(call))


def mock_events(call: EngineCall) -> list[dict[str, Any]]:
    """``mock_message`` as Anthropic's event stream, one delta per word."""
    message = mock_message(call)
    reply = message["content"][0]["text"]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": usage["input_tokens"], "output_tokens": 1}
    words = reply.split(" ") if reply else [""]
    deltas = [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": word if i == 0 else " " + word},
        }
        for i, word in enumerate(words)
    ]
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *deltas,
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
