"""The pinned schemas are complete, reproducible and strict enough to catch what the
suite looks for (so a passing case cannot be a validator that accepts anything)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conformance import regenerate
from tests.conformance.schemas import (
    ANTHROPIC_DOCUMENT,
    OPENAI_DOCUMENT,
    SchemaMismatchError,
    validate_anthropic,
    validate_anthropic_events,
    validate_openai,
    validate_openai_events,
)

CHUNK = {
    "id": "c",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": None, "finish_reason": None}],
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(item) for item in node))
    return set()


def test_the_openai_excerpt_is_closed_and_from_the_request_excerpts_commit() -> None:
    answers = json.loads(OPENAI_DOCUMENT.read_text())
    requests = json.loads((OPENAI_DOCUMENT.parent / "excerpt.json").read_text())
    schemas = answers["components"]["schemas"]
    assert set(regenerate.OPENAI_ROOTS) <= set(schemas)
    assert {ref.rsplit("/", 1)[-1] for ref in refs(schemas)} <= set(schemas)
    assert answers["x-source"]["commit"] == requests["x-source"]["commit"]


def test_the_anthropic_schemas_are_what_the_installed_sdk_says() -> None:
    """Fails when the anthropic SDK is upgraded: regenerate, and review the diff."""
    pinned = json.loads(ANTHROPIC_DOCUMENT.read_text())
    assert regenerate.anthropic_schemas() == pinned


def test_the_openai_nullable_rewrite() -> None:
    cleaned = regenerate._clean({"type": "string", "nullable": True, "description": "x"})
    assert cleaned == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert regenerate._clean({"properties": {"description": {"type": "string"}}}) == {
        "properties": {"description": {"type": "string"}}
    }


def null_role(chunk: dict[str, Any]) -> None:
    chunk["choices"][0]["delta"]["role"] = None


def anonymous_tool_fragment(chunk: dict[str, Any]) -> None:
    chunk["choices"][0]["delta"]["tool_calls"] = [{"id": None, "function": {"name": None}}]


def no_object(chunk: dict[str, Any]) -> None:
    del chunk["object"]


def unknown_finish(chunk: dict[str, Any]) -> None:
    chunk["choices"][0]["finish_reason"] = "done"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (null_role, "event 1: choices/0/delta/role: None is not of type 'string'"),
        (anonymous_tool_fragment, "choices/0/delta/tool_calls/0: 'index' is a required property"),
        (no_object, r"\(top\): 'object' is a required property"),
        (unknown_finish, "choices/0/finish_reason: 'done' is not one of"),
    ],
    ids=["null_role", "anonymous_tool_fragment", "no_object", "unknown_finish"],
)
def test_openai_violations_are_caught_with_their_path(change: Any, expected: str) -> None:
    chunk = json.loads(json.dumps(CHUNK))
    change(chunk)
    validate_openai("CreateChatCompletionStreamResponse", CHUNK)
    with pytest.raises(SchemaMismatchError, match=expected):
        validate_openai_events("CreateChatCompletionStreamResponse", [CHUNK, chunk])


def test_anthropic_nulls_and_missing_fields_are_caught() -> None:
    validate_anthropic("Message", MESSAGE)
    with pytest.raises(SchemaMismatchError, match="content/0/text: None is not of type 'string'"):
        validate_anthropic("Message", {**MESSAGE, "content": [{"type": "text", "text": None}]})
    with pytest.raises(SchemaMismatchError, match="'stop_reason' is a required property"):
        validate_anthropic("Message", {k: v for k, v in MESSAGE.items() if k != "stop_reason"})
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    with pytest.raises(SchemaMismatchError, match="event 1 content_block_delta"):
        validate_anthropic_events("RawMessageStreamEvent", [{"type": "message_stop"}, delta])


def test_unknown_component_names_are_refused() -> None:
    with pytest.raises(KeyError):
        validate_openai("NoSuchComponent", {})
    with pytest.raises(KeyError):
        validate_anthropic("NoSuchType", {})
