"""The direct translated-chat path (engine.direct_chat) equals LiteLLM's top-level call.

For every family the embedded engine translates, every request shape below runs twice
against the family's fake (which speaks the provider's real wire format): once through
an engine with the direct path on, once through one with it off (``litellm.acompletion``).
What the upstream received (body and the headers that carry meaning) and what the
engine returned (JSON body, usage and cost; every streamed chunk; the contract error)
must be equal. A LiteLLM upgrade that changes either side fails here, loudly, naming
the case.

Normalised, because they differ between any two calls of the same path:
- ``id``: LiteLLM makes a new ``chatcmpl-<uuid4>`` per answer;
- ``created``: the clock's second when the answer was built (two calls can straddle one).
Nothing else is.

A family the direct path does not serve yet still runs: both engines then take the
top-level call, so the case proves nothing about the direct path but pins the shape for
when it does. ``test_direct_path_serves`` says which families it serves, so a case
cannot pass by the direct path silently stepping aside.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.conformance.native_cases import anthropic_events, anthropic_message
from tests.engine.conftest import API_BASE_SUFFIX, Fakes, run, target
from tests.fakes.providers import Family, ModelBehaviour
from tollway.engine.base import Endpoint, EngineCall, EngineError, EngineResult
from tollway.engine.embedded import EmbeddedEngine

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]

# The families LiteLLM translates, as (fake family, LiteLLM prefix, a priced model id and
# an unpriced one). Mistral speaks OpenAI's wire and has no fake of its own: the openai
# fake serves it (its /v1/chat/completions), as tests/inference does.
TRANSLATED: dict[str, tuple[Family, str, str]] = {
    "anthropic": ("anthropic", "anthropic", "claude-sonnet-4-5"),
    "gemini": ("gemini", "gemini", "gemini-2.0-flash"),
    "cohere": ("cohere", "cohere_chat", "command-r-plus"),
    "mistral": ("openai", "mistral", "mistral-small-latest"),
}
DIRECT = frozenset({"anthropic"})
RANDOM_PER_CALL = ("id", "created")
# Headers whose value the upstream acts on (the rest: user agent, lengths, connection).
MEANINGFUL_HEADERS = (
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
USER = {"role": "user", "content": "hello there big world"}
CASES: dict[str, dict[str, Any]] = {
    "text": {"messages": [USER]},
    "system": {
        "messages": [{"role": "system", "content": "You are terse."}, USER],
        "temperature": 0.2,
    },
    "multi_turn": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        ],
        "max_tokens": 64,
    },
    "stop": {"messages": [USER], "stop": ["END", "STOP"], "top_p": 0.5, "max_tokens": 32},
    "json_mode": {"messages": [USER], "response_format": {"type": "json_object"}},
    "tools": {"messages": [USER], "tools": [WEATHER_TOOL], "tool_choice": "auto"},
    "tool_result_turn": {
        "messages": [
            USER,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        "tools": [WEATHER_TOOL],
    },
    "dropped_params": {"messages": [USER], "seed": 7, "logit_bias": {"50256": -100}, "user": "u1"},
}
# Answers the fake gives instead of its echo, per case and family: a tool call.
CANNED_TOOL_CALL = {
    "anthropic": ModelBehaviour.canned(anthropic_message(), anthropic_events()),
}
# Answers that are not errors but not the usual either.
ODD_ANSWERS = {
    "no_usage": ModelBehaviour(usage=False),
    "reply": ModelBehaviour(reply="a b c d"),
    "empty_reply": ModelBehaviour(reply=""),
    "cut_mid_stream": ModelBehaviour(reply="one two three four five", reset_after_chunks=2),
}
ERRORS = {
    "rejected_400": ModelBehaviour(status=400, message="messages: bad request", error_param="x"),
    "rate_limited": ModelBehaviour(status=429, message="slow down", retry_after="7"),
    "overloaded": ModelBehaviour(status=529, message="Overloaded"),
}


@pytest.fixture(scope="module")
def engines() -> tuple[EmbeddedEngine, EmbeddedEngine]:
    return EmbeddedEngine(direct_chat=True), EmbeddedEngine(direct_chat=False)


def _call(
    fakes: Fakes, provider: str, model: str, body: dict[str, Any], stream: bool
) -> EngineCall:
    family, prefix, _ = TRANSLATED[provider]
    base = fakes[family].origin + API_BASE_SUFFIX.get(family, "/v1")
    return EngineCall(
        endpoint=Endpoint.CHAT,
        body=copy.deepcopy(body),
        target=target(f"{prefix}/{model}", base),
        stream=stream,
    )


def normalised(value: Any) -> Any:
    """``value`` with the per-call random fields (``RANDOM_PER_CALL``) set to a marker."""
    if isinstance(value, dict):
        return {
            key: "<per-call>" if key in RANDOM_PER_CALL else normalised(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalised(item) for item in value]
    return value


def outcome(result: Any) -> Any:
    if isinstance(result, EngineResult):
        return {"body": normalised(result.body), "usage": result.usage, "cost": result.cost_usd}
    return normalised(result)


def error_outcome(error: EngineError) -> dict[str, Any]:
    fields = ("status", "error_type", "code", "param", "retryable", "key_rejected", "retry_after")
    return {
        "class": type(error).__name__,
        "message": str(error),
        **{name: getattr(error, name, None) for name in fields},
    }


async def both(
    engines: tuple[EmbeddedEngine, EmbeddedEngine],
    fakes: Fakes,
    provider: str,
    model: str,
    body: dict[str, Any],
    *,
    stream: bool,
) -> tuple[Any, Any]:
    """(direct, top-level): each path's outcome and the request the upstream received."""
    family = TRANSLATED[provider][0]
    seen = []
    for engine in engines:
        fakes[family].clear_requests()
        try:
            result: Any = outcome(await run(engine, _call(fakes, provider, model, body, stream)))
        except EngineError as error:
            result = error_outcome(error)
        recorded = fakes[family].requests_for_model(model)
        request = recorded[-1] if recorded else None
        sent = None
        if request is not None:
            headers = {name: request.header(name) for name in MEANINGFUL_HEADERS}
            sent = {"path": request.path, "headers": headers, "body": request.body}
        seen.append({"answer": result, "request": sent})
    return seen[0], seen[1]


