"""An Anthropic stream as OpenAI chunk dicts, from LiteLLM's chunk parser, without its
stream wrapper.

LiteLLM's Anthropic ``ModelResponseIterator`` turns each SSE event into a
``ModelResponseStream`` (or an empty ``GenericStreamingChunk`` dict for lines it skips).
``CustomStreamWrapper`` then rebuilds every chunk (a second pydantic object per chunk,
a dozen checks for providers that are not this one), keeps every chunk to rebuild the
whole answer at the end, and prices it on a worker thread. For the answers a request
of ``direct_request.DIRECT_PARAMS`` can get (text and tool calls) its rules come to:

- events with nothing to say (empty text, no tool call) are dropped;
- every chunk carries the stream's id and the requested model, and the first one sent
  the ``assistant`` role;
- the parser's finish reason is held back and sent, once the upstream ends, as a last
  choice chunk with an empty delta (``stop`` becomes ``tool_calls`` after a tool call);
- then one chunk without choices carries the usage, as LiteLLM's stream builder
  (``ChunkProcessor.calculate_usage``) rebuilds it from the chunks that reported usage,
  and its cost when LiteLLM prices the model.

``AnthropicChunks`` applies exactly those rules, and the differential test
(tests/engine/test_direct_chat_differential.py) holds it to ``CustomStreamWrapper``'s
output for every case. A parsed chunk carrying anything else (reasoning, citations,
provider fields) is not guessed at: ``UnexpectedChunk`` ends the stream as interrupted
with a reason, and the request shape that led to it belongs outside ``DIRECT_PARAMS``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from tollway.engine.wire import clean_openai

# Delta fields LiteLLM's parser leaves None for text and tool calls.
_PLAIN_DELTA = frozenset({"content", "role", "tool_calls", "function_call", "audio"})
_EMPTY_DELTA_VALUES: tuple[Any, ...] = (None, "")
# Delta fields that must stay None in a text or tool-call chunk.
_NOT_PLAIN = (
    "reasoning_content",
    "thinking_blocks",
    "reasoning_items",
    "provider_specific_fields",
    "function_call",
    "audio",
)


class UnexpectedChunk(Exception):  # noqa: N818  (a condition, not a failure of ours)
    """A parsed chunk outside the shapes ``AnthropicChunks`` knows."""


class AnthropicChunks:
    """OpenAI chunk dicts from a LiteLLM Anthropic ``ModelResponseIterator``.

    ``rebuild(chunks, text)`` is the usage LiteLLM's stream builder makes of the parsed
    chunks that reported usage and the answer's text (it keeps a count once reported,
    corrects Anthropic's placeholder, counts tokens itself when none was reported);
    ``price(usage)`` the cost LiteLLM gives it (None: unpriced)."""

    def __init__(
        self,
        parsed: AsyncIterator[Any],
        model: str,
        rebuild: Callable[[list[Any], str], Any],
        price: Callable[[Any], float | None],
    ) -> None:
        self._parsed = parsed
        self._model = model
        self._rebuild = rebuild
        self._price = price
        self._usage_chunks: list[Any] = []
        self._last: Any = None  # the builder's chunk list is never empty
        self._text: list[str] = []
        self._id: str | None = None
        self._created = int(time.time())
        self._sent_role = False
        self._tool_call = False
        self._finish: str | None = None
        self._ended = False
        self._done = False

    def __aiter__(self) -> AnthropicChunks:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._done:
            raise StopAsyncIteration
        while not self._ended:
            try:
                raw = await self._parsed.__anext__()
            except StopAsyncIteration:
                self._ended = True
                return self._finish_chunk()
            chunk = self._read(raw)
            if chunk is not None:
                return chunk
        self._done = True
        if self._last is None:  # nothing parsed: the builder has nothing to count
            raise StopAsyncIteration
        return self._usage_chunk()

    def _read(self, raw: Any) -> dict[str, Any] | None:
        """The chunk to send for one parsed event, None when it has nothing to send."""
        if isinstance(raw, dict):
            if raw.get("text") or raw.get("tool_use") or raw.get("usage") or raw.get("is_finished"):
                raise UnexpectedChunk("a generic chunk with content")
            return None
        self._id = raw.id
        self._last = raw
        if raw.usage is not None:
            self._usage_chunks.append(raw)
        if getattr(raw, "provider_specific_fields", None):
            raise UnexpectedChunk("provider-specific fields")
        choice = raw.choices[0]
        delta = choice.delta
        _plain(delta)
        if choice.finish_reason:
            self._finish = choice.finish_reason
        text = delta.content or ""
        calls = delta.tool_calls
        if not text and not calls:
            return None
        self._text.append(text)
        out: dict[str, Any] = {"content": text}
        if calls:
            self._tool_call = True
            out["tool_calls"] = [call.model_dump() for call in calls]
        if not self._sent_role:
            out["role"] = "assistant"
            self._sent_role = True
        return self._chunk([{"finish_reason": None, "index": 0, "delta": out, "logprobs": None}])

    def _finish_chunk(self) -> dict[str, Any]:
        finish = self._finish or "stop"
        if finish == "stop" and self._tool_call:
            finish = "tool_calls"
        choice = {"finish_reason": finish, "index": 0, "delta": {"content": None}, "logprobs": None}
        return self._chunk([choice])

    def _usage_chunk(self) -> dict[str, Any]:
        chunks = self._usage_chunks or [self._last]
        rebuilt = self._rebuild(chunks, "".join(self._text))
        usage = {key: value for key, value in rebuilt.model_dump().items() if value is not None}
        cost = self._price(rebuilt)
        if cost is not None and cost > 0:
            usage["cost"] = cost
        chunk = self._chunk([])
        chunk["usage"] = usage
        return clean_openai(chunk)

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return clean_openai(
            {
                "id": self._id,
                "created": self._created,
                "model": self._model,
                "object": "chat.completion.chunk",
                "choices": choices,
            }
        )

    async def aclose(self) -> None:
        self._done = True
        closer = getattr(self._parsed, "aclose", None)
        if closer is not None:
            await closer()


def _plain(delta: Any) -> None:
    """Refuse a delta with anything beyond text and tool calls (reasoning, citations…)."""
    extra = delta.model_extra or {}
    for name, value in extra.items():
        if name not in _PLAIN_DELTA and value not in _EMPTY_DELTA_VALUES:
            raise UnexpectedChunk(f"a delta with {name}")
    for name in _NOT_PLAIN:
        if getattr(delta, name, None) is not None:
            raise UnexpectedChunk(f"a delta with {name}")
