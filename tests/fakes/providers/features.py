"""Which features an inference request uses, as each family's wire spells them, so a
model can be scripted to refuse one (``ModelBehaviour.refusing_features``): the way one
verification test type (streaming, tool_call, json_schema, vision) fails while the
rest pass, on every family.

- ``stream``: the call streams (the route decides: ``stream: true``, Gemini's
  ``:streamGenerateContent``).
- ``tools``: ``tools`` (OpenAI, Anthropic, Cohere; Gemini's ``functionDeclarations``)
  or OpenAI's legacy ``functions``; not Anthropic's ``json_tool_call``, which is how
  LiteLLM asks Anthropic for JSON.
- ``json``: ``response_format`` (OpenAI, Cohere), Anthropic's ``output_format`` or its
  ``json_tool_call`` tool, Gemini's ``responseMimeType: application/json`` or
  ``responseSchema``/``responseJsonSchema``.
- ``image``: a content part of type ``image_url``/``image``/``input_image``, or
  Gemini's ``inlineData``/``fileData`` part, anywhere in the conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Feature = Literal["stream", "tools", "json", "image"]
FEATURES: tuple[Feature, ...] = ("stream", "tools", "json", "image")

_JSON_TOOL = "json_tool_call"  # LiteLLM's tool for JSON answers from Anthropic
_IMAGE_TYPES = frozenset({"image_url", "image", "input_image"})
_IMAGE_KEYS = frozenset({"inlineData", "inline_data", "fileData", "file_data"})
_SCHEMA_KEYS = ("responseSchema", "response_schema", "responseJsonSchema", "response_json_schema")
_CONVERSATION_KEYS = ("messages", "contents", "input", "chat_history", "message")


def features_of(body: Mapping[str, Any], *, streaming: bool) -> set[Feature]:
    used: set[Feature] = {"stream"} if streaming else set()
    names = _tool_names(body)
    if names - {_JSON_TOOL} or body.get("functions"):
        used.add("tools")
    if _JSON_TOOL in names or _asks_json(body):
        used.add("json")
    if any(_has_image(body.get(key)) for key in _CONVERSATION_KEYS):
        used.add("image")
    return used


def _tool_names(body: Mapping[str, Any]) -> set[str]:
    tools = body.get("tools")
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        declared = tool.get("functionDeclarations") or tool.get("function_declarations")
        for entry in [*(declared or []), tool, tool.get("function") or {}]:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.add(entry["name"])
        if not declared and "name" not in tool and "function" not in tool:
            names.add("?")  # a tool we cannot name (a built-in): still a tool
    return names


def _asks_json(body: Mapping[str, Any]) -> bool:
    if body.get("response_format") or body.get("output_format"):
        return True
    config = body.get("generationConfig") or body.get("generation_config") or {}
    if not isinstance(config, dict):
        return False
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    return mime == "application/json" or any(config.get(key) for key in _SCHEMA_KEYS)


def _has_image(value: object) -> bool:
    if isinstance(value, list):
        return any(_has_image(item) for item in value)
    if not isinstance(value, dict):
        return False
    if value.get("type") in _IMAGE_TYPES or _IMAGE_KEYS & value.keys():
        return True
    return any(_has_image(item) for item in value.values())
