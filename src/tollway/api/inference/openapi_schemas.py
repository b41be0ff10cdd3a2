"""The JSON schemas of /v1 bodies for the OpenAPI document: requests as ``validation``
checks them, responses as OpenAI shapes them, errors in OpenAI's shape."""

from __future__ import annotations

from typing import Any

from tollway.api.inference.chat_validation import ROLES
from tollway.api.inference.validation import MAX_EMBEDDING_INPUTS, MAX_MODEL_CHARS

Schema = dict[str, Any]

_REF = "#/components/schemas/"


def ref(name: str) -> Schema:
    return {"$ref": _REF + name}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _number(low: float, high: float) -> Schema:
    return _nullable({"type": "number", "minimum": low, "maximum": high})


def _integer(low: int, high: int) -> Schema:
    return _nullable({"type": "integer", "minimum": low, "maximum": high})


STRING = {"type": "string"}
# One server-sent event (OpenAPI before 3.2: ``schema`` describes each event): its
# data (a JSON object, or chat's final ``[DONE]``) and, in the typed dialects, its name.
SSE_EVENT: Schema = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": STRING},
}
# What each error status of a /v1 POST means (each dialect's own error shape).
ERROR_STATUSES: dict[str, str] = {
    "400": "Malformed request: the `param` names the field",
    "401": "Missing, unknown, revoked or expired tollway key",
    "404": "Unknown model (or one this key may not use), or unknown path",
    "413": "Request body too large",
    "429": "A rate limit or budget refused the request (x-ratelimit-* headers)",
    "500": "tollway failed on its own",
    "502": "The upstream failed and no fallback could serve",
    "503": "No deployment or backing service can serve now",
    "504": "The upstream timed out",
}
_STRINGS = {"type": "array", "items": STRING}
_TOKENS = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}
_STREAM_OPTIONS = _nullable(
    {"type": "object", "properties": {"include_usage": {"type": "boolean"}}}
)
_COMMON: Schema = {
    "model": {"type": "string", "minLength": 1, "maxLength": MAX_MODEL_CHARS, "pattern": r"\S"},
    "stream": _nullable({"type": "boolean"}),
    "stream_options": _STREAM_OPTIONS,
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": _integer(-(2**63), 2**63 - 1),
    "stop": _nullable({"anyOf": [STRING, _STRINGS]}),
    "logit_bias": _nullable(
        {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
        }
    ),
    "user": STRING,
    "max_tokens": _nullable({"type": "integer", "minimum": 1}),
    "n": _nullable({"type": "integer", "minimum": 1, "maximum": 128}),
}

_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": STRING},
}
_IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"const": "image_url"},
        "image_url": {"type": "object", "required": ["url"], "properties": {"url": STRING}},
    },
}
_PARTS = {"type": "array", "minItems": 1, "items": {"anyOf": [_TEXT_PART, _IMAGE_PART]}}
_CONTENT = {"anyOf": [STRING, _PARTS]}
_TOOL_CALL = {
    "type": "object",
    "required": ["id", "type", "function"],
    "properties": {
        "id": STRING,
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name", "arguments"],
            "properties": {"name": STRING, "arguments": STRING},
        },
    },
}


def _message(role: str, required: list[str], content: Schema, **extra: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["role", *required],
        "properties": {"role": {"const": role}, "content": content, "name": STRING, **extra},
    }


_MESSAGE = {
    "description": f"One of the roles {', '.join(ROLES)}; content as OpenAI allows per role.",
    "oneOf": [
        *(_message(role, ["content"], _CONTENT) for role in ("system", "developer", "user")),
        _message(
            "assistant",
            [],
            _nullable(_CONTENT),
            tool_calls={"type": "array", "items": _TOOL_CALL},
        ),
        _message("tool", ["content", "tool_call_id"], _CONTENT, tool_call_id=STRING),
        _message("function", ["content", "name"], _nullable(STRING)),
    ],
}
_TOOL = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": STRING,
                "description": STRING,
                "parameters": {"type": "object"},
            },
        },
    },
}
_PROMPT = {"anyOf": [STRING, _STRINGS, _TOKENS, {"type": "array", "minItems": 1, "items": _TOKENS}]}

SCHEMAS: dict[str, Schema] = {
    "ChatCompletionRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            **_COMMON,
            "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
            "tools": {"type": "array", "items": _TOOL},
            "tool_choice": {"anyOf": [STRING, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "response_format": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": STRING},
            },
            "logprobs": _nullable({"type": "boolean"}),
            "top_logprobs": _integer(0, 20),
            "max_completion_tokens": _nullable({"type": "integer", "minimum": 1}),
        },
    },
    "CompletionRequest": {
        "type": "object",
        "required": ["model", "prompt"],
        "properties": {
            **_COMMON,
            "prompt": {
                "anyOf": [
                    {**STRING, "minLength": 1},
                    {**_STRINGS, "minItems": 1},
                    *_PROMPT["anyOf"][2:],
                ]
            },
            "suffix": _nullable(STRING),
            "echo": _nullable({"type": "boolean"}),
            "logprobs": _integer(0, 5),
        },
    },
    "EmbeddingRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": _COMMON["model"],
            "input": {
                "anyOf": [
                    {**STRING, "minLength": 1},
                    {**_STRINGS, "minItems": 1, "maxItems": MAX_EMBEDDING_INPUTS},
                    {**_TOKENS, "maxItems": MAX_EMBEDDING_INPUTS},
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_EMBEDDING_INPUTS,
                        "items": _TOKENS,
                    },
                ]
            },
            "encoding_format": {"enum": ["float", "base64"]},
            "dimensions": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "user": STRING,
        },
    },
    "Usage": {
        "type": "object",
        "properties": {
            "prompt_tokens": {"type": "integer"},
            "completion_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"},
        },
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": STRING,
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": STRING,
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "message"],
                    "properties": {
                        "index": {"type": "integer"},
                        "message": {"type": "object", "required": ["role"]},
                        "finish_reason": _nullable(STRING),
                    },
                },
            },
            "usage": ref("Usage"),
        },
    },
    "Completion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": STRING,
            "object": {"const": "text_completion"},
            "created": {"type": "integer"},
            "model": STRING,
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "text"],
                    "properties": {"text": STRING},
                },
            },
            "usage": ref("Usage"),
        },
    },
    "EmbeddingList": {
        "type": "object",
        "required": ["object", "data", "model"],
        "properties": {
            "object": {"const": "list"},
            "model": STRING,
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object", "index", "embedding"],
                    "properties": {
                        "object": {"const": "embedding"},
                        "index": {"type": "integer"},
                        "embedding": {
                            "anyOf": [{"type": "array", "items": {"type": "number"}}, STRING]
                        },
                    },
                },
            },
            "usage": ref("Usage"),
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": STRING,
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": STRING,
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": ref("Model")},
        },
    },
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": STRING,
                    "type": STRING,
                    "param": _nullable(STRING),
                    "code": _nullable(STRING),
                },
            }
        },
    },
}
