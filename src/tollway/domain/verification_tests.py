"""What a verification run asks a model, and how each answer is judged (pure).

Tests come in layers so that verifying costs nothing unless asked: ``reachable`` is
free (the key authorises, the catalog lists the model); ``completion`` is one capped
request; the opt-in tests (``suite=full``) each probe one declared capability. Which
tests a model must pass follows what it declares: an embedding model is not asked to
chat, a model without tools is not asked to call one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tollway.store.enums import Endpoint

EXCERPT_CHARS = 120
# Reasoning models spend tokens thinking before they answer: a 16-token cap would
# leave them with an empty reply and a false failure.
REASONING_MAX_TOKENS = 256
PLAIN_MAX_TOKENS = 16
# A 1x1 transparent PNG: the smallest image every vision API accepts.
TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf"
    "DwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
TOOL_NAME = "get_weather"


class TestType(StrEnum):
    __test__ = False  # not a pytest class

    REACHABLE = "reachable"
    COMPLETION = "completion"
    STREAMING = "streaming"
    TOOL_CALL = "tool_call"
    JSON_SCHEMA = "json_schema"
    VISION = "vision"
    EMBEDDING = "embedding"


class Suite(StrEnum):
    BASIC = "basic"  # reachable + completion (or embedding)
    FULL = "full"  # + every opt-in test the model's capabilities call for


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """What a model declares: the catalog's capabilities and the model's own flags."""

    capabilities: frozenset[str] = frozenset()
    supports_streaming: bool = True
    supports_reasoning: bool = False

    @property
    def embedding(self) -> bool:
        return "embeddings" in self.capabilities

    @property
    def reasoning(self) -> bool:
        return self.supports_reasoning or "reasoning" in self.capabilities


def plan(traits: ModelTraits, suite: Suite) -> list[TestType]:
    """The tests a run of ``suite`` must pass for a model with ``traits``, in order."""
    if traits.embedding:
        return [TestType.REACHABLE, TestType.EMBEDDING]
    tests = [TestType.REACHABLE, TestType.COMPLETION]
    if suite is Suite.FULL:
        caps = traits.capabilities
        wanted = [
            (TestType.STREAMING, traits.supports_streaming),
            (TestType.TOOL_CALL, "tools" in caps),
            (TestType.JSON_SCHEMA, "json_schema" in caps),
            (TestType.VISION, "vision" in caps),
        ]
        tests += [test for test, applies in wanted if applies]
    return tests


@dataclass(frozen=True, slots=True)
class Probe:
    """One request a test sends: where, what, and whether it streams."""

    endpoint: Endpoint
    body: dict[str, Any]
    stream: bool = False


def probe(test: TestType, traits: ModelTraits) -> Probe:
    """The request of a test that calls the model (not ``reachable``)."""
    cap = REASONING_MAX_TOKENS if traits.reasoning else PLAIN_MAX_TOKENS
    if test is TestType.EMBEDDING:
        return Probe(Endpoint.EMBEDDINGS, {"input": "tollway verification"})
    user: Any = "Reply with the single word: ok"
    extra: dict[str, Any] = {}
    if test is TestType.TOOL_CALL:
        user = f"use the tool {TOOL_NAME} to get the weather in Paris"
        extra = {"tools": [_weather_tool()], "tool_choice": "auto"}
        cap = max(cap, 64)
    elif test is TestType.JSON_SCHEMA:
        user = 'Answer with a JSON object {"answer": "ok"}'
        extra = {"response_format": _answer_schema()}
        cap = max(cap, 64)
    elif test is TestType.VISION:
        user = [
            {"type": "text", "text": "What colour is this image? One word."},
            {"type": "image_url", "image_url": {"url": TINY_PNG}},
        ]
    body = {"messages": [{"role": "user", "content": user}], "max_tokens": cap, **extra}
    return Probe(Endpoint.CHAT, body, stream=test is TestType.STREAMING)


def _weather_tool() -> dict[str, Any]:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    function = {"name": TOOL_NAME, "description": "The weather in a city", "parameters": parameters}
    return {"type": "function", "function": function}


def _answer_schema() -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


@dataclass(frozen=True, slots=True)
class Judgement:
    passed: bool
    excerpt: str = ""
    error: str | None = None
    score: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. the embedding's dimension


def judge(test: TestType, answer: Mapping[str, Any]) -> Judgement:
    """Whether ``answer`` (the OpenAI-shaped body; for a stream, the assembled one)
    shows the capability the test probes."""
    if test is TestType.EMBEDDING:
        return _judge_embedding(answer)
    message = _message(answer)
    text = message.get("content") if isinstance(message.get("content"), str) else ""
    excerpt = str(text)[:EXCERPT_CHARS]
    if test is TestType.TOOL_CALL:
        return _judge_tool_call(message, excerpt)
    if test is TestType.JSON_SCHEMA:
        return _judge_json(str(text), excerpt)
    if not str(text).strip() and not message.get("reasoning_content"):
        return Judgement(False, excerpt, "the model answered with no text")
    return Judgement(True, excerpt, score=1.0)


def _message(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return message
    return {}


def _judge_tool_call(message: Mapping[str, Any], excerpt: str) -> Judgement:
    calls = message.get("tool_calls")
    if not isinstance(calls, list) or not calls:
        return Judgement(False, excerpt, "the model called no tool")
    function = calls[0].get("function") if isinstance(calls[0], dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    arguments = function.get("arguments") if isinstance(function, dict) else None
    shown = f"{name}({str(arguments)[:EXCERPT_CHARS]})"
    if name != TOOL_NAME:
        return Judgement(False, shown, f"the model called {str(name)[:40]!r}, not {TOOL_NAME!r}")
    try:
        json.loads(str(arguments))
    except ValueError:
        return Judgement(False, shown, "the tool call's arguments are not JSON")
    return Judgement(True, shown, score=1.0)


def _judge_json(text: str, excerpt: str) -> Judgement:
    try:
        value = json.loads(text)
    except ValueError:
        return Judgement(False, excerpt, "the answer is not JSON")
    if not isinstance(value, dict) or not isinstance(value.get("answer"), str):
        return Judgement(False, excerpt, "the answer does not match the schema")
    return Judgement(True, excerpt, score=1.0)


def _judge_embedding(answer: Mapping[str, Any]) -> Judgement:
    data = answer.get("data")
    first = data[0] if isinstance(data, list) and data else None
    vector = first.get("embedding") if isinstance(first, dict) else None
    if not isinstance(vector, list) or not vector:
        return Judgement(False, "", "the answer holds no embedding vector")
    dimension = len(vector)
    return Judgement(True, f"{dimension} dimensions", score=1.0, facts={"dimension": dimension})


def stream_answer(chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The chunks of a streamed chat answer, assembled into the shape ``judge`` reads."""
    text = []
    for chunk in chunks:
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                text.append(delta["content"])
    return {"choices": [{"message": {"role": "assistant", "content": "".join(text)}}]}
