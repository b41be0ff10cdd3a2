"""Anthropic's native API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck
from tollway.providers.catalog_fields import ModelDraft, as_int, as_str, entries_of, model_id_of
from tollway.providers.http_check import endpoint, run_key_check
from tollway.providers.listing import HttpModelLister, MalformedListError, Page
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# Every request must name an API version; this one is current and stable.
ANTHROPIC_VERSION = "2023-06-01"


def anthropic_headers(key: SecretValue) -> Mapping[str, str]:
    return {"x-api-key": key.reveal(), "anthropic-version": ANTHROPIC_VERSION}


@dataclass(frozen=True, slots=True)
class AnthropicAdapter:
    """``GET {base}/v1/models`` with ``x-api-key``: authenticated and free."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/v1/models")
        return run_key_check(client, url, lambda: anthropic_headers(key), key)


def anthropic_models_lister(default_base_url: str | None) -> HttpModelLister:
    """``GET {base}/v1/models?limit=1000``, then ``after_id`` while ``has_more``."""
    return HttpModelLister(
        ProviderType.ANTHROPIC,
        default_base_url,
        "/v1/models",
        parse_anthropic_models,
        anthropic_headers,
        first_params=(("limit", "1000"),),
    )


def parse_anthropic_models(payload: object) -> Page:
    models = []
    for entry in entries_of(payload, "data"):
        if (model_id := model_id_of(entry)) is None:
            continue
        draft = ModelDraft(model_id)
        draft.set("display_name", as_str(entry.get("display_name")))
        # Not in the API today; read if it ever publishes them under these names.
        draft.set("context_window", as_int(entry.get("max_input_tokens")))
        draft.set("max_output_tokens", as_int(entry.get("max_tokens")))
        models.append(draft.build())
    if not isinstance(payload, Mapping) or payload.get("has_more") is not True:
        return Page(models)
    last_id = as_str(payload.get("last_id"))
    if last_id is None:
        raise MalformedListError("it says there is more but names no last_id")
    return Page(models, {"after_id": last_id})
