"""OpenAI's Responses API in the engines: ``litellm.aresponses`` in this process, and
the mock provider's answers in the Responses shape.

LiteLLM speaks the Responses API natively to upstreams that have it (``openai/``,
``openrouter/``…) and bridges it to the chat API of the others (``custom_openai/``,
``anthropic/``, ``gemini/``…): the family's ``responses`` route picks which
(providers/families.py). A bridged call skips ``aresponses``: LiteLLM's translations
run around the engine's own chat path (``responses_bridge``). Answers and events pass
as LiteLLM dumps them, corrected by ``responses_conformance`` where that breaks
OpenAI's schema, and never by ``wire.clean_openai``: its "empty extras"
(``annotations: []``…) are required fields of the Responses schema.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
import uuid
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from tollway.engine.base import EngineCall, EngineError, EngineResult, EngineStream
from tollway.engine.http_common import call_timeout
from tollway.engine.litellm_clients import LiteLLMOutbound
from tollway.engine.litellm_errors import clean_message, map_litellm_error
from tollway.engine.mock import ListStream, estimate_tokens
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.request_body import litellm_request
from tollway.engine.responses_bridge import ResponsesBridge
from tollway.engine.responses_conformance import (
    conform_event,
    conform_response,
    error_event_reason,
)
from tollway.engine.wire import bare_model, positive_cost


class EmbeddedResponses:
    """``litellm.aresponses`` for one deployment, retries off, our timeout; a bridged
    route through ``bridge`` when there is one."""

    def __init__(
        self,
        litellm: ModuleType,
        outbound: LiteLLMOutbound,
        reserved: frozenset[str],
        drop_params: bool,
        bridge: ResponsesBridge | None = None,
    ) -> None:
        self._bridge = bridge
        self._litellm = litellm
        self._outbound = outbound
        self._reserved = reserved
        self._drop_params = drop_params
        self._known_streaming: set[str] = set()  # models checked by _streams_natively

    async def call(self, call: EngineCall) -> EngineResult:
        if call.target.mock:
            return mock_response_result(call)
        if self._bridge is not None and self._bridge.bridges(call):
            return await self._bridge.call(call)
        kwargs, secret = self._kwargs(call, stream=False)
        try:
            with self._outbound.active():
                response = await self._litellm.aresponses(**kwargs)
        except Exception as exc:
            raise map_litellm_error(exc, self._litellm, secret) from None
        hidden = getattr(response, "_hidden_params", None) or {}
        return EngineResult(
            body=conform_response(response_dict(response)),
            cost_usd=positive_cost(hidden.get("response_cost")),
        )

    async def open_stream(self, call: EngineCall) -> EngineStream:
        if call.target.mock:
            return ListStream(mock_events(call))
        if self._bridge is not None and self._bridge.bridges(call):
            return await self._bridge.open_stream(call)
        kwargs, secret = self._kwargs(call, stream=True)
        self._streams_natively(kwargs["model"])
        try:
            with self._outbound.active():
                iterator = await self._litellm.aresponses(**kwargs)
        except Exception as exc:
            raise map_litellm_error(exc, self._litellm, secret) from None
        stream = ResponsesStream(iterator, self._litellm, secret, self._outbound)
        await stream.receive_first()
        return stream

    def _kwargs(self, call: EngineCall, *, stream: bool) -> tuple[dict[str, Any], str | None]:
        kwargs, secret = litellm_request(call, stream=stream, reserved=self._reserved)
        # ``aresponses`` forwards only the fields it declares; the client's others (a
        # provider's own knobs) go as ``extra_body``, as the openai SDK would send them.
        extra = {key: kwargs.pop(key) for key in list(call.body) if self._undeclared(key, kwargs)}
        if extra:
            kwargs["extra_body"] = extra
        metadata = call.body.get("metadata")
        if isinstance(metadata, Mapping):
            # The Responses API's own field (validated: at most 16 string values, so no
            # instruction LiteLLM reads can hide in it); LiteLLM's logging gets its own.
            kwargs["metadata"] = dict(metadata)
            kwargs["litellm_metadata"] = {}
        kwargs.update(
            timeout=call_timeout(call.target.timeout_seconds),
            num_retries=0,
            max_retries=0,
            drop_params=self._drop_params,
        )
        return kwargs, secret

    def _streams_natively(self, model: str) -> None:
        """LiteLLM 1.109.1 fakes a native Responses stream for a model its map lacks (a
        new or self-hosted model id): one call without streaming, then events made up
        from the whole answer, so the client waits for all of it. Every upstream tollway
        calls streams, so such a model is registered as streaming natively, once per
        process; a model LiteLLM knows keeps what the map says."""
        if model in self._known_streaming:
            return
        try:
            self._litellm.get_model_info(model=model)
        except Exception:  # unknown to LiteLLM: "not found" is all this can raise
            provider = model.partition("/")[0]
            entry = {
                "litellm_provider": provider,
                "mode": "chat",
                "supports_native_streaming": True,
            }
            self._litellm.register_model({model: entry})
        self._known_streaming.add(model)

    def _undeclared(self, key: str, kwargs: dict[str, Any]) -> bool:
        return key in kwargs and key not in self._declared

    @functools.cached_property
    def _declared(self) -> frozenset[str]:
        return frozenset(inspect.signature(self._litellm.aresponses).parameters)


class ResponsesStream(PrefetchingStream[Any]):
    """LiteLLM's Responses event iterator read as event dicts."""

    ended_before_first = "the provider ended the stream before any event"

    def __init__(
        self, iterator: Any, litellm: ModuleType, secret: str | None, outbound: LiteLLMOutbound
    ) -> None:
        super().__init__()
        self._iterator = iterator
        self._litellm = litellm
        self._secret = secret
        self._outbound = outbound

    async def _pull(self) -> Any:
        with self._outbound.active():
            return await self._iterator.__anext__()

    def _convert(self, raw: Any) -> dict[str, Any]:
        return conform_event(response_dict(raw))

    def _error_before_first(self, exc: Exception) -> EngineError:
        return map_litellm_error(exc, self._litellm, self._secret)

    def _interruption(self, exc: Exception) -> str:
        return clean_message(exc, self._secret)

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return error_event_reason(item, self._secret)

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):
            await self._iterator.aclose()


