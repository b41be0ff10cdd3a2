"""Google's Gemini API (Generative Language API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.providers.http_check import (
    ProviderReply,
    endpoint,
    provider_error_message,
    run_key_check,
)
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# Gemini answers an unknown key with 400 INVALID_ARGUMENT and this ErrorInfo reason.
_BAD_KEY_REASON = "API_KEY_INVALID"
_BAD_KEY_MESSAGE = "API key not valid"


def gemini_headers(key: SecretValue) -> Mapping[str, str]:
    # The header, not ``?key=``: URLs end up in logs and proxies.
    return {"x-goog-api-key": key.reveal()}


def refine_gemini(reply: ProviderReply) -> KeyCheckOutcome | None:
    if reply.status_code != 400:
        return None
    message = provider_error_message(reply.payload) or ""
    # The reason is the stable signal; the message covers bodies without details.
    if _BAD_KEY_REASON in _error_reasons(reply.payload) or message.startswith(_BAD_KEY_MESSAGE):
        return KeyCheckOutcome.REJECTED
    return None


def _error_reasons(payload: object) -> list[str]:
    if not isinstance(payload, Mapping):
        return []
    error = payload.get("error")
    details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list):
        return []
    return [
        detail["reason"]
        for detail in details
        if isinstance(detail, Mapping) and isinstance(detail.get("reason"), str)
    ]


@dataclass(frozen=True, slots=True)
class GeminiAdapter:
    """``GET {base}/v1beta/models`` with ``x-goog-api-key``."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/v1beta/models")
        return run_key_check(client, url, lambda: gemini_headers(key), key, refine=refine_gemini)
