"""Cohere's native API."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck
from tollway.providers.http_check import endpoint, run_key_check
from tollway.providers.openai_like import bearer
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType


@dataclass(frozen=True, slots=True)
class CohereAdapter:
    """``GET {base}/v1/models`` with a bearer token."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/v1/models")
        return run_key_check(client, url, lambda: bearer(key), key)
