"""A model scripted to refuse one feature (``ModelBehaviour.refusing_features``) refuses
exactly the calls using it, on every family's wire as LiteLLM writes it: what makes one
verification test type (streaming, tool_call, json_schema, vision) fail on any family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import litellm
import pytest
from litellm.exceptions import BadRequestError

from tests.fakes.providers import ModelBehaviour
from tests.fakes_conformance.support import (
    COHERE_CHAT,
    FAMILY_TARGETS,
    Servers,
    Target,
    completion_kwargs,
    failure,
    target_id,
)

pytestmark = pytest.mark.anyio

PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Dw"
    "HwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        },
    },
}
# What each feature adds to a plain call (the verification probes' shapes).
USING: dict[str, dict[str, Any]] = {
    "stream": {"stream": True},
    "tools": {"tools": [TOOL], "tool_choice": "auto"},
    "json": {"response_format": SCHEMA},
    "image": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this image?"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            }
        ]
    },
}


def sendable(target: Target) -> list[str]:
    """LiteLLM 1.109's cohere_chat refuses response_format itself (UnsupportedParamsError):
    a JSON-schema call never reaches Cohere, so its fake has nothing to refuse."""
    return [feature for feature in USING if not (target is COHERE_CHAT and feature == "json")]


CASES = [
    pytest.param(target, feature, id=f"{target_id(target)}-{feature}")
    for target in FAMILY_TARGETS
    for feature in sendable(target)
]


@pytest.mark.parametrize(("target", "feature"), CASES)
async def test_a_refused_feature_fails_only_the_calls_using_it(
    target: Target, feature: str, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model(feature)
    server = servers[target.family]
    server.script_model(
        target.wire_model(name), ModelBehaviour.refusing_features(feature, status=400)
    )

    plain = await litellm.acompletion(**completion_kwargs(target, servers, name))
    assert plain.choices[0].message.content
    refused = await failure(**completion_kwargs(target, servers, name, **USING[feature]))

    assert isinstance(refused, BadRequestError), repr(refused)
    assert f"does not support {feature}" in str(refused)
    others = [other for other in sendable(target) if other not in (feature, "stream")]
    for other in others:  # the features it was not scripted to refuse still answer
        answer = await litellm.acompletion(
            **completion_kwargs(target, servers, name, **USING[other])
        )
        assert answer.choices[0].message is not None
