"""The JSON schemas of /v1/responses for the OpenAPI document: the request as
``responses_validation`` checks it, the ``response`` object as tollway answers it."""

from __future__ import annotations

from tollway.api.inference.openapi_schemas import STRING, Schema
from tollway.api.inference.responses_validation import (
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_PAIRS,
    MAX_METADATA_VALUE_CHARS,
)
from tollway.api.inference.validation import MAX_MODEL_CHARS

_OBJECT = {"type": "object"}
_BOOLEAN = {"type": "boolean"}
_PART = {"type": "object", "required": ["type"], "properties": {"type": STRING}}
_MESSAGE_ITEM = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "type": {"const": "message"},
        "role": {"enum": ["user", "assistant", "system", "developer"]},
        "content": {"anyOf": [STRING, {"type": "array", "items": _PART}]},
    },
}
_FUNCTION_CALL_ITEM = {
    "type": "object",
    "required": ["type", "call_id", "name", "arguments"],
    "properties": {
        "type": {"const": "function_call"},
        "call_id": STRING,
        "name": STRING,
        "arguments": STRING,
    },
}
_FUNCTION_OUTPUT_ITEM = {
    "type": "object",
    "required": ["type", "call_id", "output"],
    "properties": {
        "type": {"const": "function_call_output"},
        "call_id": STRING,
        "output": STRING,
    },
}
_FUNCTION_TOOL = {
    "type": "object",
    "required": ["type", "name"],
    "properties": {
        "type": {"const": "function"},
        "name": STRING,
        "description": STRING,
        "parameters": _OBJECT,
        "strict": _BOOLEAN,
    },
}
_FORMAT = {
    "anyOf": [
        {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["text", "json_object"]}},
        },
        {
            "type": "object",
            "required": ["type", "name", "schema"],
            "properties": {"type": {"const": "json_schema"}, "name": STRING, "schema": _OBJECT},
        },
    ]
}
_METADATA = {
    "type": "object",
    "maxProperties": MAX_METADATA_PAIRS,
    "propertyNames": {"maxLength": MAX_METADATA_KEY_CHARS},
    "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE_CHARS},
}

RESPONSES_SCHEMAS: dict[str, Schema] = {
    "ResponsesRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "minLength": 1, "maxLength": MAX_MODEL_CHARS},
            "input": {
                "anyOf": [
                    {**STRING, "minLength": 1},
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "anyOf": [_MESSAGE_ITEM, _FUNCTION_CALL_ITEM, _FUNCTION_OUTPUT_ITEM]
                        },
                    },
                ]
            },
            "instructions": STRING,
            "tools": {"type": "array", "items": _FUNCTION_TOOL},
            "tool_choice": {"anyOf": [STRING, _PART]},
            "parallel_tool_calls": _BOOLEAN,
            "text": {"type": "object", "properties": {"format": _FORMAT}},
            "reasoning": _OBJECT,
            "metadata": _METADATA,
            "store": _BOOLEAN,
            "stream": _BOOLEAN,
            "stream_options": _OBJECT,
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "max_output_tokens": {"type": "integer", "minimum": 1},
            "user": STRING,
        },
    },
    "Response": {
        "type": "object",
        "required": ["id", "object", "created_at", "model", "output", "status"],
        "properties": {
            "id": {**STRING, "pattern": "^resp_"},
            "object": {"const": "response"},
            "created_at": {"type": "number"},
            "model": STRING,
            "status": STRING,
            "output": {"type": "array", "items": _PART},
            "usage": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["input_tokens", "output_tokens", "total_tokens"],
                        "properties": {
                            "input_tokens": {"type": "integer"},
                            "output_tokens": {"type": "integer"},
                            "total_tokens": {"type": "integer"},
                        },
                    },
                    {"type": "null"},
                ]
            },
        },
    },
}