def assert_same(direct: dict[str, Any], top_level: dict[str, Any]) -> None:
    """Equal, or a failure naming the first part (request, or answer item) that is not."""
    assert direct["request"] == top_level["request"], "the upstream received another request"
    ours, theirs = direct["answer"], top_level["answer"]
    if isinstance(ours, list) and isinstance(theirs, list):
        for index, (mine, reference) in enumerate(zip(ours, theirs, strict=False)):
            assert mine == reference, f"streamed chunk {index} differs"
        assert len(ours) == len(theirs), f"{len(ours)} chunks, not {len(theirs)}: {ours[-1]}"
    assert ours == theirs


def _model(provider: str) -> str:
    """A model id of the family's naming, unique to the test (the fake scripts per model)."""
    return f"{TRANSLATED[provider][2]}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("provider", sorted(TRANSLATED))
async def test_direct_equals_top_level(
    engines: tuple[EmbeddedEngine, EmbeddedEngine],
    fakes: Fakes,
    provider: str,
    case: str,
    stream: bool,
) -> None:
    model = _model(provider)
    if case == "tools" and provider in CANNED_TOOL_CALL:
        fakes[TRANSLATED[provider][0]].script_model(model, CANNED_TOOL_CALL[provider])
    direct, top_level = await both(engines, fakes, provider, model, CASES[case], stream=stream)
    assert_same(direct, top_level)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", sorted(TRANSLATED))
async def test_priced_model_costs_the_same(
    engines: tuple[EmbeddedEngine, EmbeddedEngine], fakes: Fakes, provider: str, stream: bool
) -> None:
    """A model LiteLLM prices (its real id, so the price map finds it): same cost."""
    model = TRANSLATED[provider][2]
    fakes[TRANSLATED[provider][0]].script_model(model, ModelBehaviour())
    direct, top_level = await both(engines, fakes, provider, model, CASES["text"], stream=stream)
    assert_same(direct, top_level)
    if provider in DIRECT and not stream:
        assert direct["answer"]["cost"] is not None  # the case is about a real price


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("answer", sorted(ODD_ANSWERS))
@pytest.mark.parametrize("provider", sorted(TRANSLATED))
async def test_odd_answers_read_the_same(
    engines: tuple[EmbeddedEngine, EmbeddedEngine],
    fakes: Fakes,
    provider: str,
    answer: str,
    stream: bool,
) -> None:
    model = _model(provider)
    fakes[TRANSLATED[provider][0]].script_model(model, ODD_ANSWERS[answer])
    direct, top_level = await both(engines, fakes, provider, model, CASES["text"], stream=stream)
    assert_same(direct, top_level)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("error", sorted(ERRORS))
@pytest.mark.parametrize("provider", sorted(TRANSLATED))
async def test_errors_map_the_same(
    engines: tuple[EmbeddedEngine, EmbeddedEngine],
    fakes: Fakes,
    provider: str,
    error: str,
    stream: bool,
) -> None:
    model = _model(provider)
    fakes[TRANSLATED[provider][0]].script_model(model, ERRORS[error])
    direct, top_level = await both(engines, fakes, provider, model, CASES["text"], stream=stream)
    assert "class" in direct["answer"]  # an error, on both sides
    assert_same(direct, top_level)


def test_direct_path_serves(engines: tuple[EmbeddedEngine, EmbeddedEngine], fakes: Fakes) -> None:
    """The families the direct path takes, and a request outside its parameters it leaves."""
    direct_engine = engines[0]
    for provider in TRANSLATED:
        for case, body in CASES.items():
            call = _call(fakes, provider, "m", body, stream=False)
            served = direct_engine._direct.handles(call)
            assert served is (provider in DIRECT), (provider, case)
    outside = [
        {**CASES["text"], "reasoning_effort": "low"},
        {**CASES["text"], "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
    ]
    for body in outside:
        assert not direct_engine._direct.handles(_call(fakes, "anthropic", "m", body, False))
