"""The rate-limit headers an upstream answers with, picked out of its response.

OpenAI, Groq and Together send ``x-ratelimit-{limit,remaining}-{requests,tokens}``;
Anthropic spells them ``anthropic-ratelimit-{requests,tokens}-{limit,remaining}``. Only
these few names are looked up (a handful of header reads per response), kept as the
strings they came as: parsing waits until someone reads them (a scrape, the admin API).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Header name -> (kind, bound): what the latest value of each means.
RATE_LIMIT_HEADERS: Mapping[str, tuple[str, str]] = {
    "x-ratelimit-limit-requests": ("requests", "limit"),
    "x-ratelimit-remaining-requests": ("requests", "remaining"),
    "x-ratelimit-limit-tokens": ("tokens", "limit"),
    "x-ratelimit-remaining-tokens": ("tokens", "remaining"),
    "anthropic-ratelimit-requests-limit": ("requests", "limit"),
    "anthropic-ratelimit-requests-remaining": ("requests", "remaining"),
    "anthropic-ratelimit-tokens-limit": ("tokens", "limit"),
    "anthropic-ratelimit-tokens-remaining": ("tokens", "remaining"),
}
_NAMES = tuple(RATE_LIMIT_HEADERS)
# How LiteLLM keeps each raw upstream header in a result's hidden params.
_LITELLM_PREFIX = "llm_provider-"


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The rate-limit headers among ``headers`` (case-insensitive mappings: aiohttp's
    and httpx's); empty when the upstream sent none."""
    found: dict[str, str] = {}
    for name in _NAMES:
        value = headers.get(name)
        if value is not None:
            found[name] = value
    return found


def litellm_rate_limit_headers(hidden: object) -> dict[str, str]:
    """The rate-limit headers LiteLLM kept of the upstream's response, from a result's
    or stream wrapper's ``_hidden_params["additional_headers"]``; empty when none."""
    kept: Any = hidden.get("additional_headers") if isinstance(hidden, Mapping) else None
    return relayed_rate_limit_headers(kept) if isinstance(kept, Mapping) else {}


def relayed_rate_limit_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """The upstream's rate-limit headers as LiteLLM relays them: every raw header as
    ``llm_provider-<name>`` (preferred: the upstream's own value), OpenAI's also bare.
    LiteLLM's hidden params hold them so, and its proxy answers with them so."""
    found: dict[str, str] = {}
    for name in _NAMES:
        value = headers.get(_LITELLM_PREFIX + name, headers.get(name))
        if isinstance(value, str):
            found[name] = value
    return found
