"""Google's Gemini API (Generative Language API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.providers.catalog import Capability
from tollway.providers.catalog_fields import (
    ModelDraft,
    as_int,
    as_str,
    as_strings,
    entries_of,
    model_id_of,
)
from tollway.providers.http_check import (
    ProviderReply,
    endpoint,
    provider_error_message,
    run_key_check,
)
from tollway.providers.listing import HttpModelLister, MalformedListError, Page
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# Gemini answers an unknown key with 400 INVALID_ARGUMENT and this ErrorInfo reason.
_BAD_KEY_REASON = "API_KEY_INVALID"
_BAD_KEY_MESSAGE = "API key not valid"


def gemini_headers(key: SecretValue) -> Mapping[str, str]:
    # The header, not ``?key=``: URLs end up in logs and proxies.
    return {"x-goog-api-key": key.reveal()}


def refine_gemini(reply: ProviderReply) -> KeyCheckOutcome | None:
    if reply.status_code != 400:
        return None
    message = provider_error_message(reply.payload) or ""
    # The reason is the stable signal; the message covers bodies without details.
    if _BAD_KEY_REASON in _error_reasons(reply.payload) or message.startswith(_BAD_KEY_MESSAGE):
        return KeyCheckOutcome.REJECTED
    return None


def _error_reasons(payload: object) -> list[str]:
    if not isinstance(payload, Mapping):
        return []
    error = payload.get("error")
    details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list):
        return []
    return [
        detail["reason"]
        for detail in details
        if isinstance(detail, Mapping) and isinstance(detail.get("reason"), str)
    ]


@dataclass(frozen=True, slots=True)
class GeminiAdapter:
    """``GET {base}/v1beta/models`` with ``x-goog-api-key``."""

    provider_type: ProviderType
    default_base_url: str | None

    def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> KeyCheck:
        url = endpoint(self.provider_type, base_url, self.default_base_url, "/v1beta/models")
        return run_key_check(client, url, lambda: gemini_headers(key), key, refine=refine_gemini)


_MODELS_PREFIX = "models/"
_EMBED_METHODS = frozenset({"embedContent", "batchEmbedContents", "asyncBatchEmbedContent"})


def gemini_models_lister(default_base_url: str | None) -> HttpModelLister:
    """``GET {base}/v1beta/models?pageSize=1000``, then ``pageToken`` while one is given."""
    return HttpModelLister(
        ProviderType.GEMINI,
        default_base_url,
        "/v1beta/models",
        parse_gemini_models,
        gemini_headers,
        first_params=(("pageSize", "1000"),),
        refine=refine_gemini,
    )


def parse_gemini_models(payload: object) -> Page:
    # An empty list is answered as "{}": no "models" key at all.
    entries = entries_of(payload, "models") if _has(payload, "models") else []
    models = []
    for entry in entries:
        name = model_id_of(entry, "name")
        if name is None:
            continue
        draft = ModelDraft(name.removeprefix(_MODELS_PREFIX))
        draft.set("display_name", as_str(entry.get("displayName")))
        draft.set("context_window", as_int(entry.get("inputTokenLimit")))
        draft.set("max_output_tokens", as_int(entry.get("outputTokenLimit")))
        methods = as_strings(entry.get("supportedGenerationMethods"))
        if methods is not None:
            # Every generateContent model also answers streamGenerateContent.
            draft.capability(Capability.STREAMING, "generateContent" in methods)
            draft.capability(Capability.EMBEDDINGS, bool(_EMBED_METHODS.intersection(methods)))
        thinking = entry.get("thinking")
        draft.capability(Capability.REASONING, thinking if isinstance(thinking, bool) else None)
        models.append(draft.build())
    token = as_str(payload.get("nextPageToken")) if isinstance(payload, Mapping) else None
    return Page(models, {"pageToken": token} if token else None)


def _has(payload: object, key: str) -> bool:
    if not isinstance(payload, Mapping):
        raise MalformedListError("it is not a JSON object")
    return key in payload
