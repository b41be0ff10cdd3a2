"""Token usage from responses and streams, as the usage ledger records it.

A complete response carries its usage; ``usage_from_response`` reads it. A stream
carries it on its last chunk at best (engines always ask for it), so ``StreamMeter``
watches every chunk: it keeps the usage the provider reported, and counts what was
produced meanwhile, so a stream cut short by a client disconnect or an upstream reset
is still charged for what it delivered (docs/architecture.md §6).

Conventions (OpenAI's, which LiteLLM follows for every family): ``cached_tokens`` are
part of ``prompt_tokens`` and ``reasoning_tokens`` are part of ``completion_tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tollway.engine.base import Endpoint, TokenUsage
from tollway.engine.wire import positive_cost, usage_from
from tollway.metering.messages_usage import (
    MessagesStreamMeter,
    messages_output_tokens,
    messages_usage,
)
from tollway.metering.metered_usage import MeteredUsage
from tollway.metering.responses_usage import (
    ResponsesStreamMeter,
    responses_output_tokens,
    responses_usage,
)
from tollway.metering.tokens import text_tokens_at_most, tokens_if_text

__all__ = [
    "Meter",
    "MeteredUsage",
    "StreamMeter",
    "stream_meter",
    "text_usage",
    "usage_from_response",
]


class Meter(Protocol):
    """What a stream of one dialect used, from its events as they pass (see StreamMeter)."""

    @property
    def deltas(self) -> int: ...

    def observe(self, chunk: Mapping[str, Any]) -> None: ...

    def result(self, prompt_estimate: int = 0) -> MeteredUsage: ...


def stream_meter(endpoint: Endpoint) -> Meter:
    """A fresh meter for a stream of ``endpoint``'s dialect."""
    match endpoint:
        case Endpoint.RESPONSES:
            return ResponsesStreamMeter()
        case Endpoint.MESSAGES:
            return MessagesStreamMeter()
        case _:
            return StreamMeter()


def usage_from_response(endpoint: Endpoint, body: Mapping[str, Any]) -> TokenUsage | None:
    """The usage of a complete answer of ``endpoint``'s dialect, or None when it reports
    none (``chat.completion``, ``text_completion`` and embeddings ``list`` bodies here)."""
    match endpoint:
        case Endpoint.RESPONSES:
            return responses_usage(body)
        case Endpoint.MESSAGES:
            return messages_usage(body)
        case _:
            return _openai_usage(endpoint, body)


def _openai_usage(endpoint: Endpoint, body: Mapping[str, Any]) -> TokenUsage | None:
    """The usage of a complete ``chat.completion``, ``text_completion`` or embeddings
    ``list`` body, or None when the body reports none.

    A usage object with every count at zero is "none" too: every real call reads at
    least one prompt token, and some providers send zeros when they did not count.
    """
    usage = usage_from(body.get("usage"))
    if usage is None or not _any_tokens(usage):
        return None
    if endpoint is Endpoint.EMBEDDINGS:
        # Embeddings only read: a completion count would be billed at the output price.
        # Some providers (Jina, some OpenAI-compatible servers) report only total_tokens.
        prompt = usage.prompt_tokens or usage.total_tokens
        shape = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        if shape != (prompt, 0, prompt) or usage.reasoning_tokens:
            return TokenUsage(
                prompt_tokens=prompt, total_tokens=prompt, cached_tokens=usage.cached_tokens
            )
    return usage


