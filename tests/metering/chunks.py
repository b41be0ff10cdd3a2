"""Typical chunk sequences of each family, as tollway's engines yield them (parsed dicts).

Shapes copied from real runs of litellm 1.109.1 against tests/fakes (OpenAI, OpenRouter,
Anthropic, Gemini, Cohere) and from the providers' documented stream formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ECHO = ("hello ", "there ", "big ", "world")


def chunk(delta: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": choices, **extra}


def finish(reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [
            {"index": 0, "delta": {"content": None, "role": None}, "finish_reason": reason}
        ],
    }


def openai_usage(
    prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
    }


def openai_stream(
    texts: Sequence[str] = ECHO, usage: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """OpenAI with ``stream_options.include_usage``: a role chunk with empty content, the
    deltas, a finish chunk, then a usage-only chunk with ``choices: []``."""
    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": text}) for text in texts]
    chunks.append(finish())
    if usage is not None:
        chunks.append(chunk(None, usage=usage))
    return chunks


def openrouter_stream(
    texts: Sequence[str] = ECHO, reasoning: Sequence[str] = (), cost: float = 1.2e-05
) -> list[dict[str, Any]]:
    """OpenRouter's own API: ``reasoning`` (plus its ``reasoning_details`` copy) in deltas,
    and ``usage.cost`` in the final usage chunk (asked for with ``usage.include``)."""
    chunks = [
        chunk(
            {
                "role": "assistant",
                "content": "",
                "reasoning": text,
                "reasoning_details": [{"type": "reasoning.text", "text": text}],
            }
        )
        for text in reasoning
    ]
    chunks += [chunk({"role": "assistant", "content": text}) for text in texts]
    chunks.append(finish())
    usage = openai_usage(9, 17, reasoning=8) | {"cost": cost, "is_byok": False}
    chunks.append(chunk(None, usage=usage))
    return chunks


def anthropic_stream(
    texts: Sequence[str] = ECHO,
    thinking: Sequence[str] = (),
    *,
    usage_on_finish: bool = False,
) -> list[dict[str, Any]]:
    """Anthropic through LiteLLM: thinking as ``reasoning_content`` plus ``thinking_blocks``
    (the same text twice), text deltas, a finish chunk, and usage (with Anthropic's cache
    fields) on the last chunk: a usage-only chunk, or the finish chunk itself."""
    chunks = [
        chunk(
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": text,
                "thinking_blocks": [{"type": "thinking", "thinking": text, "signature": None}],
            }
        )
        for text in thinking
    ]
    chunks += [chunk({"content": text, "role": None}) for text in texts]
    usage = openai_usage(1200, 40, cached=1000) | {
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1000,
    }
    if usage_on_finish:
        chunks.append(finish() | {"usage": usage})
    else:
        chunks += [finish(), chunk(None, usage=usage)]
    return chunks


def tool_call_stream() -> list[dict[str, Any]]:
    """A streamed tool call: the name once, then argument fragments."""

    def call(**function: str) -> dict[str, Any]:
        head = {"id": "call_1", "type": "function"} if "name" in function else {}
        return chunk({"tool_calls": [{"index": 0, **head, "function": function}]})

    return [
        chunk({"role": "assistant", "content": None}),
        call(name="get_weather", arguments=""),
        call(arguments='{"city": '),
        call(arguments='"Paris"}'),
        finish("tool_calls"),
    ]


def completions_stream(texts: Sequence[str] = ECHO) -> list[dict[str, Any]]:
    """/v1/completions: ``choices[].text``, no ``delta``."""
    return [
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "choices": [{"index": 0, "text": text, "finish_reason": None, "logprobs": None}],
        }
        for text in texts
    ]
