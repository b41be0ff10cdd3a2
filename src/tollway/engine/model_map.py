"""LiteLLM's bundled model map as the catalog's second source: gaps in what a provider
lists are filled from it, and a family without a list endpoint is listed from it.

The map is ``litellm.model_cost`` as tollway runs it (offline: ``LITELLM_LOCAL_MODEL_COST_MAP``),
i.e. the ``model_prices_and_context_window_backup.json`` shipped in the litellm
package. It is read as that file rather than through ``litellm.get_model_info``:
importing litellm costs seconds and ~200 MB (a remote-engine replica never pays it
otherwise), and ``get_model_info`` may ask the provider itself (vLLM, Ollama,
Hugging Face), defaults an unknown price to 0, and answers unmapped ids from name
rules ("claude-anything" gets Claude's limits). Here only an entry the map holds for
the id counts, found the way LiteLLM finds it: ``<prefix>/<id>``, then the bare id
when its ``litellm_provider`` is the route's (or a sibling that prices it,
``Upstream.priced_as``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import Capability, CatalogModel, FieldSource, Listing
from tollway.providers.catalog_fields import as_int, as_price, as_str, as_strings, capability_source
from tollway.providers.families import family, upstream_route
from tollway.store.enums import Endpoint, ProviderType

_MAP_FILE = "model_prices_and_context_window_backup.json"
# Modes tollway serves (chat, completions, embeddings, responses); image, audio, rerank
# and the rest are not models an agent can call through it.
_SERVED_MODES = frozenset({"chat", "completion", "embedding", "responses"})
_TEXT_MODES = frozenset({"chat", "completion", "responses"})
# CatalogModel field <- map key, for the plain fields.
_LIMITS = (("context_window", "max_input_tokens"), ("max_output_tokens", "max_output_tokens"))
_PRICES = (("input_price", "input_cost_per_token"), ("output_price", "output_cost_per_token"))
_FLAGS = (
    (Capability.TOOLS, "supports_function_calling"),
    (Capability.VISION, "supports_vision"),
    (Capability.REASONING, "supports_reasoning"),
    (Capability.JSON_SCHEMA, "supports_response_schema"),
)


@dataclass(frozen=True, slots=True)
class ModelMap:
    """LiteLLM's model map: ``{"<prefix>/<id>" or "<id>": entry}``."""

    entries: Mapping[str, Mapping[str, Any]]

    def entry(self, prefix: str, model_id: str) -> Mapping[str, Any] | None:
        """The map's entry for ``model_id`` on LiteLLM route ``prefix``, None if it has none."""
        for route in _routes(prefix):
            found = self.entries.get(f"{route}/{model_id}")
            if found is not None and _provider_of(found) in (route, None):
                return found
        bare = self.entries.get(model_id)
        if bare is not None and _provider_of(bare) in _routes(prefix):
            return bare
        return None

    def models_of(self, prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(model id, entry) for every model the map lists under route ``prefix``."""
        for name, entry in self.entries.items():
            if _provider_of(entry) != prefix or entry.get("mode") not in _SERVED_MODES:
                continue
            model_id = name.removeprefix(f"{prefix}/")
            if model_id.startswith("ft:"):  # fine-tune templates, not callable models
                continue
            yield model_id, entry


@functools.cache
def bundled_model_map() -> ModelMap:
    """The map shipped with the installed litellm, read once (~70 ms); empty without it."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return ModelMap(MappingProxyType({}))
    try:
        data = json.loads((Path(spec.origin).parent / _MAP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ModelMap(MappingProxyType({}))
    entries = {k: v for k, v in data.items() if isinstance(v, dict) and k != "sample_spec"}
    return ModelMap(MappingProxyType(entries))


def fill_from_litellm(
    prefix: str, model: CatalogModel, *, model_map: ModelMap | None = None
) -> CatalogModel:
    """``model`` with the fields its provider left open filled from LiteLLM's map, each
    marked ``FieldSource.LITELLM``; what the provider gave is never replaced. ``prefix``
    is the family's LiteLLM route (``Family.chat.prefix``). Unchanged when the map does
    not know the model."""
    entry = (model_map or bundled_model_map()).entry(prefix, model.model_id)
    if entry is None:
        return model
    return _merged(model, entry, FieldSource.LITELLM)


def static_catalog(
    provider_type: ProviderType, *, model_map: ModelMap | None = None
) -> tuple[CatalogModel, ...]:
    """The models LiteLLM's map lists for a family, every field marked
    ``FieldSource.STATIC``: the catalog of a provider without a list endpoint. Empty for
    OpenAI-compatible servers (the map cannot know what a server runs) and the mock."""
    entry = family(provider_type)
    if entry.needs_base_url or entry.answers_locally:
        return ()
    source = model_map or bundled_model_map()
    models: dict[str, CatalogModel] = {}
    for prefix in dict.fromkeys(entry.upstream(endpoint).prefix for endpoint in Endpoint):
        for model_id, found in source.models_of(prefix):
            if model_id not in models:
                models[model_id] = _merged(CatalogModel(model_id), found, FieldSource.STATIC)
    return tuple(sorted(models.values(), key=lambda model: model.model_id))


def complete_listing(
    provider_type: ProviderType, listing: Listing, *, model_map: ModelMap | None = None
) -> Listing:
    """A listing as the catalog stores it: a static one holds LiteLLM's models for the
    family, a read one has its gaps filled; a failed one is returned as it is."""
    if listing.outcome is not KeyCheckOutcome.VALID:
        return listing
    source = model_map or bundled_model_map()
    if listing.static:
        return replace(listing, models=static_catalog(provider_type, model_map=source))
    prefix = family(provider_type).chat.prefix
    filled = tuple(fill_from_litellm(prefix, m, model_map=source) for m in listing.models)
    return replace(listing, models=filled)


def _merged(model: CatalogModel, entry: Mapping[str, Any], source: FieldSource) -> CatalogModel:
    sources = dict(model.sources)
    changes: dict[str, Any] = {}

    def offer(name: str, value: object) -> None:
        if value is None or value == () or name in sources:
            return
        changes[name] = value
        sources[name] = source

    for name, key in _LIMITS:
        offer(name, as_int(entry.get(key)))
    for name, key in _PRICES:
        offer(name, as_price(entry.get(key)))
    offer("deprecation", as_str(entry.get("deprecation_date")))
    inputs, outputs = _modalities(entry)
    offer("input_modalities", inputs)
    offer("output_modalities", outputs)
    capabilities = set(model.capabilities)
    for capability, present in _capabilities(entry):
        name = capability_source(capability)
        if name in sources:
            continue
        sources[name] = source
        if present:
            capabilities.add(capability)
    return replace(model, **changes, capabilities=frozenset(capabilities), sources=sources)


def _capabilities(entry: Mapping[str, Any]) -> Iterator[tuple[Capability, bool]]:
    """What the entry states, as (capability, present); a flag it lacks states nothing."""
    for capability, key in _FLAGS:
        value = entry.get(key)
        if isinstance(value, bool):
            yield capability, value
    mode = entry.get("mode")
    if isinstance(mode, str):
        yield Capability.EMBEDDINGS, mode == "embedding"
        # LiteLLM streams every chat and completion model; a Responses-only model
        # streams when the map says so (o1-pro, say, does not).
        native = entry.get("supports_native_streaming")
        streams = mode in ("chat", "completion") or native is True
        yield Capability.STREAMING, streams


def _modalities(entry: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    inputs = as_strings(entry.get("supported_modalities"))
    outputs = as_strings(entry.get("supported_output_modalities"))
    if entry.get("mode") in _TEXT_MODES:
        if inputs is None:
            inputs = ("text", "image") if entry.get("supports_vision") is True else ("text",)
        if outputs is None:
            outputs = ("text",)
    return inputs, outputs


def _routes(prefix: str) -> tuple[str, ...]:
    """``prefix`` and the sibling routes whose entries price it (cohere_chat: cohere)."""
    route = upstream_route(prefix)
    return (prefix, *sorted(route.priced_as)) if route is not None else (prefix,)


def _provider_of(entry: Mapping[str, Any]) -> object:
    return entry.get("litellm_provider")
