"""Model lists of the OpenAI-shaped APIs: OpenAI, Groq, Mistral, Together AI, OpenRouter
and any OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp, a LiteLLM proxy).

None of them pages ``GET {base}/models``. One tolerant reader serves every OpenAI-style
body (``{"data": [...]}`` or Together's bare array) and picks up the extras each
publishes under its own names: Groq's ``context_window``/``max_completion_tokens``,
Mistral's ``capabilities`` and ``max_context_length``, Together's ``context_length``,
``type`` and per-million ``pricing``, vLLM's ``max_model_len``, LM Studio's ``type``.
OpenRouter's list means different things by ``pricing`` (per token, as strings) and
publishes capabilities as ``supported_parameters``, so it has its own reader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tollway.providers.catalog import Capability
from tollway.providers.catalog_fields import (
    ModelDraft,
    as_int,
    as_mapping,
    as_price,
    as_str,
    as_strings,
    entries_of,
    first_int,
    model_id_of,
    objects_in,
)
from tollway.providers.listing import HttpModelLister, Page
from tollway.providers.openai_like import bearer
from tollway.store.enums import ProviderType

_CONTEXT_FIELDS = ("context_window", "context_length", "max_context_length", "max_model_len")
_OUTPUT_FIELDS = ("max_completion_tokens", "max_output_tokens")
# Together's and LM Studio's ``type``: what the model does.
_TEXT_TYPES = frozenset({"chat", "language", "code", "llm", "vlm"})
_EMBEDDING_TYPES = frozenset({"embedding", "embeddings"})


def openai_models_lister(
    provider_type: ProviderType, default_base_url: str | None
) -> HttpModelLister:
    return HttpModelLister(provider_type, default_base_url, "/models", parse_openai_models, bearer)


def openrouter_models_lister(default_base_url: str | None) -> HttpModelLister:
    # Without output_modalities=all OpenRouter lists only text-output models.
    return HttpModelLister(
        ProviderType.OPENROUTER,
        default_base_url,
        "/models",
        parse_openrouter_models,
        bearer,
        first_params=(("output_modalities", "all"),),
    )


def parse_openai_models(payload: object) -> Page:
    if isinstance(payload, list):  # Together AI answers a bare array
        entries: Sequence[Mapping[str, Any]] = objects_in(payload)
    else:
        entries = entries_of(payload, "data")
    return Page([draft.build() for entry in entries if (draft := _openai_entry(entry))])


def _openai_entry(entry: Mapping[str, Any]) -> ModelDraft | None:
    model_id = model_id_of(entry)
    if model_id is None:
        return None
    draft = ModelDraft(model_id)
    draft.set("display_name", as_str(entry.get("display_name")) or as_str(entry.get("name")))
    draft.set("context_window", first_int(entry, _CONTEXT_FIELDS))
    draft.set("max_output_tokens", first_int(entry, _OUTPUT_FIELDS))
    draft.set("owned_by", as_str(entry.get("owned_by")) or as_str(entry.get("organization")))
    draft.set("deprecation", as_str(entry.get("deprecation")))
    _mistral_capabilities(draft, entry.get("capabilities"))
    _typed(draft, as_str(entry.get("type")), entry.get("pricing"))
    return draft


def _mistral_capabilities(draft: ModelDraft, capabilities: object) -> None:
    """Mistral: ``{"completion_chat": true, "function_calling": true, "vision": false…}``;
    LM Studio: ``["tool_use"]``."""
    if isinstance(capabilities, list):
        names = set(as_strings(capabilities) or ())
        if names & {"tool_use", "tools", "function_calling"}:
            draft.capability(Capability.TOOLS, True)
        return
    if not isinstance(capabilities, Mapping):
        return

    def flag(name: str) -> bool | None:
        value = capabilities.get(name)
        return value if isinstance(value, bool) else None

    chat, vision = flag("completion_chat"), flag("vision")
    draft.capability(Capability.STREAMING, chat)
    draft.capability(Capability.TOOLS, flag("function_calling"))
    draft.capability(Capability.VISION, vision)
    draft.capability(Capability.REASONING, flag("reasoning"))
    if chat:
        draft.set("input_modalities", ("text", "image") if vision else ("text",))
        draft.set("output_modalities", ("text",))


def _typed(draft: ModelDraft, kind: str | None, pricing: object) -> None:
    """Together's (and LM Studio's) ``type``, and Together's per-million ``pricing``."""
    if kind in _TEXT_TYPES:
        draft.capability(Capability.STREAMING, True)
        draft.capability(Capability.EMBEDDINGS, False)
        draft.set("output_modalities", ("text",))
        if kind == "vlm":
            draft.capability(Capability.VISION, True)
    elif kind in _EMBEDDING_TYPES:
        draft.capability(Capability.EMBEDDINGS, True)
        draft.capability(Capability.STREAMING, False)
    prices = as_mapping(pricing)
    if "input" in prices or "output" in prices:
        input_price = as_price(prices.get("input"), per_million=True)
        output_price = as_price(prices.get("output"), per_million=True)
        # Together prices images, audio and reranking otherwise and shows 0 per token
        # for them: that zero means "not per token", never "free".
        if kind in _TEXT_TYPES or kind in _EMBEDDING_TYPES:
            draft.set("input_price", input_price)
            draft.set("output_price", output_price)


def parse_openrouter_models(payload: object) -> Page:
    return Page(
        [_openrouter_entry(e).build() for e in entries_of(payload, "data") if model_id_of(e)]
    )


def _openrouter_entry(entry: Mapping[str, Any]) -> ModelDraft:
    draft = ModelDraft(model_id_of(entry) or "")
    draft.set("display_name", as_str(entry.get("name")))
    draft.set("context_window", as_int(entry.get("context_length")))
    top = as_mapping(entry.get("top_provider"))
    draft.set("max_output_tokens", as_int(top.get("max_completion_tokens")))
    architecture = as_mapping(entry.get("architecture"))
    inputs = as_strings(architecture.get("input_modalities"))
    outputs = as_strings(architecture.get("output_modalities"))
    draft.set("input_modalities", inputs)
    draft.set("output_modalities", outputs)
    if inputs is not None:
        draft.capability(Capability.VISION, "image" in inputs)
    if outputs is not None:
        draft.capability(Capability.STREAMING, "text" in outputs)
        draft.capability(Capability.EMBEDDINGS, "embeddings" in outputs)
    parameters = as_strings(entry.get("supported_parameters"))
    if parameters is not None:
        names = set(parameters)
        draft.capability(Capability.TOOLS, "tools" in names)
        draft.capability(Capability.JSON_SCHEMA, "structured_outputs" in names)
        draft.capability(Capability.REASONING, bool(names & {"reasoning", "include_reasoning"}))
    pricing = as_mapping(entry.get("pricing"))
    draft.set("input_price", as_price(pricing.get("prompt")))
    draft.set("output_price", as_price(pricing.get("completion")))
    draft.set("deprecation", as_str(entry.get("expiration_date")))
    return draft
