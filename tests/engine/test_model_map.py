"""Filling catalog gaps from LiteLLM's model map: never over the provider, always sourced."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from tollway.engine.model_map import (
    ModelMap,
    bundled_model_map,
    complete_listing,
    fill_from_litellm,
    static_catalog,
)
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import Capability, CatalogModel, FieldSource, Listing
from tollway.providers.catalog_fields import capability_source
from tollway.store.enums import ProviderType

C = Capability
LITELLM = FieldSource.LITELLM
PROVIDER = FieldSource.PROVIDER

# Entries as LiteLLM's map writes them (trimmed to the keys the filler reads).
MAP = ModelMap(
    MappingProxyType(
        {
            "gpt-4o-mini": {
                "litellm_provider": "openai",
                "mode": "chat",
                "max_input_tokens": 128_000,
                "max_output_tokens": 16_384,
                "input_cost_per_token": 1.5e-07,
                "output_cost_per_token": 6e-07,
                "supports_function_calling": True,
                "supports_vision": True,
                "supports_response_schema": True,
                "supports_reasoning": False,
            },
            "mistral/mistral-large-latest": {
                "litellm_provider": "mistral",
                "mode": "chat",
                "max_input_tokens": 262_144,
                "max_output_tokens": 262_144,
                "input_cost_per_token": 5e-07,
                "output_cost_per_token": 1.5e-06,
                "supports_function_calling": True,
                "deprecation_date": "2027-01-01",
                "supported_modalities": ["text", "image"],
            },
            "embed-english-v3.0": {
                "litellm_provider": "cohere",
                "mode": "embedding",
                "max_input_tokens": 512,
                "input_cost_per_token": 1e-07,
                "output_cost_per_token": 0.0,
            },
            "command-a-03-2025": {
                "litellm_provider": "cohere_chat",
                "mode": "chat",
                "max_input_tokens": 256_000,
                "max_output_tokens": 8000,
            },
            "groq/openai/gpt-oss-120b": {
                "litellm_provider": "groq",
                "mode": "chat",
                "max_input_tokens": 131_072,
                "supports_reasoning": True,
            },
            "groq/whisper-large-v3": {"litellm_provider": "groq", "mode": "audio_transcription"},
            "gpt-image-1": {"litellm_provider": "openai", "mode": "image_generation"},
            "ft:gpt-4o-mini-2024-07-18": {"litellm_provider": "openai", "mode": "chat"},
        }
    )
)


def test_fills_what_the_provider_left_open_and_says_from_where() -> None:
    model = fill_from_litellm("openai", CatalogModel("gpt-4o-mini"), model_map=MAP)
    assert model.context_window == 128_000
    assert model.max_output_tokens == 16_384
    assert model.input_price == Decimal("1.5E-7")
    assert model.output_price == Decimal("6E-7")
    assert model.capabilities == {C.TOOLS, C.VISION, C.JSON_SCHEMA, C.STREAMING}
    assert model.input_modalities == ("text", "image")
    assert model.sources["context_window"] is LITELLM
    assert model.sources["input_price"] is LITELLM
    # The map said "no reasoning": that is stated, so it is sourced too.
    assert model.sources[capability_source(C.REASONING)] is LITELLM
    assert "display_name" not in model.sources


def test_never_overwrites_what_the_provider_gave() -> None:
    given = CatalogModel(
        "gpt-4o-mini",
        context_window=100_000,
        input_price=Decimal("0.000001"),
        capabilities=frozenset(),
        sources={
            "context_window": PROVIDER,
            "input_price": PROVIDER,
            capability_source(C.TOOLS): PROVIDER,  # the provider said: no tools
        },
    )
    model = fill_from_litellm("openai", given, model_map=MAP)
    assert model.context_window == 100_000
    assert model.input_price == Decimal("0.000001")
    assert C.TOOLS not in model.capabilities
    assert model.sources["context_window"] is PROVIDER
    assert model.sources[capability_source(C.TOOLS)] is PROVIDER
    assert model.output_price == Decimal("6E-7")
    assert model.sources["output_price"] is LITELLM


def test_finds_prefixed_entries_and_sibling_routes() -> None:
    mistral = fill_from_litellm("mistral", CatalogModel("mistral-large-latest"), model_map=MAP)
    assert mistral.context_window == 262_144
    assert mistral.deprecation == "2027-01-01"
    assert mistral.input_modalities == ("text", "image")
    # Cohere's chat route is cohere_chat; its embedding models sit under "cohere".
    embed = fill_from_litellm("cohere_chat", CatalogModel("embed-english-v3.0"), model_map=MAP)
    assert embed.capabilities == {C.EMBEDDINGS}
    assert embed.output_price == Decimal(0)  # the map's explicit zero is a price
    groq = fill_from_litellm("groq", CatalogModel("openai/gpt-oss-120b"), model_map=MAP)
    assert C.REASONING in groq.capabilities


def test_another_providers_entry_is_not_used() -> None:
    unknown = CatalogModel("gpt-4o-mini")  # on Groq: OpenAI's entry does not describe it
    assert fill_from_litellm("groq", unknown, model_map=MAP) is unknown
    missing = CatalogModel("no-such-model")
    assert fill_from_litellm("openai", missing, model_map=MAP) is missing


def test_static_catalog_lists_the_familys_served_models() -> None:
    models = static_catalog(ProviderType.COHERE, model_map=MAP)
    assert [m.model_id for m in models] == ["command-a-03-2025", "embed-english-v3.0"]
    assert all(source is FieldSource.STATIC for m in models for source in m.sources.values())
    openai = [m.model_id for m in static_catalog(ProviderType.OPENAI, model_map=MAP)]
    assert openai == ["gpt-4o-mini"]  # no image models, no fine-tune templates
    groq = [m.model_id for m in static_catalog(ProviderType.GROQ, model_map=MAP)]
    assert groq == ["openai/gpt-oss-120b"]
    assert static_catalog(ProviderType.OPENAI_COMPATIBLE, model_map=MAP) == ()
    assert static_catalog(ProviderType.MOCK, model_map=MAP) == ()


def test_complete_listing() -> None:
    static = Listing(KeyCheckOutcome.VALID, static=True, status_code=404)
    completed = complete_listing(ProviderType.COHERE, static, model_map=MAP)
    assert completed.static
    assert len(completed.models) == 2
    read = Listing(KeyCheckOutcome.VALID, (CatalogModel("command-a-03-2025"),))
    filled = complete_listing(ProviderType.COHERE, read, model_map=MAP)
    assert filled.models[0].context_window == 256_000
    failed = Listing(KeyCheckOutcome.RATE_LIMITED, retry_after_seconds=3.0)
    assert complete_listing(ProviderType.COHERE, failed, model_map=MAP) is failed


def test_the_bundled_map_is_litellms() -> None:
    shipped = bundled_model_map()
    assert len(shipped.entries) > 1000
    model = fill_from_litellm("openai", CatalogModel("gpt-4o-mini"))
    assert model.context_window is not None
    assert model.sources["context_window"] is LITELLM
    assert static_catalog(ProviderType.ANTHROPIC)
