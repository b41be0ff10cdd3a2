"""/v1/responses for every provider family, through LiteLLM (embedded) to a fake
speaking that family's wire format: OpenAI and OpenRouter natively (their
/v1/responses), every other family bridged by LiteLLM to its chat API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import openai
import pytest

from tests.fakes.providers import FakeProviderServer, Family, family_for
from tests.inference.conftest import Tollway
from tests.inference.test_families import NETWORKED, fake_for, provider_for
from tollway.store.enums import ProviderType

# Families whose LiteLLM route calls the upstream's own Responses API.
NATIVE = {ProviderType.OPENAI, ProviderType.OPENROUTER}
OPENAI_WIRE = [t for t in NETWORKED if family_for(t) in ("openai", "openrouter")]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[Family, FakeProviderServer]]:
    servers = {dialect: FakeProviderServer(dialect) for dialect in map(family_for, NETWORKED)}
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def served_model(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> tuple[str, str, openai.OpenAI]:
    """(public name, upstream model id, a client) for a fresh model of ``provider_type``."""
    model = f"r-{uuid.uuid4().hex[:8]}"
    if provider_type is ProviderType.OPENROUTER:  # OpenRouter's ids are "<vendor>/<model>"
        model = f"vendor/{model}"
    provider = provider_for(tollway, fakes, provider_type)
    public = "public-" + model.rpartition("/")[2]
    tollway.model(provider, public, model_id=model)
    key = tollway.key()
    tollway.wait_for_model(key, public)
    return public, model, openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)


def upstream_paths(fake: FakeProviderServer, model: str) -> set[str]:
    return {request.path.rsplit("/", 1)[-1] for request in fake.requests_for_model(model)}


@pytest.mark.parametrize("provider_type", NETWORKED, ids=str)
def test_responses_json_and_streamed(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> None:
    public, model, client = served_model(tollway, fakes, provider_type)
    raw = client.responses.with_raw_response.create(
        model=public, input=f"ping {provider_type}", instructions="answer briefly"
    )
    response = raw.parse()
    assert f"ping {provider_type}" in response.output_text
    assert response.id == f"resp_{raw.headers['x-tollway-request-id']}"
    assert response.model == public
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    assert raw.headers["x-tollway-provider"] == provider_type
    events = list(client.responses.create(model=public, input=f"pong {provider_type}", stream=True))
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert f"pong {provider_type}" in text
    completed = events[-1].response
    assert completed.usage is not None
    assert completed.usage.output_tokens > 0
    assert completed.output_text == text
    fake = fake_for(fakes, provider_type)
    assert len(fake.requests_for_model(model)) == 2
    if provider_type in NATIVE:
        assert upstream_paths(fake, model) == {"responses"}
    else:
        assert "responses" not in upstream_paths(fake, model)


@pytest.mark.parametrize("provider_type", OPENAI_WIRE, ids=str)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
def test_function_tool_round_trip(
    tollway: Tollway,
    fakes: dict[Family, FakeProviderServer],
    provider_type: ProviderType,
    stream: bool,
) -> None:
    public, _, client = served_model(tollway, fakes, provider_type)
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    question = {"role": "user", "content": "use the tool for the weather"}
    first = create(client, stream, model=public, input=[question], tools=tools)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "city-1"}
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    turn = [question, call.model_dump(exclude_none=True), result]
    second = create(client, stream, model=public, input=turn, tools=tools)
    assert "tool said: sunny" in second.output_text


def create(
    client: openai.OpenAI, stream: bool, **fields: object
) -> openai.types.responses.Response:
    if not stream:
        return client.responses.create(**fields)  # type: ignore[call-overload,no-any-return]
    events = list(client.responses.create(stream=True, **fields))  # type: ignore[call-overload]
    assert events[-1].type == "response.completed"
    return events[-1].response  # type: ignore[no-any-return]


@pytest.mark.parametrize("provider_type", sorted(NATIVE, key=str), ids=str)
def test_a_model_litellm_does_not_know_streams_from_the_upstream(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> None:
    """LiteLLM fakes the stream of a native Responses model missing from its map (one
    call without streaming); tollway has the upstream stream, as the client asked."""
    public, model, client = served_model(tollway, fakes, provider_type)
    events = list(client.responses.create(model=public, input="stream me", stream=True))
    assert events[-1].type == "response.completed"
    [request] = fake_for(fakes, provider_type).requests_for_model(model)
    assert request.body.get("stream") is True
