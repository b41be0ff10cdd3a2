"""One descriptor per provider family: everything tollway knows about a provider type.

``FAMILIES`` is the only table keyed by provider type. The LiteLLM config renderer and
the price lookup read its LiteLLM routes, the wire layer its base-URL rewrite and
parameter quirks, the routing builder its default base URL and OpenRouter vendor,
the admin validation whether a key and a base URL are required, and the key-check
registry its adapter. Adding a family is its ``ProviderType`` value (the stored
vocabulary, store/enums.py) and one entry here, plus a fake server in
``tests/fakes/providers`` if it speaks a wire format no fake speaks yet; the
conformance suite (``tests/inference/test_families.py``) runs over every entry.

The wire layer sees a LiteLLM model name, not a provider type, so it finds the family
by the name's prefix (``upstream_family``). Families that share a prefix (OpenAI and
OpenAI-compatible servers) must agree on every LiteLLM rule; a test holds them to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tollway.providers.anthropic import AnthropicAdapter, anthropic_models_lister
from tollway.providers.base import ModelLister, ProviderAdapter
from tollway.providers.cohere import CohereAdapter, cohere_models_lister
from tollway.providers.gemini import GeminiAdapter, gemini_models_lister
from tollway.providers.mock import MockAdapter, MockModelLister
from tollway.providers.openai_like import OpenAICompatibleAdapter, OpenRouterAdapter
from tollway.providers.openai_listing import openai_models_lister, openrouter_models_lister
from tollway.store.enums import Endpoint, ProviderType

# Builds the family's key-check adapter from its type and default base URL.
KeyCheckFactory = Callable[[ProviderType, str | None], ProviderAdapter]
# Turns a stored base URL (no trailing slash) into the form LiteLLM wants for an endpoint.
BaseRewrite = Callable[[str, Endpoint], str]

_OPENAI_URL = "https://api.openai.com/v1"
_ANTHROPIC_URL = "https://api.anthropic.com"
_GEMINI_URL = "https://generativelanguage.googleapis.com"
_COHERE_URL = "https://api.cohere.com"
_MISTRAL_URL = "https://api.mistral.ai/v1"
_GROQ_URL = "https://api.groq.com/openai/v1"
_TOGETHER_AI_URL = "https://api.together.xyz/v1"
_OPENROUTER_URL = "https://openrouter.ai/api/v1"

_GEMINI_VERSION_ROOT = re.compile(r"/v1(beta|alpha)?$")


def keep_base(base: str, endpoint: Endpoint) -> str:
    """OpenAI-style: LiteLLM appends ``/chat/completions`` (etc.) to the API root."""
    return base


def gemini_version_root(base: str, endpoint: Endpoint) -> str:
    """LiteLLM takes Gemini's base as the version root (``…/v1beta``)."""
    return base if _GEMINI_VERSION_ROOT.search(base) else base + "/v1beta"


def cohere_endpoint_url(base: str, endpoint: Endpoint) -> str:
    """LiteLLM takes Cohere's base as the full endpoint URL (``…/v2/chat``, ``…/v2/embed``)."""
    path = "/embed" if endpoint is Endpoint.EMBEDDINGS else "/chat"
    return base if base.endswith(path) else base + "/v2" + path


def anthropic_root(base: str, endpoint: Endpoint) -> str:
    """LiteLLM appends ``/v1/messages`` itself, so a base ending in ``/v1`` loses it."""
    return base.removesuffix("/v1")


@dataclass(frozen=True, slots=True)
class Upstream:
    """How LiteLLM is asked for one endpoint of a family."""

    prefix: str  # LiteLLM's provider prefix: "<prefix>/<provider model id>"
    # Other ``litellm_provider`` values whose bare-id entries in LiteLLM's price map
    # price this prefix's models (the same model listed under a sibling route).
    priced_as: frozenset[str] = frozenset()

    def prices_with(self, litellm_provider: object) -> bool:
        return litellm_provider == self.prefix or litellm_provider in self.priced_as


