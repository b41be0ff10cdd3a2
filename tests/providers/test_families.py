"""The descriptor table's own rules (the conformance suite over every family runs in
tests/inference/test_families.py)."""

from __future__ import annotations

from tollway.engine.base import Endpoint
from tollway.providers.families import (
    FAMILIES,
    family,
    litellm_prefixes,
    upstream_family,
    upstream_route,
)
from tollway.store.enums import ProviderType


def test_openrouter_ids_come_from_the_vendor() -> None:
    ids = {t: family(t).openrouter_model_id("m-1") for t in ProviderType}
    assert ids == {
        ProviderType.OPENAI: "openai/m-1",
        ProviderType.ANTHROPIC: "anthropic/m-1",
        ProviderType.GEMINI: "google/m-1",
        ProviderType.COHERE: "cohere/m-1",
        ProviderType.MISTRAL: "mistralai/m-1",
        ProviderType.GROQ: None,
        ProviderType.TOGETHER_AI: None,
        ProviderType.OPENROUTER: "m-1",  # already an OpenRouter id
        ProviderType.OPENAI_COMPATIBLE: None,
        ProviderType.MOCK: None,
    }


def test_what_the_admin_api_requires() -> None:
    assert [t for t in ProviderType if not family(t).needs_key] == [ProviderType.MOCK]
    assert [t for t in ProviderType if family(t).needs_base_url] == [ProviderType.OPENAI_COMPATIBLE]
    for provider_type, entry in FAMILIES.items():
        # A family without a default base URL must make the admin ask for one.
        networked = not entry.answers_locally
        assert entry.default_base_url is not None or entry.needs_base_url or not networked, (
            provider_type
        )


def test_a_litellm_model_name_finds_its_family() -> None:
    assert upstream_family("openai/gpt-4o") is FAMILIES[ProviderType.OPENAI]
    assert upstream_family("text-completion-openai/x") is FAMILIES[ProviderType.OPENAI]
    assert upstream_family("cohere/embed") is FAMILIES[ProviderType.COHERE]
    assert upstream_family("cohere_chat/command") is FAMILIES[ProviderType.COHERE]
    assert upstream_family("nosuch/m") is None
    assert upstream_family("openai") is None  # no prefix at all


def test_price_map_siblings() -> None:
    route = upstream_route("text-completion-openai")
    assert route is not None
    assert route.prices_with("openai")
    openai = upstream_route("openai")
    assert openai is not None
    assert not openai.prices_with("text-completion-openai")
    assert upstream_route("nosuch") is None


def test_embeddings_only_where_the_provider_has_them() -> None:
    without = [t for t in ProviderType if not family(t).supports(Endpoint.EMBEDDINGS)]
    assert without == [ProviderType.ANTHROPIC, ProviderType.GROQ, ProviderType.OPENROUTER]
    # ...and such calls still carry the chat prefix, so LiteLLM answers with its error.
    assert family(ProviderType.ANTHROPIC).litellm_prefix(Endpoint.EMBEDDINGS) == "anthropic"


def test_every_route_has_a_wildcard() -> None:
    assert litellm_prefixes() == frozenset(
        {
            "anthropic",
            "cohere",
            "cohere_chat",
            "custom_openai",  # OpenAI-compatible servers' Responses API, bridged to chat
            "gemini",
            "groq",
            "mistral",
            "openai",
            "openrouter",
            "text-completion-openai",
            "together_ai",
        }
    )
