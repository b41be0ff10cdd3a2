"""/v1 in the OpenAPI document: requests, responses and errors of the data plane.

The /v1 routes are plain Starlette (no FastAPI models on the hot path), so FastAPI
cannot describe them; this module does, and ``document_inference`` merges it into
the document FastAPI builds for /admin. The request schemas (``openapi_schemas``)
say what ``validation`` checks (OpenAI's published schema, as pinned in
tests/inference/openai_schema); fields they do not name pass through to the provider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from tollway.api.inference.openapi_messages import MESSAGES_SCHEMAS, messages_paths
from tollway.api.inference.openapi_responses import RESPONSES_SCHEMAS
from tollway.api.inference.openapi_schemas import (
    ERROR_STATUSES,
    SCHEMAS,
    SSE_EVENT,
    STRING,
    Schema,
    ref,
)
from tollway.api.inference.openapi_stored_responses import (
    STORED_RESPONSE_SCHEMAS,
    stored_response_paths,
)


def _error_responses(statuses: tuple[str, ...]) -> dict[str, Schema]:
    return {
        status: {
            "description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": ref("OpenAIError")}},
        }
        for status in statuses
    }


def _post(summary: str, request: str, response: str, *, streams: bool) -> Schema:
    ok: Schema = {"application/json": {"schema": ref(response)}}
    if streams:
        ok["text/event-stream"] = {"schema": SSE_EVENT}
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
                "200": {"description": "The provider's answer, OpenAI-shaped", "content": ok},
                **_error_responses(tuple(ERROR_STATUSES)),
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
                    "content": {"application/json": {"schema": ref(response)}},
                },
                **_error_responses(("401", "404")),
            },
        }
    }


def inference_paths() -> dict[str, Schema]:
    model_param = {"name": "model", "in": "path", "required": True, "schema": STRING}
    return {
        "/v1/chat/completions": _post(
            "Chat completion", "ChatCompletionRequest", "ChatCompletion", streams=True
        ),
        "/v1/completions": _post(
            "Text completion", "CompletionRequest", "Completion", streams=True
        ),
        "/v1/embeddings": _post("Embeddings", "EmbeddingRequest", "EmbeddingList", streams=False),
        "/v1/responses": _post(
            "Responses API (typed events when streamed)",
            "ResponsesRequest",
            "Response",
            streams=True,
        ),
        "/v1/models": _get("Models this key may use", "ModelList"),
        "/v1/models/{model}": _get("One model", "Model", parameters=[model_param]),
        **messages_paths(),
        **stored_response_paths(),
    }


def document_inference(app: FastAPI) -> None:
    """Have ``app.openapi()`` describe /v1 beside what FastAPI generates."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document["paths"].update(inference_paths())
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(
                SCHEMAS | RESPONSES_SCHEMAS | MESSAGES_SCHEMAS | STORED_RESPONSE_SCHEMAS
            )
            components.setdefault("securitySchemes", {})["TollwayKey"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "A tollway key (`tollway keys create`)",
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
