"""The model catalog's shape: what a provider's model list says, in one form for
every family.

A family's ``ModelLister`` (``providers.base``) lists the models a key may call and
normalises each into a ``CatalogModel``; fields the provider does not publish stay
None (or empty) here and are filled later from LiteLLM's bundled model map by the
engine layer, each field remembering where it came from (``FieldSource``). A lister
never raises for network or HTTP failures: it answers a ``Listing`` whose
``outcome`` classifies them as a key check does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from tollway.providers.base import KeyCheckOutcome


class Capability(StrEnum):
    STREAMING = "streaming"
    TOOLS = "tools"
    JSON_SCHEMA = "json_schema"  # structured output against a JSON schema
    REASONING = "reasoning"
    VISION = "vision"  # image input
    EMBEDDINGS = "embeddings"  # an embedding model (not a chat model)


class FieldSource(StrEnum):
    PROVIDER = "provider"  # the provider's own model list said so
    LITELLM = "litellm"  # LiteLLM's bundled model map filled the gap
    STATIC = "static"  # the family has no list endpoint: LiteLLM's map is the list
    MANUAL = "manual"  # the operator typed it


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One model as a provider's catalog describes it. Prices are USD per token."""

    model_id: str  # the id the provider's API takes (Gemini's without "models/")
    display_name: str | None = None
    context_window: int | None = None  # input tokens
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ()  # "text", "image", "audio", "file"
    output_modalities: tuple[str, ...] = ()
    capabilities: frozenset[Capability] = frozenset()
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    deprecation: str | None = None  # a date or a notice, as published
    owned_by: str | None = None
    # Where each filled field came from, by field name; a field absent here is None.
    # Capabilities are sourced one by one, as "capabilities.<value>" (catalog_fields.
    # capability_source), whenever a source stated them, present or absent.
    sources: Mapping[str, FieldSource] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Listing:
    """The outcome of listing one provider's models with one key (or none)."""

    outcome: KeyCheckOutcome  # VALID when the list was read
    models: tuple[CatalogModel, ...] = ()
    message: str = ""  # for people; never a key, never an exception's raw text
    static: bool = False  # no list endpoint: the models come from LiteLLM's map
    status_code: int | None = None
    latency_ms: float | None = None
    retry_after_seconds: float | None = None  # a 429's Retry-After, when given
