"""tollway's /v1 request rules agree with OpenAI's published schema.

``openai_schema/excerpt.json`` is the pinned part of openai/openai-openapi (MIT,
``openai_schema/LICENSE``) those rules were taken from; when it is refreshed, this
test says which rule to update."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tollway.api.inference.chat_validation import ROLES
from tollway.api.inference.openapi_schemas import SCHEMAS
from tollway.api.inference.validation import MAX_EMBEDDING_INPUTS

EXCERPT = json.loads((Path(__file__).parent / "openai_schema" / "excerpt.json").read_text())
OURS = {
    "CreateChatCompletionRequest": "ChatCompletionRequest",
    "CreateCompletionRequest": "CompletionRequest",
    "CreateEmbeddingRequest": "EmbeddingRequest",
}


def bounds(schema: Any) -> tuple[float | None, float | None]:
    """The minimum and maximum a property schema states, through anyOf/oneOf."""
    if not isinstance(schema, dict):
        return None, None
    if "minimum" in schema or "maximum" in schema:
        return schema.get("minimum"), schema.get("maximum")
    for variant in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        found = bounds(variant)
        if found != (None, None):
            return found
    return None, None


def ranged_fields() -> list[tuple[str, str]]:
    return [
        (request, field)
        for request, entry in EXCERPT["requests"].items()
        for field, schema in entry["properties"].items()
        if bounds(schema) != (None, None) and field != "seed"
    ]


@pytest.mark.parametrize(("request_name", "field"), ranged_fields())
def test_numeric_ranges_match(request_name: str, field: str) -> None:
    theirs = bounds(EXCERPT["requests"][request_name]["properties"][field])
    ours = bounds(SCHEMAS[OURS[request_name]]["properties"][field])
    assert ours[0] == theirs[0]
    if theirs[1] is not None:  # where OpenAI states no maximum, ours may be a sanity bound
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("request_name", list(OURS))
def test_required_fields_match(request_name: str) -> None:
    assert (
        sorted(SCHEMAS[OURS[request_name]]["required"])
        == EXCERPT["requests"][request_name]["required"]
    )


def test_roles_match() -> None:
    variants = EXCERPT["schemas"]["ChatCompletionRequestMessage"]["oneOf"]
    names = [variant["$ref"].rsplit("/", 1)[-1] for variant in variants]
    roles = {EXCERPT["schemas"][name]["properties"]["role"]["enum"][0] for name in names}
    assert roles == set(ROLES)


def test_null_content_only_where_openai_allows_it() -> None:
    nullable = {
        EXCERPT["schemas"][name]["properties"]["role"]["enum"][0]
        for name in EXCERPT["schemas"]
        if name.endswith("Message")
        and "role" in EXCERPT["schemas"][name].get("properties", {})
        and '"type": "null"' in json.dumps(EXCERPT["schemas"][name]["properties"]["content"])
    }
    assert nullable == {"assistant", "function"}


def test_embedding_batch_limit_matches() -> None:
    inputs = EXCERPT["requests"]["CreateEmbeddingRequest"]["properties"]["input"]["oneOf"]
    assert {v.get("maxItems") for v in inputs if v["type"] == "array"} == {MAX_EMBEDDING_INPUTS}
