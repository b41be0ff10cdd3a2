"""LiteLLM's Responses API objects and events, corrected where they break OpenAI's schema.

LiteLLM's pydantic types (``ResponsesAPIResponse`` and its stream events) dump fields
OpenAI's published schema does not allow, whether LiteLLM bridged a chat upstream or
re-validated a native ``/v1/responses`` answer:

- nulls for optional fields that are never null: ``user``, ``text``, ``usage`` (in the
  ``response.created`` event), ``status``, ``service_tier``, ``prompt``…;
- nulls LiteLLM adds to its own defaults: a message item's ``phase``, ``usage.cost``,
  ``*_tokens_details`` members (``audio_tokens: null``…), ``cached_tokens_details``,
  and a bridged answer's ``provider_specific_fields`` when all of it is null;
- required fields a bridged answer lacks: an ``output_text`` part's and text event's
  ``logprobs`` (``[]``: none were asked for), usage details and their
  ``cached_tokens``/``cache_write_tokens``/``reasoning_tokens`` (``0``: the chat upstream
  reported none, as LiteLLM already assumes for ``cached_tokens``).

``conform_response`` and ``conform_event`` remove or restore exactly these, in place.
Nothing else is touched: a value the schema allows is what the upstream sent.
The pass-through and the OpenRouter fallback (no LiteLLM) are never corrected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway.engine.litellm_errors import clean_message

# Optional in the schema's ``Response`` but never null (``anyOf`` without ``null``).
_NEVER_NULL = ("user", "text", "usage", "status", "service_tier", "prompt", "prompt_cache_options")
_TEXT_EVENTS = ("response.output_text.delta", "response.output_text.done")
_DETAILS_REQUIRED = {
    "input_tokens_details": ("cached_tokens", "cache_write_tokens"),
    "output_tokens_details": ("reasoning_tokens",),
}


def conform_response(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (a ``response`` object) with LiteLLM's schema breaks fixed."""
    for key in _NEVER_NULL:
        if key in obj and obj[key] is None:
            del obj[key]
    extras = obj.get("provider_specific_fields")
    if isinstance(extras, dict) and all(value is None for value in extras.values()):
        del obj["provider_specific_fields"]  # LiteLLM's, and it says nothing
    output = obj.get("output")
    if isinstance(output, list):
        for item in output:
            if isinstance(item, dict):
                _conform_item(item)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        _conform_usage(usage)
    return obj


def conform_event(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (one Responses stream event) with LiteLLM's schema breaks fixed."""
    response = event.get("response")
    if isinstance(response, dict):
        conform_response(response)
    item = event.get("item")
    if isinstance(item, dict):
        _conform_item(item)
    part = event.get("part")
    if isinstance(part, dict):
        _conform_part(part)
    if event.get("type") in _TEXT_EVENTS and event.get("logprobs") is None:
        event["logprobs"] = []
    return event


def _conform_item(item: dict[str, Any]) -> None:
    if "phase" in item and item["phase"] is None:
        del item["phase"]
    content = item.get("content")
    if item.get("type") == "message" and isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                _conform_part(part)


def _conform_part(part: dict[str, Any]) -> None:
    if part.get("type") != "output_text":
        return
    for key in ("annotations", "logprobs"):
        if part.get(key) is None:
            part[key] = []


def _conform_usage(usage: dict[str, Any]) -> None:
    if "cost" in usage and usage["cost"] is None:
        del usage["cost"]
    for name, required in _DETAILS_REQUIRED.items():
        details = usage.get(name)
        if not isinstance(details, dict):
            details = usage[name] = {}
        for key in [key for key, value in details.items() if value is None]:
            del details[key]
        for key in required:
            details.setdefault(key, 0)


def error_event_reason(item: Mapping[str, Any], secret: str | None) -> str | None:
    """Why a Responses stream broke, when ``item`` is its ``error`` event (the message,
    with the deployment's key scrubbed)."""
    if item.get("type") != "error":
        return None
    message = item.get("message")
    return clean_message(Exception(message), secret) if message else "error event"
