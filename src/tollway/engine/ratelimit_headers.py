"""The rate-limit headers an upstream answers with, picked out of its response.

OpenAI, Groq and Together send ``x-ratelimit-{limit,remaining}-{requests,tokens}``;
Anthropic spells them ``anthropic-ratelimit-{requests,tokens}-{limit,remaining}``. Only
these few names are looked up (a handful of header reads per response), kept as the
strings they came as: parsing waits until someone reads them (a scrape, the admin API).
"""

from __future__ import annotations

from collections.abc import Mapping

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


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The rate-limit headers among ``headers`` (case-insensitive mappings: aiohttp's
    and httpx's); empty when the upstream sent none."""
    found: dict[str, str] = {}
    for name in _NAMES:
        value = headers.get(name)
        if value is not None:
            found[name] = value
    return found
