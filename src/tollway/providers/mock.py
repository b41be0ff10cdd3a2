"""The mock provider: every key is valid and nothing touches the network."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx

from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.providers.catalog import Capability, CatalogModel, FieldSource, Listing
from tollway.providers.catalog_fields import capability_source
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# The mock answers any model id; these are the ones it lists (the demo's among them).
MOCK_CHAT_MODEL = "mock-echo"
MOCK_EMBEDDING_MODEL = "mock-embedding"
MOCK_CONTEXT_WINDOW = 128_000
MOCK_MAX_OUTPUT_TOKENS = 16_384


@dataclass(frozen=True, slots=True)
class MockAdapter:
    provider_type: ProviderType
    default_base_url: str | None = None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        return KeyCheck(
            KeyCheckOutcome.VALID, "mock provider: every key is accepted", latency_ms=0.0
        )


@dataclass(frozen=True, slots=True)
class MockModelLister:
    """The mock's own catalog: static, free, no network."""

    def list_models(
        self,
        client: httpx.Client,
        base_url: str | None,
        key: SecretValue | None,
        *,
        deadline_seconds: float,
    ) -> Listing:
        models = (
            _mock_model(MOCK_CHAT_MODEL, "Mock echo", Capability.STREAMING, ("text",)),
            _mock_model(MOCK_EMBEDDING_MODEL, "Mock embedding", Capability.EMBEDDINGS, ()),
        )
        return Listing(
            KeyCheckOutcome.VALID,
            models,
            message=f"the mock provider lists {len(models)} models",
            latency_ms=0.0,
        )


def _mock_model(
    model_id: str, name: str, capability: Capability, outputs: tuple[str, ...]
) -> CatalogModel:
    fields = ["display_name", "context_window", "input_modalities", "input_price", "output_price"]
    if capability is Capability.STREAMING:
        fields += ["max_output_tokens", "output_modalities"]
    stated = (Capability.STREAMING, Capability.EMBEDDINGS, Capability.TOOLS, Capability.VISION)
    sources = {field_name: FieldSource.PROVIDER for field_name in fields}
    sources.update({capability_source(c): FieldSource.PROVIDER for c in stated})
    chat = capability is Capability.STREAMING
    return CatalogModel(
        model_id=model_id,
        display_name=name,
        context_window=MOCK_CONTEXT_WINDOW,
        max_output_tokens=MOCK_MAX_OUTPUT_TOKENS if chat else None,
        input_modalities=("text",),
        output_modalities=outputs,
        capabilities=frozenset({capability}),
        input_price=Decimal(0),  # the mock costs nothing: a known price, not a missing one
        output_price=Decimal(0),
        owned_by="tollway",
        sources={**sources, "owned_by": FieldSource.PROVIDER},
    )
