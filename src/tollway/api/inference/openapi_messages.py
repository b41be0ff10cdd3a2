"""Anthropic's Messages API in the OpenAPI document.

The request schemas say what ``messages_validation`` checks (fields it does not
name pass through to the provider); the answer is described as loosely as the
upstream's own (tollway delivers what it sent). Errors on ``/v1/messages`` paths
are Anthropic's shape.
"""

from __future__ import annotations

from tollway.api.inference.openapi_schemas import ERROR_STATUSES, SSE_EVENT, STRING, Schema, ref
from tollway.api.inference.validation import MAX_MODEL_CHARS

_MODEL = {"type": "string", "minLength": 1, "maxLength": MAX_MODEL_CHARS, "pattern": r"\S"}
_OBJECT = {"type": "object"}
_BOOLEAN = {"type": "boolean"}
_STRINGS = {"type": "array", "items": STRING}
_TEXT_BLOCK = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": STRING},
}
_BLOCK = {"type": "object", "required": ["type"], "properties": {"type": STRING}}
_ANTHROPIC_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["user", "assistant"]},
        "content": {"anyOf": [STRING, {"type": "array", "items": _BLOCK}]},
    },
}
_ANTHROPIC_TOOL = {
    "type": "object",
    "required": ["name", "input_schema"],
    "properties": {"name": STRING, "description": STRING, "input_schema": _OBJECT},
}
_MESSAGES_FIELDS: Schema = {
    "model": _MODEL,
    "messages": {"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
    "system": {"anyOf": [STRING, {"type": "array", "items": _TEXT_BLOCK}]},
    "stop_sequences": _STRINGS,
    "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    "top_k": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    "stream": _BOOLEAN,
    "tools": {"type": "array", "items": _ANTHROPIC_TOOL},
    "tool_choice": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": ["auto", "any", "none"]}},
    },
    "thinking": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"const": "disabled"}},
    },
    "metadata": {"type": "object", "properties": {"user_id": STRING}},
}

MESSAGES_SCHEMAS: dict[str, Schema] = {
    "MessagesRequest": {
        "type": "object",
        "required": ["model", "messages", "max_tokens"],
        "properties": {
            **_MESSAGES_FIELDS,
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        },
    },
    "CountTokensRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": _MESSAGES_FIELDS,
    },
    "Message": {
        "type": "object",
        "required": ["type", "role", "content"],
        "properties": {
            "id": STRING,
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "content": {"type": "array", "items": _BLOCK},
            "model": STRING,
        },
    },
    "TokenCount": {
        "type": "object",
        "required": ["input_tokens"],
        "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
    },
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": STRING, "message": STRING},
            },
        },
    },
}

# The field is named in the message (Anthropic's errors have no ``param``).
_ERRORS = {**ERROR_STATUSES, "400": "Malformed request: the message names the field"}
_COUNT_TOKENS_ERRORS = ("400", "401", "404", "413", "500")


def _post(
    summary: str,
    request: str,
    response: str,
    error: str,
    *,
    streams: bool,
    errors: tuple[str, ...] = tuple(_ERRORS),
) -> Schema:
    ok: Schema = {"application/json": {"schema": ref(response)}}
    if streams:
        ok["text/event-stream"] = {"schema": SSE_EVENT}
    error_content = {"application/json": {"schema": ref(error)}}
    return {
        "post": {
            "tags": ["inference"],
            "summary": summary,
            "security": [{"TollwayKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref(request)}},
            },
            "responses": {
                "200": {"description": summary, "content": ok},
                **{
                    status: {"description": _ERRORS[status], "content": error_content}
                    for status in errors
                },
            },
        }
    }


def messages_paths() -> dict[str, Schema]:
    return {
        "/v1/messages": _post(
            "A message (Anthropic's Messages API; the key as x-api-key or a bearer token)",
            "MessagesRequest",
            "Message",
            "AnthropicError",
            streams=True,
        ),
        "/v1/messages/count_tokens": _post(
            "The prompt's input tokens, counted locally (no provider call, not metered)",
            "CountTokensRequest",
            "TokenCount",
            "AnthropicError",
            streams=False,
            errors=_COUNT_TOKENS_ERRORS,
        ),
    }
