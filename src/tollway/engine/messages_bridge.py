"""Anthropic's Messages API bridged to a family's chat API with LiteLLM's own adapter,
the chat call made by the engine's chat path.

For every family but Anthropic, ``litellm.anthropic.messages.acreate`` translates the
Messages request to a chat request (``LiteLLMMessagesToCompletionTransformationHandler``
and ``LiteLLMAnthropicMessagesAdapter``), calls ``litellm.acompletion`` with its
logging and callbacks, and translates the answer back (``AnthropicStreamWrapper`` for
a stream, then SSE bytes). This module runs the same translations and hands the chat
request to the engine's own chat path, so every chat fast path serves the Messages API
too, LiteLLM still executing the call; a stream's events are read as dicts, never
encoded to SSE and parsed back.

Requests the bridge would answer with more than a translation keep ``acreate``
(``BridgedMessages.translate`` returns None): a ``context_management`` spec or a
compaction block (LiteLLM's polyfill may call a model itself), and ``thinking`` that
LiteLLM routes to an OpenAI Responses API. The differential tests
(``tests/engine/test_dialect_bridges.py``) hold the answers and events equal to
``acreate``'s for every bridged family.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any, NamedTuple

from tollway.engine.base import Endpoint, EngineCall, EngineError, EngineResult, EngineStream
from tollway.engine.messages_api import client_user_id, error_text, is_error_event, message_dict
from tollway.engine.request_body import is_litellm_reserved
from tollway.engine.responses_bridge import (
    BridgedStream,
    ChatChunks,
    chat_target,
    translation_errors,
)
from tollway.engine.wire import upstream_error
from tollway.providers.families import upstream_family

ChatCall = Callable[[EngineCall], Awaitable[EngineResult]]
ChatStreamOpener = Callable[[EngineCall], Awaitable[EngineStream]]

# The adapter's named parameters (``_prepare_completion_kwargs``); the client's other
# fields go to the chat call as they are, as ``acreate`` hands them on.
_NAMED = frozenset(
    {
        "max_tokens",
        "messages",
        "metadata",
        "stop_sequences",
        "system",
        "temperature",
        "thinking",
        "tool_choice",
        "tools",
        "top_k",
        "top_p",
        "output_format",
    }
)
# What the translated request holds for LiteLLM's own call, never for the upstream.
# (``user`` from ``metadata.user_id`` is let through by the chat path where the family
# keeps it.)
_LITELLM_ONLY = frozenset(
    {"model", "stream", "stream_options", "metadata", "custom_llm_provider", "drop_params"}
)


class BridgedMessages(NamedTuple):
    chat: EngineCall
    tool_names: dict[str, str]  # truncated tool names back to the client's


class MessagesBridge:
    """The Messages API over a family's chat API, with LiteLLM's adapter."""

    def __init__(
        self,
        litellm: ModuleType,
        chat: ChatCall,
        open_chat: ChatStreamOpener,
        reserved: frozenset[str],
        drop_params: bool,
    ) -> None:
        self._litellm = litellm
        self._chat = chat
        self._open_chat = open_chat
        self._reserved = reserved
        self._drop_params = drop_params

    def translate(self, call: EngineCall, *, stream: bool) -> BridgedMessages | None:
        """The chat call LiteLLM's bridge would make, None where ``acreate`` must stay."""
        family = upstream_family(call.target.upstream_model)
        if family is None or family.speaks_anthropic_wire or call.target.mock:
            return None
        body = call.body
        if "context_management" in body or _holds_compaction(body.get("messages")):
            return None
        provider = call.target.upstream_model.partition("/")[0]
        named = {k: v for k, v in body.items() if k in _NAMED and v is not None}
        named.pop("metadata", None)
        user_id = client_user_id(body)
        if user_id is not None:
            named["metadata"] = {"user_id": user_id}
        extras = {
            k: v
            for k, v in body.items()
            if k not in _NAMED and not is_litellm_reserved(k, self._reserved)
        }
        extras |= {"custom_llm_provider": provider, "drop_params": self._drop_params}
        with translation_errors(self._litellm, call, mapped_first=False):
            completion, tool_names = _modules().handler._prepare_completion_kwargs(
                model=call.target.upstream_model,
                stream=stream,
                extra_kwargs=extras,
                **named,
            )
        if str(completion.get("model", "")).startswith("responses/"):
            return None  # LiteLLM sends this one to a Responses API, not chat
        chat_body = {k: v for k, v in completion.items() if k not in _LITELLM_ONLY}
        if not family.keeps_user:  # as LiteLLM's chat call drops it for these routes
            chat_body.pop("user", None)
        chat = EngineCall(Endpoint.CHAT, chat_body, chat_target(call), stream=stream)
        return BridgedMessages(chat, tool_names)

    async def call(self, call: EngineCall, request: BridgedMessages) -> EngineResult:
        result = await self._chat(request.chat)
        with translation_errors(self._litellm, call, mapped_first=False):
            answer = _modules().adapter.translate_completion_output_params(
                self._litellm.ModelResponse(**result.body), tool_name_mapping=request.tool_names
            )
        if answer is None:
            raise upstream_error(502, "the provider's answer could not be translated")
        return EngineResult(
            body=message_dict(answer), cost_usd=result.cost_usd, headers=result.headers
        )

    async def open_stream(self, call: EngineCall, request: BridgedMessages) -> EngineStream:
        chat = await self._open_chat(request.chat)
        wrapper = _modules().streaming.AnthropicStreamWrapper(
            completion_stream=ChatChunks(chat, self._litellm),
            model=call.target.upstream_model.partition("/")[2],
            tool_name_mapping=request.tool_names,
            completion_request=request.chat.body,
        )
        secret = call.target.api_key.reveal() if call.target.api_key is not None else None
        stream = BridgedMessagesStream(wrapper, secret)
        await stream.receive_first()
        return stream


class BridgedMessagesStream(BridgedStream):
    """LiteLLM's Messages events over the engine's chat stream."""

    def _convert(self, raw: Any) -> dict[str, Any]:
        return dict(raw) if isinstance(raw, Mapping) else {"type": "unknown"}

    def _failed_first(self, item: dict[str, Any]) -> EngineError | None:
        return upstream_error(502, error_text(item)) if is_error_event(item) else None

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return error_text(item) if is_error_event(item) else None


def _holds_compaction(messages: Any) -> bool:
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, Mapping) and block.get("type") == "compaction":
                return True
    return False


class _Modules(NamedTuple):
    handler: Any
    adapter: Any
    streaming: Any


@functools.cache
def _modules() -> _Modules:
    # litellm is imported by ``load_litellm`` first, never at module level.
    base = "litellm.llms.anthropic.messages.adapters"
    handler = importlib.import_module(f"{base}.handler")
    return _Modules(
        handler=handler.LiteLLMMessagesToCompletionTransformationHandler,
        adapter=handler.ANTHROPIC_ADAPTER,
        streaming=importlib.import_module(f"{base}.streaming_iterator"),
    )
