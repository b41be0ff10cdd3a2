"""Glue for the data plane: a request's completion caps, its worst case, and the
headers of a 429.

The prompt side of the worst case is ``tollway.metering.tokens.prompt_tokens_at_most``
(an upper bound, computed by the ledger). The completion side is ``CompletionCaps``:
every completion the request can produce times the cap that binds it. It is parsed
once per request, before any upstream call, so a cap no provider would read the same
way (``100000.0``, ``true``, ``0``) is a 400 naming the field, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tollway.quotas.model import (
    Amount,
    Denied,
    Level,
    Metric,
    format_amount,
    retry_after,
    usd_to_micros,
)

# Reserved when a request sets no cap and the model's max_output_tokens is unknown.
DEFAULT_MAX_TOKENS = 4096
# Every field a provider may read as the completion cap: chat's current and legacy
# names, and the Responses API's.
CAP_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
# Fields that multiply the completions: n (chat, completions), best_of (completions:
# the provider generates best_of and bills them all, returning n).
CHOICE_FIELDS = ("n", "best_of")
MAX_CHOICES = 128  # OpenAI's own bound on n
# Far above any model's output (Redis counters and Lua numbers stay exact with it).
MAX_CAP = 2**31 - 1

Price = Decimal | float | int | None


class InvalidCapError(ValueError):
    """A cap or choice count no provider would read the same way; ``param`` names it.
    /v1 answers it with a 400 (``tollway.domain.v1_errors.invalid_cap``)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class CompletionCaps:
    """What a request may generate: its caps (field -> value, as the client sent
    them) and how many completions it can produce. ``generates`` is False for
    embeddings, which produce no completion at all."""

    caps: tuple[tuple[str, int], ...] = ()
    choices: int = 1
    generates: bool = True
    # The field a capped body gets when the client set none: the dialect's own name
    # (``max_output_tokens`` on /v1/responses).
    default_field: str = "max_tokens"

    @classmethod
    def parse(
        cls, body: Mapping[str, Any], *, generates: bool = True, default_field: str = "max_tokens"
    ) -> CompletionCaps:
        """The caps of a /v1 body; ``InvalidCapError`` (naming the field) for a cap or a
        choice count no provider would accept."""
        if not generates:
            return cls(generates=False, default_field=default_field)
        caps = tuple(
            (name, _integer(name, body[name], 1, MAX_CAP))
            for name in CAP_FIELDS
            if body.get(name) is not None
        )
        choices = 1
        for name in CHOICE_FIELDS:
            if body.get(name) is not None:
                choices = max(choices, _integer(name, body[name], 1, MAX_CHOICES))
        return cls(caps, choices, default_field=default_field)

    def per_choice(self, *, enforced: bool, model_max: int | None, default: int) -> int:
        """The completion cap of one choice.

        Not enforced (no token or USD limit applies: the body goes upstream as sent):
        the largest cap given, since which field a provider honours varies (LiteLLM
        maps both names to one, the last one wins). Enforced: the smallest, because
        tollway then sends that one value in every cap field. Without any cap: the
        model's max_output_tokens when known, else ``default``. Never above the
        model's max_output_tokens: a provider produces no more than that.
        """
        if not self.generates:
            return 0
        values = [value for _, value in self.caps]
        if not values:
            values = [model_max or default]
        cap = min(values) if enforced else max(values)
        return min(cap, model_max) if model_max else cap

    def reserved(self, *, enforced: bool, model_max: int | None, default: int) -> int:
        """Completion tokens of the worst case: every choice at its full cap."""
        cap = self.per_choice(enforced=enforced, model_max=model_max, default=default)
        return self.choices * cap

    def capped_body(self, body: Mapping[str, Any], cap: int) -> dict[str, Any]:
        """``body`` with ``cap`` in every cap field the client set (``max_tokens``
        when none): whichever field the provider reads, it stops at ``cap``."""
        capped = dict(body)
        names = [name for name, _ in self.caps] or [self.default_field]
        for name in names:
            capped[name] = cap
        return capped


def _integer(name: str, value: Any, low: int, high: int) -> int:
    # bool is an int subclass and 100000.0 == 100000: both refused, not coerced.
    if type(value) is not int or not low <= value <= high:
        raise _invalid(name, value, low, high)
    return value


def _invalid(name: str, value: Any, low: int, high: int) -> InvalidCapError:
    shown = repr(value) if isinstance(value, str | int | float) else type(value).__name__
    if len(shown) > 40:
        shown = shown[:40] + "..."
    return InvalidCapError(
        f"Invalid '{name}': expected an integer from {low} to {high}, got {shown}.", name
    )


def worst_case(
    prompt_tokens: int,
    max_tokens: int | None,
    price_in: Price,
    price_out: Price,
    *,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Amount:
    """One request, the prompt plus the full completion cap (``max_tokens``: every
    choice's, see ``CompletionCaps.reserved``), and their cost at the deployment's
    per-token prices (None: unpriced, costs nothing to the budgets)."""
    completion = default_max_tokens if max_tokens is None else max_tokens
    cost = Decimal(0)
    if price_in:
        cost += Decimal(str(price_in)) * prompt_tokens
    if price_out:
        cost += Decimal(str(price_out)) * completion
    return Amount(
        requests=1,
        tokens=prompt_tokens + completion,
        usd_micros=usd_to_micros(cost, round_up=True),
    )


def to_headers(denied: Denied) -> dict[str, str]:
    """``x-ratelimit-*`` headers (OpenAI's names; ``-usd`` for budgets, in dollars),
    the reset left out when the window never rolls. ``Retry-After`` and
    ``x-should-retry: true`` only when a retry soon can be admitted; otherwise
    ``x-should-retry: false``, so SDKs do not retry what is bound to fail again."""
    metric = denied.limit.metric
    headers = {
        f"x-ratelimit-limit-{metric}": format_amount(metric, denied.limit.limit),
        f"x-ratelimit-remaining-{metric}": format_amount(metric, denied.remaining),
    }
    if denied.retry_after_seconds is not None:
        headers[f"x-ratelimit-reset-{metric}"] = _duration(denied.retry_after_seconds)
    if denied.waiting_helps:
        headers["retry-after"] = str(denied.retry_after_seconds)
        headers["x-should-retry"] = "true"
    else:
        headers["x-should-retry"] = "false"
    return headers


def rate_limit_headers(levels: Iterable[Level], now: float) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` of an
    admitted request: for each metric, the limit with the least remaining of those
    that counted it (the soonest to roll on a tie). Nothing for a metric no limit
    counts; no reset for a window that never rolls. USD budgets are not reported
    here (OpenAI has no such header on a success)."""
    binding: dict[Metric, tuple[int, float, Level]] = {}
    for level in levels:
        limit, used, reset_at = level
        if limit.metric is Metric.USD:
            continue
        rank = (max(0, limit.limit - used), math.inf if reset_at is None else reset_at)
        best = binding.get(limit.metric)
        if best is None or rank < best[:2]:
            binding[limit.metric] = (*rank, level)
    headers: dict[str, str] = {}
    for metric, (remaining, _, (limit, _, reset_at)) in binding.items():
        headers[f"x-ratelimit-limit-{metric}"] = str(limit.limit)
        headers[f"x-ratelimit-remaining-{metric}"] = str(remaining)
        seconds = retry_after(reset_at, now)
        if seconds is not None:
            headers[f"x-ratelimit-reset-{metric}"] = _duration(seconds)
    return headers


def _duration(seconds: int) -> str:
    """OpenAI's reset format: ``12s``, ``6m0s``, ``1h2m3s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
