"""Real clients on /v1/responses: ``openai-agents`` running an agent with a function
tool, and the ``openai`` SDK's request fields reaching the upstream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway
from tollway.store.enums import ProviderType

AGENT_FAMILIES = [ProviderType.OPENAI, ProviderType.OPENAI_COMPATIBLE]


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


def served(
    tollway: Tollway,
    fake: FakeProviderServer,
    provider_type: ProviderType,
    model_id: str | None = None,
) -> tuple[str, str]:
    """(model name, tollway key) of a fresh model on ``fake``."""
    api_key = f"sk-{uuid.uuid4().hex}"
    fake.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(provider_type.value, api_key=api_key, base_url=fake.base_url)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    tollway.model(provider, name, model_id=model_id or name)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, key


@pytest.mark.parametrize("provider_type", AGENT_FAMILIES, ids=str)
def test_an_agent_calls_its_tool_and_uses_the_result(
    tollway: Tollway, openai_fake: FakeProviderServer, provider_type: ProviderType
) -> None:
    name, key = served(tollway, openai_fake, provider_type)
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    async def run() -> str:
        set_tracing_disabled(True)
        client = openai.AsyncOpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
        model = OpenAIResponsesModel(model=name, openai_client=client)
        agent = Agent(name="weather", instructions="use tools", model=model, tools=[get_weather])
        result = await Runner.run(agent, "use the tool: weather in Paris?")
        await client.close()
        return str(result.final_output)

    output = asyncio.run(run())
    assert calls == ["city-1"]
    assert output == "tool said: sunny in city-1"
    assert len(openai_fake.requests_for_model(name)) == 2


SCHEMA = {
    "type": "json_schema",
    "name": "answer",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}


def test_request_fields_reach_openais_responses_api(
    tollway: Tollway, openai_fake: FakeProviderServer
) -> None:
    name, key = served(tollway, openai_fake, ProviderType.OPENAI)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    client.responses.create(
        model=name,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "fields"}]}],
        instructions="be terse",
        text={"format": SCHEMA},  # type: ignore[typeddict-item]
        reasoning={"effort": "low"},
        metadata={"run": "7"},
        tools=tools,  # type: ignore[list-item]
        tool_choice="auto",
        parallel_tool_calls=False,
        temperature=0.5,
        max_output_tokens=64,
        extra_body={"vendor_knob": 1},
    )
    [request] = openai_fake.requests_for_model(name)
    body = request.body
    assert body["instructions"] == "be terse"
    assert body["text"]["format"] == SCHEMA
    assert body["reasoning"] == {"effort": "low"}
    assert body["tools"][0]["name"] == "f"
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False
    assert body["temperature"] == 0.5
    assert body["max_output_tokens"] == 64
    assert body["input"][0]["content"][0]["text"] == "fields"
    assert body["vendor_knob"] == 1  # unknown fields pass through
    assert body["metadata"] == {"run": "7"}
    assert "api_key" not in body
    assert "stream_options" not in body


def test_bridged_instructions_and_schema_reach_the_chat_api(
    tollway: Tollway, openai_fake: FakeProviderServer
) -> None:
    name, key = served(tollway, openai_fake, ProviderType.OPENAI_COMPATIBLE)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    response = client.responses.create(
        model=name,
        input="bridged fields",
        instructions="be terse",
        text={"format": SCHEMA},  # type: ignore[typeddict-item]
        max_output_tokens=64,
        extra_body={"vendor_knob": 1},
    )
    assert response.output_text == "bridged fields"
    [request] = openai_fake.requests_for_model(name)
    body = request.body
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA["schema"]
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 64
    assert body["vendor_knob"] == 1  # unknown fields pass through the bridge too


def test_a_stream_cut_after_its_first_event_ends_with_an_error_event(
    tollway: Tollway, openai_fake: FakeProviderServer
) -> None:
    # A model LiteLLM knows: for any other, LiteLLM 1.109.1 reads OpenAI's whole stream
    # before its first event ("fake stream"), and the cut would come before any event.
    name, key = served(tollway, openai_fake, ProviderType.OPENAI, model_id="gpt-4o-mini")
    # Slow deltas: the events before the cut reach tollway before the connection resets.
    cut = ModelBehaviour.reset_after(chunks=2) | ModelBehaviour.slow_chunks(0.2)
    openai_fake.script_model("gpt-4o-mini", cut)
    response = httpx.post(
        f"{tollway.v1}/responses",
        json={"model": name, "input": "one two three", "stream": True},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    blocks = [b for b in response.text.split("\n\n") if b]
    assert blocks[0].startswith("event: response.created\n")
    kind, _, data = blocks[-1].partition("\n")
    assert kind == "event: error"
    error = json.loads(data.removeprefix("data: "))
    assert error["type"] == "error"
    assert error["code"] == "stream_interrupted"
    assert error["sequence_number"] == len(blocks) - 1
    assert "response.completed" not in response.text


@pytest.mark.parametrize("provider_type", AGENT_FAMILIES, ids=str)
def test_stream_options_of_the_responses_api_are_accepted(
    tollway: Tollway, openai_fake: FakeProviderServer, provider_type: ProviderType
) -> None:
    name, key = served(tollway, openai_fake, provider_type)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    events = list(
        client.responses.create(
            model=name,
            input="with options",
            stream=True,
            stream_options={"include_obfuscation": False},
        )
    )
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "with options"


@pytest.mark.parametrize("provider_type", AGENT_FAMILIES, ids=str)
def test_a_providers_refusal_reaches_the_client_in_openais_shape(
    tollway: Tollway, openai_fake: FakeProviderServer, provider_type: ProviderType
) -> None:
    name, key = served(tollway, openai_fake, provider_type)
    openai_fake.script_model(name, ModelBehaviour.bad_request("bad tool schema"))
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=name, input="refused")
    assert "bad tool schema" in caught.value.message
    assert len(openai_fake.requests_for_model(name)) == 1  # never retried elsewhere
