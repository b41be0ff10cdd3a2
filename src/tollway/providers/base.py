"""The provider adapter contract.

An adapter knows one provider family's HTTP API: how to check that a key is
accepted (its cheapest authenticated endpoint) and, later, how to list models.
``providers.families`` says which adapter serves which provider type.
Adapters take an ``httpx.Client`` so tests can inject ``httpx.MockTransport`` or
point at a fake server; they never raise for network or HTTP failures, they
classify them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import httpx

from tollway.secrets.base import SecretValue

if TYPE_CHECKING:
    from tollway.providers.catalog import Listing
from tollway.store.enums import ProviderType


class KeyCheckOutcome(StrEnum):
    VALID = "valid"
    REJECTED = "rejected"  # 401: the provider does not know this key
    FORBIDDEN = "forbidden"  # 403: known key without permission
    RATE_LIMITED = "rate_limited"  # 429
    PROVIDER_ERROR = "provider_error"  # 5xx
    UNEXPECTED_STATUS = "unexpected_status"  # any other status
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECTION_ERROR = "connection_error"
    BLOCKED_ADDRESS = "blocked_address"  # base URL resolves to a refused address

    @property
    def key_is_bad(self) -> bool:
        """Outcomes that prove the key itself is unusable (vs. a passing failure)."""
        return self in (KeyCheckOutcome.REJECTED, KeyCheckOutcome.FORBIDDEN)


@dataclass(frozen=True, slots=True)
class KeyCheck:
    outcome: KeyCheckOutcome
    message: str
    status_code: int | None = None
    latency_ms: float | None = None


class ProviderAdapter(Protocol):
    # Read-only so immutable adapters (frozen dataclasses) satisfy the protocol.
    @property
    def provider_type(self) -> ProviderType: ...

    @property
    def default_base_url(self) -> str | None: ...

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        """Call the provider's authentication endpoint with ``key`` and classify the result."""
        ...


class ModelLister(Protocol):
    """Lists the models a key may call: the model catalog's adapter, one per family.

    Pages through the whole list within ``deadline_seconds`` and normalises each entry
    (``providers.catalog``); failures are classified in the ``Listing``, never raised.
    ``key`` is None for families that list without one (OpenRouter, a local server).
    """

    def list_models(
        self,
        client: httpx.Client,
        base_url: str | None,
        key: SecretValue | None,
        *,
        deadline_seconds: float,
    ) -> Listing: ...
