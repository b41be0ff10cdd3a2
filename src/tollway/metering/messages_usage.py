"""Token usage of Anthropic's Messages API (``/v1/messages``): a complete ``message``,
and its event stream.

Anthropic's ``input_tokens`` leave out the prompt tokens read from or written to its
cache (``cache_read_input_tokens``, ``cache_creation_input_tokens``); the ledger's
prompt is all three, with the cache reads as its cached part (OpenAI's convention,
which the rest of tollway keeps). A stream reports the input side on
``message_start`` and the output so far, cumulatively, on each ``message_delta``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway.engine.base import TokenUsage
from tollway.metering.metered_usage import MeteredUsage, ProducedText
from tollway.metering.tokens import text_tokens_at_most, tokens_if_text

__all__ = ["MessagesStreamMeter", "messages_output_tokens", "messages_usage"]

# content_block_delta kinds and the field holding their produced text.
_DELTA_TEXT = {"text_delta": "text", "input_json_delta": "partial_json", "citations_delta": ""}
_THINKING = "thinking_delta"


def messages_usage(body: Mapping[str, Any]) -> TokenUsage | None:
    """The usage of a ``message``, None when it reports none (or only zeros)."""
    return _usage(body.get("usage"), None)


def _usage(raw: Any, output: Any) -> TokenUsage | None:
    if not isinstance(raw, Mapping):
        return None
    cached = _int(raw.get("cache_read_input_tokens"))
    prompt = _int(raw.get("input_tokens")) + cached + _int(raw.get("cache_creation_input_tokens"))
    completion = _int(output.get("output_tokens") if isinstance(output, Mapping) else None)
    completion = completion or _int(raw.get("output_tokens"))
    if not (prompt or completion):
        return None
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=cached,
    )


def messages_output_tokens(body: Mapping[str, Any]) -> int:
    """An upper bound of the tokens a ``message``'s content holds."""
    tokens = 0
    content = body.get("content")
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, Mapping):
            continue
        for name in ("text", "thinking", "name"):
            tokens += tokens_if_text(block.get(name))
        if block.get("input") is not None:
            tokens += text_tokens_at_most(str(block.get("input")))
    return tokens


class MessagesStreamMeter:
    """A Messages event stream's usage: ``message_start``'s input side and the last
    ``message_delta``'s output, else what was counted from the deltas."""

    __slots__ = ("_output", "_produced", "_start")

    def __init__(self) -> None:
        self._start: Any = None  # message_start's usage
        self._output: Any = None  # the last message_delta's usage
        self._produced = ProducedText()

    @property
    def deltas(self) -> int:
        return self._produced.deltas

    def observe(self, chunk: Mapping[str, Any]) -> None:
        kind = chunk.get("type")
        if kind == "content_block_delta":
            self._delta(chunk.get("delta"))
        elif kind == "content_block_start":
            block = chunk.get("content_block")
            if isinstance(block, Mapping):
                self._produced.add(
                    tokens_if_text(block.get("name")) + tokens_if_text(block.get("text"))
                )
        elif kind == "message_delta":
            self._output = chunk.get("usage")
        elif kind == "message_start":
            message = chunk.get("message")
            if isinstance(message, Mapping):
                self._start = message.get("usage")

    def _delta(self, delta: Any) -> None:
        if not isinstance(delta, Mapping):
            return
        kind = delta.get("type")
        if kind == _THINKING:
            thinking = tokens_if_text(delta.get("thinking"))
            self._produced.add(thinking, thinking)
        elif isinstance(kind, str) and (field := _DELTA_TEXT.get(kind)):
            self._produced.add(tokens_if_text(delta.get(field)))

    def result(self, prompt_estimate: int = 0) -> MeteredUsage:
        if self._output is not None:
            # message_delta may repeat the input side (it does through some bridges).
            start = self._start if isinstance(self._start, Mapping) else {}
            merged = {**start, **{k: v for k, v in self._output.items() if v is not None}}
            reported = _usage(merged, self._output)
            if reported is not None:
                return MeteredUsage(reported, counted=False)
        early = _usage(self._start, None)
        if early is None:
            return self._produced.usage(max(prompt_estimate, 0))
        return self._produced.usage(early.prompt_tokens, early.cached_tokens)


def _int(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0
