"""Cohere's native API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck
from tollway.providers.catalog import Capability
from tollway.providers.catalog_fields import (
    ModelDraft,
    as_int,
    as_str,
    as_strings,
    entries_of,
    model_id_of,
)
from tollway.providers.http_check import endpoint, run_key_check
from tollway.providers.listing import HttpModelLister, Page
from tollway.providers.openai_like import bearer
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType


@dataclass(frozen=True, slots=True)
class CohereAdapter:
    """``GET {base}/v1/models`` with a bearer token."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/v1/models")
        return run_key_check(client, url, lambda: bearer(key), key)


# Cohere's ``features`` name what a model can do; only a listed one is taken as said.
_FEATURES = {
    "tools": Capability.TOOLS,
    "tool_use": Capability.TOOLS,
    "strict_tools": Capability.TOOLS,
    "json_schema": Capability.JSON_SCHEMA,
    "vision": Capability.VISION,
    "reasoning": Capability.REASONING,
    "thinking": Capability.REASONING,
}


def cohere_models_lister(default_base_url: str | None) -> HttpModelLister:
    """``GET {base}/v1/models?page_size=1000``, then ``page_token`` while one is given."""
    return HttpModelLister(
        ProviderType.COHERE,
        default_base_url,
        "/v1/models",
        parse_cohere_models,
        bearer,
        first_params=(("page_size", "1000"),),
    )


def parse_cohere_models(payload: object) -> Page:
    models = []
    for entry in entries_of(payload, "models"):
        if (name := model_id_of(entry, "name")) is None:
            continue
        draft = ModelDraft(name)
        draft.set("context_window", as_int(entry.get("context_length")))
        endpoints = as_strings(entry.get("endpoints"))
        if endpoints is not None:
            draft.capability(Capability.STREAMING, "chat" in endpoints)
            draft.capability(Capability.EMBEDDINGS, "embed" in endpoints)
        for feature in as_strings(entry.get("features")) or ():
            if (capability := _FEATURES.get(feature)) is not None:
                draft.capability(capability, True)
        if entry.get("is_deprecated") is True:
            draft.set("deprecation", "deprecated")
        models.append(draft.build())
    token = as_str(payload.get("next_page_token")) if isinstance(payload, Mapping) else None
    return Page(models, {"page_token": token} if token else None)