@dataclass(frozen=True, slots=True)
class Family:
    """One provider family. Defaults describe a networked, keyed, OpenAI-style API."""

    provider_type: ProviderType
    display_name: str  # as people write it; names a migrated provider that had no name
    chat: Upstream
    key_check: KeyCheckFactory
    default_base_url: str | None = None  # the public API root; None: none (custom, mock)
    # None: no /completions of its own; LiteLLM serves it through the chat route.
    completions: Upstream | None = None
    # None: no embeddings API. Such calls still go to LiteLLM under the chat prefix,
    # which answers with its own error (the client sees why).
    embeddings: Upstream | None = None
    # The LiteLLM routes of the Responses and Messages dialects; None: the chat route's
    # prefix (LiteLLM bridges the dialect to the family's chat API, or speaks it natively).
    responses: Upstream | None = None
    messages: Upstream | None = None
    litellm_base: BaseRewrite = keep_base
    # The "<vendor>" of OpenRouter's "<vendor>/<model>" ids where they match the
    # provider's own ids; None: no mapping known (self-hosted, Groq, Together AI).
    openrouter_vendor: str | None = None
    serves_openrouter_ids: bool = False  # OpenRouter itself: its ids are OpenRouter's
    # Speaks OpenAI's wire format: chat, completions and embeddings pass through LiteLLM
    # untranslated (tollway.engine.passthrough), the answer reaching the client as sent.
    # Not Mistral: its API refuses fields it does not define (``seed`` is its
    # ``random_seed``, ``max_completion_tokens`` its ``max_tokens``, no
    # ``stream_options``), which LiteLLM's translation renames or drops.
    speaks_openai_wire: bool = False
    # Speaks Anthropic's Messages API: /v1/messages passes through natively, with the
    # client's ``anthropic-beta`` header and ``metadata`` (tollway.engine.messages_api).
    speaks_anthropic_wire: bool = False
    needs_key: bool = True
    needs_base_url: bool = False
    answers_locally: bool = False  # the mock: no network, no key, no price lookup
    # LiteLLM drops `user` for openai/ models outside OpenAI's catalog (some compatible
    # servers refuse it); the client sent it, so for these routes it goes through.
    keeps_user: bool = False
    # Lists the models a key may call (the model catalog); None: the family has no
    # lister and the catalog holds LiteLLM's map alone.
    model_listing: ModelLister | None = None

    def upstream(self, endpoint: Endpoint) -> Upstream:
        """The LiteLLM route for ``endpoint``; the chat route where the family has none."""
        match endpoint:
            case Endpoint.COMPLETIONS:
                return self.completions or self.chat
            case Endpoint.EMBEDDINGS:
                return self.embeddings or self.chat
            case Endpoint.RESPONSES:
                return self.responses or self.chat
            case Endpoint.MESSAGES:
                return self.messages or self.chat
            case _:
                return self.chat

    def litellm_prefix(self, endpoint: Endpoint | str) -> str:
        return self.upstream(Endpoint(endpoint)).prefix

    def supports(self, endpoint: Endpoint) -> bool:
        """Whether the provider answers ``endpoint`` (LiteLLM emulates completions)."""
        return endpoint is not Endpoint.EMBEDDINGS or self.embeddings is not None

    def base_url(self, configured: str | None) -> str | None:
        """The configured base URL without trailing slashes, else the default."""
        return (configured or "").strip().rstrip("/") or self.default_base_url

    def key_checker(self) -> ProviderAdapter:
        return self.key_check(self.provider_type, self.default_base_url)

    def openrouter_model_id(self, model_id: str) -> str | None:
        """The OpenRouter id of one of this family's models, None where none is known."""
        if self.serves_openrouter_ids:
            return model_id
        return f"{self.openrouter_vendor}/{model_id}" if self.openrouter_vendor else None


_OPENAI = Upstream("openai")
_OPENAI_TEXT = Upstream("text-completion-openai", priced_as=frozenset({"openai"}))
# LiteLLM's ``openai/`` Responses route calls the upstream's own /v1/responses, which
# OpenAI-compatible servers (vLLM, llama.cpp, Ollama…) mostly lack; ``custom_openai/``
# bridges the Responses API to their chat completions.
_OPENAI_CHAT_BRIDGE = Upstream("custom_openai", priced_as=frozenset({"openai"}))
# LiteLLM's Messages bridge sends ``openai/…`` with ``thinking`` to the upstream's
# /v1/responses, which OpenAI-compatible servers rarely have; ``hosted_vllm/…`` is the
# same OpenAI wire through chat completions, whatever the request holds.
_CHAT_ONLY_SERVER = Upstream("hosted_vllm", priced_as=frozenset({"openai"}))


