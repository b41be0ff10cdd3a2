"""Glue for the data plane: a request's worst case, and the headers of a 429.

The prompt estimate is deliberately cheap (about 4 characters per token): it runs on
every request, and the reservation is settled to the provider's real counts anyway.
A tokenizer would cost more than the rest of admission together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from tollway.quotas.model import Denied, Usage, format_amount, usd_to_micros

# Reserved when a request sets no max_tokens: a typical long answer. The settle
# corrects it; callers with the model's max_output_tokens should pass that instead.
DEFAULT_MAX_TOKENS = 4096
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators of each chat message
REPLY_PRIMING_TOKENS = 3  # the assistant turn every chat prompt ends with
IMAGE_TOKENS = 765  # OpenAI's cost of one 1024x1024 image at high detail

Price = Decimal | float | int | None


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt tokens of a /v1 chat, completions or embeddings body, roughly."""
    chars = 0
    tokens = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        tokens += MESSAGE_OVERHEAD_TOKENS * len(messages) + REPLY_PRIMING_TOKENS
        for message in messages:
            if isinstance(message, Mapping):
                message_chars, images = _message_size(message)
                chars += message_chars
                tokens += images * IMAGE_TOKENS
    for name in ("prompt", "input"):
        value = body.get(name)
        if value is not None:
            chars += _text_size(value)
    for name in ("tools", "functions"):
        value = body.get(name)
        if value:
            chars += _json_size(value)
    return tokens + math.ceil(chars / CHARS_PER_TOKEN)


def _message_size(message: Mapping[str, Any]) -> tuple[int, int]:
    """(characters, images) of one chat message."""
    chars = 0
    images = 0
    content = message.get("content")
    if isinstance(content, str):
        chars += len(content)
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                chars += _json_size(part)
            elif isinstance(part.get("text"), str):
                chars += len(part["text"])
            elif part.get("type") in ("image_url", "image"):
                images += 1
            else:  # audio, files, future part types: their JSON is a fair upper bound
                chars += _json_size(part)
    for field in ("tool_calls", "function_call"):
        if message.get(field):
            chars += _json_size(message[field])
    name = message.get("name")
    if isinstance(name, str):
        chars += len(name)
    return chars, images


def _text_size(value: Any) -> int:
    """Characters of a prompt/input: a string, a list of strings, or token ids."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        if value and all(isinstance(item, int) for item in value):
            return len(value) * CHARS_PER_TOKEN  # already tokens
        return sum(_text_size(item) for item in value)
    return _json_size(value)


def _json_size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError:
        return len(str(value))


def max_tokens_of(body: Mapping[str, Any]) -> int | None:
    """The completion cap the client asked for, if any."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def worst_case(
    prompt_tokens: int,
    max_tokens: int | None,
    price_in: Price,
    price_out: Price,
    *,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Usage:
    """One request, the prompt plus the full completion cap, and their cost at the
    deployment's per-token prices (None: unpriced, costs nothing to the budgets)."""
    completion = default_max_tokens if max_tokens is None else max_tokens
    cost = Decimal(0)
    if price_in:
        cost += Decimal(str(price_in)) * prompt_tokens
    if price_out:
        cost += Decimal(str(price_out)) * completion
    return Usage(
        requests=1,
        tokens=prompt_tokens + completion,
        usd_micros=usd_to_micros(cost, round_up=True),
    )


def to_headers(denied: Denied) -> dict[str, str]:
    """``x-ratelimit-*`` headers (OpenAI's names; ``-usd`` for budgets, in dollars)
    and ``Retry-After``, which is left out when the window never rolls."""
    metric = denied.limit.metric
    headers = {
        f"x-ratelimit-limit-{metric}": format_amount(metric, denied.limit.limit),
        f"x-ratelimit-remaining-{metric}": format_amount(metric, denied.remaining),
    }
    if denied.retry_after_seconds is not None:
        headers[f"x-ratelimit-reset-{metric}"] = _duration(denied.retry_after_seconds)
        headers["retry-after"] = str(denied.retry_after_seconds)
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
