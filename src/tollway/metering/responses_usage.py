"""Token usage of OpenAI's Responses API (``/v1/responses``): a complete ``response``
object, and its typed event stream.

The Responses API names usage ``input_tokens`` / ``output_tokens``, with
``input_tokens_details.cached_tokens`` part of the input and
``output_tokens_details.reasoning_tokens`` part of the output: OpenAI's chat
conventions under other names. A stream reports usage once, on its terminal event
(``response.completed``, ``response.incomplete`` or ``response.failed``), inside the
``response`` object; the deltas before it are counted in case it never comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway.engine.base import TokenUsage
from tollway.engine.wire import positive_cost
from tollway.metering.metered_usage import MeteredUsage, ProducedText
from tollway.metering.tokens import tokens_if_text

__all__ = ["ResponsesStreamMeter", "responses_output_tokens", "responses_usage"]

# Delta events whose ``delta`` is produced text (reasoning counted apart).
_PRODUCED = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.audio.transcript.delta",
    }
)
_REASONING = frozenset({"response.reasoning_text.delta", "response.reasoning_summary_text.delta"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def responses_usage(body: Mapping[str, Any]) -> TokenUsage | None:
    """The usage of a ``response`` object, None when it reports none (or only zeros)."""
    raw = body.get("usage")
    if not isinstance(raw, Mapping):
        return None
    prompt = _int(raw.get("input_tokens"))
    completion = _int(raw.get("output_tokens"))
    if not (prompt or completion or _int(raw.get("total_tokens"))):
        return None
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_int(raw.get("total_tokens")) or prompt + completion,
        cached_tokens=_detail(raw.get("input_tokens_details"), "cached_tokens"),
        reasoning_tokens=_detail(raw.get("output_tokens_details"), "reasoning_tokens"),
    )


def responses_output_tokens(body: Mapping[str, Any]) -> int:
    """An upper bound of the tokens a ``response`` object's output holds."""
    tokens = 0
    output = body.get("output")
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, Mapping):
            continue
        tokens += _texts(item.get("content"), "text", "refusal")
        tokens += _texts(item.get("summary"), "text")
        for name in ("name", "arguments", "input"):
            tokens += tokens_if_text(item.get(name))
    return tokens


class ResponsesStreamMeter:
    """A Responses event stream's usage: the terminal event's, else what was counted."""

    __slots__ = ("_produced", "_usage")

    def __init__(self) -> None:
        self._usage: Mapping[str, Any] | None = None  # the terminal event's response
        self._produced = ProducedText()

    @property
    def deltas(self) -> int:
        return self._produced.deltas

    def observe(self, chunk: Mapping[str, Any]) -> None:
        kind = chunk.get("type")
        if kind in _PRODUCED:
            self._produced.add(tokens_if_text(chunk.get("delta")))
        elif kind in _REASONING:
            reasoning = tokens_if_text(chunk.get("delta"))
            self._produced.add(reasoning, reasoning)
        elif kind == "response.output_item.added":
            item = chunk.get("item")
            if isinstance(item, Mapping):  # a tool call's name comes only here
                self._produced.add(tokens_if_text(item.get("name")))
        elif kind in _TERMINAL:
            response = chunk.get("response")
            if isinstance(response, Mapping):
                self._usage = response

    def result(self, prompt_estimate: int = 0) -> MeteredUsage:
        reported = responses_usage(self._usage) if self._usage is not None else None
        if reported is not None:
            raw = self._usage.get("usage") if self._usage is not None else None
            cost = positive_cost(raw.get("cost")) if isinstance(raw, Mapping) else None
            return MeteredUsage(reported, counted=False, reported_cost=cost)
        return self._produced.usage(max(prompt_estimate, 0))


def _texts(parts: Any, *names: str) -> int:
    tokens = 0
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, Mapping):
            tokens += sum(tokens_if_text(part.get(name)) for name in names)
    return tokens


def _int(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _detail(details: Any, name: str) -> int:
    return _int(details.get(name)) if isinstance(details, Mapping) else 0