def response_dict(obj: Any) -> dict[str, Any]:
    """A LiteLLM Responses object or event as plain JSON values (its enums as strings)."""
    if hasattr(obj, "model_dump"):
        data: dict[str, Any] = obj.model_dump(mode="json", exclude_none=False)
        return data
    return dict(obj)


# -- the mock provider -------------------------------------------------------------------


def mock_input_text(body: Mapping[str, Any]) -> str:
    """What the mock says: the last user text of ``input``."""
    raw = body.get("input")
    if isinstance(raw, str):
        return raw
    for item in reversed(raw if isinstance(raw, list) else []):
        if isinstance(item, Mapping) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            parts = content if isinstance(content, list) else []
            return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping)).strip()
    return ""


def mock_response(call: EngineCall, response_id: str | None = None) -> dict[str, Any]:
    """The mock provider's complete ``response`` object."""
    body = call.body
    reply = mock_input_text(body)
    prompt = estimate_tokens(str(body.get("instructions") or "")) + estimate_tokens(reply) + 3
    completion = estimate_tokens(reply)
    return {
        "id": response_id or f"resp_mock_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": bare_model(call.target.upstream_model),
        "output": [_message_item(reply, "completed")],
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        },
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "max_output_tokens": body.get("max_output_tokens"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "text": body.get("text") or {"format": {"type": "text"}},
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "truncation": "disabled",
        "previous_response_id": None,
        "store": False,
    }


def mock_events(call: EngineCall) -> list[dict[str, Any]]:
    """``mock_response`` as the Responses API streams it: one text delta per word."""
    done = mock_response(call)
    item = done["output"][0]
    text = item["content"][0]["text"]
    # ``usage`` is absent until the response completes (the schema never allows null).
    started = {k: v for k, v in done.items() if k != "usage"} | {
        "status": "in_progress",
        "output": [],
    }
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": item | {"status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": empty},
    ]
    words = text.split(" ") if text else []
    for index, word in enumerate(words):
        delta = word if index == 0 else " " + word
        events.append(
            {"type": "response.output_text.delta", **where, "delta": delta, "logprobs": []}
        )
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": item["content"][0]},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    for sequence, event in enumerate(events):
        event["sequence_number"] = sequence
    return events


def _message_item(text: str, status: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_mock_{uuid.uuid4().hex[:24]}",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def mock_response_result(call: EngineCall) -> EngineResult:
    return EngineResult(body=mock_response(call))
