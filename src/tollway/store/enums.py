"""Closed vocabularies of the data model (docs/architecture.md §3)."""

from __future__ import annotations

from enum import StrEnum


class Endpoint(StrEnum):
    """Which /v1 endpoint a request called (``usage_records.endpoint``)."""

    CHAT = "chat"  # POST /v1/chat/completions
    COMPLETIONS = "completions"  # POST /v1/completions
    EMBEDDINGS = "embeddings"  # POST /v1/embeddings
    RESPONSES = "responses"  # POST /v1/responses (OpenAI's Responses API)
    MESSAGES = "messages"  # POST /v1/messages (Anthropic's Messages API)


class Route(StrEnum):
    """Who executed a request (``usage_records.route``): LiteLLM, or the OpenRouter fallback."""

    LITELLM = "litellm"
    OPENROUTER = "openrouter"


class ProviderType(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    COHERE = "cohere"
    MISTRAL = "mistral"
    GROQ = "groq"
    TOGETHER_AI = "together_ai"
    OPENROUTER = "openrouter"
    OPENAI_COMPATIBLE = "openai_compatible"
    MOCK = "mock"
    # Everything else about a type lives in its descriptor: tollway.providers.families.


class ProviderStatus(StrEnum):
    INACTIVE = "inactive"
    ACTIVE = "active"
    INVALID = "invalid"


class ProviderKeyStatus(StrEnum):
    UNVALIDATED = "unvalidated"
    VALID = "valid"
    INVALID = "invalid"
    DISABLED = "disabled"


class ModelStatus(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    INVALID = "invalid"
    # Deleted while verification results referenced it: out of routing and listings,
    # kept (with its results) for the record.
    RETIRED = "retired"


class PriceSource(StrEnum):
    LITELLM = "litellm"  # LiteLLM's bundled price map
    OPENROUTER = "openrouter"  # OpenRouter's catalog
    PROVIDER = "provider"  # another provider's own catalog (Together AI publishes prices)
    MANUAL = "manual"


class LimitScope(StrEnum):
    PROVIDER = "provider"
    PROVIDER_KEY = "provider_key"
    TEAM = "team"
    TOLLWAY_KEY = "tollway_key"


class RoutingStrategy(StrEnum):
    """How deployments of one public model are ordered."""

    PRIORITY = "priority"  # highest Model.priority first
    CHEAPEST = "cheapest"  # lowest price per token first (PricingInfo, then LiteLLM's map)
    WEIGHTED = "weighted"  # random, proportional to Model.weight