FAMILIES: Mapping[ProviderType, Family] = MappingProxyType(
    {
        ProviderType.OPENAI: Family(
            ProviderType.OPENAI,
            "OpenAI",
            _OPENAI,
            OpenAICompatibleAdapter,
            _OPENAI_URL,
            completions=_OPENAI_TEXT,
            embeddings=_OPENAI,
            openrouter_vendor="openai",
            keeps_user=True,
            speaks_openai_wire=True,
            model_listing=openai_models_lister(ProviderType.OPENAI, _OPENAI_URL),
        ),
        ProviderType.ANTHROPIC: Family(
            ProviderType.ANTHROPIC,
            "Anthropic",
            Upstream("anthropic"),
            AnthropicAdapter,
            _ANTHROPIC_URL,
            litellm_base=anthropic_root,
            openrouter_vendor="anthropic",
            speaks_anthropic_wire=True,
            model_listing=anthropic_models_lister(_ANTHROPIC_URL),
        ),
        ProviderType.GEMINI: Family(
            ProviderType.GEMINI,
            "Gemini",
            Upstream("gemini"),
            GeminiAdapter,
            _GEMINI_URL,
            embeddings=Upstream("gemini"),
            litellm_base=gemini_version_root,
            openrouter_vendor="google",
            model_listing=gemini_models_lister(_GEMINI_URL),
        ),
        ProviderType.COHERE: Family(
            ProviderType.COHERE,
            "Cohere",
            # Cohere's chat lives under LiteLLM's "cohere_chat", its embeddings under "cohere".
            Upstream("cohere_chat", priced_as=frozenset({"cohere"})),
            CohereAdapter,
            _COHERE_URL,
            embeddings=Upstream("cohere", priced_as=frozenset({"cohere_chat"})),
            litellm_base=cohere_endpoint_url,
            openrouter_vendor="cohere",
            model_listing=cohere_models_lister(_COHERE_URL),
        ),
        ProviderType.MISTRAL: Family(
            ProviderType.MISTRAL,
            "Mistral",
            Upstream("mistral"),
            OpenAICompatibleAdapter,
            _MISTRAL_URL,
            embeddings=Upstream("mistral"),
            openrouter_vendor="mistralai",
            model_listing=openai_models_lister(ProviderType.MISTRAL, _MISTRAL_URL),
        ),
        ProviderType.GROQ: Family(
            ProviderType.GROQ,
            "Groq",
            Upstream("groq"),
            OpenAICompatibleAdapter,
            _GROQ_URL,
            speaks_openai_wire=True,
            model_listing=openai_models_lister(ProviderType.GROQ, _GROQ_URL),
        ),
        ProviderType.TOGETHER_AI: Family(
            ProviderType.TOGETHER_AI,
            "Together AI",
            Upstream("together_ai"),
            OpenAICompatibleAdapter,
            _TOGETHER_AI_URL,
            embeddings=Upstream("together_ai"),
            speaks_openai_wire=True,
            model_listing=openai_models_lister(ProviderType.TOGETHER_AI, _TOGETHER_AI_URL),
        ),
        ProviderType.OPENROUTER: Family(
            ProviderType.OPENROUTER,
            "OpenRouter",
            Upstream("openrouter"),
            OpenRouterAdapter,
            _OPENROUTER_URL,
            serves_openrouter_ids=True,
            speaks_openai_wire=True,
            model_listing=openrouter_models_lister(_OPENROUTER_URL),
        ),
        ProviderType.OPENAI_COMPATIBLE: Family(
            ProviderType.OPENAI_COMPATIBLE,
            "OpenAI-compatible",
            _OPENAI,  # with the provider's base URL
            OpenAICompatibleAdapter,
            completions=_OPENAI_TEXT,
            embeddings=_OPENAI,
            responses=_OPENAI_CHAT_BRIDGE,
            messages=_CHAT_ONLY_SERVER,
            needs_base_url=True,
            keeps_user=True,
            speaks_openai_wire=True,
            model_listing=openai_models_lister(ProviderType.OPENAI_COMPATIBLE, None),
        ),
        ProviderType.MOCK: Family(
            ProviderType.MOCK,
            "Mock",
            _OPENAI,  # never reaches a network: answered by the engine's mock
            MockAdapter,
            embeddings=_OPENAI,
            needs_key=False,
            answers_locally=True,
            keeps_user=True,
            model_listing=MockModelLister(),
        ),
    }
)


def family(provider_type: ProviderType) -> Family:
    return FAMILIES[provider_type]


def litellm_prefix(provider_type: ProviderType, endpoint: Endpoint | str) -> str:
    """LiteLLM's provider prefix for ``provider_type`` on ``endpoint``."""
    return FAMILIES[provider_type].litellm_prefix(endpoint)


def default_base_url(provider_type: ProviderType) -> str | None:
    return FAMILIES[provider_type].default_base_url


def effective_base_url(provider_type: ProviderType, base_url: str | None) -> str | None:
    return FAMILIES[provider_type].base_url(base_url)


def adapter_for(provider_type: ProviderType) -> ProviderAdapter:
    """The adapter that checks keys of ``provider_type``."""
    return FAMILIES[provider_type].key_checker()


def litellm_prefixes() -> frozenset[str]:
    """Every LiteLLM prefix tollway routes to (one wildcard deployment each)."""
    return frozenset(
        family.upstream(endpoint).prefix for family in FAMILIES.values() for endpoint in Endpoint
    )


def _networked_by_prefix() -> Mapping[str, Family]:
    index: dict[str, Family] = {}
    for entry in FAMILIES.values():
        if entry.answers_locally:  # the mock's "openai/" never reaches LiteLLM's providers
            continue
        for endpoint in Endpoint:
            index.setdefault(entry.upstream(endpoint).prefix, entry)
    return MappingProxyType(index)


_BY_PREFIX = _networked_by_prefix()


def upstream_family(litellm_model: str) -> Family | None:
    """The family whose LiteLLM route ``litellm_model`` ("<prefix>/<id>") names."""
    prefix, slash, _ = litellm_model.partition("/")
    return _BY_PREFIX.get(prefix) if slash else None


def upstream_route(prefix: str) -> Upstream | None:
    """The LiteLLM route called ``prefix`` (its price-map rules), None if tollway has none."""
    entry = _BY_PREFIX.get(prefix)
    if entry is None:
        return None
    return next(entry.upstream(e) for e in Endpoint if entry.upstream(e).prefix == prefix)
