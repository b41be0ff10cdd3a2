"""What a stream used: the result every dialect's stream meter gives."""

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
