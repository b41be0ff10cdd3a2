"""OpenAI-compatible families: OpenAI, Groq, Together AI, Mistral, OpenRouter, custom servers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck
from tollway.providers.http_check import endpoint, run_key_check
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType


def bearer(key: SecretValue) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {key.reveal()}"}


@dataclass(frozen=True, slots=True)
class OpenAICompatibleAdapter:
    """``GET {base}/models``: the cheapest authenticated call every such server has."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/models")
        return run_key_check(client, url, lambda: bearer(key), key)


@dataclass(frozen=True, slots=True)
class OpenRouterAdapter:
    """``GET {base}/key``: OpenRouter's ``/models`` is public, so it would accept any key."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/key")
        return run_key_check(client, url, lambda: bearer(key), key)
