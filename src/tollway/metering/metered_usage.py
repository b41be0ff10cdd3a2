"""What a stream used: the result every dialect's stream meter gives, and the count of
what a stream produced that the Responses and Messages meters share."""

from __future__ import annotations

from dataclasses import dataclass

from tollway.engine.base import TokenUsage


@dataclass(frozen=True, slots=True)
class MeteredUsage:
    """What a stream used.

    ``counted``: the provider reported no (final) usage, so the completion side was
    estimated from the chunks and the prompt side is the caller's estimate.
    ``reported_cost``: the provider's own price for the call (OpenRouter's
    ``usage.cost``), only with reported usage and only when positive.
    """

    usage: TokenUsage
    counted: bool
    reported_cost: float | None = None


class ProducedText:
    """What a stream produced, counted as it passed (``tollway.metering.tokens``: an
    upper bound); what a meter charges when the provider reports no final usage."""

    __slots__ = ("completion", "deltas", "reasoning")

    def __init__(self) -> None:
        self.completion = 0  # reasoning included (OpenAI's convention)
        self.reasoning = 0
        self.deltas = 0  # events that carried produced text

    def add(self, tokens: int, reasoning: int = 0) -> None:
        """One event's produced tokens, ``reasoning`` of them reasoning."""
        if tokens:
            self.completion += tokens
            self.reasoning += reasoning
            self.deltas += 1

    def usage(self, prompt: int, cached: int = 0) -> MeteredUsage:
        """The counted usage, with ``prompt`` (reported, or the caller's estimate)."""
        usage = TokenUsage(
            prompt_tokens=prompt,
            completion_tokens=self.completion,
            total_tokens=prompt + self.completion,
            cached_tokens=cached,
            reasoning_tokens=self.reasoning,
        )
        return MeteredUsage(usage, counted=True)
