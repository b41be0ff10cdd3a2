"""Which adapter and which default base URL serve each provider type."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tollway.providers.anthropic import AnthropicAdapter
from tollway.providers.base import ProviderAdapter
from tollway.providers.cohere import CohereAdapter
from tollway.providers.gemini import GeminiAdapter
from tollway.providers.mock import MockAdapter
from tollway.providers.openai_like import OpenAICompatibleAdapter, OpenRouterAdapter
from tollway.store.enums import ProviderType


def default_base_url(provider_type: ProviderType) -> str | None:
    """The provider's public API base; None where there is none (custom servers, mock)."""
    return _default_base_urls().get(provider_type)


def _default_base_urls() -> Mapping[ProviderType, str]:
    return MappingProxyType(
        {
            ProviderType.OPENAI: "https://api.openai.com/v1",
            ProviderType.GROQ: "https://api.groq.com/openai/v1",
            ProviderType.TOGETHER_AI: "https://api.together.xyz/v1",
            ProviderType.MISTRAL: "https://api.mistral.ai/v1",
            ProviderType.OPENROUTER: "https://openrouter.ai/api/v1",
            ProviderType.ANTHROPIC: "https://api.anthropic.com",
            ProviderType.GEMINI: "https://generativelanguage.googleapis.com",
            ProviderType.COHERE: "https://api.cohere.com",
        }
    )


def effective_base_url(provider_type: ProviderType, base_url: str | None) -> str | None:
    """The configured base URL without trailing slashes, else the provider's default."""
    configured = (base_url or "").strip().rstrip("/")
    return configured or default_base_url(provider_type)


def adapter_for(provider_type: ProviderType) -> ProviderAdapter:
    default = default_base_url(provider_type)
    match provider_type:
        case (
            ProviderType.OPENAI
            | ProviderType.GROQ
            | ProviderType.TOGETHER_AI
            | ProviderType.MISTRAL
            | ProviderType.OPENAI_COMPATIBLE
        ):
            return OpenAICompatibleAdapter(provider_type, default)
        case ProviderType.OPENROUTER:
            return OpenRouterAdapter(default)
        case ProviderType.ANTHROPIC:
            return AnthropicAdapter(default)
        case ProviderType.GEMINI:
            return GeminiAdapter(default)
        case ProviderType.COHERE:
            return CohereAdapter(default)
        case ProviderType.MOCK:
            return MockAdapter()
