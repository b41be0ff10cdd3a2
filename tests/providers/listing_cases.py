"""Each family's model list in its real shape, and what tollway must read from it.

Written out by hand from the providers' documented answers, independently of the
listers: this is the contract the conformance suite holds them to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tollway.providers.catalog import Capability
from tollway.store.enums import ProviderType

C = Capability


@dataclass(frozen=True)
class ListingCase:
    provider_type: ProviderType
    entries: tuple[Mapping[str, Any], ...]
    # model id -> the fields read from the entry (capabilities: the exact set).
    expected: Mapping[str, Mapping[str, Any]]
    paged: bool = False  # Anthropic, Gemini, Cohere page; the others send one list
    bare_array: bool = False
    key_checked: bool = True  # OpenRouter's list is public
    # Ids listed that are not in ``expected`` (read, with nothing to check).
    also: tuple[str, ...] = field(default=())

    @property
    def ids(self) -> list[str]:
        return [*self.expected, *self.also]


def _openai(model_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1_700_000_000, **extra}


_MISTRAL_CAPS = {
    "completion_chat": True,
    "completion_fim": False,
    "function_calling": True,
    "fine_tuning": True,
    "vision": False,
    "classification": False,
}

CASES: tuple[ListingCase, ...] = (
    ListingCase(
        ProviderType.OPENAI,
        (
            _openai("gpt-4o-mini", owned_by="system"),
            _openai("text-embedding-3-small", owned_by="system"),
            _openai("o3", owned_by="system"),
        ),
        {"gpt-4o-mini": {"owned_by": "system", "capabilities": frozenset()}},
        also=("text-embedding-3-small", "o3"),
    ),
    ListingCase(
        ProviderType.GROQ,
        (
            _openai(
                "llama-3.3-70b-versatile",
                owned_by="Meta",
                active=True,
                context_window=131_072,
                public_apps=None,
                max_completion_tokens=32_768,
            ),
            _openai("whisper-large-v3", owned_by="OpenAI", context_window=448),
            _openai("openai/gpt-oss-120b", owned_by="OpenAI", context_window=131_072),
        ),
        {"llama-3.3-70b-versatile": {"context_window": 131_072, "max_output_tokens": 32_768}},
        also=("whisper-large-v3", "openai/gpt-oss-120b"),
    ),
    ListingCase(
        ProviderType.MISTRAL,
        (
            _openai(
                "mistral-large-latest",
                owned_by="mistralai",
                capabilities=_MISTRAL_CAPS,
                name="mistral-large-2411",
                description="Our top-tier model",
                max_context_length=131_072,
                aliases=["mistral-large-2411"],
                deprecation=None,
                type="base",
            ),
            _openai(
                "pixtral-large-latest",
                capabilities={**_MISTRAL_CAPS, "vision": True},
                max_context_length=131_072,
            ),
            _openai(
                "mistral-embed",
                capabilities={**_MISTRAL_CAPS, "completion_chat": False, "function_calling": False},
                max_context_length=8192,
                deprecation="2026-12-31T00:00:00Z",
            ),
        ),
        {
            "mistral-large-latest": {
                "display_name": "mistral-large-2411",
                "context_window": 131_072,
                "capabilities": frozenset({C.STREAMING, C.TOOLS}),
                "input_modalities": ("text",),
            },
            "pixtral-large-latest": {
                "capabilities": frozenset({C.STREAMING, C.TOOLS, C.VISION}),
                "input_modalities": ("text", "image"),
            },
            "mistral-embed": {
                "deprecation": "2026-12-31T00:00:00Z",
                "capabilities": frozenset(),
            },
        },
    ),
    ListingCase(
        ProviderType.TOGETHER_AI,
        (
            _openai(
                "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                type="chat",
                running=False,
                display_name="Meta Llama 3.3 70B Instruct Turbo",
                organization="Meta",
                context_length=131_072,
                pricing={"hourly": 0, "input": 0.88, "output": 0.88, "base": 0, "finetune": 0},
            ),
            _openai(
                "BAAI/bge-large-en-v1.5",
                type="embedding",
                context_length=512,
                pricing={"hourly": 0, "input": 0.02, "output": 0, "base": 0, "finetune": 0},
            ),
            _openai(
                "black-forest-labs/FLUX.1-schnell",
                type="image",
                pricing={"hourly": 0, "input": 0, "output": 0, "base": 0, "finetune": 0},
            ),
        ),
        {
            "meta-llama/Llama-3.3-70B-Instruct-Turbo": {
                "display_name": "Meta Llama 3.3 70B Instruct Turbo",
                "owned_by": "Meta",
                "context_window": 131_072,
                "input_price": Decimal("0.00000088"),
                "output_price": Decimal("0.00000088"),
                "capabilities": frozenset({C.STREAMING}),
            },
            "BAAI/bge-large-en-v1.5": {
                "input_price": Decimal("0.00000002"),
                "output_price": Decimal(0),
                "capabilities": frozenset({C.EMBEDDINGS}),
            },
            # Priced per image: no per-token price, which is not "free".
            "black-forest-labs/FLUX.1-schnell": {"input_price": None, "output_price": None},
        },
        bare_array=True,
    ),
    ListingCase(
        ProviderType.OPENROUTER,
        (
            {
                "id": "openai/gpt-4o",
                "canonical_slug": "openai/gpt-4o",
                "name": "OpenAI: GPT-4o",
                "context_length": 128_000,
                "architecture": {
                    "modality": "text+image->text",
                    "input_modalities": ["text", "image", "file"],
                    "output_modalities": ["text"],
                    "tokenizer": "GPT",
                },
                "pricing": {"prompt": "0.0000025", "completion": "0.00001", "request": "0"},
                "top_provider": {
                    "context_length": 128_000,
                    "max_completion_tokens": 16_384,
                    "is_moderated": True,
                },
                "supported_parameters": ["tools", "tool_choice", "structured_outputs"],
            },
            {
                "id": "openrouter/auto",
                "name": "Auto Router",
                "context_length": 2_000_000,
                "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                "pricing": {"prompt": "-1", "completion": "-1"},
                "supported_parameters": ["reasoning", "include_reasoning"],
            },
            {
                "id": "google/gemini-2.5-flash-image",
                "name": "Google: Nano Banana",
                "architecture": {
                    "input_modalities": ["image", "text"],
                    "output_modalities": ["image"],
                },
                "pricing": {"prompt": "0.0000003", "completion": "0.0000025"},
            },
        ),
        {
            "openai/gpt-4o": {
                "display_name": "OpenAI: GPT-4o",
                "context_window": 128_000,
                "max_output_tokens": 16_384,
                "input_modalities": ("text", "image", "file"),
                "output_modalities": ("text",),
                "input_price": Decimal("0.0000025"),
                "output_price": Decimal("0.00001"),
                "capabilities": frozenset({C.STREAMING, C.TOOLS, C.JSON_SCHEMA, C.VISION}),
            },
            # "-1": priced by the model it routes to, so unknown here.
            "openrouter/auto": {
                "input_price": None,
                "capabilities": frozenset({C.STREAMING, C.REASONING}),
            },
            # Image output only: listed thanks to output_modalities=all.
            "google/gemini-2.5-flash-image": {
                "output_modalities": ("image",),
                "capabilities": frozenset({C.VISION}),
            },
        },
        key_checked=False,
    ),
    ListingCase(
        ProviderType.OPENAI_COMPATIBLE,
        (
            # vLLM
            _openai(
                "meta-llama/Llama-3.1-8B-Instruct",
                owned_by="vllm",
                root="meta-llama/Llama-3.1-8B-Instruct",
                parent=None,
                max_model_len=8192,
                permission=[{"id": "modelperm-1", "allow_sampling": True}],
            ),
            # LM Studio
            _openai(
                "qwen2-vl-7b-instruct",
                owned_by="organization_owner",
                type="vlm",
                max_context_length=32_768,
                capabilities=["tool_use"],
            ),
            # Ollama
            _openai("llama3:latest", owned_by="library"),
        ),
        {
            "meta-llama/Llama-3.1-8B-Instruct": {"context_window": 8192, "owned_by": "vllm"},
            "qwen2-vl-7b-instruct": {
                "context_window": 32_768,
                "capabilities": frozenset({C.STREAMING, C.TOOLS, C.VISION}),
            },
            "llama3:latest": {"owned_by": "library", "capabilities": frozenset()},
        },
    ),
    ListingCase(
        ProviderType.ANTHROPIC,
        tuple(
            {
                "type": "model",
                "id": model_id,
                "display_name": name,
                "created_at": "2025-09-29T00:00:00Z",
            }
            for model_id, name in (
                ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
                ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
                ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
            )
        ),
        {
            "claude-sonnet-4-5-20250929": {"display_name": "Claude Sonnet 4.5"},
            "claude-haiku-4-5-20251001": {"display_name": "Claude Haiku 4.5"},
            "claude-opus-4-1-20250805": {"display_name": "Claude Opus 4.1"},
        },
        paged=True,
    ),
    ListingCase(
        ProviderType.GEMINI,
        (
            {
                "name": "models/gemini-2.5-flash",
                "version": "001",
                "displayName": "Gemini 2.5 Flash",
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": [
                    "generateContent",
                    "countTokens",
                    "batchGenerateContent",
                ],
                "temperature": 1,
                "thinking": True,
            },
            {
                "name": "models/gemini-embedding-001",
                "displayName": "Gemini Embedding 001",
                "inputTokenLimit": 2048,
                "outputTokenLimit": 1,
                "supportedGenerationMethods": [
                    "embedContent",
                    "countTextTokens",
                    "asyncBatchEmbedContent",
                ],
            },
            {
                "name": "models/gemini-2.0-flash-lite",
                "displayName": "Gemini 2.0 Flash-Lite",
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
                "thinking": False,
            },
        ),
        {
            "gemini-2.5-flash": {
                "display_name": "Gemini 2.5 Flash",
                "context_window": 1_048_576,
                "max_output_tokens": 65_536,
                "capabilities": frozenset({C.STREAMING, C.REASONING}),
            },
            "gemini-embedding-001": {"capabilities": frozenset({C.EMBEDDINGS})},
            "gemini-2.0-flash-lite": {"capabilities": frozenset({C.STREAMING})},
        },
        paged=True,
    ),
    ListingCase(
        ProviderType.COHERE,
        (
            {
                "name": "command-a-03-2025",
                "endpoints": ["generate", "chat", "summarize"],
                "finetuned": False,
                "context_length": 256000.0,
                "tokenizer_url": "https://storage.googleapis.com/cohere-public/tokenizers/x.json",
                "default_endpoints": [],
                "features": ["tools", "strict_tools", "json_schema", "json_mode"],
            },
            {
                "name": "embed-v4.0",
                "endpoints": ["embed"],
                "finetuned": False,
                "context_length": 128_000,
                "features": None,
            },
            {
                "name": "command-r-08-2024",
                "endpoints": ["chat"],
                "context_length": 128_000,
                "is_deprecated": True,
                "features": ["tools"],
            },
        ),
        {
            "command-a-03-2025": {
                "context_window": 256_000,
                "capabilities": frozenset({C.STREAMING, C.TOOLS, C.JSON_SCHEMA}),
            },
            "embed-v4.0": {"capabilities": frozenset({C.EMBEDDINGS})},
            "command-r-08-2024": {"deprecation": "deprecated"},
        },
        paged=True,
    ),
)
