"""The mock provider: every key is valid and nothing touches the network."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType


@dataclass(frozen=True, slots=True)
class MockAdapter:
    provider_type: ProviderType
    default_base_url: str | None = None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        return KeyCheck(
            KeyCheckOutcome.VALID, "mock provider: every key is accepted", latency_ms=0.0
        )
