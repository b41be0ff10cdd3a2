"""Which router speaks which family, and which family stands in for a provider type."""

from __future__ import annotations

from tests.fakes.providers.anthropic_api import AnthropicRouter
from tests.fakes.providers.base import FamilyRouter
from tests.fakes.providers.cohere_api import CohereRouter
from tests.fakes.providers.gemini_api import GeminiRouter
from tests.fakes.providers.openai_api import OpenAIRouter
from tests.fakes.providers.openrouter_api import OpenRouterRouter
from tests.fakes.providers.scripting import Family
from tollway.store.enums import ProviderType


def router_class(family: Family) -> type[FamilyRouter]:
    match family:
        case "openai":
            return OpenAIRouter
        case "openrouter":
            return OpenRouterRouter
        case "anthropic":
            return AnthropicRouter
        case "gemini":
            return GeminiRouter
        case "cohere":
            return CohereRouter


def family_for(provider_type: ProviderType) -> Family:
    """Which fake dialect stands in for ``provider_type``."""
    match provider_type:
        case ProviderType.ANTHROPIC:
            return "anthropic"
        case ProviderType.GEMINI:
            return "gemini"
        case ProviderType.COHERE:
            return "cohere"
        case ProviderType.OPENROUTER:
            return "openrouter"
        case _:
            return "openai"
