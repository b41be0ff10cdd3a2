"""The stored-responses routes (``stored_responses``) in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from tollway.api.inference.openapi_schemas import STRING, Schema, ref

_NULLABLE_STRING = {"anyOf": [STRING, {"type": "null"}]}
_ID = {"name": "response_id", "in": "path", "required": True, "schema": STRING}
_QUERY = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
    {"name": "after", "in": "query", "schema": STRING},
]
_ERRORS = {
    "400": "A query parameter is invalid: the `param` names it",
    "401": "Missing, unknown, revoked or expired tollway key",
    "404": "This key has no stored response with this id (expired, deleted, another key's)",
}

STORED_RESPONSE_SCHEMAS: dict[str, Schema] = {
    "StoredResponse": {
        "type": "object",
        "required": ["id", "object"],
        "properties": {"id": STRING, "object": {"const": "response"}},
    },
    "DeletedResponse": {
        "type": "object",
        "required": ["id", "object", "deleted"],
        "properties": {"id": STRING, "object": {"const": "response"}, "deleted": {"const": True}},
    },
    "ResponseItemList": {
        "type": "object",
        "required": ["object", "data", "first_id", "last_id", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"type": "object", "required": ["id", "type"]}},
            "first_id": _NULLABLE_STRING,
            "last_id": _NULLABLE_STRING,
            "has_more": {"type": "boolean"},
        },
    },
}


def _operation(summary: str, schema: str, errors: tuple[str, ...], **extra: Any) -> Schema:
    return {
        "tags": ["inference"],
        "summary": summary,
        "security": [{"TollwayKey": []}],
        "parameters": [_ID, *extra.pop("query", [])],
        "responses": {
            "200": {
                "description": summary,
                "content": {"application/json": {"schema": ref(schema)}},
            },
            **{
                status: {
                    "description": _ERRORS[status],
                    "content": {"application/json": {"schema": ref("OpenAIError")}},
                }
                for status in errors
            },
        },
    }


def stored_response_paths() -> dict[str, Schema]:
    return {
        "/v1/responses/{response_id}": {
            "get": _operation("A stored response", "StoredResponse", ("401", "404")),
            "delete": _operation("Delete a stored response", "DeletedResponse", ("401", "404")),
        },
        "/v1/responses/{response_id}/input_items": {
            "get": _operation(
                "The input items of a stored response (the conversation up to it)",
                "ResponseItemList",
                ("400", "401", "404"),
                query=_QUERY,
            )
        },
    }
