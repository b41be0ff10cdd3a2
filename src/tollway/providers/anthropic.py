"""Anthropic's native API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck
from tollway.providers.http_check import endpoint, run_key_check
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# Every request must name an API version; this one is current and stable.
ANTHROPIC_VERSION = "2023-06-01"


def anthropic_headers(key: SecretValue) -> Mapping[str, str]:
    return {"x-api-key": key.reveal(), "anthropic-version": ANTHROPIC_VERSION}


@dataclass(frozen=True, slots=True)
class AnthropicAdapter:
    """``GET {base}/v1/models`` with ``x-api-key``: authenticated and free."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/v1/models")
        return run_key_check(client, url, lambda: anthropic_headers(key), key)