class StreamMeter:
    """Watches a stream's chunks, in order, and says what the stream used.

    ``observe`` runs once per chunk on the hot path: a few dict lookups and ``len``
    calls, no parsing, no serialization. The usage object is only kept by reference
    and read in ``result``. What it counts is an upper bound
    (``tollway.metering.tokens``): the ledger caps it at the reservation.
    """

    __slots__ = ("_completion", "_deltas", "_produced_after_usage", "_reasoning", "_usage")

    def __init__(self) -> None:
        self._usage: Any = None  # the last reported usage object, read lazily
        self._produced_after_usage = False
        self._completion = 0  # counted, reasoning included (OpenAI's convention)
        self._reasoning = 0
        self._deltas = 0

    @property
    def deltas(self) -> int:
        """How many chunk choices carried produced text (content, reasoning, tool calls)."""
        return self._deltas

    def observe(self, chunk: Mapping[str, Any]) -> None:
        choices = chunk.get("choices")
        if choices:
            for choice in choices:
                if isinstance(choice, dict):
                    self._count(choice)
        # After the choices: a chunk may carry both its last delta and the usage.
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
            self._produced_after_usage = False

    def _count(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            produced = tokens_if_text(delta.get("content")) + tokens_if_text(delta.get("refusal"))
            # LiteLLM names it reasoning_content; OpenRouter's own API names it reasoning.
            # thinking_blocks and reasoning_details repeat the same text: not counted.
            reasoning = tokens_if_text(delta.get("reasoning_content") or delta.get("reasoning"))
            calls = delta.get("tool_calls")
            if calls:
                produced += _tool_call_tokens(calls)
            legacy_call = delta.get("function_call")
            if legacy_call:
                produced += _function_tokens(legacy_call)
        else:  # a text_completion chunk
            produced, reasoning = tokens_if_text(choice.get("text")), 0
        if produced or reasoning:
            self._completion += produced + reasoning
            self._reasoning += reasoning
            self._deltas += 1
            if self._usage is not None:
                self._produced_after_usage = True

    def result(self, prompt_estimate: int = 0) -> MeteredUsage:
        """What the stream used so far; call it when the stream ended, however it ended.

        Reported usage wins when it came after everything produced (it is then the
        provider's final count). Otherwise the completion side is counted from the
        chunks, and the prompt side is the reported one if any, else ``prompt_estimate``.
        """
        raw = self._usage
        reported = usage_from(raw)
        if reported is not None and _any_tokens(reported) and not self._produced_after_usage:
            return MeteredUsage(
                reported, counted=False, reported_cost=positive_cost(raw.get("cost"))
            )
        # Usage that came before the last text knew the prompt but not the whole reply.
        early = reported or TokenUsage()
        prompt = early.prompt_tokens or max(prompt_estimate, 0)
        completion = max(self._completion, early.completion_tokens)
        usage = TokenUsage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            cached_tokens=early.cached_tokens,
            reasoning_tokens=max(self._reasoning, early.reasoning_tokens),
        )
        return MeteredUsage(usage, counted=True)


def text_usage(endpoint: Endpoint, body: Mapping[str, Any], prompt_estimate: int) -> TokenUsage:
    """Usage of a complete answer that reported none: ``prompt_estimate`` and an
    upper bound of the text it produced."""
    match endpoint:
        case Endpoint.RESPONSES:
            completion = responses_output_tokens(body)
        case Endpoint.MESSAGES:
            completion = messages_output_tokens(body)
        case _:
            completion = _choicestokens_if_text(body)
    return TokenUsage(
        prompt_tokens=prompt_estimate,
        completion_tokens=completion,
        total_tokens=prompt_estimate + completion,
    )


def _choicestokens_if_text(body: Mapping[str, Any]) -> int:
    completion = 0
    choices = body.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict):
                message = choice.get("message")
                text = message.get("content") if isinstance(message, dict) else choice.get("text")
                if isinstance(text, str):
                    completion += text_tokens_at_most(text)
    return completion


def _any_tokens(usage: TokenUsage) -> bool:
    return bool(usage.prompt_tokens or usage.completion_tokens or usage.total_tokens)


def _tool_call_tokens(calls: Any) -> int:
    tokens = 0
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict):
                tokens += _function_tokens(call.get("function"))
    return tokens


def _function_tokens(function: Any) -> int:
    """The name (sent once, in the first fragment) and the argument fragments."""
    if not isinstance(function, dict):
        return 0
    return tokens_if_text(function.get("name")) + tokens_if_text(function.get("arguments"))
