"""OpenRouter model ids for deployments that did not set one explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tollway.store.enums import ProviderType

# OpenRouter names models "<vendor>/<model>"; these vendors match the provider's own ids.
_VENDORS: Mapping[ProviderType, str] = MappingProxyType(
    {
        ProviderType.OPENAI: "openai",
        ProviderType.ANTHROPIC: "anthropic",
        ProviderType.GEMINI: "google",
        ProviderType.MISTRAL: "mistralai",
        ProviderType.COHERE: "cohere",
    }
)


def openrouter_model_id(provider_type: ProviderType, model_id: str) -> str | None:
    """The OpenRouter id of a provider's model, or None where no mapping is known
    (self-hosted, Groq and Together AI serve models under their own names)."""
    if provider_type is ProviderType.OPENROUTER:
        return model_id
    vendor = _VENDORS.get(provider_type)
    return f"{vendor}/{model_id}" if vendor else None
