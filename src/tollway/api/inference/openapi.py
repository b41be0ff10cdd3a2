"""/v1 in the OpenAPI document: requests, responses and errors of the data plane.

The /v1 routes are plain Starlette (no FastAPI models on the hot path), so FastAPI
cannot describe them; this module does, and ``document_inference`` merges it into
the document FastAPI builds for /admin. The request schemas say what
``validation`` checks (OpenAI's published schema, as pinned in
tests/inference/openai_schema); fields
they do not name pass through to the provider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from tollway.api.inference.chat_validation import ROLES
from tollway.api.inference.validation import MAX_EMBEDDING_INPUTS, MAX_MODEL_CHARS

Schema = dict[str, Any]

_REF = "#/components/schemas/"


def _ref(name: str) -> Schema:
    return {"$ref": _REF + name}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _number(low: float, high: float) -> Schema:
    return _nullable({"type": "number", "minimum": low, "maximum": high})


def _integer(low: int, high: int) -> Schema:
    return _nullable({"type": "integer", "minimum": low, "maximum": high})


_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
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
    "stop": _nullable({"anyOf": [_STRING, _STRINGS]}),
    "logit_bias": _nullable(
        {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
        }
    ),
    "user": _STRING,
    "max_tokens": _nullable({"type": "integer", "minimum": 1}),
    "n": _nullable({"type": "integer", "minimum": 1, "maximum": 128}),
}

_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": _STRING},
}
_IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"const": "image_url"},
        "image_url": {"type": "object", "required": ["url"], "properties": {"url": _STRING}},
    },
}
_PARTS = {"type": "array", "minItems": 1, "items": {"anyOf": [_TEXT_PART, _IMAGE_PART]}}
_CONTENT = {"anyOf": [_STRING, _PARTS]}
_TOOL_CALL = {
    "type": "object",
    "required": ["id", "type", "function"],
    "properties": {
        "id": _STRING,
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name", "arguments"],
            "properties": {"name": _STRING, "arguments": _STRING},
        },
    },
}


def _message(role: str, required: list[str], content: Schema, **extra: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["role", *required],
        "properties": {"role": {"const": role}, "content": content, "name": _STRING, **extra},
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
        _message("tool", ["content", "tool_call_id"], _CONTENT, tool_call_id=_STRING),
        _message("function", ["content", "name"], _nullable(_STRING)),
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
                "name": _STRING,
                "description": _STRING,
                "parameters": {"type": "object"},
            },
        },
    },
}
_PROMPT = {
    "anyOf": [_STRING, _STRINGS, _TOKENS, {"type": "array", "minItems": 1, "items": _TOKENS}]
}

SCHEMAS: dict[str, Schema] = {
    "ChatCompletionRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            **_COMMON,
            "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
            "tools": {"type": "array", "items": _TOOL},
            "tool_choice": {"anyOf": [_STRING, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "response_format": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": _STRING},
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
                    {**_STRING, "minLength": 1},
                    {**_STRINGS, "minItems": 1},
                    *_PROMPT["anyOf"][2:],
                ]
            },
            "suffix": _nullable(_STRING),
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
                    {**_STRING, "minLength": 1},
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
            "user": _STRING,
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
            "id": _STRING,
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": _STRING,
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "message"],
                    "properties": {
                        "index": {"type": "integer"},
                        "message": {"type": "object", "required": ["role"]},
                        "finish_reason": _nullable(_STRING),
                    },
                },
            },
            "usage": _ref("Usage"),
        },
    },
    "Completion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": _STRING,
            "object": {"const": "text_completion"},
            "created": {"type": "integer"},
            "model": _STRING,
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "text"],
                    "properties": {"text": _STRING},
                },
            },
            "usage": _ref("Usage"),
        },
    },
    "EmbeddingList": {
        "type": "object",
        "required": ["object", "data", "model"],
        "properties": {
            "object": {"const": "list"},
            "model": _STRING,
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object", "index", "embedding"],
                    "properties": {
                        "object": {"const": "embedding"},
                        "index": {"type": "integer"},
                        "embedding": {
                            "anyOf": [{"type": "array", "items": {"type": "number"}}, _STRING]
                        },
                    },
                },
            },
            "usage": _ref("Usage"),
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": _STRING,
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": _STRING,
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": _ref("Model")},
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
                    "message": _STRING,
                    "type": _STRING,
                    "param": _nullable(_STRING),
                    "code": _nullable(_STRING),
                },
            }
        },
    },
}

# One server-sent event (OpenAPI before 3.2: ``schema`` describes each event): a JSON
# chunk, an in-band error object, or the final ``[DONE]``.
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": _STRING},
}

_ERRORS = {
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


def _error_responses(statuses: tuple[str, ...]) -> dict[str, Schema]:
    return {
        status: {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": _ref("OpenAIError")}},
        }
        for status in statuses
    }


def _post(summary: str, request: str, response: str, *, streams: bool) -> Schema:
    ok: Schema = {"application/json": {"schema": _ref(response)}}
    if streams:
        ok["text/event-stream"] = {"schema": _SSE_EVENT}
    return {
        "post": {
            "tags": ["inference"],
            "summary": summary,
            "security": [{"TollwayKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(request)}},
            },
            "responses": {
                "200": {"description": "The provider's answer, OpenAI-shaped", "content": ok},
                **_error_responses(tuple(_ERRORS)),
            },
        }
    }


def _get(summary: str, response: str, **extra: Any) -> Schema:
    return {
        "get": {
            "tags": ["inference"],
            "summary": summary,
            "security": [{"TollwayKey": []}],
            **extra,
            "responses": {
                "200": {
                    "description": summary,
                    "content": {"application/json": {"schema": _ref(response)}},
                },
                **_error_responses(("401", "404")),
            },
        }
    }


def inference_paths() -> dict[str, Schema]:
    model_param = {"name": "model", "in": "path", "required": True, "schema": _STRING}
    return {
        "/v1/chat/completions": _post(
            "Chat completion", "ChatCompletionRequest", "ChatCompletion", streams=True
        ),
        "/v1/completions": _post(
            "Text completion", "CompletionRequest", "Completion", streams=True
        ),
        "/v1/embeddings": _post("Embeddings", "EmbeddingRequest", "EmbeddingList", streams=False),
        "/v1/models": _get("Models this key may use", "ModelList"),
        "/v1/models/{model}": _get("One model", "Model", parameters=[model_param]),
    }


def document_inference(app: FastAPI) -> None:
    """Have ``app.openapi()`` describe /v1 beside what FastAPI generates."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document["paths"].update(inference_paths())
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(SCHEMAS)
            components.setdefault("securitySchemes", {})["TollwayKey"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "A tollway key (`tollway keys create`)",
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
